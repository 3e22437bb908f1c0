"""Helpers to find and execute the course's notebooks in the tests."""

from __future__ import annotations

import contextlib
import functools
import io
import subprocess
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*/*.ipynb"))


def code_of(cell) -> str:
    """A code cell's source as plain Python: nbgrader's solution markers and IPython magics removed."""
    from coursekit.grading.demo import reference_code

    return "\n".join(line for line in reference_code(cell.source).splitlines() if not line.startswith("%"))


@functools.cache
def solution(assignment: str) -> dict:
    """The instructor notebook's definitions: its code cells but the graded tests, run in order."""
    path = next((ROOT / "solutions" / assignment).glob("*.ipynb"))
    namespace = {"__name__": f"solution_{assignment.replace('-', '_')}"}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code" and not cell.metadata.get("nbgrader", {}).get("grade"):
            exec(compile(code_of(cell), path.name, "exec"), namespace)
    return namespace


def run_test_cell(assignment: str, grade_id: str, answers: dict) -> None:
    """Run the instructor notebook's test cell ``grade_id`` (hidden tests included) with ``answers``
    (function name -> function) in place of the notebook's own.

    The test cells before it run first, quietly and with the notebook's own functions, as a test
    cell may use what an earlier one defines (lesson 4's Exercise 4.3 reuses 4.2's cases).
    """
    path = next((ROOT / "solutions" / assignment).glob("*.ipynb"))
    cells = nbformat.read(path, as_version=4).cells
    tests = [c for c in cells if c.metadata.get("nbgrader", {}).get("grade")]
    index = [c.metadata.nbgrader.grade_id for c in tests].index(grade_id)
    namespace = dict(solution(assignment))
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in tests[:index]:
            exec(compile(code_of(cell), path.name, "exec"), namespace)
    namespace.update(answers)
    exec(compile(code_of(tests[index]), path.name, "exec"), namespace)


def lesson_of(solution: Path) -> Path:
    """The generated student notebook of an instructor notebook."""
    return ROOT / "lessons" / solution.relative_to(ROOT / "solutions")


def execute(path: Path, allow_errors: bool = False, timeout: int = 120, quiet: bool = False):
    """Run a notebook top to bottom in its own folder; return the executed notebook.

    ``quiet`` sends the kernel process's own stdout and stderr (start-up chatter; the cells'
    output comes back as messages either way) to /dev/null.
    """
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
        resources={"metadata": {"path": str(path.parent)}},
    )
    streams = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL} if quiet else {}
    client.execute(**streams)
    return nb


def errors(nb) -> list[tuple[int, dict]]:
    """``(cell index, error output)`` for every cell that raised."""
    return [
        (i, out)
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def graded_cells(nb) -> list[int]:
    """Indices of the graded test cells."""
    return [i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade") and c.cell_type == "code"]
