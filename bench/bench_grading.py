"""Grading throughput: `coursekit grade` against plain `nbgrader autograde`, on the same class.

The class: for every lesson, students who solved everything, half of it, or nothing, several of
each (at least 40 notebooks in all). Plain nbgrader grades the whole class with its documented
command (`nbgrader autograde <assignment>`) in a course directory made for it; `coursekit grade`
grades the same notebooks with its default number of workers (the cores). Both start from nothing
(no gradebook, no cached reference outputs), and both must give every student the same score.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, bar_plot, save, table  # noqa: E402

from coursekit.grading.course import Course  # noqa: E402
from coursekit.grading.demo import _filled, _solution_cells  # noqa: E402
from coursekit.grading.pipeline import grade  # noqa: E402


def make_class(course: Course, assignment: str, dest: Path, copies: int) -> dict[str, int]:
    """Write ``3 * copies`` students for one assignment; return student -> how many answers solved."""
    solved = {}
    for name in course.notebooks(assignment):
        solution = nbformat.read(course.source / assignment / f"{name}.ipynb", as_version=4)
        student = nbformat.read(course.release / assignment / f"{name}.ipynb", as_version=4)
        n = len(_solution_cells(solution))
        for k in range(copies):
            for label, upto in (("full", None), ("half", n // 2), ("none", 0)):
                who = f"{label}{k}"
                nb = _filled(student, solution, upto=upto) if upto != 0 else copy.deepcopy(student)
                (dest / who).mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, dest / who / f"{name}.ipynb")
                solved[who] = n if upto is None else upto
    return solved


def plain_nbgrader(course: Course, assignment: str, submissions: Path, work: Path) -> tuple[float, dict]:
    """Seconds for `nbgrader autograde` of the whole class, and the scores it gave."""
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
    started = time.perf_counter()
    for command in (["generate_assignment", assignment, "--force"], ["autograde", assignment, "--force"]):
        subprocess.run(nbgrader + command, cwd=work, env=env, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}", "coursekit") as gb:
        scores = {s.student.id: s.score for s in gb.assignment_submissions(assignment)}
    return seconds, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=3, help="students per kind per lesson (3 kinds)")
    parser.add_argument("--assignments", nargs="*", help="default: every lesson")
    args = parser.parse_args()
    course = Course.load(ROOT / "autograder")
    assignments = args.assignments or course.assignments()
    rows, total = [], {"ours": 0.0, "plain": 0.0, "n": 0}
    same_scores = True  # on every assignment: faster but wrong does not count
    rates: dict[str, list[float]] = {"nbgrader autograde": [], "coursekit grade": []}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        for assignment in assignments:
            subs = scratch / assignment / "submissions"
            make_class(course, assignment, subs, args.copies)
            n = len(list(subs.iterdir()))
            plain_s, plain_scores = plain_nbgrader(course, assignment, subs, scratch / assignment / "plain")
            started = time.perf_counter()
            run = grade(assignment, subs, scratch / assignment / "ours", course, log=lambda _: None)
            ours_s = time.perf_counter() - started
            ours_scores = {r.student: r.score for r in run.results}
            same = ours_scores == plain_scores
            same_scores = same_scores and same
            shown = "yes" if same else f"NO: {ours_scores} vs {plain_scores}"
            rows.append([assignment, n, f"{60 * n / plain_s:.1f}", f"{60 * n / ours_s:.1f}",
                         f"{plain_s / ours_s:.2f}x", shown])
            rates["nbgrader autograde"].append(60 * n / plain_s)
            rates["coursekit grade"].append(60 * n / ours_s)
            total["ours"] += ours_s
            total["plain"] += plain_s
            total["n"] += n
    n = total["n"]
    rows.append(["all", n, f"{60 * n / total['plain']:.1f}", f"{60 * n / total['ours']:.1f}",
                 f"{total['plain'] / total['ours']:.2f}x", ""])
    header = ["assignment", "notebooks", "nbgrader autograde (nb/min)", "coursekit grade (nb/min)",
              "speed-up", "same scores"]
    bar_plot("grading", assignments, rates, "notebooks per minute")
    speedup = total["plain"] / total["ours"]
    verdict = "met" if speedup >= 1.8 and same_scores else "MISSED"
    save("grading", f"Grading throughput on {os.cpu_count()} cores\n\n" + table(header, rows)
         + f"\n\ntarget: at least 1.8x plain nbgrader autograde, with the same scores: {speedup:.2f}x, "
         + ("" if same_scores else "scores differ, ") + verdict)


if __name__ == "__main__":
    main()
