"""The ``coursekit`` command: generate lessons, build a demo class, and grade submissions."""

from __future__ import annotations

import argparse
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
    from coursekit.grading.pipeline import grade, summary_table

    out = Path(args.out or f"graded-{args.assignment}")
    run = grade(args.assignment, args.submissions, out, _course(args), timeout=args.timeout,
                students=args.student)
    print()
    print(summary_table(run))
    print(f"\ngradebook {out / 'gradebook.db'}\ngrades    {out / 'grades.csv'}\nfeedback  {out / 'feedback'}")
    return 0


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
    p.add_argument("assignment", help="e.g. 01-perceptron")
    p.add_argument("submissions", help="a folder of student folders and/or <student>.ipynb files")
    p.add_argument("--out", help="output folder (default: graded-<assignment>)")
    p.add_argument("--timeout", type=int, default=60, help="seconds per cell (default 60)")
    p.add_argument("--student", action="append", help="grade only this student (repeatable)")
    p.set_defaults(func=cmd_grade)

    args = parser.parse_args(argv)
    from coursekit.grading.course import CourseError
    from coursekit.grading.intake import IntakeError

    try:
        return args.func(args)
    except (CourseError, IntakeError) as error:
        print(f"coursekit: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
