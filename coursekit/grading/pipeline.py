"""``coursekit grade``: grade a class's notebooks for one assignment, in one command.

Each submission runs in its own sandboxed kernel (:mod:`coursekit.grading.runner`); the values its
functions return are judged afterwards, in a worker where no student code has run
(:mod:`coursekit.grading.judge`). Several submissions are graded at once.

What is written to ``out``:

- ``results/<student>.json``: each student's judgement, written atomically as soon as it is
  known. A rerun keeps every result whose notebook, checks and reference are unchanged, so a
  grader killed at any moment resumes where it stopped, and grading a graded class again is
  idempotent.
- ``gradebook.db`` (or the database of ``db_url``): an nbgrader gradebook, filled from the
  results, so that ``nbgrader export`` works.
- ``feedback/<student>/<assignment>/<notebook>.html``, ``grades.csv`` and ``report.html``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import hashlib
import json
import logging
import multiprocessing
import os
import re
import shutil
import signal
import threading
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from coursekit.grading import record, sandbox
from coursekit.grading.course import Course, CourseError, ensure_scripts_on_path, nbgrader_api
from coursekit.grading.intake import OptionError, Submission, check_submissions, collect, printable
from coursekit.grading.judge import CaseFailure, QuestionResult, judge_question, load_checks
from coursekit.grading.runner import nbgrader_meta as runner_meta
from coursekit.grading.sandbox import DEFAULT_MEMORY, DEFAULT_TIMEOUT
from coursekit.grading.scratch import run_scratch

#: Bumped whenever the judgement changes, so that old results are not reused.
RESULTS_VERSION = 1


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
    flags: list[str] = field(default_factory=list)
    failures: dict[str, list[dict]] = field(default_factory=dict)
    feedback: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    fingerprint: str = ""

    @property
    def score(self) -> float:
        return sum(self.scores.values())

    @property
    def status(self) -> str:
        return "problem" if self.problems else "ok"

    def to_json(self) -> dict:
        data = asdict(self)
        data["feedback"] = [str(p) for p in self.feedback]
        data["version"] = RESULTS_VERSION
        return data

    @classmethod
    def from_json(cls, data: dict) -> StudentResult:
        data = {k: v for k, v in data.items() if k != "version"}
        data["feedback"] = [Path(p) for p in data.get("feedback", [])]
        return cls(**data)


@dataclass
class GradingRun:
    """The outcome of :func:`grade`."""

    assignment: str
    questions: list[Question]
    results: list[StudentResult]
    skipped: list[str]
    out: Path
    reused: list[str] = field(default_factory=list)

    def by_student(self) -> dict[str, StudentResult]:
        return {r.student: r for r in self.results}


def question_key(question: Question, questions: list[Question]) -> str:
    """Column name of a question: its grade id, prefixed by the notebook when there are several."""
    notebooks = {q.notebook for q in questions}
    return question.grade_id if len(notebooks) == 1 else f"{question.notebook}:{question.grade_id}"


@dataclass
class _Task:
    """Everything a worker needs to grade one student (plain data, so that it can be sent)."""

    assignment: str
    course_root: str
    student: str
    notebooks: dict[str, str]
    failures: dict[str, str]
    notes: list[str]
    hidden: list[str]
    timeout: float
    memory: int
    isolate: bool
    fingerprint: str
    reference: str
    scratch: str | None = None  #: the run's folder for work folders and kernel sockets


def grade(
    assignment: str,
    submissions: str | Path,
    out: str | Path,
    course: Course | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    memory: int = DEFAULT_MEMORY,
    students: list[str] | None = None,
    jobs: int | None = None,
    db_url: str | None = None,
    isolate: bool = True,
    shard: tuple[int, int] | None = None,
    roster: str | Path | None = None,
    due=None,
    pattern: str | None = None,
    hide: list[str | Path] = (),
    log=print,
    progress: bool = False,
) -> GradingRun:
    """Grade every submission of ``assignment``; write results, gradebook, feedback and CSV.

    Parameters
    ----------
    assignment : str
        Assignment id, a folder of the course's source directory (e.g. ``"01-perceptron"``).
    submissions : path
        One folder per student, ``<student>.ipynb`` files, or an LMS download ``.zip``.
    out : path
        Where the results, gradebook, feedback, ``grades.csv`` and ``report.html`` are written.
    course : Course, optional
        Found from the working directory by default.
    timeout : float
        Seconds each cell (and each graded call) may run before it is stopped.
    memory : int
        Bytes of memory (address space) each student's kernel may use.
    students : list of str, optional
        Grade only these students. The class's files (``grades.csv``, the report) keep the other
        students' latest results from earlier runs, as the gradebook does.
    jobs : int, optional
        Submissions graded at once; the number of cores by default.
    db_url : str, optional
        The gradebook's database (e.g. PostgreSQL); ``out/gradebook.db`` by default.
    isolate : bool
        Run student code under bubblewrap where it is available.
    shard : (int, int), optional
        ``(k, n)``: grade only the students of shard ``k`` of ``n`` (by a hash of the id), so that
        ``n`` machines sharing one ``db_url`` split a class between them.
    roster : path, optional
        CSV of the class (a ``student_id`` column): students who handed in nothing score 0.
    due : datetime, optional
        For a folder of hand-ins: the deadline; notebooks modified later are graded and reported as
        late. (In a zip, lateness is the LMS's own mark; see :func:`~coursekit.grading.intake.collect`.)
    pattern : str, optional
        For a zip: the regular expression that finds the student in an entry's name (see
        :data:`coursekit.grading.intake.LMS_PATTERN`).
    hide : list of path
        More folders or files that student code must not see, besides the course, ``out`` and
        the submissions: say, the class's hand-ins of other assignments.
    log : callable
        Receives one line per student.
    progress : bool
        Show a progress bar.
    """
    course = course or Course.find()
    notebook_names = course.notebooks(assignment)
    _check_limits(timeout, memory, jobs)
    check_submissions(submissions)
    out = _output_folder(out, Path(submissions), assignment)
    db_url = db_url or f"sqlite:///{out / 'gradebook.db'}"
    checks_path = judges_path(course, assignment)
    load_checks(checks_path)  # a broken judges file stops here, before any student is graded

    # A zip is unpacked inside ``out``, which student kernels cannot see.
    shutil.rmtree(out / "intake", ignore_errors=True)
    options = {"roster": roster, "due": due, "workdir": out / "intake"}
    if pattern:
        options["pattern"] = pattern
    collected, skipped = collect(submissions, notebook_names, **options)
    others = []  # with --student: the rest of the class, whose earlier results are kept
    if students:
        unknown = sorted(set(students) - {s.student for s in collected})
        if unknown:
            raise CourseError(f"no submission for student(s) {', '.join(unknown)} in {submissions}")
        others = [s for s in collected if s.student not in students]
        collected = [s for s in collected if s.student in students]
    if shard is not None:
        collected = [s for s in collected if shard_of(s.student, shard[1]) == shard[0]]
    _prepare_gradebook(course, assignment, out, db_url)
    questions = _questions(course, assignment, notebook_names)
    course_key = _course_fingerprint(course, assignment, checks_path)
    hidden = [str(p) for p in [*_hidden_paths(course, out, Path(submissions)), *map(Path, hide)]]
    if isolate and sandbox.bwrap() is None:
        warnings.warn(sandbox.NOT_ISOLATED, sandbox.SandboxWarning, stacklevel=2)
        isolate = False
    # Every work folder (the reference run's and each student's) and each kernel's sockets go in
    # one folder for the run, removed at the end: a worker that dies half-way leaves nothing, and
    # the next run removes what a grader killed outright left. If grading stops early (an error,
    # Ctrl-C), the workers stop first, then it goes.
    with contextlib.ExitStack() as stack:
        scratch = stack.enter_context(run_scratch())
        reference = _reference(course, assignment, out, course_key, timeout, scratch)

        results_dir = out / "results"
        results_dir.mkdir(exist_ok=True)
        for stale in results_dir.iterdir():  # left by a grader that was killed while writing
            if re.search(r"\.tmp\d+$", stale.name):
                stale.unlink()
        done: dict[str, StudentResult] = {}
        todo: list[_Task] = []
        chosen = {s.student for s in collected}
        for submission in others + collected:
            previous = _load_result(results_dir / f"{submission.student}.json")
            if submission.student not in chosen:  # the rest of the class: as last graded, if ever
                if previous is not None:
                    done[submission.student] = previous
                continue
            fingerprint = _fingerprint(submission, course_key, timeout, memory)
            if previous is not None and previous.fingerprint == fingerprint:
                done[submission.student] = previous
                continue
            todo.append(_Task(assignment, str(course.root), submission.student,
                              {k: str(v) for k, v in submission.notebooks.items()},
                              dict(submission.failures), list(submission.notes), hidden, float(timeout),
                              int(memory), isolate, fingerprint, str(reference), scratch=scratch))
        reused = sorted(done)

        total, already = len(collected), len(collected) - len(todo)
        bar = _progress(total, progress, initial=already)
        stack.callback(bar.close)
        results = stack.enter_context(contextlib.closing(_run_tasks(todo, jobs, questions, log)))
        for n, result in enumerate(results, already + 1):
            _write_feedback(result, assignment, course, questions, out)
            _save_result(results_dir / f"{result.student}.json", result)
            done[result.student] = result
            problem = f"  ({'; '.join(result.problems)})" if result.problems else ""
            log(f"[{n}/{total}] {result.student}: {result.score:g}/{result.max_score:g}{problem}")
            bar.update(1)

    results = [done[student] for student in sorted(done)]
    _write_gradebook(db_url, course, assignment, questions, results)
    run = GradingRun(assignment, questions, results, skipped, out, reused)
    write_csv(run, out / "grades.csv")
    from coursekit.grading.report import write_report

    write_report(run, out / "report.html")
    return run


def _check_limits(timeout: float, memory: int, jobs: int | None) -> None:
    """Refuse limits that would fail every student (a time of 0) or lift a guard (no memory cap)."""
    if not timeout > 0:
        raise OptionError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    if not memory > 0:
        raise OptionError(f"memory must be a number of bytes > 0, got {memory!r}")
    if jobs is not None and not jobs >= 1:
        raise OptionError(f"jobs must be >= 1, got {jobs!r}")


#: The folders of ``out`` that grading empties or writes files in.
MANAGED = ("intake", "results", "feedback")

#: A file in ``out`` naming the assignment whose grades it holds.
ASSIGNMENT_MARK = ".coursekit-assignment"


def _output_folder(out: str | Path, submissions: Path, assignment: str) -> Path:
    """``out``, made if need be; a clear error if it cannot be, lies among the submissions, holds
    them where grading writes, or holds another assignment's grades."""
    out = Path(out).resolve()
    if submissions.is_dir() and out.is_relative_to(submissions.resolve()):
        raise CourseError(f"the output folder {out} is inside the submissions folder {submissions}, "
                          "where it would be taken for a student's work: choose another --out")
    if any(submissions.resolve().is_relative_to(out / name) for name in MANAGED):
        raise CourseError(f"the submissions {submissions} are inside {out}'s {'/'.join(MANAGED)} "
                          "folders, which grading empties or writes in: move them, or choose another --out")
    if out.exists() and not out.is_dir():
        raise CourseError(f"the output folder {out} is a file")
    mark = out / ASSIGNMENT_MARK
    graded = mark.read_text().strip() if mark.is_file() else assignment
    if graded != assignment:
        raise CourseError(f"the output folder {out} holds the grades of {graded}: choose another --out "
                          f"for {assignment}")
    try:
        out.mkdir(parents=True, exist_ok=True)
        mark.write_text(assignment + "\n")
    except OSError as error:
        raise CourseError(f"cannot write in the output folder {out}: {error.strerror or error}") from None
    return out


