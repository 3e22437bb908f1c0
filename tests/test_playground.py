"""The playground explorer, headless: training, the pictures against numpy, and the controls."""

import base64
import io

import ipywidgets as widgets
import numpy as np
import PIL.Image
import pytest
from explorer_checks import assert_blit_matches_full_render
from matplotlib.colors import to_rgba

from coursekit import MLP
from coursekit.widgets.network_diagram import UNIT_CMAP, tile_rgba
from coursekit.widgets.playground import PROBABILITY_CMAP, PlaygroundExplorer

BLUE, ORANGE = "#2b6cb0", "#dd6b20"  # class 0 / negative, class 1 / positive
LIM = 4.0  # the view is [-4, 4]^2


def cell_centres(res):
    """Centres of res x res equal cells over the view, row by row from the lowest x2."""
    xs = -LIM + (np.arange(res) + 0.5) * (2 * LIM / res)
    xx, yy = np.meshgrid(xs, xs)
    return np.column_stack([xx.ravel(), yy.ravel()])


def tanh_net(params, A, n_layers):
    """Forward pass written out: tanh hidden layers, sigmoid output; every layer's output."""
    outputs = []
    for l in range(1, n_layers + 1):
        Z = A @ params[f"W{l}"].T + params[f"b{l}"]
        A = np.tanh(Z) if l < n_layers else 1.0 / (1.0 + np.exp(-Z))
        outputs.append(A)
    return outputs


def png_rgb(explorer):
    return np.asarray(PIL.Image.open(io.BytesIO(explorer.png())).convert("RGB")).astype(int)


def crop(image, box):
    """A box (left, bottom, width, height) counted from the canvas's bottom-left corner, flipped
    so that row 0 is its bottom row."""
    left, bottom, width, height = box
    top = image.shape[0] - (bottom + height)
    return image[top : top + height, left : left + width][::-1]


def colours(cmap, values):
    return (np.asarray(cmap(values)) * 255).round().astype(int)[..., :3]


# -- training ------------------------------------------------------------------------------------


def test_the_network_is_the_seeded_mlp_of_the_chosen_architecture():
    explorer = PlaygroundExplorer(hidden=(4, 2), activation="tanh", seed=3)
    reference = MLP([2, 4, 2, 1], activation="tanh", loss="binary_cross_entropy", seed=3)
    assert explorer.model.sizes == [2, 4, 2, 1]
    assert explorer.model.loss_name == "binary_cross_entropy"
    for name, p in reference.params.items():
        np.testing.assert_array_equal(explorer.model.params[name], p, err_msg=name)


def test_training_steps_lower_the_train_loss():
    explorer = PlaygroundExplorer(lr=0.1)
    start = explorer.train_loss[0]
    explorer.step(100)
    explorer.step(100)
    assert explorer.steps == 200
    assert len(explorer.train_loss) == len(explorer.test_loss) == len(explorer.loss_epochs) == 3
    assert explorer.train_loss[1] < start and explorer.train_loss[2] < explorer.train_loss[1]
    # 200 of the 400 points train; batches of 10: 20 steps per epoch.
    assert explorer.epoch == 10
    assert explorer.loss_epochs == [0.0, 5.0, 10.0]


def test_the_recorded_losses_are_the_mean_cross_entropy_of_each_set():
    explorer = PlaygroundExplorer()
    explorer.step(30)
    p = explorer.model.params
    for X, y, recorded in ((explorer.X_train, explorer.y_train, explorer.train_loss[-1]),
                           (explorer.X_test, explorer.y_test, explorer.test_loss[-1])):
        prob = tanh_net(p, X, 3)[-1][:, 0]
        expected = -np.mean(y * np.log(prob) + (1 - y) * np.log(1 - prob))
        assert recorded == pytest.approx(expected, rel=1e-10)


def test_an_epoch_ends_when_every_training_row_has_been_used():
    explorer = PlaygroundExplorer(batch_size=30)  # 200 rows: six batches of 30, then one of 20
    explorer.step(6)
    assert explorer.epoch == 0
    assert explorer.loss_epochs[-1] == pytest.approx(180 / 200)
    explorer.step(1)
    assert explorer.epoch == 1


