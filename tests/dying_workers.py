"""Judges for grading workers that die: importable by name, as a worker process needs them."""

import os

from coursekit.grading.pipeline import StudentResult


def judge_or_die(task) -> StudentResult:
    """Full marks, except that a student whose id starts with "culprit" kills the worker."""
    if task.student.startswith("culprit"):
        os._exit(3)
    return StudentResult(task.student, {"q": 1.0}, 1.0, fingerprint=task.fingerprint)


def judge_slowly_or_die(task) -> StudentResult:
    """As :func:`judge_or_die`, but every other student takes a minute to grade."""
    if not task.student.startswith("culprit"):
        import time

        time.sleep(60)
    return judge_or_die(task)
