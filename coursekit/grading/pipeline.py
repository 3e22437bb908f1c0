"""``coursekit grade``: grade a class's notebooks for one assignment with nbgrader, in one command.

The output folder is itself an nbgrader course directory (its ``release``, ``submitted``,
``autograded`` and ``feedback`` folders and a SQLite gradebook), whose source is the course's
``solutions/``, so nbgrader's own commands also work on it. Each student is autograded on their
own: a notebook that is not JSON, raises, or loops forever costs that student only.
"""

from __future__ import annotations

import csv
import html
import logging
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from coursekit.grading.course import Course, CourseError, nbgrader_api
from coursekit.grading.intake import Submission, collect


@dataclass
class Question:
    """A graded test cell."""

    notebook: str
    grade_id: str
    max_score: float


@dataclass
class StudentResult:
    """One student's grades for one assignment."""

    student: str
    scores: dict[str, float]
    max_score: float
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    feedback: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(self.scores.values())

    @property
    def status(self) -> str:
        return "problem" if self.problems else "ok"


@dataclass
class GradingRun:
    """The outcome of :func:`grade`."""

    assignment: str
    questions: list[Question]
    results: list[StudentResult]
    skipped: list[str]
    out: Path

    def by_student(self) -> dict[str, StudentResult]:
        return {r.student: r for r in self.results}


def question_key(question: Question, questions: list[Question]) -> str:
    """Column name of a question: its grade id, prefixed by the notebook when there are several."""
    notebooks = {q.notebook for q in questions}
    return question.grade_id if len(notebooks) == 1 else f"{question.notebook}:{question.grade_id}"


def grade(
    assignment: str,
    submissions: str | Path,
    out: str | Path,
    course: Course | None = None,
    timeout: int = 60,
    students: list[str] | None = None,
    log=print,
) -> GradingRun:
    """Autograde every submission of ``assignment`` and write the gradebook, feedback and CSV.

    Parameters
    ----------
    assignment : str
        Assignment id, a folder of the course's source directory (e.g. ``"01-perceptron"``).
    submissions : path
        One folder per student, or ``<student>.ipynb`` files.
    out : path
        Where the gradebook (``gradebook.db``), ``feedback/`` and ``grades.csv`` are written.
    course : Course, optional
        Found from the working directory by default.
    timeout : int
        Seconds each cell may run before it is interrupted and counted as failed.
    students : list of str, optional
        Grade only these students.
    log : callable
        Receives one line of progress per student.
    """
    course = course or Course.find()
    notebook_names = course.notebooks(assignment)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    api = _nbgrader_api(course, out, timeout)
    generated = api.generate_assignment(assignment, force=True, create=True)
    if not generated["success"]:
        raise CourseError(f"nbgrader could not generate {assignment}:\n{generated.get('error', '')}")

    collected, skipped = collect(submissions, notebook_names)
    if students:
        unknown = sorted(set(students) - {s.student for s in collected})
        if unknown:
            raise CourseError(f"no submission for student(s) {', '.join(unknown)} in {submissions}")
        collected = [s for s in collected if s.student in students]
    questions = _questions(course, assignment, notebook_names)

    results = []
    for i, submission in enumerate(collected, 1):
        started = time.perf_counter()
        result = _grade_one(api, assignment, submission, questions, out)
        result.seconds = time.perf_counter() - started
        results.append(result)
        problem = f"  ({'; '.join(result.problems)})" if result.problems else ""
        log(f"[{i}/{len(collected)}] {submission.student}: {result.score:g}/{result.max_score:g}{problem}")

    run = GradingRun(assignment, questions, results, skipped, out)
    write_csv(run, out / "grades.csv")
    return run


def _nbgrader_api(course: Course, out: Path, timeout: int):
    config = Course.config_of(course.root)
    directory = config.CourseDirectory
    directory.root = str(out)
    directory.source_directory = str(course.source)
    directory.release_directory = str(out / "release")
    directory.db_url = f"sqlite:///{out / 'gradebook.db'}"
    config.Execute.timeout = int(timeout)
    config.Execute.interrupt_on_timeout = True
    config.NbGraderAPI.log_level = logging.WARNING
    return nbgrader_api(config)


