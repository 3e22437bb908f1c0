"""The depth explorer, headless: per-layer activations and gradient norms of a deep network."""

import base64

import numpy as np
import pytest
from explorer_checks import assert_blit_matches_full_render

from coursekit.widgets import DepthExplorer
from coursekit.widgets.depth import FULL_SHARE, HIST_WIDTH, N_BINS

# -- an independent forward and backward pass, written out with numpy ----------------------------

ACTIVATION = {
    "sigmoid": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda a: a * (1.0 - a)),
    "tanh": (np.tanh, lambda a: 1.0 - a**2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda a: (a > 0).astype(float)),
}


def numpy_backprop(params, X, y, activation):
    """Hidden outputs and weight gradients of a softmax cross-entropy (batch mean) network.

    Returns
    -------
    hidden : list of arrays, the outputs of layers 1 .. L-1
    dW : list of arrays, the gradients of W1 .. WL
    """
    g, g_prime = ACTIVATION[activation]
    L = len(params) // 2
    A, outputs = X, [X]
    for l in range(1, L + 1):
        Z = A @ params[f"W{l}"].T + params[f"b{l}"]
        if l < L:
            A = g(Z)
            outputs.append(A)
    m, k = Z.shape
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    dZ = (P - np.eye(k)[y]) / m
    dW = [None] * L
    for l in range(L, 0, -1):
        dW[l - 1] = dZ.T @ outputs[l - 1]
        if l > 1:
            dZ = (dZ @ params[f"W{l}"]) * g_prime(outputs[l - 1])
    return outputs[1:], dW


def frobenius(arrays):
    return np.array([np.sqrt(np.sum(a * a)) for a in arrays])


def explorer_at(depth=6, activation="tanh", init="xavier", scale=1.0):
    explorer = DepthExplorer(depth=depth, activation=activation, init=init)
    explorer.set_sliders({"scale": scale})
    return explorer


# -- gradients --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("activation", "init", "depth", "scale"),
    [("tanh", "xavier", 6, 1.0), ("sigmoid", "small", 3, 1.0), ("relu", "he", 4, 1.6),
     ("tanh", "uniform", 12, 0.5)],
)
def test_gradient_norms_match_a_numpy_backward_pass(activation, init, depth, scale):
    explorer = explorer_at(depth, activation, init, scale)
    hidden, dW = numpy_backprop(explorer.model.params, explorer.X, explorer.y, activation)
    expected = frobenius(dW)
    assert explorer.gradient_norms.shape == (depth + 1,)
    np.testing.assert_allclose(explorer.gradient_norms, expected, rtol=1e-9, atol=1e-300)
    for got, want in zip(explorer.activations, hidden, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    # ... and the plotted line is these norms, at x = 1 .. depth + 1
    x, shown = explorer.grad_line.get_data()
    np.testing.assert_array_equal(x, np.arange(1, depth + 2))
    np.testing.assert_allclose(shown, expected, rtol=1e-9)
    assert explorer.output_mark.get_data()[0][0] == depth + 1


def test_gradient_norms_match_torch_autograd(single_threaded):
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    explorer = explorer_at(depth=5, activation="sigmoid", init="xavier", scale=2.0)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in explorer.model.params.items()}
    A = torch.tensor(explorer.X)
    L = len(params) // 2
    for l in range(1, L + 1):
        Z = functional.linear(A, params[f"W{l}"], params[f"b{l}"])
        A = torch.sigmoid(Z) if l < L else Z
    loss = functional.cross_entropy(Z, torch.tensor(explorer.y))
    loss.backward()
    expected = np.array([params[f"W{l}"].grad.norm().item() for l in range(1, L + 1)])
    np.testing.assert_allclose(explorer.gradient_norms, expected, rtol=1e-9)
    assert explorer.loss == pytest.approx(loss.item(), rel=1e-12)


def test_sigmoid_with_small_weights_makes_the_first_layers_gradient_vanish():
    explorer = explorer_at(depth=6, activation="sigmoid", init="small")
    norms = explorer.gradient_norms
    # Each layer back passes through W (entries ~0.01) and sigmoid' <= 1/4: the norm shrinks at
    # every step towards the input. Measured here: 3.0e-11 / 0.32, a ratio of about 1e-10.
    assert np.all(np.diff(norms) > 0), norms
    assert norms[0] / norms[-1] < 1e-8
    assert "vanishing" in explorer.readout.value
    # Deeper is worse: twelve layers lose about ten more orders of magnitude.
    explorer.sliders["depth"].value = 12
    assert explorer.gradient_norms[0] / explorer.gradient_norms[-1] < 1e-18


