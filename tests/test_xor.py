"""Lesson 2: the XOR explorer, headless, and the lesson's exercise checks against right and wrong answers."""

import base64

import ipywidgets as widgets
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest
from notebooks import ROOT

from coursekit.testing import CheckFailure
from coursekit.widgets.xor import NOTES_SOLUTION, PRESETS, XORExplorer, xor_network

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([0, 1, 1, 0])
NOTES = tuple(np.array(NOTES_SOLUTION[k], dtype=float) for k in ("W1", "b1", "W2", "b2"))


def relu_hidden(W1, b1):
    """The hidden layer, computed here independently of the explorer."""
    return np.maximum(X @ np.asarray(W1).T + np.asarray(b1), 0.0)


def hidden_offsets(explorer):
    """The plotted hidden-space points, in the order of X."""
    got = np.empty((4, 2))
    for label, artist in enumerate(explorer.view.hidden_points):
        got[Y == label] = artist.get_offsets()
    return got


def line_points(line):
    x, y = line.get_data()
    return np.column_stack([x, y])


# -- the explorer --------------------------------------------------------------------------------


def test_starts_at_the_notes_solution_with_four_of_four():
    explorer = XORExplorer()
    W1, b1, W2, b2 = explorer.params
    np.testing.assert_array_equal(W1, [[1.0, 1.0], [2.0, 2.0]])
    np.testing.assert_array_equal(b1, [-1.0, -1.0])
    np.testing.assert_array_equal(W2, [[-3.0, 1.0]])
    np.testing.assert_array_equal(b2, [0.0])
    assert explorer.n_right == 4
    assert "4 of 4 right" in explorer.readout.value
    # The fold: both positive points sit on h = (0, 1), and one label names both.
    np.testing.assert_array_equal(hidden_offsets(explorer), [[0, 0], [0, 1], [0, 1], [1, 3]])
    assert "(0,1) (1,0)" in [a.get_text() for a in explorer.view.point_labels]


def test_first_slider_on_the_page_is_W1_00():
    def sliders(widget):
        if isinstance(widget, widgets.FloatSlider):
            yield widget
        for child in getattr(widget, "children", ()):
            yield from sliders(child)

    explorer = XORExplorer()
    order = [s.description for s in sliders(explorer.widget)]
    assert order == [
        "W1[0,0]", "W1[0,1]", "W1[1,0]", "W1[1,1]", "b1[0]", "b1[1]", "W2[0,0]", "W2[0,1]", "b2[0]"
    ]


def test_first_slider_moves_a_hidden_line_in_place_and_changes_the_png():
    explorer = XORExplorer()
    view = explorer.view
    def artists():
        return (view.region, *view.unit_lines, *view.hidden_points, view.output_line, view.hidden_region)

    before = artists()
    axes, figures = list(explorer.fig.axes), plt.get_fignums()
    png_before = explorer.png()
    explorer.sliders["W1[0,0]"].value = 1.5
    # Unit 1's line is 1.5 x1 + 1 x2 - 1 = 0 now.
    pts = line_points(view.unit_lines[0])
    assert len(pts) == 2
    np.testing.assert_allclose(pts @ np.array([1.5, 1.0]) - 1.0, 0.0, atol=1e-12)
    # Nothing was rebuilt.
    assert all(a is b for a, b in zip(artists(), before, strict=True))
    assert explorer.fig.axes == axes and plt.get_fignums() == figures
    assert explorer.png() != png_before
    assert explorer.image.value == explorer.png()
    assert explorer.png().startswith(b"\x89PNG")