def shard_of(student: str, shards: int) -> int:
    """The shard a student belongs to: stable across machines and runs."""
    if shards < 1:
        raise ValueError(f"the number of shards must be >= 1, got {shards}")
    return int(hashlib.sha256(student.encode()).hexdigest(), 16) % shards


def judges_path(course: Course, assignment: str) -> Path:
    """The file of checks for an assignment: ``<course>/judges/<assignment>.py``."""
    return course.root / "judges" / f"{assignment}.py"


def _hidden_paths(course: Course, out: Path, submissions: Path) -> list[Path]:
    """What a student's kernel must not see: answers, gradebooks, others' work, the history."""
    repo = course.source.parent
    candidates = [course.source, course.root, out, submissions.resolve(), repo / ".git", repo / "tests",
                  repo / "bench"]
    return [p for p in candidates if p.exists()]


# -- one student, in a worker -----------------------------------------------------------------------


def _run_tasks(tasks: list[_Task], jobs: int | None, questions: list, log, judge=None):
    """Grade the tasks, several at once, yielding each result as soon as it is ready.

    Whatever goes wrong on the grader's side for one student (an exception, or a worker process
    that dies) is reported for that student, and the batch goes on. ``judge(task)`` grades one
    task (:func:`_judge_task` by default); in a worker, so it must be importable by name.
    ``jobs=1`` grades in this process, one student after the other: there, a student whose
    grading kills the process kills the grader (which resumes when run again).
    """
    judge = judge or _judge_task
    jobs = max(1, jobs or os.cpu_count() or 1)
    if jobs == 1:
        for task in tasks:
            try:
                result = judge(task)
            except Exception as error:  # a failure of the machinery, not a judgement
                result = _grader_failure(task, questions, error, log)
            yield result
        return
    if not tasks:
        return
    # A worker that dies (killed for memory, say) breaks its whole pool, and which student it
    # was grading is not known. The students left unfinished are then graded in pools of one
    # worker each, ``jobs`` at a time: a death there is that student's alone.
    unfinished = yield from _run_pool(judge, tasks, jobs, questions, log)
    if not unfinished:
        return
    log(f"a grading worker died: grading {len(unfinished)} student(s) again, each in a process of its own")
    threads = concurrent.futures.ThreadPoolExecutor(min(jobs, len(unfinished)))
    alone = _Alone()
    try:
        futures = {threads.submit(alone.grade, judge, task): task for task in unfinished}
        for future in concurrent.futures.as_completed(futures):
            task = futures[future]
            try:
                result = future.result()
            except Exception as error:  # the worker died, or its pool could not be made
                result = _grader_failure(task, questions, error, log)
            yield result
    except BaseException:  # Ctrl-C, or grading stopped on this side: stop the workers now
        threads.shutdown(wait=False, cancel_futures=True)
        alone.stop()
        raise
    finally:
        threads.shutdown(wait=True, cancel_futures=True)