def test_squared_features_separate_the_circles_without_a_hidden_layer():
    def test_accuracy(features):
        explorer = PlaygroundExplorer(dataset="circles", noise=0.0, features=features, hidden=(), lr=0.3)
        explorer.step(600)
        W, b = explorer.model.params["W1"], explorer.model.params["b1"]
        x1, x2 = explorer.X_test.T
        F = np.column_stack([x1**2, x2**2] if features[0] == "x1^2" else [x1, x2])
        return np.mean(((F @ W.T + b)[:, 0] > 0) == explorer.y_test)

    # The classes differ in x1^2 + x2^2, a linear function of the squared features ...
    assert test_accuracy(("x1^2", "x2^2")) >= 0.98
    # ... but no line in (x1, x2) separates a disc from the ring around it.
    assert test_accuracy(("x1", "x2")) <= 0.75


# -- the pictures --------------------------------------------------------------------------------


def test_the_map_is_the_networks_probability_of_class_one():
    explorer = PlaygroundExplorer(lr=0.3)
    explorer.step(200)
    res = explorer.probabilities.shape[0]
    expected = tanh_net(explorer.model.params, cell_centres(res), 3)[-1][:, 0].reshape(res, res)
    np.testing.assert_allclose(explorer.probabilities, expected, rtol=1e-12)
    assert expected.min() < 0.2 and expected.max() > 0.8  # a map with both classes on it

    # Drawn value for value, filling the axes exactly (the points hidden to see the map).
    for line in (*explorer.train_points, *explorer.test_points):
        line.set_visible(False)
    explorer.refresh()
    box = explorer.heat_ax.get_window_extent()
    zoom = round(box.width / res)
    pixels = crop(png_rgb(explorer), (round(box.x0), round(box.y0), round(box.width), round(box.height)))
    want = colours(PROBABILITY_CMAP, expected).repeat(zoom, axis=0).repeat(zoom, axis=1)
    assert pixels.shape == want.shape
    inner = (slice(2, -2), slice(2, -2))  # inside the frame
    assert np.abs(pixels[inner] - want[inner]).max() <= 1


def test_thumbnails_are_the_inputs_and_every_units_output():
    explorer = PlaygroundExplorer(lr=0.3)
    explorer.step(40)
    res = explorer.thumbnails[0].shape[1]
    X = cell_centres(res)
    H1, H2, out = tanh_net(explorer.model.params, X, 3)
    expected = [X, H1, H2, out]
    assert [t.shape for t in explorer.thumbnails] == [(n, res, res) for n in (2, 4, 2, 1)]
    for column, (got, want) in enumerate(zip(explorer.thumbnails, expected, strict=True)):
        for unit in range(want.shape[1]):
            np.testing.assert_allclose(got[unit], want[:, unit].reshape(res, res), rtol=1e-12, atol=1e-14,
                                       err_msg=f"column {column}, unit {unit}")

    # On the picture, each hidden unit's tile is its output through the colour map, value for value.
    image = png_rgb(explorer)
    boxes = explorer.diagram.tiles.pixel_boxes()
    hidden_boxes = boxes[2:6] + boxes[6:8]  # after the two inputs: layer 1, then layer 2
    hidden_values = [*H1.T, *H2.T]
    for box, values in zip(hidden_boxes, hidden_values, strict=True):
        assert box[2:] == (res, res)
        want = colours(UNIT_CMAP, (np.clip(values, -1, 1) + 1) / 2).reshape(res, res, 3)
        assert np.abs(crop(image, box) - want).max() <= 1


