"""The instructor's side: generate lessons from solutions, and grade a class's notebooks.

The names below are imported on first use: a student's kernel imports
:mod:`coursekit.grading.recorder` from this package, and must not pay for nbformat and nbgrader.
"""

import importlib

_EXPORTS = {
    "Course": "coursekit.grading.course",
    "CourseError": "coursekit.grading.course",
    "GradingRun": "coursekit.grading.pipeline",
    "StudentResult": "coursekit.grading.pipeline",
    "grade": "coursekit.grading.pipeline",
    "summary_table": "coursekit.grading.pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'coursekit.grading' has no attribute {name!r}")