def _run_pool(judge, tasks: list[_Task], jobs: int, questions: list, log):
    """Grade the tasks in one pool of worker processes, yielding each result as it is ready.

    Returns the tasks left unfinished because a worker died.
    """
    unfinished = []
    pool = _worker_pool(min(jobs, len(tasks)))
    try:
        futures = {pool.submit(judge, task): task for task in tasks}
        for future in concurrent.futures.as_completed(futures):
            try:
                result = future.result()
            except concurrent.futures.process.BrokenProcessPool:
                unfinished.append(futures[future])
                continue
            except Exception as error:  # a failure of the machinery, not a judgement
                result = _grader_failure(futures[future], questions, error, log)
            yield result
    except BaseException:  # Ctrl-C, or grading stopped on this side: stop now, not after the
        _stop_workers(pool)  # students being graded
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # stopped early: grade no one else
    return unfinished


class _Alone:
    """Grades tasks in a worker process each (from threads: it raises, never logs), and stops
    them all, those still starting included, when grading stops early."""

    def __init__(self):
        self.pools: list[concurrent.futures.ProcessPoolExecutor] = []
        self.lock = threading.Lock()
        self.stopped = False

    def grade(self, judge, task: _Task) -> StudentResult:
        with _worker_pool(1) as pool:
            with self.lock:  # started and listed at once, so that stop() cannot miss it
                if self.stopped:
                    raise RuntimeError("grading was stopped")
                future = pool.submit(judge, task)
                self.pools.append(pool)
            return future.result()

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            for pool in self.pools:
                _stop_workers(pool)