def test_line_widths_follow_the_size_of_each_weight_and_colours_its_sign():
    explorer = PlaygroundExplorer(hidden=(3,))
    W1 = np.array([[0.5, -1.0], [2.0, 0.25], [-3.0, 1.5]])
    W2 = np.array([[-0.75, 4.0, 1.0]])
    explorer.model.params["W1"][...] = W1
    explorer.model.params["W2"][...] = W2
    explorer.refresh()
    diagram = explorer.diagram
    widths = diagram.lines.get_linewidths()
    colors = diagram.lines.get_colors()
    segments = diagram.lines.get_segments()
    weights = {1: W1, 2: W2}
    assert len(diagram.edges) == len(segments) == 3 * 2 + 1 * 3
    ratios = []
    for (l, j, i), width, color, segment in zip(diagram.edges, widths, colors, segments, strict=True):
        w = weights[l][j, i]
        ratios.append(width / abs(w))
        assert tuple(color) == to_rgba(ORANGE if w > 0 else BLUE), (l, j, i)
        # From unit i of column l - 1 to unit j of column l.
        np.testing.assert_array_equal(segment, [diagram.positions[l - 1][i], diagram.positions[l][j]])
    np.testing.assert_allclose(ratios, ratios[0])  # proportional to |w|
    assert ratios[0] > 0

    # A runaway weight is capped so that it cannot cover the diagram.
    explorer.model.params["W2"][0, 1] = 1e6
    explorer.refresh()
    assert 0 < np.max(diagram.lines.get_linewidths()) <= 10

    # Weights that are no longer numbers get no line, and raise no warning.
    explorer.model.params["W2"][0] = [np.inf, -np.inf, np.nan]
    with np.errstate(over="raise", invalid="raise"):
        explorer.refresh()
    np.testing.assert_array_equal(diagram.lines.get_linewidths()[-3:], [0.0, 0.0, 0.0])


@pytest.mark.parametrize("dpi", [80, 100, 120, 160, 200])
def test_an_export_at_any_dpi_keeps_the_map_within_its_place(dpi):
    explorer = PlaygroundExplorer()
    (_, _, width, height), = explorer.heatmap.pixel_boxes(dpi)
    at_80 = explorer.heatmap.pixel_boxes(80)[0][2]
    assert width == height and at_80 <= width <= at_80 * dpi / 80


def test_unit_pictures_show_values_that_are_not_numbers_as_transparent():
    rgba = tile_rgba([[np.inf, -np.inf, np.nan, 1.0]])
    np.testing.assert_array_equal(rgba[0, :3, 3], [0, 0, 0])
    assert rgba[0, 3, 3] == 255 and tuple(rgba[0, 3]) == UNIT_CMAP(1.0, bytes=True)


# -- the controls --------------------------------------------------------------------------------


def test_layers_units_and_features_rebuild_the_network():
    explorer = PlaygroundExplorer()
    assert explorer.model.sizes == [2, 4, 2, 1]
    explorer.sliders["layers"].value = 3  # a new layer comes with 2 units
    assert explorer.model.sizes == [2, 4, 2, 2, 1]
    explorer.sliders["units3"].value = 5
    assert explorer.model.sizes == [2, 4, 2, 5, 1]
    assert explorer.model.params["W3"].shape == (5, 2)
    assert explorer.sliders["units3"].layout.display != "none"
    assert explorer.sliders["units4"].layout.display == "none"

    explorer.feature_boxes["x1*x2"].value = True
    assert explorer.features == ("x1", "x2", "x1*x2")
    assert explorer.model.sizes == [3, 4, 2, 5, 1]
    np.testing.assert_allclose(explorer.F_train[:, 2], explorer.X_train[:, 0] * explorer.X_train[:, 1])

    explorer.set_network(features=("sin x2", "x1^2"), hidden=(6,), activation="relu")
    assert explorer.features == ("x1^2", "sin x2")  # the check boxes' order
    assert explorer.model.sizes == [2, 6, 1] and explorer.model.activation == "relu"
    assert [box.value for box in explorer.feature_boxes.values()] == [False, False, True, False, False,
                                                                      False, True]
    assert explorer.sliders["layers"].value == 1 and explorer.sliders["units1"].value == 6
    assert explorer.activation_menu.value == "relu"
    assert [len(column) for column in explorer.diagram.positions] == [2, 6, 1]
    assert len(explorer.diagram.lines.get_segments()) == 2 * 6 + 6 * 1
    assert explorer.epoch == 0 and explorer.steps == 0


def test_a_unit_slider_of_a_layer_not_in_use_changes_nothing():
    explorer = PlaygroundExplorer(hidden=(4,))
    explorer.step(5)
    model = explorer.model
    explorer.sliders["units4"].value = 7
    assert explorer.model is model and explorer.steps == 5


def test_no_hidden_layer_joins_the_inputs_to_the_output():
    explorer = PlaygroundExplorer(hidden=())
    explorer.step(20)
    assert explorer.model.sizes == [2, 1]
    assert len(explorer.thumbnails) == 2
    assert explorer.diagram.edges == [(1, 0, 0), (1, 0, 1)]
    explorer.sliders["layers"].value = 1
    assert explorer.model.sizes == [2, 2, 1]


