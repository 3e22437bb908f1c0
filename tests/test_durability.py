"""The grader survives a kill -9 at any moment, and parallel grading equals sequential grading."""

import csv
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from demo_class import TOTALS
from dying_workers import judge_or_die, judge_slowly_or_die
from notebooks import ROOT

from coursekit.grading.course import Course
from coursekit.grading.demo import make_demo_class
from coursekit.grading.pipeline import _run_tasks, _Task, grade

COURSE = Course.load(ROOT / "autograder")
ASSIGNMENT = "01-perceptron"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    subs = tmp_path_factory.mktemp("class") / "submissions"
    make_demo_class(ASSIGNMENT, subs, COURSE)
    # more students, so that a kill lands in the middle of the batch
    for k in range(4):
        (subs / f"ada{k}").mkdir()
        (subs / f"ada{k}" / "perceptron.ipynb").write_bytes((subs / "ada" / "perceptron.ipynb").read_bytes())
    return subs


def expected_scores():
    return {**TOTALS, **{f"ada{k}": 8 for k in range(4)}}


def judged(run):
    return {r.student: (r.scores, r.failures, r.flags) for r in run.results}


def test_parallel_grading_equals_sequential_grading(demo, tmp_path):
    sequential = grade(ASSIGNMENT, demo, tmp_path / "one", COURSE, timeout=5, jobs=1, log=lambda _: None)
    parallel = grade(ASSIGNMENT, demo, tmp_path / "two", COURSE, timeout=5, jobs=2, log=lambda _: None)
    assert judged(sequential) == judged(parallel)
    assert {r.student: r.score for r in parallel.results} == expected_scores()


def gradebook_scores(out):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", "coursekit") as gb:
        submissions = gb.assignment_submissions(ASSIGNMENT)
        return sorted((s.student.id, s.score) for s in submissions)


