"""Grading throughput: `coursekit grade` against plain `nbgrader autograde`, on the same class.

The class: ``--students`` students (40 by default), each handing in every lesson. Student ``i``
solved the first ``i mod (n + 1)`` of a lesson's ``n`` exercises, so every level of work, from
nothing to everything, is graded. Each grader runs as an instructor runs it, as a command in a
process of its own: plain nbgrader its documented `nbgrader autograde <assignment>`, in a course
directory made for it (with `generate_assignment` run beforehand, untimed, as at release time);
`coursekit grade` with its default number of workers (the cores). Both start from nothing (no
gradebook, no cached reference outputs), and both must give every student the same points on
every question. Each lesson is graded ``--rounds`` times (3 by default) by each, and the medians
are reported; which grader goes first alternates from round to round and from lesson to lesson,
so that neither always finds the caches warm.
"""

from __future__ import annotations

import argparse
import copy
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, bar_plot, cores, median, save, table  # noqa: E402

from coursekit.grading.course import Course  # noqa: E402
from coursekit.grading.demo import _filled, _solution_cells  # noqa: E402

Scores = dict[str, dict[str, float]]  # student -> question's grade id -> points


def make_class(course: Course, assignment: str, dest: Path, students: int) -> None:
    """Write every student's notebooks for one assignment, student ``i`` having solved the first
    ``i mod (n + 1)`` of the ``n`` exercises."""
    for name in course.notebooks(assignment):
        solution = nbformat.read(course.source / assignment / f"{name}.ipynb", as_version=4)
        student = nbformat.read(course.release / assignment / f"{name}.ipynb", as_version=4)
        n = len(_solution_cells(solution))
        for i in range(students):
            upto = i % (n + 1)
            nb = _filled(student, solution, upto=upto) if upto else copy.deepcopy(student)
            (dest / f"s{i:03d}").mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, dest / f"s{i:03d}" / f"{name}.ipynb")


def plain_nbgrader(course: Course, assignment: str, submissions: Path, work: Path) -> tuple[float, Scores]:
    """Seconds for `nbgrader autograde` of the whole class, and the points it gave."""
    from nbgrader.api import Gradebook

    (work / "submitted").mkdir(parents=True)
    for student in sorted(p.name for p in submissions.iterdir()):
        shutil.copytree(submissions / student, work / "submitted" / student / assignment)
    config = work / "nbgrader_config.py"
    config.write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(work)!r}\n"
        f"c.CourseDirectory.source_directory = {str(course.source)!r}\n"
        f"c.CourseDirectory.release_directory = {str(work / 'release')!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{work / 'gradebook.db'}'\n"
        "c.CourseDirectory.course_id = 'coursekit'\n"
        "c.Execute.timeout = 60\n"
    )
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    nbgrader = [sys.executable, "-m", "nbgrader"]
    subprocess.run([*nbgrader, "generate_assignment", assignment, "--force"], cwd=work, env=env,
                   check=True, capture_output=True)  # at release time: not grading
    started = time.perf_counter()
    subprocess.run([*nbgrader, "autograde", assignment, "--force"], cwd=work, env=env, check=True,
                   capture_output=True)
    seconds = time.perf_counter() - started
    scores: Scores = {}
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}", "coursekit") as gb:
        for submission in gb.assignment_submissions(assignment):
            points = scores.setdefault(submission.student.id, {})
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    points[grade.name] = grade.score
    return seconds, scores


