"""Grading, end to end: the demo class of lesson 1 gets exactly the scores it earned."""

import csv
import re
import subprocess
import sys

import nbformat
import pytest
from demo_class import EXPECTED
from notebooks import ROOT

from coursekit.grading.course import Course, CourseError
from coursekit.grading.demo import make_demo_class
from coursekit.grading.intake import collect, unreadable_reason
from coursekit.grading.pipeline import grade, summary_table

COURSE = Course.load(ROOT / "autograder")
ASSIGNMENT = "01-perceptron"
QUESTIONS = {"test_predict": 2, "test_perceptron_update": 3, "test_train_perceptron": 3}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    make_demo_class(ASSIGNMENT, root / "submissions", COURSE)
    lines = []
    run = grade(ASSIGNMENT, root / "submissions", root / "out", COURSE, timeout=5, log=lines.append)
    return run, root, lines


def test_each_demo_student_gets_exactly_what_they_earned(demo):
    run, _, _ = demo
    assert [q.grade_id for q in run.questions] == list(QUESTIONS)
    assert [q.max_score for q in run.questions] == list(QUESTIONS.values())
    got = {r.student: r.scores for r in run.results}
    assert got == EXPECTED
    assert {r.student: r.max_score for r in run.results} == dict.fromkeys(EXPECTED, 8)


def test_broken_submissions_are_reported_with_their_reason(demo):
    run, _, lines = demo
    results = run.by_student()
    assert results["cy"].problems and "not JSON" in results["cy"].problems[0]
    assert not results["ada"].problems and not results["dee"].problems
    assert len(results["dee"].notes) == 1 and "ran past the time limit" in results["dee"].notes[0]
    assert results["gus"].notes == [], "a loose <student>.ipynb is not a renamed notebook"
    # parallel workers finish in any order: the line says how far the batch is, then the student
    assert any(re.match(r"\[\d/6\] cy: 0/8", line) and "not JSON" in line for line in lines)


def test_grades_csv_has_a_column_per_question(demo):
    _, root, _ = demo
    with open(root / "out" / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:6] == ["student_id", "score", "max_score", *QUESTIONS]
    by_student = {row["student_id"]: row for row in rows}
    assert set(by_student) == set(EXPECTED)
    for student, scores in EXPECTED.items():
        row = by_student[student]
        assert float(row["score"]) == sum(scores.values())
        assert float(row["max_score"]) == 8
        assert {q: float(row[q]) for q in QUESTIONS} == scores


def test_every_student_gets_feedback_html(demo):
    run, root, _ = demo
    for result in run.results:
        assert result.feedback, f"no feedback for {result.student}"
        text = result.feedback[0].read_text()
        assert "<html" in text.lower()
    assert "not JSON" in run.by_student()["cy"].feedback[0].read_text()


def test_gradebook_is_an_nbgrader_gradebook(demo):
    from nbgrader.api import Gradebook

    _, root, _ = demo
    with Gradebook(f"sqlite:///{root / 'out' / 'gradebook.db'}", "coursekit") as gb:
        assert gb.find_submission(ASSIGNMENT, "ada").score == 8
        assert gb.find_submission(ASSIGNMENT, "ben").score == 2


def test_summary_table_lists_every_student(demo):
    run, _, _ = demo
    table = summary_table(run)
    for student, scores in EXPECTED.items():
        assert f"{student}  " in table and f"{sum(scores.values())}/8" in table


def test_summary_table_does_not_pass_control_characters_to_the_terminal(demo):
    import dataclasses

    run, _, _ = demo
    first = dataclasses.replace(run.results[0], problems=["NameError: \x1b[2J\x1b]0;owned\x07"])
    odd = dataclasses.replace(run, results=[first], skipped=["\x1b[1A\rhidden.ipynb: not a folder"])
    table = summary_table(odd)
    assert "\x1b" not in table and "\x07" not in table and "\r" not in table
    assert "NameError: \\x1b[2J\\x1b]0;owned\\x07" in table
    assert "skipped \\x1b[1A\\rhidden.ipynb: not a folder" in table


def test_grading_again_gives_the_same_grades(demo, tmp_path):
    run, root, _ = demo
    again = grade(ASSIGNMENT, root / "submissions", root / "out", COURSE, timeout=5,
                  students=["ben"], log=lambda _: None)
    assert again.by_student()["ben"].scores == EXPECTED["ben"]


