"""Generate the student notebooks (``lessons/``) from the instructor's (``solutions/``) with nbgrader."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

from coursekit.grading.course import Course, CourseError, nbgrader_api


def generate(course: Course, release: Path | None = None, assignments: list[str] | None = None) -> list[Path]:
    """Run ``nbgrader generate_assignment`` for each assignment, writing into ``release``.

    ``release`` defaults to the course's release directory (``lessons/``). The gradebook used is a
    throwaway one, so generating lessons never touches a class's grades.

    Returns the notebooks written.
    """
    release = Path(release or course.release).resolve()
    known = course.assignments()
    for name in assignments or []:
        if name not in known:
            raise CourseError(f"unknown assignment {name!r}; known: {', '.join(known)}")
    assignments = assignments or known
    with tempfile.TemporaryDirectory() as scratch:
        config = Course.config_of(course.root)
        config.CourseDirectory.root = str(course.root)
        config.CourseDirectory.source_directory = str(course.source)
        config.CourseDirectory.release_directory = str(release)
        config.CourseDirectory.db_url = f"sqlite:///{Path(scratch) / 'gradebook.db'}"
        config.NbGraderAPI.log_level = logging.WARNING
        api = nbgrader_api(config)
        for assignment in assignments:
            result = api.generate_assignment(assignment, force=True, create=True)
            if not result["success"]:
                details = result.get("error") or result.get("log")
                raise CourseError(f"nbgrader could not generate {assignment}:\n{details}")
    return sorted(p for a in assignments for p in (release / a).glob("*.ipynb"))


def out_of_sync(course: Course) -> list[str]:
    """What differs between the committed ``lessons/`` and a fresh generation from ``solutions/``.

    Returns one line per difference; an empty list means the two are in sync.
    """
    differences = []
    with tempfile.TemporaryDirectory() as scratch:
        fresh_root = Path(scratch) / "release"
        generate(course, fresh_root)
        fresh = {p.relative_to(fresh_root) for p in fresh_root.rglob("*") if p.is_file()}
        committed = {p.relative_to(course.release) for p in course.release.rglob("*")
                     if p.is_file() and ".ipynb_checkpoints" not in p.parts}
        for rel in sorted(fresh - committed):
            differences.append(f"missing from {course.release.name}/: {rel}")
        for rel in sorted(committed - fresh):
            differences.append(f"not generated from the solutions: {course.release.name}/{rel}")
        for rel in sorted(fresh & committed):
            a, b = fresh_root / rel, course.release / rel
            same = (json.loads(a.read_text()) == json.loads(b.read_text())) if rel.suffix == ".ipynb" \
                else a.read_bytes() == b.read_bytes()
            if not same:
                differences.append(f"out of date: {course.release.name}/{rel}")
    return differences