def test_hidden_points_follow_the_first_layer():
    rng = np.random.default_rng(7)
    explorer = XORExplorer()
    for _ in range(5):
        W1 = np.round(rng.uniform(-3, 3, size=(2, 2)), 1)
        b1 = np.round(rng.uniform(-3, 3, size=2), 1)
        explorer.set_params(W1, b1, NOTES[2], NOTES[3])
        np.testing.assert_allclose(hidden_offsets(explorer), relu_hidden(W1, b1), atol=1e-12)
        # Every point stays in view, and both hidden lines obey w . x + b = 0.
        lo, hi = explorer.view.ax_hidden.get_xlim()
        assert lo <= hidden_offsets(explorer).min() and hidden_offsets(explorer).max() <= hi
        for j, line in enumerate(explorer.view.unit_lines):
            pts = line_points(line)
            if len(pts):
                np.testing.assert_allclose(pts @ W1[j] + b1[j], 0.0, atol=1e-9)


def test_output_line_and_regions_match_the_network():
    explorer = XORExplorer()
    W1, b1, W2, b2 = (np.array([[1.0, -1.0], [-1.0, 1.0]]), np.zeros(2), np.array([[1.0, 1.0]]), np.zeros(1))
    explorer.set_params(W1, b1, W2, b2)
    assert explorer.n_right == 4
    # The output unit's line in hidden space: W2 h + b2 = 0.5.
    pts = line_points(explorer.view.output_line)
    np.testing.assert_allclose(pts @ W2[0] + b2[0], 0.5, atol=1e-12)
    # The shaded regions in input space: class 1 where y_hat >= 0.5, on the same grid.
    region = np.asarray(explorer.view.region.get_array())
    res = region.shape[0]
    xs = np.linspace(-0.5, 1.5, res)
    xx, yy = np.meshgrid(xs, xs)
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    y_hat = np.maximum(grid @ W1.T + b1, 0) @ W2.T + b2
    np.testing.assert_array_equal(region.astype(bool), (y_hat[:, 0] >= 0.5).reshape(res, res))


def test_step_and_identity_toggle_change_the_hidden_points():
    explorer = XORExplorer()
    W1, b1 = NOTES[0], NOTES[1]
    explorer.activation.value = "step"
    step = (X @ W1.T + b1 >= 0).astype(float)
    np.testing.assert_array_equal(hidden_offsets(explorer), step)
    np.testing.assert_array_equal(step, [[0, 0], [1, 1], [1, 1], [1, 1]])
    # The positives now share their hidden point with (1, 1): y_hat = -2 for all three.
    assert explorer.n_right == 2 and "2 of 4 right" in explorer.readout.value
    explorer.activation.value = "identity"
    np.testing.assert_allclose(hidden_offsets(explorer), X @ W1.T + b1)
    assert explorer.n_right == 3  # y_hat = 2 - x1 - x2: NAND
    explorer.activation.value = "relu"
    np.testing.assert_allclose(hidden_offsets(explorer), relu_hidden(W1, b1))
    assert explorer.n_right == 4


@pytest.mark.parametrize("name, right", [
    ("notes: W1 = [[1, 1], [2, 2]], b1 = [-1, -1]", 4),
    ("classic: relu(x1 + x2), relu(x1 + x2 - 1)", 4),
    ("gates: OR and NAND into AND (step)", 4),
    ("1s and 2s that fail: W1 = [[1, 2], [2, 1]]", 3),
])
def test_presets_and_their_scores(name, right):
    explorer = XORExplorer()
    explorer.set_params(np.zeros((2, 2)), np.zeros(2), np.zeros((1, 2)), np.zeros(1), "identity")
    explorer.preset.value = name
    explorer.reset_button.click()  # loads the chosen preset, whether the menu changed or not
    assert explorer.activation.value == PRESETS[name]["activation"]
    assert explorer.n_right == right
    assert f"{right} of 4 right" in explorer.readout.value
    wrong = explorer.view.hidden_wrong.get_offsets()
    assert len(wrong) == 4 - right