def test_sigmoid_with_xavier_still_vanishes_with_depth():
    explorer = explorer_at(depth=12, activation="sigmoid", init="xavier")
    norms = explorer.gradient_norms
    assert norms[0] / norms[-1] < 1e-6  # measured 3.5e-8


@pytest.mark.parametrize("depth", range(1, 13))
def test_relu_with_he_keeps_every_layer_within_an_order_of_magnitude(depth):
    explorer = explorer_at(depth=depth, activation="relu", init="he")
    norms = explorer.gradient_norms
    # measured: max/min from 1.7 (depth 1) to 7.6 (depth 11); first/last from 0.16 to 0.59
    assert norms.max() / norms.min() < 10, norms
    assert 0.1 < norms[0] / norms[-1] < 10
    assert "within a factor of 10" in explorer.readout.value


def test_large_tanh_weights_make_the_first_layers_gradient_explode():
    explorer = explorer_at(depth=12, activation="tanh", init="xavier", scale=4.0)
    norms = explorer.gradient_norms
    assert norms[0] / norms[-1] > 100  # measured about 170
    assert "exploding" in explorer.readout.value


def test_relu_scales_every_layers_gradient_alike():
    # ReLU with zero biases is positively homogeneous: weights times s make A_l times s^l, and,
    # for the same P - Y, every dW_l times s^(L-1). With small logits P is 1/10 whatever s is.
    quarter = explorer_at(depth=12, activation="relu", init="he", scale=0.25)
    half = explorer_at(depth=12, activation="relu", init="he", scale=0.5)
    np.testing.assert_allclose(half.gradient_norms / quarter.gradient_norms, 2.0**12, rtol=1e-3)
    for l, (a, b) in enumerate(zip(quarter.activations, half.activations, strict=True), start=1):
        np.testing.assert_allclose(b, 2.0**l * a, rtol=1e-9)
    # Large weights give large logits: every gradient is huge, though their ratio stays modest.
    large = explorer_at(depth=12, activation="relu", init="he", scale=2.0)
    assert large.gradient_norms.min() > 1e3
    assert "every gradient is huge" in large.readout.value


def test_tiny_but_even_gradients_are_called_tiny():
    # tanh with 0.01 weights: the outputs shrink 10-fold per layer, so the gradients, all alike,
    # are ~1e-7 at depth 6 although their ratio is near 1.
    explorer = explorer_at(depth=6, activation="tanh", init="small")
    assert explorer.gradient_norms.max() < 1e-6
    assert "every gradient is tiny" in explorer.readout.value


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_zero_init_with_tanh_or_relu_gives_zero_weight_gradients_everywhere(activation):
    explorer = explorer_at(depth=4, activation=activation, init="zeros")
    # Every hidden output is g(0) = 0, so dW_L = dZ_L^T A_{L-1} = 0, and W_L = 0 stops the
    # gradient from reaching any earlier layer.
    for a in explorer.activations:
        assert np.all(a == 0)
    np.testing.assert_array_equal(explorer.gradient_norms, np.zeros(5))
    # Only the output bias learns: its gradient is mean(softmax - onehot) = 1/10 - share of class c.
    _, grads = explorer.model.loss(explorer.X, explorer.y)
    share = np.bincount(explorer.y, minlength=10) / len(explorer.y)
    np.testing.assert_allclose(grads["b5"], 0.1 - share, atol=1e-15)
    for name in ("b1", "b2", "b3", "b4"):
        np.testing.assert_array_equal(grads[name], 0.0)
    # Drawn as crosses on the bottom edge, and said in words.
    xs, ys = explorer.zero_marks.get_data()
    np.testing.assert_array_equal(xs, [1, 2, 3, 4, 5])
    assert np.all(ys == explorer.grad_ax.get_ylim()[0])
    assert "every weight gradient is exactly zero" in explorer.readout.value


def test_zero_init_with_sigmoid_moves_only_the_output_weights_and_all_alike():
    explorer = explorer_at(depth=3, activation="sigmoid", init="zeros")
    # Every hidden output is sigmoid(0) = 1/2; the output layer's weights get
    # dW4[c, j] = 1/2 * (1/10 - share of class c), the same for every hidden unit j.
    for a in explorer.activations:
        np.testing.assert_array_equal(a, 0.5)
    _, grads = explorer.model.loss(explorer.X, explorer.y)
    share = np.bincount(explorer.y, minlength=10) / len(explorer.y)
    expected = np.tile(0.5 * (0.1 - share)[:, None], (1, 64))
    np.testing.assert_allclose(grads["W4"], expected, atol=1e-15)
    norms = explorer.gradient_norms
    np.testing.assert_array_equal(norms[:3], 0.0)
    assert norms[3] == pytest.approx(np.linalg.norm(expected), rel=1e-12)
    assert "first layer's weight gradient is exactly zero" in explorer.readout.value


