"""Run one notebook in a sandboxed kernel and record what its graded functions return.

The notebook's own test cells are not run: what they would decide is decided again, out of the
student's reach, by :mod:`coursekit.grading.judge`. Everything else runs as the student left it,
followed by one recorder cell per question.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from coursekit.grading import record
from coursekit.grading.judge import Check, Trial
from coursekit.grading.kernel import CellOutcome, SandboxKernel, run_cells
from coursekit.grading.scratch import remove_tree


def nbgrader_meta(cell) -> dict:
    """A cell's nbgrader metadata. A student's notebook may hold anything there: a grade id that
    is not a string counts as none (:func:`tamper_flags` reports it)."""
    meta = _raw_nbgrader_meta(cell)
    if _odd_grade_id(meta):
        return {key: value for key, value in meta.items() if key != "grade_id"}
    return meta


def _raw_nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _odd_grade_id(meta: dict) -> bool:
    return not isinstance(meta.get("grade_id", ""), str)


@dataclass
class Recording:
    """What running one notebook produced.

    Attributes
    ----------
    results : dict of str to list or None
        Per question (grade id): the recorder's results, one dict per trial; None if the recorder
        could not run, with the reason in ``missing``.
    missing : dict of str to str
    solution_sources : dict of str to str
        The code of each answer cell, by the grade id of its question.
    problems : list of str
        Cells that raised, ran too long or killed the kernel.
    flags : list of str
        Changes to the locked parts of the notebook (tests, nbgrader metadata).
    seconds : float
    """

    results: dict[str, list | None] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    solution_sources: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    seconds: float = 0.0


def tamper_flags(student, release) -> list[str]:
    """What the student changed in the cells nbgrader locks: test cells and their metadata."""
    flags = []
    theirs = {}
    for cell in student.cells:
        raw = _raw_nbgrader_meta(cell)
        if _odd_grade_id(raw):
            flags.append(f"a cell's nbgrader grade_id was changed to {raw['grade_id']!r:.60}")
        meta = nbgrader_meta(cell)
        if meta.get("grade_id"):
            theirs.setdefault(meta["grade_id"], (cell, meta))
    ours = {nbgrader_meta(c)["grade_id"]: c for c in release.cells if nbgrader_meta(c).get("grade_id")}
    for grade_id, cell in ours.items():
        meta = nbgrader_meta(cell)
        if grade_id not in theirs:
            if meta.get("grade") or meta.get("locked"):
                flags.append(f"the cell {grade_id} was deleted or its nbgrader metadata removed")
            continue
        their_cell, their_meta = theirs[grade_id]
        if meta.get("locked") and their_cell.source.strip() != cell.source.strip():
            flags.append(f"the locked cell {grade_id} was edited")
        for key in ("grade", "solution", "locked", "points"):
            if their_meta.get(key) != meta.get(key):
                flags.append(f"the nbgrader metadata of {grade_id} was changed ({key}: "
                             f"{meta.get(key)!r} -> {their_meta.get(key)!r})")
    for grade_id, (_, meta) in theirs.items():
        if grade_id not in ours and meta.get("grade"):
            flags.append(f"a graded cell {grade_id} was added")
    return flags


def executable_cells(student, release) -> tuple[list[str], dict[str, str]]:
    """The student's code cells minus the test cells, and the answer cells' code by question.

    A cell counts as a test cell if the release notebook has a test cell with its grade id, or if
    it claims to be graded itself.
    """
    tests = {nbgrader_meta(c)["grade_id"] for c in release.cells if nbgrader_meta(c).get("grade")}
    cells, answers = [], {}
    for cell in student.cells:
        if cell.cell_type != "code":
            continue
        meta = nbgrader_meta(cell)
        if meta.get("grade_id") in tests or meta.get("grade"):
            continue
        cells.append(cell.source)
        if meta.get("solution") and meta.get("grade_id"):
            answers[meta["grade_id"]] = cell.source
    return cells, answers


def answer_sources_by_question(student, release) -> dict[str, str]:
    """Each question's answer code: the answer cells between the previous test cell and its own."""
    test_order = [nbgrader_meta(c)["grade_id"] for c in release.cells if nbgrader_meta(c).get("grade")]
    sources: dict[str, list[str]] = {g: [] for g in test_order}
    pending: list[str] = []
    for cell in release.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            pending.append(meta.get("grade_id"))
        elif meta.get("grade"):
            sources[meta["grade_id"]] = pending
            pending = []
    _, answers = executable_cells(student, release)
    return {g: "\n\n".join(answers.get(a, "") for a in ids) for g, ids in sources.items()}