def test_readout_counts_for_known_weights():
    explorer = XORExplorer()
    explorer.set_params(np.zeros((2, 2)), np.zeros(2), np.zeros((1, 2)), np.zeros(1))
    assert explorer.n_right == 2  # y_hat = 0 everywhere: class 0 for all four
    assert "2 of 4 right" in explorer.readout.value
    explorer.set_params(*NOTES)
    assert "4 of 4 right" in explorer.readout.value
    # y_hat = 0.5 exactly everywhere: class 1 for all four, as a sum of exactly 0 was in lesson 1
    explorer.set_params(np.zeros((2, 2)), np.zeros(2), np.zeros((1, 2)), np.array([0.5]))
    assert explorer.n_right == 2 and "class 1 where &ycirc; &ge; 0.5" in explorer.readout.value
    wrong = explorer.view.update(*explorer.params)[2]
    np.testing.assert_array_equal(np.flatnonzero(wrong), [0, 3])  # (0, 0) and (1, 1), XOR's 0s


def test_set_params_redraws_once_and_reset_restores_the_preset(monkeypatch):
    explorer = XORExplorer()
    draws = []
    original = explorer.draw
    monkeypatch.setattr(explorer, "draw", lambda: (draws.append(1), original()))
    explorer.set_params(np.ones((2, 2)), [0.0, -1.0], [[1.0, -2.0]], [0.0])
    assert len(draws) == 1
    explorer.reset_button.click()
    np.testing.assert_array_equal(explorer.params[0], NOTES[0])
    assert explorer.n_right == 4


def test_moving_a_slider_and_back_gives_the_same_picture():
    # The explorer redraws only the panels over a saved background: nothing may be left behind,
    # also after the hidden panel's limits have changed and changed back.
    explorer = XORExplorer()
    first = explorer.png()
    explorer.sliders["W1[0,0]"].value = 1.3
    assert explorer.png() != first
    explorer.sliders["W1[0,0]"].value = 1.0
    assert explorer.png() == first
    explorer.sliders["W1[1,1]"].value = 4.0  # h2 of (1, 1) becomes 5: wider hidden limits
    assert explorer.view.hidden_lim[1] > 3.5
    explorer.sliders["W1[1,1]"].value = 2.0
    assert explorer.png() == first
    explorer.activation.value = "step"  # a new title for the hidden panel
    assert explorer.png() != first
    explorer.activation.value = "relu"
    assert explorer.png() == first


def test_values_beyond_the_sliders_are_clipped_and_flagged():
    explorer = XORExplorer()
    explorer.set_params(NOTES[0], NOTES[1], [[-6.0, 2.0]], [0.0])
    assert explorer.params[2][0, 0] == -XORExplorer.LIMIT
    assert "clipped" in explorer.readout.value
    explorer.set_params(*NOTES)
    assert "clipped" not in explorer.readout.value


def test_headless_display_falls_back_to_a_static_png():
    bundle = XORExplorer()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")


def test_bad_input_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="known: 'relu', 'step', 'identity'"):
        XORExplorer(activation="tanh")
    with pytest.raises(ValueError, match=r"W2 must have shape \(1, 2\), got \(2,\)"):
        XORExplorer().set_params(NOTES[0], NOTES[1], [1.0, 1.0], [0.0])
    with pytest.raises(ValueError, match=r"X must have shape \(m, 2\)"):
        xor_network(np.zeros((4, 3)), *NOTES)


def test_xor_network_matches_the_notes():
    H, y_hat = xor_network(X, *NOTES)
    np.testing.assert_array_equal(H, [[0, 0], [0, 1], [0, 1], [1, 3]])
    np.testing.assert_array_equal(y_hat, [0, 1, 1, 0])


def test_slider_moves_redraw_only_the_panels(monkeypatch):
    # A full render of the figure happens only when the static parts change (a new hidden-panel
    # title or limits); moving a weight within the same limits paints over the cached background.
    explorer = XORExplorer()
    full_renders = []
    original = explorer.fig.canvas.draw
    monkeypatch.setattr(explorer.fig.canvas, "draw", lambda: (full_renders.append(1), original()))
    slider = explorer.sliders["W1[0,0]"]
    for value in (1.1, 1.2, 1.1, 1.0):
        slider.value = value
    assert full_renders == []
    explorer.activation.value = "step"
    assert full_renders == [1]