# -- histograms -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("activation", "init", "scale"),
                         [("tanh", "xavier", 1.0), ("relu", "he", 1.0), ("relu", "small", 1.0),
                          ("sigmoid", "uniform", 3.0)])
def test_histograms_are_numpys_histograms_of_the_activations(activation, init, scale):
    explorer = explorer_at(depth=5, activation=activation, init=init, scale=scale)
    hidden, _ = numpy_backprop(explorer.model.params, explorer.X, explorer.y, activation)
    edges = explorer.bin_edges
    low, high = edges[0], edges[-1]
    if activation == "tanh":
        np.testing.assert_allclose(edges, np.linspace(-1, 1, N_BINS + 1))
    elif activation == "sigmoid":
        np.testing.assert_allclose(edges, np.linspace(0, 1, N_BINS + 1))
    else:
        np.testing.assert_allclose(edges, np.linspace(0, 4, N_BINS + 1))
    assert len(explorer.histograms) == 5
    for l, (counts, a) in enumerate(zip(explorer.histograms, hidden, strict=True), start=1):
        expected, _ = np.histogram(np.clip(a, low, high), bins=edges)  # larger outputs count in the last bin
        np.testing.assert_array_equal(counts, expected)
        assert counts.sum() == a.size
        # drawn on its side at x = l: half a bar's width each side, its share over FULL_SHARE
        values, drawn_edges, baseline = explorer.hists[l - 1].get_data()
        np.testing.assert_allclose(drawn_edges, edges)
        width = HIST_WIDTH * np.minimum(expected / a.size / FULL_SHARE, 1.0)
        np.testing.assert_allclose(values - baseline, width, atol=1e-12)
        np.testing.assert_allclose((values + baseline) / 2, l)
    assert explorer.act_ax.get_ylim() == (low, high)


def test_small_relu_weights_collapse_the_outputs_to_zero():
    explorer = explorer_at(depth=6, activation="relu", init="small")
    stds = [np.std(a) for a in explorer.activations]
    # each layer multiplies the spread by about 0.01 * sqrt(64) / sqrt(2) ~ 0.06
    assert all(later < 0.1 * earlier for earlier, later in zip(stds, stds[1:], strict=False))
    # from layer 2 on, every output falls in the first bin
    for counts in explorer.histograms[1:]:
        assert counts[0] == counts.sum()


# -- controls ---------------------------------------------------------------------------------------

def test_depth_slider_rebuilds_the_network_with_depth_plus_one_weight_layers():
    explorer = DepthExplorer(depth=6)
    before = {k: v.copy() for k, v in explorer.model.params.items()}
    axes, artists = list(explorer.fig.axes), list(explorer.hists)
    explorer.sliders["depth"].value = 9
    model = explorer.model
    assert model.n_layers == 10 and model.sizes == [64] + [64] * 9 + [10]
    assert len(explorer.gradient_norms) == 10 and len(explorer.activations) == 9
    assert [p.get_visible() for p in explorer.hists] == [True] * 9 + [False] * 3
    # the first six hidden layers keep their weights: the deeper net adds layers on top
    for l in range(1, 7):
        np.testing.assert_array_equal(model.params[f"W{l}"], before[f"W{l}"])
    assert explorer.fig.axes == axes and explorer.hists == artists
    # the slots beyond the network are greyed out
    assert (explorer.grad_unused.get_x(), explorer.grad_unused.get_width()) == (10.5, 3)
    assert (explorer.act_unused.get_x(), explorer.act_unused.get_width()) == (9.5, 4)
    explorer.sliders["depth"].value = 1
    assert explorer.model.sizes == [64, 64, 10] and len(explorer.gradient_norms) == 2


def test_the_weight_scale_multiplies_every_initial_weight():
    plain = explorer_at(depth=3, activation="tanh", init="xavier")
    scaled = explorer_at(depth=3, activation="tanh", init="xavier", scale=2.0)
    for l in range(1, 5):
        np.testing.assert_allclose(scaled.model.params[f"W{l}"], 2.0 * plain.model.params[f"W{l}"])
        np.testing.assert_array_equal(scaled.model.params[f"b{l}"], plain.model.params[f"b{l}"])
    # Xavier for 64 -> 64: standard deviation sqrt(2 / 128) = 0.125 (4096 draws: within 5%)
    assert np.std(plain.model.params["W2"]) == pytest.approx(0.125, rel=0.05)