def coursekit_grade(assignment: str, submissions: Path, out: Path) -> tuple[float, Scores]:
    """Seconds for `coursekit grade` of the whole class, and the points it gave (grades.csv)."""
    command = [sys.executable, "-m", "coursekit.cli", "--course", str(ROOT / "autograder"), "grade",
               assignment, str(submissions), "--out", str(out)]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    fixed = {"student_id", "score", "max_score", "status", "problems", "flags", "notes"}
    scores = {row["student_id"]: {k: float(v) for k, v in row.items() if k not in fixed} for row in rows}
    return seconds, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=40, help="students in the class (default 40)")
    parser.add_argument("--rounds", type=int, default=3, help="times each grader grades each lesson")
    parser.add_argument("--assignments", nargs="*", help="default: every lesson")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    course = Course.load(ROOT / "autograder")
    assignments = args.assignments or course.assignments()
    rows, medians, speedups = [], {"ours": 0.0, "plain": 0.0, "n": 0}, []
    same_scores = True  # in every round of every assignment: faster but wrong does not count
    rates: dict[str, list[float]] = {"nbgrader autograde": [], "coursekit grade": []}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        for k, assignment in enumerate(assignments):
            subs = scratch / assignment / "submissions"
            make_class(course, assignment, subs, args.students)
            n = sum(1 for _ in subs.rglob("*.ipynb"))
            seconds: dict[str, list[float]] = {"plain": [], "ours": []}
            differ: set[str] = set()
            for r in range(args.rounds):
                work = scratch / assignment / f"round{r}"
                graders = [("plain", partial(plain_nbgrader, course, assignment, subs, work / "plain")),
                           ("ours", partial(coursekit_grade, assignment, subs, work / "ours"))]
                # Which grader goes first alternates, so that neither always finds the caches warm.
                done = {name: run() for name, run in (graders if (k + r) % 2 == 0 else graders[::-1])}
                (plain_s, plain_scores), (ours_s, ours_scores) = done["plain"], done["ours"]
                seconds["plain"].append(plain_s)
                seconds["ours"].append(ours_s)
                differ |= {s for s in plain_scores.keys() | ours_scores.keys()
                           if plain_scores.get(s) != ours_scores.get(s)}
                shutil.rmtree(work)
            same_scores = same_scores and not differ
            ratios = [p / o for p, o in zip(seconds["plain"], seconds["ours"], strict=True)]
            plain_s, ours_s = median(seconds["plain"]), median(seconds["ours"])
            shown = "yes" if not differ else f"NO: {len(differ)} students differ, e.g. {sorted(differ)[0]}"
            rows.append([assignment, n, f"{60 * n / plain_s:.1f}", f"{60 * n / ours_s:.1f}",
                         f"{median(ratios):.2f}x", f"{min(ratios):.2f}x to {max(ratios):.2f}x", shown])
            rates["nbgrader autograde"].append(60 * n / plain_s)
            rates["coursekit grade"].append(60 * n / ours_s)
            speedups.append(median(ratios))
            medians["ours"] += ours_s
            medians["plain"] += plain_s
            medians["n"] += n
    n = medians["n"]
    speedup = medians["plain"] / medians["ours"]
    rows.append(["all", n, f"{60 * n / medians['plain']:.1f}", f"{60 * n / medians['ours']:.1f}",
                 f"{speedup:.2f}x", "", ""])
    header = ["assignment", "notebooks", "nbgrader autograde (nb/min)", "coursekit grade (nb/min)",
              "speed-up (median)", f"speed-up over {args.rounds} rounds", "same points"]
    bar_plot("grading", assignments, rates, "notebooks per minute")
    verdict = "met" if speedup >= 1.8 and same_scores else "MISSED"
    save("grading", f"Grading throughput on {cores()}, {args.students} students, each "
         f"handing in every lesson; each grader as a command of its own; median time over "
         f"{args.rounds} rounds per lesson, the graders taking turns to go first\n\n"
         + table(header, rows)
         + "\n\n'all' is the class's notebooks over the sum of the lessons' median times; "
         + f"median of the lessons' speed-ups: {median(speedups):.2f}x"
         + f"\n\ntarget: at least 1.8x plain nbgrader autograde, with the same points on every "
         f"question: {speedup:.2f}x, " + ("" if same_scores else "points differ, ") + verdict)


if __name__ == "__main__":
    main()