# -- the exercises' checks, run here on right and wrong answers -----------------------------------

NOTEBOOK = nbformat.read(ROOT / "solutions" / "02-xor" / "xor.ipynb", as_version=4)
CELLS = {cell.get("id"): cell.source for cell in NOTEBOOK.cells}


@pytest.fixture(scope="module")
def lesson():
    """The lesson's setup and the gate units, run once; each test works on a copy."""
    namespace = {}
    setup = "\n".join(line for line in CELLS["setup"].splitlines() if not line.startswith("%"))
    exec(setup, namespace)
    exec(CELLS["truth-tables"], namespace)
    exec(CELLS["gate-units"], namespace)
    return namespace


def run_check(lesson, test_id, student_code):
    """Define the student's answer, then run the exercise's test cell (hidden tests included)."""
    namespace = dict(lesson)
    exec(student_code, namespace)
    exec(CELLS[test_id], namespace)


def failure(lesson, test_id, student_code) -> str:
    with pytest.raises(CheckFailure) as info:
        run_check(lesson, test_id, student_code)
    return str(info.value)


def test_the_reference_answers_pass(lesson, capsys):
    for grade_id in ("xor_gates", "xor_relu_params", "collapse"):
        run_check(lesson, f"test_{grade_id}", CELLS[grade_id])
    assert "FAIL" not in capsys.readouterr().out


def test_every_exercise_is_a_graded_pair_with_points():
    meta = {c.get("id"): c.metadata.get("nbgrader", {}) for c in NOTEBOOK.cells}
    for grade_id, points in (("xor_gates", 2), ("xor_relu_params", 3), ("collapse", 3)):
        assert meta[grade_id] == {"grade": False, "grade_id": grade_id, "locked": False,
                                  "schema_version": 3, "solution": True}
        assert meta[f"test_{grade_id}"] == {"grade": True, "grade_id": f"test_{grade_id}", "locked": True,
                                            "points": points, "schema_version": 3, "solution": False}
        assert "### BEGIN HIDDEN TESTS" in CELLS[f"test_{grade_id}"]


GATES_STRICT = """
def xor_gates(X, or_unit=OR_UNIT, nand_unit=NAND_UNIT, and_unit=AND_UNIT):
    fire = lambda inputs, unit: (inputs @ unit[0] + unit[1] > 0).astype(int)
    return fire(np.column_stack([fire(X, or_unit), fire(X, nand_unit)]), and_unit)
"""
GATES_TABLE = """
def xor_gates(X, or_unit=OR_UNIT, nand_unit=NAND_UNIT, and_unit=AND_UNIT):
    return (X[:, 0] != X[:, 1]).astype(int)
"""
GATES_BOOL = """
def xor_gates(X, or_unit=OR_UNIT, nand_unit=NAND_UNIT, and_unit=AND_UNIT):
    fire = lambda inputs, unit: inputs @ unit[0] + unit[1] >= 0
    return fire(np.column_stack([fire(X, or_unit), fire(X, nand_unit)]), and_unit)
"""


def test_wrong_xor_gates_get_helpful_messages(lesson):
    text = failure(lesson, "test_xor_gates", GATES_STRICT)
    assert "case 'z = 0 counts as firing" in text and "expected" in text and "got" in text
    text = failure(lesson, "test_xor_gates", GATES_TABLE)
    assert "NOR in place of OR" in text and "column order" in text and "2 of 6 cases failed" in text
    text = failure(lesson, "test_xor_gates", GATES_BOOL)
    assert "expected an integer array, got dtype bool" in text


