"""The explorers, headless: controls move the plotted artists in place."""

import base64
import io

import numpy as np
import PIL.Image
import pytest
from explorer_checks import assert_blit_matches_full_render

from coursekit.widgets import (
    ChainRuleExplorer,
    DepthExplorer,
    PerceptronExplorer,
    PlaygroundExplorer,
    TwoLayerExplorer,
    XORExplorer,
)


def line_points(explorer):
    x, y = explorer.view.line.get_data()
    return np.column_stack([x, y])


def test_sliders_move_the_decision_line_in_place():
    explorer = PerceptronExplorer(gate="AND")
    line, figures_axes = explorer.view.line, list(explorer.fig.axes)
    png_before = explorer.png()
    explorer.set_weights([1.0, 1.0], -1.5)
    # Every drawn point must satisfy w . x + b = 0 for the new weights.
    pts = line_points(explorer)
    assert len(pts) == 2
    np.testing.assert_allclose(pts @ np.array([1.0, 1.0]) - 1.5, 0.0, atol=1e-12)
    assert explorer.view.line is line and explorer.fig.axes == figures_axes
    assert explorer.png() != png_before
    assert explorer.image.value == explorer.png()


def test_one_slider_change_redraws():
    explorer = PerceptronExplorer(gate="OR", w=(1.0, 1.0), b=-0.5)
    before = line_points(explorer).copy()
    explorer.sliders["b"].value = -1.5
    after = line_points(explorer)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after @ np.array([1.0, 1.0]) - 1.5, 0.0, atol=1e-12)


def test_misclassified_points_are_marked():
    explorer = PerceptronExplorer(gate="AND", w=(1.0, 1.0), b=-0.5)
    # x1 + x2 - 0.5 >= 0 says 1 for (0,1), (1,0), (1,1); AND says 1 only for (1,1).
    wrong = {tuple(p) for p in explorer.view.wrong.get_offsets()}
    assert wrong == {(0.0, 1.0), (1.0, 0.0)}
    assert "2 of 4 right" in explorer.readout.value
    explorer.set_weights([1.0, 1.0], -1.5)
    assert len(explorer.view.wrong.get_offsets()) == 0
    assert "4 of 4 right" in explorer.readout.value


def test_step_applies_the_perceptron_rule_to_the_next_example():
    explorer = PerceptronExplorer(gate="AND", w=(0.0, 0.0), b=0.0, lr=0.5)
    # Example (0, 0) has label 0 but z = 0 predicts 1: w += 0.5 * (0 - 1) * (0, 0), b -= 0.5.
    explorer.step()
    w, b = explorer.weights
    np.testing.assert_allclose(w, [0.0, 0.0])
    assert b == pytest.approx(-0.5)
    # Example (0, 1): z = -0.5 predicts 0, label 0: nothing changes.
    explorer.step()
    assert explorer.weights[1] == pytest.approx(-0.5)
    assert explorer.updates == 1
    explorer.reset()
    assert explorer.weights[1] == 0.0 and explorer.next_index == 0


def test_gate_menu_swaps_the_data():
    explorer = PerceptronExplorer(gate="AND", w=(1.0, 1.0), b=-1.5)
    assert "4 of 4 right" in explorer.readout.value
    explorer.step()  # (0, 0) is predicted 0, rightly: no update
    explorer.set_weights([0.0, 0.0], 0.0)
    explorer.step()  # (0, 1) is predicted 1, wrongly: one update
    assert explorer.updates == 1
    explorer.gate.value = "XOR"
    np.testing.assert_array_equal(explorer.y, [0, 1, 1, 0])
    assert "4 of 4 right" not in explorer.readout.value
    assert explorer.updates == 0 and explorer.next_index == 0  # a new gate starts a new count


def test_headless_display_falls_back_to_a_static_png():
    bundle = PerceptronExplorer()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")


def test_unknown_gate_is_refused():
    with pytest.raises(ValueError, match="known: 'AND'"):
        PerceptronExplorer(gate="XNOR")


def test_rule_beyond_the_slider_range_is_flagged():
    explorer = PerceptronExplorer(gate="AND", w=(0.0, 0.0), b=-4.8, lr=2.0)
    explorer.sliders["b"].value = -4.9
    explorer.set_weights([0.0, 0.0], -6.9)
    assert explorer.weights[1] == -PerceptronExplorer.LIMIT
    assert "clipped" in explorer.readout.value
    explorer.set_weights([1.0, 1.0], -1.5)
    assert "clipped" not in explorer.readout.value