# Runs first in every grading kernel: figures are not needed to judge, and drawing them inline is
# most of a lesson's run time, so ``%matplotlib inline`` is made a no-op and figures are closed.
PREAMBLE = (
    "import matplotlib\n"
    "matplotlib.use('Agg')\n"
    "get_ipython().register_magic_function(lambda line: None, 'line', 'matplotlib')\n"
    "get_ipython().events.register('post_run_cell', "
    "lambda *_: __import__('matplotlib.pyplot').pyplot.close('all'))"
)

RECORDER = (
    "import coursekit.grading.recorder as _coursekit_recorder\n"
    "_coursekit_recorder.record({trials!r}, {out!r}, {delegates!r}, {seconds!r})\n"
    "del _coursekit_recorder"
)


def run_notebook(notebook: Path, release, checks: list[Check], trials: dict[str, list[Trial]],
                 hidden: list[Path], timeout: float, memory: int, isolate: bool = True,
                 scratch: str | Path | None = None) -> Recording:
    """Run ``notebook`` in a fresh work folder and record every question's trials.

    Parameters
    ----------
    notebook : Path
        The handed-in notebook (already known to be readable).
    release : NotebookNode
        The student version as released, to tell test cells and tampering apart.
    checks, trials
        The questions and their drawn trials (by grade id).
    hidden : list of Path
        Folders the kernel must not see.
    timeout : float
        Seconds per cell, and per trial.
    memory : int
        Bytes of address space the kernel may use.
    isolate : bool
        Run the kernel under bubblewrap where it works.
    scratch : path, optional
        Where the work folder and the kernel's sockets go (by default a temporary folder).
    """
    started = time.perf_counter()
    student = nbformat.read(notebook, as_version=4)
    recording = Recording(flags=tamper_flags(student, release))
    cells, _ = executable_cells(student, release)
    recording.solution_sources = answer_sources_by_question(student, release)
    workdir = Path(tempfile.mkdtemp(prefix="coursekit-grade-", dir=scratch))
    try:
        for path in notebook.parent.iterdir():  # data files handed in beside the notebook
            if path.is_symlink():  # it could point at anything, the course's answers included
                continue
            if path.is_file() and path.suffix != ".ipynb" and path.stat().st_size < 50_000_000:
                shutil.copyfile(path, workdir / path.name)
        recorders, limits = [], []
        for check in checks:
            trials_path = workdir / f"trials-{check.grade_id}"
            record.save(trials_path, [t.as_record() for t in trials[check.grade_id]])
            out = str(workdir / f"out-{check.grade_id}")
            recorders.append(RECORDER.format(trials=str(trials_path), out=out,
                                             delegates=list(check.delegates), seconds=float(timeout)))
            # every function of the question may use up its time once, plus a margin for the rest
            functions = {t.function for t in trials[check.grade_id]}
            limits.append(timeout * (len(functions) + 1))
        outcomes = run_cells(
            [PREAMBLE, *cells, *recorders],
            lambda: SandboxKernel(workdir, hidden, timeout, memory, isolate, scratch),
            replayable=[True] * (1 + len(cells)) + [False] * len(recorders),
            timeouts=[None] * (1 + len(cells)) + limits,
        )
        recording.problems = _problems(outcomes[1 : 1 + len(cells)])
        for check, outcome in zip(checks, outcomes[1 + len(cells):], strict=True):
            out = workdir / f"out-{check.grade_id}"
            try:
                recording.results[check.grade_id] = record.load(out) if outcome.status == "ok" else None
            except Exception as error:  # the student's code can write that file: any flaw is theirs
                recording.results[check.grade_id] = None
                recording.missing[check.grade_id] = f"the results could not be read ({error})"
            if outcome.status != "ok":
                recording.missing[check.grade_id] = _why_not_recorded(outcome)
    finally:
        remove_tree(workdir)  # whatever permissions the student's code left on it
    recording.seconds = time.perf_counter() - started
    return recording


def _why_not_recorded(outcome: CellOutcome) -> str:
    if outcome.status == "timeout":
        return "your functions ran past the time limit"
    if outcome.status == "died":
        return "the kernel died while your functions ran (os._exit, a crash, or too much memory)"
    return f"your functions could not be checked: {outcome.error}"


def _problems(outcomes: list[CellOutcome]) -> list[str]:
    problems = []
    for n, outcome in enumerate(outcomes, 1):
        if outcome.status == "timeout":
            problems.append(f"code cell {n} ran past the time limit and was stopped")
        elif outcome.status == "died":
            problems.append(f"code cell {n}: {outcome.error}")
        elif outcome.status == "error":
            problems.append(f"code cell {n} raised {outcome.error[:200]}")
    return problems
