"""The instructor's side: generate lessons from solutions, and grade a class's notebooks."""

from coursekit.grading.course import Course, CourseError
from coursekit.grading.pipeline import GradingRun, StudentResult, grade, summary_table

__all__ = ["Course", "CourseError", "GradingRun", "StudentResult", "grade", "summary_table"]