def test_cli_grades_one_student_and_prints_a_table(demo, tmp_path):
    _, root, _ = demo
    # A result half-written by a killed grader goes; a student whose id holds ".tmp" stays.
    (tmp_path / "out" / "results").mkdir(parents=True)
    (tmp_path / "out" / "results" / "ada.tmp4242").write_text("{")
    (tmp_path / "out" / "results" / "jo.tmpkins.json").write_text("{}")
    done = subprocess.run(
        [sys.executable, "-m", "coursekit.cli", "--course", str(ROOT / "autograder"), "grade", ASSIGNMENT,
         str(root / "submissions"), "--out", str(tmp_path / "out"), "--student", "ada"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "ada" in done.stdout and "8/8" in done.stdout
    assert (tmp_path / "out" / "grades.csv").is_file()
    assert sorted(p.name for p in (tmp_path / "out" / "results").iterdir()) == ["ada.json", "jo.tmpkins.json"]


def test_cli_reports_unknown_assignment_clearly(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "coursekit.cli", "--course", str(ROOT / "autograder"), "grade", "99-nope",
         str(tmp_path), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert "unknown assignment '99-nope'" in done.stderr and ASSIGNMENT in done.stderr


def test_unknown_student_is_refused(demo, tmp_path):
    _, root, _ = demo
    with pytest.raises(CourseError, match="no submission for student"):
        grade(ASSIGNMENT, root / "submissions", tmp_path, COURSE, students=["zed"])


# -- intake --------------------------------------------------------------------------------------


def write_nb(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), path)


def test_intake_finds_folders_loose_files_and_renamed_notebooks(tmp_path):
    write_nb(tmp_path / "ann" / "perceptron.ipynb")
    write_nb(tmp_path / "bob" / "nested" / "perceptron.ipynb")
    write_nb(tmp_path / "cat" / "perceptron (1).ipynb")
    write_nb(tmp_path / "dan.ipynb")
    (tmp_path / "notes.txt").write_text("not a submission")
    subs, skipped = collect(tmp_path, ["perceptron"])
    by = {s.student: s for s in subs}
    assert sorted(by) == ["ann", "bob", "cat", "dan"]
    assert by["bob"].notebooks["perceptron"].parent.name == "nested"
    assert by["cat"].notebooks["perceptron"].name == "perceptron (1).ipynb"
    assert "renamed" in by["cat"].notes[0]
    assert not any(s.failures for s in subs)
    assert skipped == ["notes.txt: not a folder or a .ipynb file"]


def test_intake_reports_missing_empty_and_corrupt_notebooks(tmp_path):
    (tmp_path / "ann").mkdir()
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "perceptron.ipynb").write_text("")
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "perceptron.ipynb").write_text('{"cells": [], "nbformat": 3}')
    (tmp_path / "dan").mkdir()
    (tmp_path / "dan" / "perceptron.ipynb").write_bytes(b"\xff\xfe garbage")
    subs, _ = collect(tmp_path, ["perceptron"])
    reasons = {s.student: s.failures.get("perceptron", "") for s in subs}
    assert reasons["ann"] == "no perceptron.ipynb handed in"
    assert reasons["bob"] == "the file is empty"
    assert "format version 3" in reasons["cat"]
    assert "not JSON" in reasons["dan"]


def test_intake_refuses_unusable_student_ids(tmp_path):
    write_nb(tmp_path / "-rf" / "perceptron.ipynb")
    write_nb(tmp_path / "ok_student" / "perceptron.ipynb")
    subs, skipped = collect(tmp_path, ["perceptron"])
    assert [s.student for s in subs] == ["ok_student"]
    assert "not a usable student id" in skipped[0]


def test_invalid_notebook_structure_is_explained(tmp_path):
    path = tmp_path / "x.ipynb"
    path.write_text('{"cells": [{"cell_type": "code"}], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}')
    assert unreadable_reason(path).startswith("not a valid notebook")