def test_the_last_feature_cannot_be_unchecked():
    explorer = PlaygroundExplorer(features=("x2",))
    model = explorer.model
    explorer.feature_boxes["x2"].value = False
    assert explorer.feature_boxes["x2"].value is True
    assert explorer.features == ("x2",) and explorer.model is model
    assert "at least one input feature" in explorer.readout.value
    with pytest.raises(ValueError, match="at least one"):
        explorer.set_network(features=())


def test_reset_restores_the_initial_weights():
    explorer = PlaygroundExplorer()
    initial = {name: p.copy() for name, p in explorer.model.params.items()}
    first_loss = explorer.train_loss[0]
    explorer.play.playing = True
    explorer.step(50)
    assert not np.array_equal(explorer.model.params["W1"], initial["W1"])
    explorer.reset()
    for name, p in initial.items():
        np.testing.assert_array_equal(explorer.model.params[name], p, err_msg=name)
    assert explorer.epoch == 0 and explorer.steps == 0 and explorer.train_loss == [first_loss]
    assert explorer.play.playing is False
    # Training again from the start follows the same path: the batches are reshuffled from the seed.
    explorer.step(50)
    again = explorer.model.params["W1"].copy()
    explorer.reset_button.click()
    explorer.step(50)
    np.testing.assert_array_equal(explorer.model.params["W1"], again)


def test_new_data_restarts_training():
    explorer = PlaygroundExplorer()
    initial = explorer.model.params["W1"].copy()
    points = explorer.X_train.copy()
    explorer.step(30)
    explorer.sliders["noise"].value = 0.3
    assert not np.allclose(explorer.X_train, points)
    np.testing.assert_array_equal(explorer.model.params["W1"], initial)
    assert explorer.epoch == 0 and len(explorer.train_loss) == 1
    explorer.sliders["test_fraction"].value = 0.2
    assert len(explorer.y_train) == 320 and len(explorer.y_test) == 80
    shown = [np.column_stack(line.get_data()) for line in (*explorer.train_points, *explorer.test_points)]
    assert sum(map(len, shown)) == 400
    np.testing.assert_array_equal(shown[1], explorer.X_train[explorer.y_train == 1])
    np.testing.assert_array_equal(shown[2], explorer.X_test[explorer.y_test == 0])
    explorer.sliders["noise"].value = 0.0
    explorer.dataset_menu.value = "xor"
    np.testing.assert_array_equal(explorer.y_train, explorer.X_train[:, 0] * explorer.X_train[:, 1] < 0)


def test_a_play_tick_runs_steps_per_frame_steps_and_redraws_once(monkeypatch):
    explorer = PlaygroundExplorer(steps_per_frame=7)
    drawn = []
    original = explorer.draw
    monkeypatch.setattr(explorer, "draw", lambda: (drawn.append(explorer.steps), original()))
    explorer.play.value = 1
    assert explorer.steps == 7 and drawn == [7]
    explorer.play.value = 2
    assert explorer.steps == 14 and drawn == [7, 14]
    explorer.play.value = 0  # the stop button: no training
    assert explorer.steps == 14
    assert len(explorer.train_loss) == 3
    explorer.step_button.click()
    assert explorer.steps == 15


def test_training_redraws_only_the_changing_artists(monkeypatch):
    explorer = PlaygroundExplorer()
    full_draws = []
    original = explorer.fig.canvas.draw
    monkeypatch.setattr(explorer.fig.canvas, "draw", lambda: (full_draws.append(1), original()))
    png = explorer.png()
    explorer.tick()
    explorer.sliders["noise"].value = 0.2
    explorer.sliders["lr"].value = 0.1
    assert full_draws == [] and explorer.png() != png
    explorer.set_network(hidden=(3, 3))  # a new layout: the background is drawn again, once
    assert full_draws == [1]


def test_the_l2_slider_sets_the_networks_l2():
    explorer = PlaygroundExplorer(l2=0.003)
    assert explorer.model.l2 == pytest.approx(0.003)
    explorer.sliders["l2"].value = 0.01
    assert explorer.model.l2 == pytest.approx(0.01)
    explorer.set_network(hidden=(3,))
    assert explorer.model.l2 == pytest.approx(0.01)
    # Two runs from the same weights and batch: the penalty adds -lr * l2 * W to the step.
    a, b = PlaygroundExplorer(hidden=(), lr=0.1), PlaygroundExplorer(hidden=(), lr=0.1)
    b.sliders["l2"].value = 0.05
    W = a.model.params["W1"].copy()
    a.step()
    b.step()
    np.testing.assert_allclose(b.model.params["W1"] - a.model.params["W1"], -0.1 * 0.05 * W, atol=1e-15)