def test_values_beyond_the_sliders_are_clipped_and_flagged():
    explorer = DepthExplorer(depth=20)
    assert explorer.depth == 12 and explorer.clipped
    assert "clipped" in explorer.readout.value
    explorer.set_sliders({"depth": 3, "scale": 50.0})
    assert explorer.scale == pytest.approx(4.0) and "clipped" in explorer.readout.value
    explorer.set_sliders({"depth": 3, "scale": 1.0})
    assert not explorer.clipped and "clipped" not in explorer.readout.value


def test_set_options_redraws_once_with_both_choices():
    explorer = DepthExplorer()
    drawn = []
    draw = explorer.draw
    explorer.draw = lambda: (drawn.append((explorer.activation, explorer.init)), draw())
    explorer.set_options(activation="relu", init="he")
    assert drawn == [("relu", "he")]
    assert explorer.model.activation == "relu" and explorer.model.init == "he"


def test_unknown_activation_or_init_is_refused():
    with pytest.raises(ValueError, match="unknown activation 'softplus'; known: 'sigmoid', 'tanh', 'relu'"):
        DepthExplorer(activation="softplus")
    with pytest.raises(ValueError, match="unknown init scheme 'glorot'; known: 'zeros'"):
        DepthExplorer(init="glorot")
    explorer = DepthExplorer()
    with pytest.raises(ValueError, match="unknown activation 'step'"):
        explorer.set_options(activation="step")
    with pytest.raises(ValueError, match="unknown init scheme 'orthogonal'"):
        explorer.set_options(init="orthogonal")
    assert (explorer.activation, explorer.init) == ("tanh", "xavier")  # nothing changed
    with pytest.raises(ValueError, match="width"):
        DepthExplorer(width=0)


# -- the picture ------------------------------------------------------------------------------------

def test_the_picture_changes_in_place():
    explorer = DepthExplorer()
    axes, hists, line = list(explorer.fig.axes), list(explorer.hists), explorer.grad_line
    png = explorer.png()
    assert png.startswith(b"\x89PNG") and explorer.image.value == png
    explorer.sliders["depth"].value = 8
    assert explorer.png() != png and explorer.image.value == explorer.png()
    png = explorer.png()
    explorer.set_options(activation="sigmoid")
    assert explorer.png() != png
    assert explorer.fig.axes == axes and explorer.hists == hists and explorer.grad_line is line
    assert all(len(ax.texts) == 0 for ax in axes)


@pytest.mark.parametrize(("activation", "init"), [("sigmoid", "small"), ("relu", "he"), ("tanh", "uniform")])
def test_the_sliders_redraw_only_the_changing_artists(monkeypatch, activation, init):
    # The axes hold every depth and weight scale, so moving a slider never redraws the static parts.
    explorer = DepthExplorer(activation=activation, init=init)
    full_draws = []
    draw = explorer.fig.canvas.draw
    monkeypatch.setattr(explorer.fig.canvas, "draw", lambda: (full_draws.append(1), draw()))
    for depth, scale in [(7, 1.0), (12, 1.0), (12, 0.25), (12, 4.0), (1, 4.0), (1, 0.25), (5, 1.5)]:
        explorer.set_sliders({"depth": depth, "scale": scale})
        low, high = explorer.grad_ax.get_ylim()
        positive = explorer.gradient_norms[explorer.gradient_norms > 0]
        assert low <= positive.min() and positive.max() <= high
    assert full_draws == []
    explorer.set_options(activation="sigmoid" if activation != "sigmoid" else "tanh")
    assert full_draws == [1]  # a new output range: the static parts are drawn again


@pytest.mark.parametrize("change", [
    lambda e: e.sliders["depth"].__setattr__("value", 9),  # the cached background is reused
    lambda e: e.set_sliders({"depth": 4, "scale": 3.0}),
    lambda e: (e.set_options(activation="relu", init="he"), e.sliders["scale"].__setattr__("value", 0.5)),
    lambda e: e.set_options(activation="sigmoid", init="zeros"),
])
def test_the_blitted_picture_equals_a_full_render(change):
    explorer = DepthExplorer()
    change(explorer)
    assert_blit_matches_full_render(explorer)


def test_headless_display_falls_back_to_a_static_png():
    explorer = DepthExplorer(depth=3)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]) == explorer.png()
    assert explorer.widget is explorer.widget
    # the depth slider comes first in the layout (the browser test moves the first slider)
    first = explorer.widget.children[0].children[0].children[0]
    assert first is explorer.sliders["depth"]
