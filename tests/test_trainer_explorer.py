"""The two-layer trainer explorer, headless: training, what each panel shows, and the controls.

Expected values are computed here with plain numpy from ``model.params`` (forward pass, loss and
gradients written out), not with the explorer's own code.
"""

import base64
import io

import ipywidgets as widgets
import numpy as np
import PIL.Image
import pytest
from explorer_checks import assert_blit_matches_full_render

from coursekit import MLP
from coursekit.datasets import plane_dataset
from coursekit.widgets import TwoLayerExplorer
from coursekit.widgets.trainer import MAX_HIDDEN

G = {"tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "relu": lambda z: np.maximum(z, 0)}


def forward(params, X, activation="tanh"):
    """Hidden layer and probability of class 1 of a 2-h-1 network with a sigmoid output."""
    H = G[activation](X @ params["W1"].T + params["b1"])
    z = H @ params["W2"].T + params["b2"]
    return H, 1 / (1 + np.exp(-z[:, 0]))


def bce(params, X, y, activation="tanh"):
    _, p = forward(params, X, activation)
    return float(np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p)))


def tanh_gradients(params, X, y):
    """Gradients of the mean binary cross-entropy of a tanh 2-h-1 network, by the chain rule."""
    H, p = forward(params, X)
    dz2 = (p - y)[:, None] / len(y)  # (m, 1)
    dz1 = (dz2 @ params["W2"]) * (1 - H**2)  # (m, h)
    return {"W1": dz1.T @ X, "b1": dz1.sum(0), "W2": dz2.T @ H, "b2": dz2.sum(0)}


def grid_points(explorer):
    """The grid the maps are drawn on: rows from the bottom (origin="lower"), x varying fastest."""
    xs = np.linspace(*explorer.lim, explorer.resolution)
    x1, x2 = np.meshgrid(xs, xs)
    return np.column_stack([x1.ravel(), x2.ravel()])


def copy_params(explorer):
    return {k: v.copy() for k, v in explorer.model.params.items()}


def decoded_png(explorer) -> np.ndarray:
    return np.asarray(PIL.Image.open(io.BytesIO(explorer.png())).convert("RGBA"))


# -- training ------------------------------------------------------------------------------------


def test_the_history_starts_with_the_untrained_loss_and_steps_lower_it():
    explorer = TwoLayerExplorer()
    X, y = plane_dataset("xor", 200, 0.05, 0)
    np.testing.assert_array_equal(explorer.X, X)
    assert explorer.epoch == 0
    assert explorer.history == [pytest.approx(bce(explorer.model.params, X, y))]
    explorer.step(50)
    assert explorer.epoch == 50 and len(explorer.history) == 51
    assert explorer.history[-1] == pytest.approx(bce(explorer.model.params, X, y))
    assert explorer.history[-1] < 0.8 * explorer.history[0]
    assert all(b < a for a, b in zip(explorer.history, explorer.history[1:], strict=False))


@pytest.mark.parametrize("lr", [0.3, 1.0])
def test_a_step_is_one_gradient_descent_update_with_the_sliders_rate(lr):
    explorer = TwoLayerExplorer(lr=0.3)
    explorer.sliders["lr"].value = lr  # applies to the next step
    before = copy_params(explorer)
    grads = tanh_gradients(before, explorer.X, explorer.y)
    explorer.step()
    for name, value in before.items():
        np.testing.assert_allclose(explorer.model.params[name], value - lr * grads[name], rtol=1e-12,
                                   atol=1e-14, err_msg=name)
    assert explorer.history[1] == pytest.approx(bce(explorer.model.params, explorer.X, explorer.y))


def test_xor_with_the_defaults_is_learned_in_a_few_hundred_steps():
    explorer = TwoLayerExplorer()
    assert explorer.accuracy < 0.9
    explorer.step(300)
    _, p = forward(explorer.model.params, explorer.X)
    np.testing.assert_array_equal((p >= 0.5).astype(int), explorer.y)
    assert explorer.accuracy == 1.0
    assert "accuracy 100.0%" in explorer.readout.value and "epoch 300" in explorer.readout.value