def test_a_grader_killed_at_any_moment_resumes_without_losing_or_duplicating(
    demo, tmp_path, short_tmp, monkeypatch
):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "coursekit.cli", "--course", str(ROOT / "autograder"), "grade",
               ASSIGNMENT, str(demo), "--out", str(out), "--timeout", "5", "--jobs", "2"]
    # Its scratch folder, which a kill -9 leaves behind, goes in a folder of this test's own, and
    # so does the next run's, which removes it.
    monkeypatch.setattr(tempfile, "tempdir", str(short_tmp))
    grader = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True, env={**os.environ, "TMPDIR": str(short_tmp)})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list((out / "results").glob("*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(grader.pid, signal.SIGKILL)  # the grader, its workers and their kernels
    grader.wait()
    finished = {p.stem for p in (out / "results").glob("*.json")}
    assert 3 <= len(finished) < len(expected_scores()), "the kill should land mid-batch"
    assert len(list(short_tmp.glob("coursekit-run-*"))) == 1

    run = grade(ASSIGNMENT, demo, out, COURSE, timeout=5, log=lambda _: None)
    assert list(short_tmp.iterdir()) == []  # the killed grader's folder and this run's are gone
    assert set(run.reused) >= finished - {"cy"}
    assert {r.student: r.score for r in run.results} == expected_scores()
    assert gradebook_scores(out) == sorted(expected_scores().items())
    assert not list((out / "results").glob("*.tmp*"))

    # grading a graded class again changes nothing and grades nobody again
    csv_before = (out / "grades.csv").read_text()
    again = grade(ASSIGNMENT, demo, out, COURSE, timeout=5, log=lambda _: None)
    assert sorted(again.reused) == sorted(expected_scores())
    assert (out / "grades.csv").read_text() == csv_before
    assert gradebook_scores(out) == sorted(expected_scores().items())
    with open(out / "grades.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == len(expected_scores())


def test_ctrl_c_stops_the_grader_with_one_line_and_keeps_what_was_graded(demo, tmp_path, short_tmp):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "coursekit.cli", "--course", str(ROOT / "autograder"), "grade",
               ASSIGNMENT, str(demo), "--out", str(out), "--timeout", "5", "--jobs", "2"]
    grader = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True, env={**os.environ, "TMPDIR": str(short_tmp)})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list((out / "results").glob("*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(grader.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends: the grader and its workers
    _, stderr = grader.communicate(timeout=120)
    assert grader.returncode == 130, stderr
    assert "coursekit: interrupted" in stderr and "Traceback" not in stderr, stderr
    finished = {p.stem for p in (out / "results").glob("*.json")}
    assert 2 <= len(finished) < len(expected_scores()), "Ctrl-C should land mid-batch"
    assert list(short_tmp.iterdir()) == []  # its scratch folder went with it

    run = grade(ASSIGNMENT, demo, out, COURSE, timeout=5, log=lambda _: None)
    assert set(run.reused) >= finished - {"cy"}
    assert {r.student: r.score for r in run.results} == expected_scores()


def test_a_half_written_result_is_graded_again(demo, tmp_path):
    out = tmp_path / "out"
    grade(ASSIGNMENT, demo, out, COURSE, timeout=5, students=["ben"], log=lambda _: None)
    path = out / "results" / "ben.json"
    path.write_text(path.read_text()[:50])  # as if the disk had filled up mid-write
    run = grade(ASSIGNMENT, demo, out, COURSE, timeout=5, students=["ben"], log=lambda _: None)
    assert run.reused == [] and run.by_student()["ben"].score == 2


def test_a_grader_failure_on_one_student_is_reported_and_not_kept(demo, tmp_path, monkeypatch):
    from coursekit.grading import pipeline

    def broken(task):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline, "_judge_task", broken)
    logged = []
    run = grade(ASSIGNMENT, demo, tmp_path / "out", COURSE, timeout=5, jobs=1, students=["ben", "eve"],
                log=logged.append)
    assert sorted(r.student for r in run.results) == ["ben", "eve"]
    assert any("RuntimeError: disk full" in line for line in logged)  # the traceback, for the instructor
    for result in run.results:
        assert result.score == 0 and "the grader failed on this submission" in result.problems[0]
        assert "disk full" in result.problems[0] and result.fingerprint == ""
    monkeypatch.undo()
    again = grade(ASSIGNMENT, demo, tmp_path / "out", COURSE, timeout=5, students=["ben"],
                  log=lambda _: None)
    assert "ben" not in again.reused and again.by_student()["ben"].score == 2
    # eve, not asked for, stays in the class's files as last graded: a failure, to be retried
    assert again.reused == ["eve"] and "the grader failed" in again.by_student()["eve"].problems[0]


def test_a_worker_killed_mid_batch_costs_nothing(demo, tmp_path, monkeypatch, short_tmp):
    # As the system's out-of-memory killer would: a worker process dies while it grades.
    logged, first_result, killed = [], threading.Event(), []

    def log(line):
        logged.append(line)
        if line.startswith("["):  # "[n/total] student: score"
            first_result.set()

    def kill_a_worker():
        if not first_result.wait(300):
            return
        workers = multiprocessing.active_children()
        if workers:
            os.kill(workers[0].pid, signal.SIGKILL)
            killed.append(workers[0].pid)

    # The run's scratch folder goes in a temporary folder of this test's own (short, as kernel
    # sockets need), so that nothing else can come and go there.
    monkeypatch.setattr(tempfile, "tempdir", str(short_tmp))
    killer = threading.Thread(target=kill_a_worker, daemon=True)
    killer.start()
    try:
        run = grade(ASSIGNMENT, demo, tmp_path / "out", COURSE, timeout=5, jobs=2, log=log)
    finally:
        first_result.set()  # the killer waits no longer
        killer.join()
    assert killed, "no worker was there to kill"
    assert any("a grading worker died" in line for line in logged), logged
    total = len(expected_scores())
    assert sorted(line.split()[0] for line in logged if line.startswith("[")) == sorted(
        f"[{n}/{total}]" for n in range(1, total + 1))  # each student once
    assert {r.student: r.score for r in run.results} == expected_scores()
    assert not any("grader failed" in p for r in run.results for p in r.problems)
    assert list(short_tmp.iterdir()) == []  # the dead worker's work and socket folders are gone too


def test_ctrl_c_while_students_are_graded_one_process_each_stops_them_at_once():
    # After a worker died, the rest are graded in a process each; Ctrl-C must end those too.
    def log(line):
        if "a grading worker died" in line:
            threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGINT)).start()

    tasks = [_Task(assignment="a", course_root="", student=s, notebooks={}, failures={}, notes=[],
                   hidden=[], timeout=5.0, memory=2**30, isolate=False, fingerprint="", reference="")
             for s in ("ann", "culprit", "bob")]
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        list(_run_tasks(tasks, 2, [], log, judge=judge_slowly_or_die))
    assert time.monotonic() - started < 30, "it waited for the students being graded"
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert multiprocessing.active_children() == []


def test_a_student_whose_grading_kills_its_worker_fails_alone():
    def task(student):
        return _Task(assignment="a", course_root="", student=student, notebooks={}, failures={}, notes=[],
                     hidden=[], timeout=5.0, memory=2**30, isolate=False, fingerprint=f"fp-{student}",
                     reference="")

    students = ["ann", "bob", "culprit", "dan", "eve", "fay"]
    logged = []
    results = list(_run_tasks([task(s) for s in students], 2, [], logged.append, judge=judge_or_die))
    assert sorted(r.student for r in results) == students  # each once
    by = {r.student: r for r in results}
    for student in students:
        if student == "culprit":
            assert by[student].score == 0 and "BrokenProcessPool" in by[student].problems[0]
            assert by[student].fingerprint == ""  # not kept: a rerun grades it again
        else:
            assert by[student].score == 1 and not by[student].problems, by[student]
    assert any("a grading worker died" in line for line in logged)
