"""Every notebook executes; the student versions are generated from the solutions and in sync."""

import functools
import json

import pytest
from notebooks import ROOT, SOLUTIONS, errors, execute, graded_cells, lesson_of, nbgrader_meta

from coursekit.grading.course import Course
from coursekit.grading.lessons import out_of_sync

pytestmark = pytest.mark.notebook
ids = [p.parent.name for p in SOLUTIONS]


@functools.cache
def executed_solution(path):
    return execute(path)  # raises CellExecutionError, with the traceback, on any error


def test_there_are_lessons():
    assert SOLUTIONS, "no solution notebooks found under solutions/"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=ids)
def test_notebooks_are_committed_without_outputs(solution):
    for path in (solution, lesson_of(solution)):
        nb = json.loads(path.read_text())
        dirty = [i for i, c in enumerate(nb["cells"])
                 if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
        assert not dirty, f"{path.relative_to(ROOT)}: cells {dirty} have outputs; run `make lessons`"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=ids)
def test_solution_runs_with_every_test_passing(solution):
    nb = executed_solution(solution)
    assert not errors(nb)
    graded = graded_cells(nb)
    assert graded, "the solution notebook has no graded test cells"
    points = sum(nbgrader_meta(nb.cells[i])["points"] for i in graded)
    assert points > 0


@pytest.mark.parametrize("solution", SOLUTIONS, ids=ids)
def test_student_version_runs_and_only_exercise_tests_fail(solution):
    nb = execute(lesson_of(solution), allow_errors=True)
    failing = {i for i, _ in errors(nb)}
    assert failing == set(graded_cells(nb)), (
        "in the student version exactly the exercises' test cells must fail; failing cells "
        f"{sorted(failing)}, test cells {graded_cells(nb)}"
    )
    for _, error in errors(nb):
        assert "not implemented yet" in error["evalue"], error["evalue"]
    # Hidden tests are stripped from what students get.
    assert not any("BEGIN HIDDEN TESTS" in c.source for c in nb.cells)
    assert not any("BEGIN SOLUTION" in c.source for c in nb.cells)


@pytest.mark.parametrize("solution", SOLUTIONS, ids=ids)
def test_explorer_shows_a_static_picture_when_run_headless(solution):
    nb = executed_solution(solution)
    explore = [c for c in nb.cells if c.cell_type == "code" and "Explorer(" in c.source]
    assert explore, "the lesson has no explorer cell"
    for cell in explore:
        bundles = [o.get("data", {}) for o in cell.outputs if o.get("output_type") == "execute_result"]
        assert any("image/png" in b and "application/vnd.jupyter.widget-view+json" in b for b in bundles)


def test_lessons_are_in_sync_with_solutions():
    differences = out_of_sync(Course.load(ROOT / "autograder"))
    assert not differences, "\n".join(differences) + "\nrun `make lessons`"