def _worker_pool(jobs: int) -> concurrent.futures.ProcessPoolExecutor:
    # Spawned, not forked: no kernel clients or sockets inherited. Ctrl-C in a terminal reaches
    # the workers too; they ignore it, and the grader stops them (_stop_workers).
    return concurrent.futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                                  initializer=_ignore_interrupts)


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_workers(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """End the pool's workers at once; their kernels end with them (bubblewrap's
    --die-with-parent, or ipykernel's watch on its parent)."""
    # The pool's own list of its processes: concurrent.futures has no public way before 3.14.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


def _grader_failure(task: _Task, questions: list, error: Exception, log) -> StudentResult:
    """A zero for a student the grader failed on, saying so; not kept for a rerun to reuse."""
    log(f"{task.student}: the grader failed:\n" + "".join(traceback.format_exception(error)).rstrip())
    result = _blank_result(task, questions, fingerprint="")
    result.problems.insert(0, f"the grader failed on this submission ({type(error).__name__}: "
                              f"{str(error)[:200]}); run coursekit grade again to retry it")
    return result


def _blank_result(task: _Task, questions: list, fingerprint: str) -> StudentResult:
    """No points yet, the intake's notes and problems of the submission."""
    result = StudentResult(task.student, {question_key(q, questions): 0.0 for q in questions},
                           sum(q.max_score for q in questions), notes=list(task.notes),
                           fingerprint=fingerprint)
    result.problems.extend(f"{nb}.ipynb: {why}" for nb, why in task.failures.items())
    return result


def _judge_task(task: _Task) -> StudentResult:
    from coursekit.grading.runner import run_notebook

    started = time.perf_counter()
    course = Course.load(task.course_root)
    checks = load_checks(judges_path(course, task.assignment))
    questions = _questions(course, task.assignment, course.notebooks(task.assignment))
    reference = record.load(Path(task.reference))
    result = _blank_result(task, questions, task.fingerprint)
    by_id = {c.grade_id: c for c in checks}
    for name, path in task.notebooks.items():
        release = nbformat.read(course.release / task.assignment / f"{name}.ipynb", as_version=4)
        mine = [q for q in questions if q.notebook == name]
        nb_checks = [by_id[q.grade_id] for q in mine if q.grade_id in by_id]
        trials = {c.grade_id: c.draw() for c in nb_checks}
        recording = run_notebook(Path(path), release, nb_checks, trials, [Path(p) for p in task.hidden],
                                 task.timeout, task.memory, task.isolate, task.scratch)
        result.notes.extend(recording.problems)
        result.flags.extend(recording.flags)
        for q in mine:
            key = question_key(q, questions)
            check = by_id.get(q.grade_id)
            if check is None:
                result.notes.append(f"{q.grade_id} has no check in the judges file, so it scores 0")
                continue
            judged = judge_question(check, q.max_score, trials[q.grade_id], recording.results.get(q.grade_id),
                                    reference[q.grade_id], recording.solution_sources.get(q.grade_id, ""),
                                    recording.missing.get(q.grade_id, ""))
            result.scores[key] = judged.score
            result.failures[key] = [asdict(f) for f in judged.failures]
            result.flags.extend(f"{q.grade_id}: {flag}" for flag in judged.flags)
    result.seconds = time.perf_counter() - started
    return result


def _reference(course: Course, assignment: str, out: Path, course_key: str, timeout: float,
               scratch: str) -> Path:
    """Run the instructor's notebook on the trials once; save its outputs, the expected values.

    They are kept in ``out/reference/`` and reused while the notebook and the checks stay the same.
    The run's work folder goes in ``scratch``.
    """
    from coursekit.grading.runner import run_notebook

    folder = out / "reference"
    folder.mkdir(exist_ok=True)
    path, stamp = folder / assignment, folder / f"{assignment}.fingerprint"
    if stamp.is_file() and stamp.read_text() == course_key and path.is_file():
        return path
    checks = load_checks(judges_path(course, assignment))
    outputs: dict[str, list | None] = {c.grade_id: None for c in checks}
    for name in course.notebooks(assignment):
        source = course.source / assignment / f"{name}.ipynb"
        release = nbformat.read(course.release / assignment / f"{name}.ipynb", as_version=4)
        ids = {runner_meta(c).get("grade_id") for c in release.cells}
        mine = [c for c in checks if c.grade_id in ids]
        recording = run_notebook(source, release, mine, {c.grade_id: c.draw() for c in mine}, [],
                                 max(timeout, 60), DEFAULT_MEMORY, isolate=False, scratch=scratch)
        for check in mine:
            got = recording.results.get(check.grade_id)
            problems = [r.get("error") for r in got or [] if isinstance(r, dict) and r.get("error")]
            if check.verdict is None and (got is None or problems):
                why = recording.missing.get(check.grade_id) or problems[0]
                raise CourseError(f"the instructor's notebook {source.name} fails its own check "
                                  f"{check.grade_id}: {why}")
            outputs[check.grade_id] = got
    record.save(path, outputs)
    stamp.write_text(course_key)
    return path


# -- bookkeeping ------------------------------------------------------------------------------------


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


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def _course_fingerprint(course: Course, assignment: str, checks_path: Path) -> str:
    files = sorted((course.source / assignment).glob("*.ipynb")) + [checks_path]
    return _digest(str(RESULTS_VERSION).encode(), *(p.read_bytes() for p in files))


def _fingerprint(submission: Submission, course_key: str, timeout: float, memory: int) -> str:
    parts = [course_key.encode(), f"{float(timeout)}:{int(memory)}".encode(),
             json.dumps(submission.failures).encode(), json.dumps(submission.notes).encode()]
    for name in sorted(submission.notebooks):
        parts += [name.encode(), submission.notebooks[name].read_bytes()]
    return _digest(*parts)


def _load_result(path: Path) -> StudentResult | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != RESULTS_VERSION:
            return None
        return StudentResult.from_json(data)
    except (OSError, ValueError, TypeError, KeyError):
        return None  # absent, or cut short by a kill: grade again


def _save_result(path: Path, result: StudentResult) -> None:
    """Write atomically: a reader sees the old file or the new one, never half of one."""
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(result.to_json(), f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def _prepare_gradebook(course: Course, assignment: str, out: Path, db_url: str) -> None:
    """Create the assignment, its notebooks and graded cells in the gradebook (nbgrader's way)."""
    config = Course.config_of(course.root)
    directory = config.CourseDirectory
    directory.root = str(out)
    directory.source_directory = str(course.source)
    directory.release_directory = str(out / "release")
    directory.db_url = db_url
    config.NbGraderAPI.log_level = logging.WARNING
    ensure_scripts_on_path()
    with _gradebook_lock(db_url, out):  # shards starting together must not both create it
        if _assignment_in_gradebook(db_url, config, assignment, course):
            return  # another shard, or an earlier run, made it already
        api = nbgrader_api(config)
        generated = api.generate_assignment(assignment, force=True, create=True)
        if not generated["success"]:
            raise CourseError(f"nbgrader could not generate {assignment}:\n{generated.get('error', '')}")


@contextlib.contextmanager
def _gradebook_lock(db_url: str, out: Path):
    """Hold a lock that every grader of this gradebook takes: PostgreSQL's advisory lock for a
    server, a file lock beside the results for SQLite."""
    if db_url.startswith("postgresql"):
        import sqlalchemy

        engine = sqlalchemy.create_engine(db_url)
        key = int(hashlib.sha256(b"coursekit gradebook").hexdigest()[:15], 16)
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        engine.dispose()
    else:
        import fcntl

        with open(out / ".gradebook.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield


def _assignment_in_gradebook(db_url: str, config, assignment: str, course: Course) -> bool:
    """True if the gradebook has the assignment with exactly the graded cells of its notebooks."""
    from nbgrader.api import Gradebook, MissingEntry

    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).is_file():
        return False
    wanted = {(q.notebook, q.grade_id, q.max_score)
              for q in _questions(course, assignment, course.notebooks(assignment))}
    with Gradebook(db_url, config.CourseDirectory.get("course_id", "coursekit")) as gb:
        try:
            found = gb.find_assignment(assignment)
        except MissingEntry:
            return False
        have = {(nb.name, cell.name, float(cell.max_score))
                for nb in found.notebooks for cell in nb.grade_cells}
    return have == wanted


def _write_gradebook(db_url: str, course: Course, assignment: str, questions, results) -> None:
    """Put every result in the gradebook, one transaction per student; repeating it changes nothing."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    course_id = Course.config_of(course.root).CourseDirectory.get("course_id", "coursekit")
    ensure_scripts_on_path()
    with Gradebook(db_url, course_id) as gb, warnings.catch_warnings():
        # nbgrader's own session handling warns on every new submission; it is not our doing.
        warnings.filterwarnings("ignore", message=".*not in session.*", category=SAWarning)
        for result in results:
            gb.update_or_create_student(result.student)
            gb.update_or_create_submission(assignment, result.student)
            for q in questions:
                grade_record = gb.find_grade(q.grade_id, q.notebook, assignment, result.student)
                grade_record.auto_score = result.scores[question_key(q, questions)]
                grade_record.manual_score = None
            gb.db.commit()


def _progress(total: int, show: bool, initial: int = 0):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="grading", unit="student", disable=not show)


def _write_feedback(result: StudentResult, assignment: str, course: Course, questions, out: Path) -> None:
    from coursekit.grading.feedback import write_feedback

    result.feedback = write_feedback(result, assignment, questions, out, question_key)


# -- outputs ----------------------------------------------------------------------------------------


def write_csv(run: GradingRun, path: Path) -> None:
    """``grades.csv``: student_id, score, max_score, one column per question, then status, problems,
    flags (tampering, delegation) and notes (lateness, cells that failed)."""
    keys = [question_key(q, run.questions) for q in run.questions]
    tmp = path.with_suffix(f".csv.tmp{os.getpid()}")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "score", "max_score", *keys, "status", "problems", "flags", "notes"])
        for r in run.results:
            writer.writerow([r.student, _fmt(r.score), _fmt(r.max_score),
                             *(_fmt(r.scores[k]) for k in keys), r.status, "; ".join(r.problems),
                             "; ".join(r.flags), "; ".join(r.notes)])
    tmp.replace(path)


def _fmt(x: float) -> str:
    return f"{x:g}"


def summary_table(run: GradingRun) -> str:
    """A plain-text table of every student's scores, for the terminal."""
    keys = [question_key(q, run.questions) for q in run.questions]
    header = ["student", "score", *keys, "seconds", "status"]
    rows = [[r.student, f"{r.score:g}/{r.max_score:g}", *(f"{r.scores[k]:g}" for k in keys),
             f"{r.seconds:.1f}", "; ".join(r.problems or r.notes or r.flags) or "ok"] for r in run.results]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, str(row[-1])]))
    lines.insert(1, "-" * len(lines[0]))
    if run.skipped:
        lines.append("")
        lines.extend(f"skipped {s}" for s in run.skipped)
    return "\n".join(printable(line) for line in lines)


__all__ = ["CaseFailure", "GradingRun", "Question", "QuestionResult", "StudentResult", "grade",
           "summary_table", "write_csv"]
