"""Static plots of classifiers in the plane."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from coursekit.datasets import logic_gate
from coursekit.plotting import boundary_segment, plot_decision_boundary, plot_linear_boundary


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_decision_regions_follow_the_classifier():
    X, y = logic_gate("OR")
    ax = plot_decision_boundary(lambda P: (P[:, 0] > 0.5).astype(int), X, y, resolution=50)
    regions = ax.get_images()[0].get_array()
    xs = np.linspace(-0.5, 1.5, 50)  # the grid spans the data plus the default margin
    np.testing.assert_array_equal(regions, np.tile((xs > 0.5).astype(int), (50, 1)))
    assert ax.get_xlim() == (-0.5, 1.5) and ax.get_ylim() == (-0.5, 1.5)


def test_decision_boundary_refuses_bad_shapes():
    X, y = logic_gate("AND")
    with pytest.raises(ValueError, match=r"shape \(m, 2\)"):
        plot_decision_boundary(lambda P: P[:, 0], np.zeros((4, 3)), y)
    with pytest.raises(ValueError, match="one label per point"):
        plot_decision_boundary(lambda P: P, X, y, resolution=10)


LINES = [((1.0, 1.0), -1.5), ((2.0, -0.5), 0.3), ((0.0, 3.0), -1.0), ((4.0, 0.0), -2.0)]


@pytest.mark.parametrize(("w", "b"), LINES)
def test_boundary_segment_lies_on_the_line(w, b):
    xs, ys = boundary_segment(np.array(w), b, (-0.5, 1.5))
    assert len(xs) == 2
    np.testing.assert_allclose(w[0] * xs + w[1] * ys + b, 0.0, atol=1e-12)


def test_no_line_for_zero_weights():
    xs, ys = boundary_segment(np.zeros(2), 1.0, (-0.5, 1.5))
    assert xs.size == 0 and ys.size == 0


def test_linear_boundary_marks_the_misclassified_points():
    X, y = logic_gate("AND")
    ax = plot_linear_boundary(np.array([1.0, 1.0]), -0.5, X, y)
    wrong = ax.collections[-1].get_offsets()  # OR's weights get (0,1) and (1,0) wrong for AND
    assert {tuple(p) for p in wrong} == {(0.0, 1.0), (1.0, 0.0)}