def test_regrading_a_hand_in_that_broke_leaves_no_stale_grades(demo, tmp_path):
    from nbgrader.api import Gradebook

    _, root, _ = demo
    subs, out = tmp_path / "subs", tmp_path / "out"
    (subs / "ada").mkdir(parents=True)
    good = (root / "submissions" / "ada" / "perceptron.ipynb").read_text()
    (subs / "ada" / "perceptron.ipynb").write_text(good)
    first = grade(ASSIGNMENT, subs, out, COURSE, timeout=5, log=lambda _: None)
    assert first.by_student()["ada"].score == 8

    (subs / "ada" / "perceptron.ipynb").write_text(good[:100])
    again = grade(ASSIGNMENT, subs, out, COURSE, timeout=5, log=lambda _: None).by_student()["ada"]
    assert again.score == 0 and "not JSON" in again.problems[0]
    assert [p.name for p in again.feedback] == ["perceptron.html"]
    assert "not JSON" in again.feedback[0].read_text()
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", "coursekit") as gb:
        assert gb.find_submission(ASSIGNMENT, "ada").score == 0  # the earlier 8 is gone


def test_lessons_regenerates_only_the_assignments_named(tmp_path):
    from coursekit.grading.lessons import generate

    written = generate(COURSE, release=tmp_path, assignments=["02-xor"])
    assert [p.relative_to(tmp_path).as_posix() for p in written] == ["02-xor/xor.ipynb"]
    with pytest.raises(CourseError, match="unknown assignment 'nope'"):
        generate(COURSE, release=tmp_path, assignments=["nope"])


def test_without_bubblewrap_grading_warns_once_and_still_grades(demo, tmp_path, monkeypatch):
    from coursekit.grading import sandbox

    _, root, _ = demo
    monkeypatch.setattr(sandbox, "bwrap", lambda: None)
    with pytest.warns(sandbox.SandboxWarning, match="without isolation") as caught:
        run = grade(ASSIGNMENT, root / "submissions", tmp_path / "out", COURSE, timeout=5, jobs=1,
                    students=["ada"], log=lambda _: None)
    assert len([w for w in caught if w.category is sandbox.SandboxWarning]) == 1
    assert run.by_student()["ada"].scores == EXPECTED["ada"]