def _questions(course: Course, assignment: str, notebooks: list[str]) -> list[Question]:
    """The graded cells of the instructor's notebooks, in notebook order."""
    questions = []
    for name in notebooks:
        nb = nbformat.read(course.source / assignment / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade"):
                questions.append(Question(name, meta["grade_id"], float(meta.get("points", 0))))
    return questions


def _grade_one(api, assignment: str, submission: Submission, questions, out: Path) -> StudentResult:
    student = submission.student
    max_score = sum(q.max_score for q in questions)
    result = StudentResult(student, {question_key(q, questions): 0.0 for q in questions}, max_score,
                           notes=list(submission.notes))
    result.problems.extend(f"{nb}.ipynb: {why}" for nb, why in submission.failures.items())

    # Start from nothing, so that a regrade leaves no trace of an earlier hand-in.
    target = out / "submitted" / student / assignment
    feedback_dir = out / "feedback" / student / assignment
    for folder in (target, out / "autograded" / student / assignment, feedback_dir):
        shutil.rmtree(folder, ignore_errors=True)
    target.mkdir(parents=True)
    for name, path in submission.notebooks.items():
        shutil.copyfile(path, target / f"{name}.ipynb")

    if not submission.notebooks:
        _forget_submission(api, assignment, student)
    else:
        with warnings.catch_warnings():
            # nbgrader's own session handling warns on every regrade; it is not the student's doing.
            warnings.filterwarnings("ignore", message=".*not in session.*")
            graded = api.autograde(assignment, student, force=True, create=True)
        if not graded["success"]:
            details = graded.get("error") or graded.get("log")
            result.problems.append("autograding failed: " + _last_line(details))
        else:
            _read_scores(api, assignment, student, questions, result)
            result.notes.extend(_timeouts(out / "autograded" / student / assignment))
            feedback = api.generate_feedback(assignment, student, force=True)
            if not feedback["success"]:
                result.notes.append("feedback could not be generated: " + _last_line(feedback.get("error")))
    for name, why in submission.failures.items():
        _write_failure_feedback(feedback_dir / f"{name}.html", student, assignment, name, why)
    result.feedback = sorted(feedback_dir.glob("*.html")) if feedback_dir.is_dir() else []
    return result


def _forget_submission(api, assignment: str, student: str) -> None:
    """Drop an earlier graded hand-in from the gradebook: nothing gradable replaces it now."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass


def _read_scores(api, assignment, student, questions, result: StudentResult) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        for q in questions:
            try:
                grade_record = gb.find_grade(q.grade_id, q.notebook, assignment, student)
            except MissingEntry:
                continue  # this notebook was not handed in
            result.scores[question_key(q, questions)] = float(grade_record.score or 0.0)


def _timeouts(folder: Path) -> list[str]:
    """Notes on the cells of the autograded notebooks that were stopped for running too long."""
    notes = []
    for path in sorted(folder.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error" and output.get("ename") == "CellTimeoutError":
                    where = f"{path.stem}.ipynb cell {index + 1}"
                    notes.append(f"{where} ran past the time limit and was stopped")
    return notes


def _last_line(text: str | None) -> str:
    """The most telling line of nbgrader's error text: the last error that is not its own summary."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    telling = [line for line in lines if "Error" in line and "NbGraderException" not in line]
    return (telling or lines or ["unknown error"])[-1]


def _write_failure_feedback(path: Path, student: str, assignment: str, notebook: str, why: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(assignment)}: {html.escape(notebook)}</title></head><body>"
        f"<h1>{html.escape(assignment)} / {html.escape(notebook)}.ipynb</h1>"
        f"<p>Student: {html.escape(student)}</p>"
        f"<p><strong>Not graded, score 0:</strong> {html.escape(why)}.</p>"
        "<p>Hand in the notebook as saved by Jupyter (File &rarr; Save), under its original name.</p>"
        "</body></html>",
        encoding="utf-8",
    )


def write_csv(run: GradingRun, path: Path) -> None:
    """``grades.csv``: student_id, score, max_score, one column per question, then status."""
    keys = [question_key(q, run.questions) for q in run.questions]
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "score", "max_score", *keys, "status", "problems"])
        for r in run.results:
            writer.writerow([r.student, _fmt(r.score), _fmt(r.max_score),
                             *(_fmt(r.scores[k]) for k in keys), r.status, "; ".join(r.problems)])
    tmp.replace(path)


def _fmt(x: float) -> str:
    return f"{x:g}"


def summary_table(run: GradingRun) -> str:
    """A plain-text table of every student's scores, for the terminal."""
    keys = [question_key(q, run.questions) for q in run.questions]
    header = ["student", "score", *keys, "seconds", "status"]
    rows = [[r.student, f"{r.score:g}/{r.max_score:g}", *(f"{r.scores[k]:g}" for k in keys),
             f"{r.seconds:.1f}", "; ".join(r.problems or r.notes) or "ok"] for r in run.results]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, str(row[-1])]))
    lines.insert(1, "-" * len(lines[0]))
    if run.skipped:
        lines.append("")
        lines.extend(f"skipped {s}" for s in run.skipped)
    return "\n".join(lines)