def test_play_ticks_run_steps_per_frame_steps():
    explorer = TwoLayerExplorer()
    explorer.steps_per_frame = 7
    explorer.play.value = 1  # the front end's timer moves the value; each move is one tick
    assert explorer.epoch == 7
    explorer.play.value = 2
    assert explorer.epoch == 14
    explorer.tick()
    assert explorer.epoch == 21
    explorer.play.value = 0  # Play stopped: the value falls back, and nothing is trained
    assert explorer.epoch == 21


def test_buttons_step_and_reset():
    explorer = TwoLayerExplorer()
    explorer.step_button.click()
    assert explorer.epoch == 1
    explorer.reset_button.click()
    assert explorer.epoch == 0


def test_reset_restores_the_initial_network_exactly():
    explorer = TwoLayerExplorer(seed=3)
    initial, first_loss = copy_params(explorer), explorer.history[0]
    explorer.play.playing = True
    explorer.step(25)
    explorer.sliders["lr"].value = 2.0
    explorer.step(5)
    explorer.reset()
    for name, value in initial.items():
        np.testing.assert_array_equal(explorer.model.params[name], value, err_msg=name)
    assert explorer.history == [first_loss] and explorer.epoch == 0
    assert not explorer.play.playing
    assert explorer.lr == 2.0  # the rate is a setting, not part of the network


def test_the_network_comes_from_the_seed():
    explorer = TwoLayerExplorer(seed=5, hidden=3, activation="relu")
    reference = MLP([2, 3, 1], activation="relu", loss="binary_cross_entropy", seed=5)
    for name, value in reference.params.items():
        np.testing.assert_array_equal(explorer.model.params[name], value, err_msg=name)
    other = TwoLayerExplorer(seed=6, hidden=3, activation="relu")
    assert not np.array_equal(other.model.params["W1"], explorer.model.params["W1"])
    # A Generator gives one integer seed, kept for Reset.
    from_rng = TwoLayerExplorer(seed=np.random.default_rng(1))
    weights = from_rng.model.params["W1"].copy()
    from_rng.step(3)
    from_rng.reset()
    np.testing.assert_array_equal(from_rng.model.params["W1"], weights)


# -- what the picture shows ----------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_the_heatmap_is_the_networks_probability_on_the_grid(activation):
    explorer = TwoLayerExplorer(activation=activation, hidden=5)
    explorer.step(40)
    image = explorer.prob_image
    assert image.origin == "lower" and tuple(image.get_extent()) == (*explorer.lim, *explorer.lim)
    _, p = forward(explorer.model.params, grid_points(explorer), activation)
    res = explorer.resolution
    np.testing.assert_allclose(np.asarray(image.get_array()), p.reshape(res, res), rtol=1e-10, atol=1e-12)
    assert image.get_clim() == (0.0, 1.0)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_each_hidden_panel_shows_its_units_activation(activation):
    explorer = TwoLayerExplorer(dataset="moons", activation=activation, hidden=3)
    explorer.step(60)
    params, res = explorer.model.params, explorer.resolution
    H, _ = forward(params, grid_points(explorer), activation)
    for j in range(3):
        image = explorer.hidden_images[j]
        np.testing.assert_allclose(np.asarray(image.get_array()), H[:, j].reshape(res, res), rtol=1e-10,
                                   atol=1e-12, err_msg=f"unit {j + 1}")
        # The dashed line is where the unit's input is zero: W1[j] . x + b1[j] = 0.
        x1, x2 = explorer.unit_lines[j].get_data()
        assert len(x1) == 2
        np.testing.assert_allclose(params["W1"][j, 0] * x1 + params["W1"][j, 1] * x2 + params["b1"][j], 0.0,
                                   atol=1e-9)
    if activation == "tanh":
        assert explorer.hidden_images[0].get_clim() == (-1.0, 1.0)


def test_unused_hidden_panels_are_blank():
    explorer = TwoLayerExplorer(hidden=2)
    png = decoded_png(explorer)
    height = png.shape[0]
    for j in range(MAX_HIDDEN):
        # The panel's pixels, title included (display coordinates have y upwards).
        box = explorer.hidden_axes[j].get_tightbbox(explorer.fig.canvas.get_renderer())
        rows = slice(int(height - box.y1) + 1, int(height - box.y0) - 1)
        cols = slice(int(box.x0) + 1, int(box.x1) - 1)
        blank = bool(np.all(png[rows, cols, :3] == 255))
        assert blank == (j >= 2), f"panel {j + 1}"