def test_grade_all_takes_a_folder_and_an_lms_zip_and_writes_a_report(demo, tmp_path):
    import zipfile

    _, root, _ = demo
    everything = tmp_path / "handed-in"
    (everything / ASSIGNMENT / "ada").mkdir(parents=True)
    good = (root / "submissions" / "ada" / "perceptron.ipynb").read_bytes()
    (everything / ASSIGNMENT / "ada" / "perceptron.ipynb").write_bytes(good)
    released = (COURSE.release / "02-xor" / "xor.ipynb").read_bytes()
    with zipfile.ZipFile(everything / "02-xor.zip", "w") as z:  # Canvas's naming: name_userid_subid_file
        z.writestr(zipfile.ZipInfo("lovelaceada_1001_2001_xor.ipynb", (2026, 11, 20, 23, 0, 0)), released)
        z.writestr(zipfile.ZipInfo("babbagecharles_late_1002_2002_xor.ipynb", (2026, 11, 22, 1, 30, 0)),
                   released)
    done = subprocess.run(
        [sys.executable, "-m", "coursekit.cli", "--course", str(ROOT / "autograder"), "grade", "all",
         str(everything), "--out", str(tmp_path / "graded"), "--timeout", "10"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "graded" / ASSIGNMENT / "grades.csv", newline="") as f:
        assert [(r["student_id"], r["score"]) for r in csv.DictReader(f)] == [("ada", "8")]
    with open(tmp_path / "graded" / "02-xor" / "grades.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert sorted(rows) == ["babbagecharles", "lovelaceada"]
    assert "the LMS marked this submission late" in rows["babbagecharles"]["notes"]
    assert "late" not in rows["lovelaceada"]["notes"]
    report = (tmp_path / "graded" / "02-xor" / "report.html").read_text()
    assert "babbagecharles" in report and "data:image/png;base64," in report


# -- an instructor's mistakes, and students' odd hand-ins ------------------------------------------


def test_grading_one_student_keeps_the_rest_of_the_class_in_its_files(demo, tmp_path):
    import shutil

    run, root, _ = demo
    shutil.copytree(root / "out", tmp_path / "out")
    # ben again with a longer time limit: everyone else keeps the result they were graded with
    again = grade(ASSIGNMENT, root / "submissions", tmp_path / "out", COURSE, timeout=6,
                  students=["ben"], log=lambda _: None)
    assert again.reused == sorted(set(EXPECTED) - {"ben"})
    assert sorted(r.student for r in again.results) == sorted(EXPECTED)
    assert {r.student: r.scores for r in again.results} == EXPECTED
    with open(tmp_path / "out" / "grades.csv", newline="") as f:
        assert sorted(row["student_id"] for row in csv.DictReader(f)) == sorted(EXPECTED)


def test_a_class_with_no_submissions_is_refused_and_nothing_is_written(tmp_path):
    from coursekit.grading.intake import IntakeError

    (tmp_path / "hand-ins").mkdir()
    (tmp_path / "hand-ins" / "notes.txt").write_text("not a notebook")
    with pytest.raises(IntakeError, match="no submissions found in .*; skipped notes.txt"):
        grade(ASSIGNMENT, tmp_path / "hand-ins", tmp_path / "out", COURSE)
    assert not (tmp_path / "out" / "grades.csv").exists() and not (tmp_path / "out" / "gradebook.db").exists()


def test_unusable_output_folders_and_limits_are_refused(demo, tmp_path):
    _, root, _ = demo
    subs = root / "submissions"
    with pytest.raises(CourseError, match="inside the submissions folder"):
        grade(ASSIGNMENT, subs, subs / "graded", COURSE)
    assert not (subs / "graded").exists()
    (tmp_path / "afile").write_text("")
    with pytest.raises(CourseError, match="is a file"):
        grade(ASSIGNMENT, subs, tmp_path / "afile", COURSE)
    # hand-ins kept where grading empties a folder are not lost
    intake = tmp_path / "graded" / "intake" / "class"
    intake.mkdir(parents=True)
    (intake / "ann.ipynb").write_text("{}")
    with pytest.raises(CourseError, match="inside .*intake/results/feedback folders"):
        grade(ASSIGNMENT, intake, tmp_path / "graded", COURSE)
    assert (intake / "ann.ipynb").read_text() == "{}"
    # an output folder holding another assignment's grades is not overwritten
    (tmp_path / "xor").mkdir()
    (tmp_path / "xor" / ".coursekit-assignment").write_text("02-xor\n")
    with pytest.raises(CourseError, match="holds the grades of 02-xor: choose another --out for 01-"):
        grade(ASSIGNMENT, subs, tmp_path / "xor", COURSE)
    for limits, message in [({"timeout": 0}, "timeout"), ({"timeout": -1}, "timeout"),
                            ({"memory": 0}, "memory"), ({"jobs": 0}, "jobs")]:
        with pytest.raises(ValueError, match=message):
            grade(ASSIGNMENT, subs, tmp_path / "out", COURSE, **limits)


@pytest.mark.parametrize("option, message", [
    (["--timeout", "0"], "argument --timeout: must be a finite number > 0, got '0'"),
    (["--memory", "-1"], "argument --memory: must be a finite number > 0, got '-1'"),
    (["--jobs", "0"], "argument --jobs: must be a finite number > 0, got '0'"),
    (["--pattern", "("], "coursekit: --pattern: pattern is not a valid regular expression"),
    (["--due", "2026-11-20"], "coursekit: --due must be a date and time like 2026-11-20T23:59"),
    (["--due", "friday"], "coursekit: --due must be a date and time like 2026-11-20T23:59"),
])
def test_cli_refuses_bad_options_in_one_line(tmp_path, option, message):
    done = subprocess.run(
        [sys.executable, "-m", "coursekit.cli", "--course", str(ROOT / "autograder"), "grade", ASSIGNMENT,
         str(tmp_path), "--out", str(tmp_path / "out"), *option],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_grade_all_hides_the_other_assignments_and_refuses_one_due_date(tmp_path, monkeypatch, capsys):
    from coursekit import cli
    from coursekit.grading import pipeline

    calls = []
    monkeypatch.setattr(pipeline, "grade", lambda *args, **kwargs: calls.append((args, kwargs)))
    monkeypatch.setattr(pipeline, "summary_table", lambda run: "")
    hand_ins = tmp_path / "hand-ins"
    (hand_ins / "01-perceptron").mkdir(parents=True)
    (hand_ins / "02-xor.zip").write_bytes(b"")
    common = ["--course", str(ROOT / "autograder"), "grade", "all", str(hand_ins),
              "--out", str(tmp_path / "g")]
    assert cli.main(common) == 0
    assert [args[:2] for args, _ in calls] == [("01-perceptron", hand_ins / "01-perceptron"),
                                               ("02-xor", hand_ins / "02-xor.zip")]
    for _, kwargs in calls:
        # every assignment's grades, those of an earlier run included
        assert kwargs["hide"] == [hand_ins / "01-perceptron", hand_ins / "02-xor.zip",
                                  *(tmp_path / "g" / a for a in COURSE.assignments())]
    calls.clear()
    assert cli.main([*common, "--due", "2026-11-20T23:59"]) == 2
    assert calls == [] and "--due is one assignment's deadline" in capsys.readouterr().err


def test_folders_to_hide_reach_every_students_sandbox(demo, tmp_path, monkeypatch):
    from coursekit.grading import pipeline

    class Stop(Exception):
        pass

    tasks = []

    def capture(todo, *args, **kwargs):
        tasks.extend(todo)
        raise Stop

    monkeypatch.setattr(pipeline, "_run_tasks", capture)
    _, root, _ = demo
    with pytest.raises(Stop):
        grade(ASSIGNMENT, root / "submissions", tmp_path / "out", COURSE, hide=[tmp_path / "02-xor"])
    assert len(tasks) == len(EXPECTED)
    assert all(str(tmp_path / "02-xor") in task.hidden for task in tasks)
    assert all(str((root / "submissions").resolve()) in task.hidden for task in tasks)


def test_an_error_naming_a_zip_entry_does_not_drive_the_terminal(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "class.zip", "w") as z:
        z.writestr("\x1b[2J\x1b]0;owned\x07.txt", "not a notebook")
    done = subprocess.run(
        [sys.executable, "-m", "coursekit.cli", "--course", str(ROOT / "autograder"), "grade", ASSIGNMENT,
         str(tmp_path / "class.zip"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2 and "no submissions found" in done.stderr
    assert "\x1b" not in done.stderr and "\x07" not in done.stderr
    assert "\\x1b[2J\\x1b]0;owned\\x07.txt" in done.stderr


def test_linked_files_are_not_copied_and_odd_metadata_is_flagged(demo, tmp_path):
    _, root, _ = demo
    ada = nbformat.read(root / "submissions" / "ada" / "perceptron.ipynb", as_version=4)
    # mal's folder holds a link to the course's judges beside a plain data file
    mal = tmp_path / "hand-ins" / "mal"
    mal.mkdir(parents=True)
    (mal / "leak.py").symlink_to(COURSE.root / "judges" / f"{ASSIGNMENT}.py")
    (mal / "data.csv").write_text("1,2\n")
    probe = nbformat.v4.new_code_cell(
        "import os\nassert os.path.exists('data.csv'), 'data.csv missing'\n"
        "assert not os.path.exists('leak.py'), 'leak.py was copied in'")
    nbformat.write(nbformat.from_dict({**ada, "cells": [probe, *ada.cells]}), mal / "perceptron.ipynb")
    # listid's answer cell has a grade id that is a list, which nbformat accepts
    odd = nbformat.from_dict(ada)
    answer = next(c for c in odd.cells if c.metadata.get("nbgrader", {}).get("solution"))
    answer.metadata.nbgrader.grade_id = ["x"]
    nbformat.validate(odd)
    (tmp_path / "hand-ins" / "listid").mkdir()
    nbformat.write(odd, tmp_path / "hand-ins" / "listid" / "perceptron.ipynb")

    run = grade(ASSIGNMENT, tmp_path / "hand-ins", tmp_path / "out", COURSE, timeout=5, log=lambda _: None)
    by = run.by_student()
    assert by["mal"].notes == [] and by["mal"].problems == [] and by["mal"].score == 8
    assert not any("grader failed" in p for p in by["listid"].problems), by["listid"].problems
    assert "a cell's nbgrader grade_id was changed to ['x']" in by["listid"].flags