def relu_answer(W1, b1, W2, b2) -> str:
    arrays = ", ".join(f"np.array({p})" for p in (W1, b1, W2, b2))
    return f"def xor_relu_params():\n    return {arrays}\n"


@pytest.mark.parametrize("params", [
    ([[1.0, 1.0], [2.0, 2.0]], [-1.0, -1.0], [[-3.0, 1.0]], [0.0]),  # the notes
    ([[2.0, 2.0], [1.0, 1.0]], [-1.0, -1.0], [[1.0, -3.0]], [0.0]),  # the notes, units swapped
    ([[1.0, 1.0], [1.0, 1.0]], [0.0, -1.0], [[1.0, -2.0]], [0.0]),  # the classic
    ([[1.0, 1.0], [2.0, 2.0]], [-1.0, -1.0], [[-6.0, 2.0]], [-0.2]),  # scaled and shifted
    ([[-1.0, 1.0], [1.0, -1.0]], [0.0, 0.0], [[1.0, 1.0]], [0.0]),  # |x1 - x2|
], ids=["notes", "swapped", "classic", "scaled", "abs"])
def test_any_valid_relu_network_earns_full_marks(lesson, params):
    run_check(lesson, "test_xor_relu_params", relu_answer(*params))


def test_plain_lists_are_accepted(lesson):
    run_check(lesson, "test_xor_relu_params",
              "def xor_relu_params():\n    return [[1, 1], [2, 2]], [-1, -1], [[-3, 1]], [0]\n")


def test_wrong_relu_networks_get_helpful_messages(lesson):
    text = failure(lesson, "test_xor_relu_params",
                   relu_answer([[1.0, 1.0], [2.0, 2.0]], [-1.0, -1.0], [[-1.0, 1.0]], [0.0]))
    assert "x = (1, 1) is class 0, so y_hat must be at most 0.25" in text
    assert "h = relu(z) = [1.0, 3.0], y_hat = 2" in text
    # Right side of 0.5 everywhere, but not by a clear margin.
    text = failure(lesson, "test_xor_relu_params",
                   relu_answer([[1.0, 1.0], [2.0, 2.0]], [-1.0, -1.0], [[-1.8, 0.6]], [0.0]))
    assert "y_hat = 0.6 (on the right side of 0.5, but too close to it)" in text
    text = failure(lesson, "test_xor_relu_params",
                   relu_answer([[1.0, 1.0], [2.0, 2.0]], [-1.0, -1.0], [-3.0, 1.0], [0.0]))
    assert "W2 must have shape (1, 2), got shape (2,)" in text
    text = failure(lesson, "test_xor_relu_params", "def xor_relu_params():\n    return 1, 2\n")
    assert "must return the four values (W1, b1, W2, b2)" in text


def test_a_random_relu_network_fails_the_hidden_check(lesson):
    text = failure(lesson, "test_xor_relu_params", """
def xor_relu_params():
    W2 = np.array([[-3.0 + np.random.default_rng().uniform(-0.01, 0.01), 1.0]])
    return np.array([[1.0, 1.0], [2.0, 2.0]]), np.array([-1.0, -1.0]), W2, np.zeros(1)
""")
    assert "hidden: no randomness" in text


@pytest.mark.parametrize("body, expected", [
    ("return W1 @ W2, W2 @ b1 + b2", "raised ValueError"),  # shapes do not even fit in the notes' case
    ("return W2 @ W1, b2", "output 'b'"),
    ("return W2 @ W1, b1 @ W2 + b2", "the first bias goes through W2"),
    ("return (W1.T @ W2.T).T, W2 @ b1", "output 'b'"),
    ("b2 += W2 @ b1\n    return W2 @ W1, b2", "modified in place"),
])
def test_wrong_collapse_gets_a_helpful_message(lesson, body, expected):
    text = failure(lesson, "test_collapse", f"def collapse(W1, b1, W2, b2):\n    {body}\n")
    assert expected in text, text
