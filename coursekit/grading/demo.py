"""A synthetic class for any assignment, built from its notebooks, to show and test grading.

Each student stands for a case an instructor meets: full marks, partial work, a file that is not
JSON, an infinite loop, an untouched notebook, and a loose ``<student>.ipynb`` file.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

from coursekit.grading.course import Course

_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)

#: Demo student -> what they handed in.
STUDENTS = {
    "ada": "every exercise solved",
    "ben": "only the first exercise solved",
    "cy": "a notebook file that is not JSON",
    "dee": "every exercise solved, but the first solution cell loops forever",
    "eve": "the notebook as released, untouched",
    "gus": "every exercise solved, handed in as a loose gus.ipynb file",
}


def reference_code(solution_source: str) -> str:
    """A solution cell's code with nbgrader's solution markers removed."""
    return _MARKERS.sub("", solution_source)


def _solution_cells(nb) -> list:
    return [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]


def _filled(student_nb, solution_nb, upto: int | None = None, loop_first: bool = False):
    nb = copy.deepcopy(student_nb)
    answers = {c.metadata.nbgrader.grade_id: reference_code(c.source) for c in _solution_cells(solution_nb)}
    for i, cell in enumerate(_solution_cells(nb)):
        if upto is not None and i >= upto:
            continue
        cell.source = answers[cell.metadata.nbgrader.grade_id]
        if loop_first and i == 0:
            cell.source = "while True:\n    pass\n\n" + cell.source
    return nb


def make_demo_class(assignment: str, dest: str | Path, course: Course | None = None) -> dict[str, str]:
    """Write the demo class of ``assignment`` into ``dest``; return student -> description."""
    course = course or Course.find()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in course.notebooks(assignment):
        solution = nbformat.read(course.source / assignment / f"{name}.ipynb", as_version=4)
        released = course.release / assignment / f"{name}.ipynb"
        student = nbformat.read(released, as_version=4)
        versions = {
            "ada": _filled(student, solution),
            "ben": _filled(student, solution, upto=1),
            "dee": _filled(student, solution, loop_first=True),
            "eve": student,
        }
        for who, nb in versions.items():
            (dest / who).mkdir(exist_ok=True)
            nbformat.write(nb, dest / who / f"{name}.ipynb")
        (dest / "cy").mkdir(exist_ok=True)
        text = nbformat.writes(versions["ada"])
        (dest / "cy" / f"{name}.ipynb").write_text(text[: len(text) // 2], encoding="utf-8")
        nbformat.write(versions["ada"], dest / "gus.ipynb")
    return dict(STUDENTS)
