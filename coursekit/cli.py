"""The ``coursekit`` command: generate lessons, build a demo class, and grade submissions."""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path


def _course(args):
    from coursekit.grading.course import Course

    return Course.load(args.course) if args.course else Course.find()


def cmd_lessons(args) -> int:
    from coursekit.grading.lessons import generate, out_of_sync

    course = _course(args)
    if args.check:
        differences = out_of_sync(course)
        for line in differences:
            print(line)
        if differences:
            print("lessons/ is out of sync with solutions/: run `make lessons`", file=sys.stderr)
            return 1
        print("lessons/ is in sync with solutions/")
        return 0
    for path in generate(course, assignments=args.assignments or None):
        print(f"wrote {path.relative_to(course.release.parent)}")
    return 0


def cmd_demo_class(args) -> int:
    from coursekit.grading.demo import make_demo_class

    students = make_demo_class(args.assignment, args.dest, _course(args))
    for name, what in students.items():
        print(f"{name:5} {what}")
    return 0


def cmd_grade(args) -> int:
    from coursekit.grading.course import CourseError
    from coursekit.grading.pipeline import grade, summary_table

    course = _course(args)
    if args.pattern:
        from coursekit.grading.intake import OptionError, check_pattern

        try:  # before the course is read
            check_pattern(args.pattern)
        except OptionError as error:
            raise argparse.ArgumentTypeError(f"--pattern: {error}") from None
    options = dict(timeout=args.timeout, memory=args.memory, students=args.student,
                   jobs=args.jobs, db_url=args.db_url, shard=_shard(args.shard) if args.shard else None,
                   roster=args.roster, due=_due(args.due) if args.due else None, pattern=args.pattern,
                   log=lambda line: None, progress=True)
    if args.assignment == "all":
        if args.due:
            raise argparse.ArgumentTypeError("--due is one assignment's deadline: grade each "
                                             "assignment on its own to give it one")
        # <submissions>/<assignment>/ (a folder or <assignment>.zip) for each assignment handed in
        root = Path(args.submissions)
        jobs = [(a, root / a if (root / a).is_dir() else root / f"{a}.zip") for a in course.assignments()]
        jobs = [(a, path) for a, path in jobs if path.exists()]
        if not jobs:
            raise CourseError(f"{root} has no folder or .zip named after an assignment "
                              f"({', '.join(course.assignments())})")
        base = Path(args.out or "graded")
    else:
        jobs, base = [(args.assignment, Path(args.submissions))], None
    # A student's code sees neither the class's other hand-ins nor their grades, earlier ones too.
    others = [path for _, path in jobs] + ([base / a for a in course.assignments()] if base else [])
    for assignment, submissions in jobs:
        out = base / assignment if base else Path(args.out or f"graded-{assignment}")
        run = grade(assignment, submissions, out, course, hide=others, **options)
        print(f"\n{assignment}\n")
        print(summary_table(run))
        gradebook = args.db_url or out / "gradebook.db"
        print(f"\ngradebook {gradebook}\ngrades    {out / 'grades.csv'}\nreport    {out / 'report.html'}"
              f"\nfeedback  {out / 'feedback'}")
    return 0


def _due(text: str):
    from datetime import datetime

    try:
        due = datetime.fromisoformat(text)
    except ValueError:
        due = None
    if due is None or not re.search(r"\d[Tt ]\d", text):  # a bare date would mean its first minute
        raise argparse.ArgumentTypeError(
            f"--due must be a date and time like 2026-11-20T23:59, got {text!r}")
    return due


def _positive(kind):
    """An argparse type: a number of ``kind`` > 0, or a one-line error."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a {'whole ' if kind is int else ''}number, got {text!r}") from None
        if not 0 < value < math.inf:
            raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
        return value

    return parse


def _gib_as_bytes(text: str) -> int:
    """An argparse type: GiB given, bytes returned (at least one)."""
    size = int(_positive(float)(text) * 1024**3)
    if size < 1:
        raise argparse.ArgumentTypeError(f"{text} GiB is less than a byte")
    return size


def _shard(text: str) -> tuple[int, int]:
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit() and 0 <= int(k) < int(n)):
        raise argparse.ArgumentTypeError(f"--shard must be K/N with 0 <= K < N, got {text!r}")
    return int(k), int(n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="coursekit", description=__doc__)
    parser.add_argument("--course", help="the nbgrader course directory (default: found from here)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("lessons", help="generate lessons/ from solutions/")
    p.add_argument("--check", action="store_true", help="only report whether lessons/ is in sync")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                   help="regenerate only these (default: every assignment in solutions/)")
    p.set_defaults(func=cmd_lessons)

    p = sub.add_parser("demo-class", help="write a synthetic class of submissions for an assignment")
    p.add_argument("assignment")
    p.add_argument("dest")
    p.set_defaults(func=cmd_demo_class)

    p = sub.add_parser("grade", help="autograde every submission of an assignment")
    p.add_argument("assignment", help="e.g. 01-perceptron, or all (SUBMISSIONS then holds a folder or "
                                      "<assignment>.zip per assignment)")
    p.add_argument("submissions", help="a folder of student folders and/or <student>.ipynb files, or an "
                                       "LMS download .zip")
    p.add_argument("--out", help="output folder (default: graded-<assignment>)")
    p.add_argument("--timeout", type=_positive(float), default=60, help="seconds per cell (default 60)")
    p.add_argument("--memory", type=_gib_as_bytes, default="2",
                   help="GiB of memory per submission (default 2)")
    p.add_argument("--jobs", type=_positive(int),
                   help="submissions graded at once (default: the number of cores)")
    p.add_argument("--student", action="append", help="grade only this student (repeatable)")
    p.add_argument("--db-url", help="gradebook database, e.g. postgresql+psycopg2://user@host:5432/db "
                                    "(default: sqlite in --out)")
    p.add_argument("--shard", help="K/N: grade only shard K of N of the class (machines sharing --db-url)")
    p.add_argument("--roster", help="CSV of the class with a student_id column: absentees score 0")
    p.add_argument("--due", help="deadline for a folder of hand-ins (by the notebooks' times), e.g. "
                                 "2026-11-20T23:59 (UTC unless it names a zone); in an LMS zip, the "
                                 "LMS marks late hand-ins")
    p.add_argument("--pattern", help="regular expression with a (?P<student>...) group for the file "
                                     "names in an LMS zip (default: Canvas's naming)")
    p.set_defaults(func=cmd_grade)

    args = parser.parse_args(argv)
    from coursekit.grading.course import CourseError
    from coursekit.grading.intake import IntakeError, OptionError, printable

    try:
        return args.func(args)
    except (CourseError, IntakeError, OptionError, argparse.ArgumentTypeError) as error:
        print(f"coursekit: {printable(str(error))}", file=sys.stderr)  # a zip entry's name may be in it
        return 2
    except KeyboardInterrupt:
        print("coursekit: interrupted. Every result saved so far is kept: run the same command again "
              "to go on from there.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