def test_the_loss_curve_is_the_history_and_its_limits_grow_in_steps():
    explorer = TwoLayerExplorer()
    explorer.step(150)
    epochs, losses = explorer.loss_line.get_data()
    np.testing.assert_array_equal(epochs, np.arange(151))
    np.testing.assert_array_equal(losses, explorer.history)
    assert explorer.ax_loss.get_xlim() == (0, 200)  # 100, doubled once
    low, high = explorer.ax_loss.get_ylim()
    assert low <= min(explorer.history) and max(explorer.history) <= high
    explorer.step(60)
    assert explorer.ax_loss.get_xlim() == (0, 400)


def test_misclassified_points_are_ringed():
    explorer = TwoLayerExplorer()
    _, p = forward(explorer.model.params, explorer.X)
    wrong = explorer.X[(p >= 0.5).astype(int) != explorer.y]
    assert len(wrong) > 0
    np.testing.assert_array_equal(explorer.wrong.get_offsets(), wrong)
    for label, points in enumerate(explorer.points):
        np.testing.assert_array_equal(points.get_offsets(), explorer.X[explorer.y == label])


# -- controls --------------------------------------------------------------------------------------


def test_the_hidden_units_slider_rebuilds_the_network_and_clears_the_history():
    explorer = TwoLayerExplorer()
    explorer.step(20)
    explorer.sliders["hidden"].value = 6
    assert explorer.model.sizes == [2, 6, 1]
    assert explorer.model.params["W1"].shape == (6, 2) and explorer.model.params["W2"].shape == (1, 6)
    assert explorer.epoch == 0 and len(explorer.history) == 1
    reference = MLP([2, 6, 1], activation="tanh", loss="binary_cross_entropy", seed=0)
    np.testing.assert_array_equal(explorer.model.params["W1"], reference.params["W1"])
    assert "2-6-1" in explorer.readout.value
    assert all(explorer.covers[j].get_visible() == (j >= 6) for j in range(MAX_HIDDEN))


def test_the_activation_menu_rebuilds_the_network():
    explorer = TwoLayerExplorer()
    explorer.step(5)
    explorer.activation.value = "relu"
    assert explorer.model.activation == "relu" and explorer.epoch == 0
    H, _ = forward(explorer.model.params, grid_points(explorer), "relu")
    np.testing.assert_allclose(np.asarray(explorer.hidden_images[0].get_array()).ravel(), H[:, 0], atol=1e-12)


def test_the_dataset_menu_swaps_the_data():
    explorer = TwoLayerExplorer()
    explorer.step(10)
    initial = MLP([2, 4, 1], activation="tanh", loss="binary_cross_entropy", seed=0).params
    explorer.dataset.value = "circles"
    X, y = plane_dataset("circles", 200, 0.05, 0)
    np.testing.assert_array_equal(explorer.X, X)
    np.testing.assert_array_equal(explorer.y, y)
    np.testing.assert_array_equal(explorer.points[1].get_offsets(), X[y == 1])
    assert explorer.epoch == 0
    assert explorer.history == [pytest.approx(bce(initial, X, y))]
    assert explorer.data_title.get_text().startswith("circles")


def test_a_rate_beyond_the_slider_is_clipped_and_flagged():
    explorer = TwoLayerExplorer(lr=50.0)
    assert explorer.clipped and explorer.lr == pytest.approx(10.0)
    assert "clipped" in explorer.readout.value
    explorer.set_sliders({"lr": 0.5})
    assert "clipped" not in explorer.readout.value


def test_the_clip_note_goes_once_the_learner_moves_the_slider():
    explorer = TwoLayerExplorer(lr=50.0)
    explorer.sliders["lr"].value = 0.01  # as the front end does
    explorer.step()
    assert not explorer.clipped and "clipped" not in explorer.readout.value
    explorer.sliders["lr"].value = 10.0  # back to the end of the range, by the learner's hand
    explorer.step()
    assert not explorer.clipped and "clipped" not in explorer.readout.value