def test_the_learning_rate_slider_sets_the_step_size():
    a, b = PlaygroundExplorer(lr=0.01), PlaygroundExplorer(lr=0.01)
    b.sliders["lr"].value = 0.02
    start = a.model.params["W1"].copy()
    a.step()
    b.step()
    np.testing.assert_allclose(b.model.params["W1"] - start, 2 * (a.model.params["W1"] - start), rtol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dataset": "spirals"}, "unknown dataset 'spirals'; known: 'circles'"),
        ({"features": ("x1", "x3")}, "unknown feature 'x3'"),
        ({"features": ("x1", "x1")}, "once"),
        ({"features": ()}, "at least one"),
        ({"activation": "softmax"}, "unknown activation 'softmax'"),
        ({"hidden": (4, 9)}, "1 to 8 units"),
        ({"hidden": (2,) * 7}, "at most 6 hidden layers"),
        ({"hidden": (2.5,)}, "whole number"),
        ({"lr": 0.0}, "lr must be > 0"),
        ({"l2": -0.1}, "l2 must be >= 0"),
        ({"batch_size": 0}, "batch_size must be > 0"),
        ({"noise": "high"}, "noise must be a number"),
        ({"seed": 1.5}, "seed must be an integer"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PlaygroundExplorer(**kwargs)


def test_bad_settings_from_code_are_refused_and_change_nothing():
    explorer = PlaygroundExplorer()
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        explorer.set_network(activation="gelu")
    with pytest.raises(ValueError, match="unknown feature 'x'"):
        explorer.set_network(features=("x",))
    with pytest.raises(ValueError, match="n must be"):
        explorer.step(-1)
    assert explorer.model.sizes == [2, 4, 2, 1] and explorer.activation == "tanh"


def test_starting_values_beyond_the_sliders_are_clipped_and_flagged():
    explorer = PlaygroundExplorer(noise=0.8, lr=50.0)
    assert explorer.clipped and "clipped" in explorer.readout.value
    assert explorer.sliders["noise"].value == 0.5 and explorer.sliders["lr"].value == pytest.approx(10.0)


def test_a_learning_rate_that_blows_up_is_reported(recwarn):
    # A deep linear network with squared features and a huge learning rate grows without bound.
    explorer = PlaygroundExplorer(activation="identity", lr=10.0, hidden=(8, 8, 8),
                                  features=("x1", "x2", "x1^2", "x2^2"))
    explorer.step(200)
    assert not all(np.isfinite(p).all() for p in explorer.model.params.values())
    assert "blew up" in explorer.readout.value
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]  # no overflow warnings
    explorer.reset()
    assert "blew up" not in explorer.readout.value


# -- the widget ----------------------------------------------------------------------------------


def test_the_first_slider_on_the_page_is_noise_and_it_changes_the_picture():
    explorer = PlaygroundExplorer()

    def sliders(widget):
        if isinstance(widget, (widgets.FloatSlider, widgets.IntSlider, widgets.FloatLogSlider)):
            yield widget
        for child in getattr(widget, "children", ()):
            yield from sliders(child)

    first = next(sliders(explorer.widget))
    assert first is explorer.sliders["noise"]
    png = explorer.png()
    first.value += first.step
    assert explorer.png() != png and explorer.image.value == explorer.png()
    assert explorer.widget is explorer.widget


def test_headless_display_falls_back_to_a_static_png():
    bundle = PlaygroundExplorer()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "change",
    [
        lambda e: e.step(40),
        lambda e: (e.set_network(hidden=(3, 5), features=("x1", "x2", "x1^2")),
                   e.set_sliders({"noise": 0.2}), e.step(30)),
        lambda e: (e.set_network(hidden=()), e.tick()),
    ],
    ids=["steps", "new-network-then-steps", "no-hidden-layer"],
)
def test_the_blitted_picture_matches_a_full_render(change):
    explorer = PlaygroundExplorer()
    change(explorer)
    assert_blit_matches_full_render(explorer)