def test_gate_change_redraws_once_with_the_new_data(monkeypatch):
    explorer = PerceptronExplorer(gate="AND")
    drawn = []
    original = explorer.draw
    monkeypatch.setattr(explorer, "draw", lambda: (drawn.append(explorer.y.copy()), original()))
    explorer.gate.value = "XOR"
    assert len(drawn) == 1
    np.testing.assert_array_equal(drawn[0], [0, 1, 1, 0])
    np.testing.assert_array_equal(explorer.view.points[1].get_offsets(), [[0.0, 1.0], [1.0, 0.0]])


# -- what every explorer shares --------------------------------------------------------------------

EXPLORERS = {
    "perceptron": (PerceptronExplorer, lambda e: (e.set_weights([2.0, -1.0], 0.4), e.step())),
    "xor": (XORExplorer, lambda e: (e.sliders["W1[1,1]"].__setattr__("value", 4.0),  # new limits
                                    e.sliders["W2[0,0]"].__setattr__("value", -1.2))),
    "chain-rule": (ChainRuleExplorer, lambda e: e.set_values(1.3, -2.2, 0.7, 3e-4)),
    "two-layer": (TwoLayerExplorer, lambda e: (e.sliders["hidden"].__setattr__("value", 6),
                                               e.step(120))),  # 120 steps: new loss-axis limits
    "playground": (PlaygroundExplorer, lambda e: (e.set_network(hidden=(3, 5)),
                                                  e.set_sliders({"noise": 0.2}), e.step(30))),
    "depth": (DepthExplorer, lambda e: (e.set_options(activation="relu", init="he"),
                                        e.set_sliders({"depth": 9, "scale": 2.0}))),
}


@pytest.mark.parametrize("name", EXPLORERS)
def test_redrawn_picture_matches_a_full_render(name):
    # A redraw paints only the changing artists over a cached background; the result must be the
    # picture a full render gives (up to a few pixels where lines cross the axes' frame).
    cls, change = EXPLORERS[name]
    explorer = cls()
    change(explorer)
    assert_blit_matches_full_render(explorer)


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [(PerceptronExplorer, {"b": 9.0}), (XORExplorer, {"W2": [[-6.0, 2.0]]}), (ChainRuleExplorer, {"a": 8.0}),
     (TwoLayerExplorer, {"lr": 50.0}), (PlaygroundExplorer, {"noise": 3.0}),
     (DepthExplorer, {"scale": 100.0})],
)
def test_starting_values_beyond_the_sliders_are_clipped_and_flagged(cls, kwargs):
    explorer = cls(**kwargs)
    assert explorer.clipped
    assert "clipped" in explorer.readout.value


def test_a_slider_value_that_is_not_a_number_is_refused():
    explorer = PerceptronExplorer(gate="AND", w=(1.0, 1.0), b=-1.5)
    with pytest.raises(ValueError, match="b must be a number, got nan"):
        explorer.set_sliders({"w1": 0.5, "b": float("nan")})
    assert explorer.sliders["b"].value == -1.5 and explorer.sliders["w1"].value == 1.0  # nothing moved


@pytest.mark.parametrize("name", EXPLORERS)
def test_the_widget_is_built_once(name):
    explorer = EXPLORERS[name][0]()
    assert explorer.widget is explorer.widget


@pytest.mark.parametrize("name", EXPLORERS)
def test_the_png_holds_exactly_the_canvas_pixels(name):
    explorer = EXPLORERS[name][0]()
    EXPLORERS[name][1](explorer)
    decoded = np.asarray(PIL.Image.open(io.BytesIO(explorer.png())))
    canvas = np.asarray(explorer.fig.canvas.buffer_rgba())[:, :, :3]
    assert decoded.shape == canvas.shape and decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, canvas)


def test_sliding_back_and_forth_matches_a_full_render_every_time():
    explorer = XORExplorer()
    for value in (4.0, -3.0, 4.0, 0.5, -3.0):  # new input-axis limits, then back to earlier ones
        explorer.sliders["W1[1,1]"].value = value
        assert_blit_matches_full_render(explorer)
        for artist in explorer.animated_artists():
            artist.set_animated(True)  # full_render draws them normally; hand them back to blitting