def test_a_diverging_run_keeps_drawing_and_says_so():
    # ReLU at the largest rate: the loss grows past any float the loss axis could show.
    explorer = TwoLayerExplorer(dataset="moons", activation="relu", hidden=8, lr=10.0)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # only the explorer may let it
        for _ in range(40):
            before = explorer.png()
            explorer.tick()
    assert not explorer.history[-1] < 2.0**20  # diverged (or NaN)
    assert "the loss has diverged" in explorer.readout.value
    assert explorer.png() != before, "the picture froze"
    low, high = explorer.ax_loss.get_ylim()
    assert high == 2.0**20


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dataset": "gaussian"}, "unknown dataset 'gaussian'; known: 'xor', 'circles', 'moons', 'spiral'"),
        ({"activation": "softplus"}, "unknown activation 'softplus'; known: 'tanh', 'sigmoid', 'relu'"),
        ({"hidden": 0}, "hidden must be an integer from 1 to 8"),
        ({"hidden": 9}, "hidden must be an integer from 1 to 8"),
        ({"hidden": 2.5}, "hidden must be an integer"),
        ({"lr": 0.0}, "lr must be a number > 0"),
        ({"seed": "zero"}, "seed must be an int"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TwoLayerExplorer(**kwargs)


def test_a_negative_number_of_steps_is_refused():
    with pytest.raises(ValueError, match="n must be an integer >= 0"):
        TwoLayerExplorer().step(-1)


def test_the_hidden_units_slider_comes_first_in_the_layout():
    explorer = TwoLayerExplorer()
    assert explorer.widget is explorer.widget

    def walk(widget):
        yield widget
        for child in getattr(widget, "children", ()):
            yield from walk(child)

    found = list(walk(explorer.widget))
    kinds = (widgets.IntSlider, widgets.FloatSlider, widgets.FloatLogSlider)
    sliders = [w for w in found if isinstance(w, kinds)]
    assert sliders[0] is explorer.sliders["hidden"]
    assert explorer.image in found and explorer.readout in found
    assert any(isinstance(w, widgets.Play) for w in found)


# -- rendering ---------------------------------------------------------------------------------------


def test_the_first_picture_is_drawn_and_shown_headless():
    explorer = TwoLayerExplorer()
    assert explorer.png().startswith(b"\x89PNG") and explorer.image.value == explorer.png()
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]) == explorer.png()


def test_a_slider_change_redraws_in_place():
    explorer = TwoLayerExplorer()
    axes, image, hidden_images = list(explorer.fig.axes), explorer.prob_image, list(explorer.hidden_images)
    before = explorer.png()
    explorer.sliders["hidden"].value = 5
    assert explorer.png() != before and explorer.image.value == explorer.png()
    assert explorer.fig.axes == axes and explorer.prob_image is image
    assert explorer.hidden_images == hidden_images
    before = explorer.png()
    explorer.step(3)
    assert explorer.png() != before and explorer.fig.axes == axes


def test_moving_the_hidden_units_slider_reuses_the_background(monkeypatch):
    # Only the changing artists are drawn: the axes, ticks and text are not rendered again.
    explorer = TwoLayerExplorer()
    full_draws = []
    original = explorer.fig.canvas.draw
    monkeypatch.setattr(explorer.fig.canvas, "draw", lambda: (full_draws.append(1), original()))
    for hidden in (1, 8, 3, 6):
        explorer.sliders["hidden"].value = hidden
    explorer.step(10)
    explorer.tick()
    assert full_draws == []
    explorer.step(100)  # the loss curve outgrows its x-axis: that is drawn again, once
    assert full_draws == [1]


@pytest.mark.parametrize(
    "change",
    [
        lambda e: e.step(5),
        lambda e: (e.sliders["hidden"].__setattr__("value", 7), e.step(120)),  # new loss limits
        lambda e: (e.activation.__setattr__("value", "relu"), e.dataset.__setattr__("value", "moons"),
                   e.sliders["hidden"].__setattr__("value", 2), e.tick()),
    ],
    ids=["steps", "new-limits", "relu-moons-two-units"],
)
def test_the_blitted_picture_matches_a_full_render(change):
    explorer = TwoLayerExplorer(hidden=4)
    change(explorer)
    assert_blit_matches_full_render(explorer)
