"""The MLP: gradients against PyTorch autograd, parameters, initialisation, training, bad input."""

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit import MLP, datasets
from coursekit import mlp as mlp_module

pytestmark = pytest.mark.usefixtures("single_threaded")

TORCH_ACTIVATIONS = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=0.01),
    "softplus": F.softplus,
}
HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "softplus"]
# (output, loss) pairs
HEADS = [
    ("identity", "squared_error"),
    ("sigmoid", "squared_error"),
    ("sigmoid", "binary_cross_entropy"),
    ("softmax", "softmax_cross_entropy"),
]


def torch_model(net: MLP) -> torch.nn.Sequential:
    """A torch network of nn.Linear layers whose weights are copies of ``net.params``."""
    linears = []
    for l in range(1, len(net.sizes)):
        linear = torch.nn.Linear(net.sizes[l - 1], net.sizes[l], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(net.params[f"W{l}"]))
            linear.bias.copy_(torch.tensor(net.params[f"b{l}"]))
        linears.append(linear)
    return torch.nn.Sequential(*linears)


def torch_loss_and_grads(model, X, y, *, hidden, output, loss, reduction, l2):
    """The loss of the MLP computed by torch, and its gradients by autograd, keyed W1, b1, ..."""
    a = torch.tensor(X)
    for i, linear in enumerate(model):
        z = linear(a)
        a = TORCH_ACTIVATIONS[hidden](z) if i < len(model) - 1 else z
    m = X.shape[0]
    if loss == "squared_error":
        out = TORCH_ACTIVATIONS[output](z)
        total = 0.5 * F.mse_loss(out, torch.tensor(y), reduction="sum")
        if reduction == "mean":
            total = total / m
    elif loss == "binary_cross_entropy":
        total = F.binary_cross_entropy_with_logits(z, torch.tensor(y), reduction=reduction)
    else:
        total = F.cross_entropy(z, torch.tensor(y), reduction=reduction)
    total = total + l2 / 2 * sum((linear.weight**2).sum() for linear in model)
    total.backward()
    grads = {}
    for l, linear in enumerate(model, start=1):
        grads[f"W{l}"] = linear.weight.grad.numpy()
        grads[f"b{l}"] = linear.bias.grad.numpy()
    return total.item(), grads


def targets(loss, output, m, k, rng):
    if loss == "softmax_cross_entropy":
        return rng.integers(0, k, m)
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, (m, k)).astype(float)
    if output == "sigmoid":
        return rng.random((m, k))
    return rng.standard_normal((m, k))


@pytest.mark.parametrize("sizes", [[3, 4, 2], [3, 5, 4, 2]], ids=["3-4-2", "3-5-4-2"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("l2", [0.0, 0.1])
@pytest.mark.parametrize(("output", "loss"), HEADS, ids=[f"{o}+{lo}" for o, lo in HEADS])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_loss_and_gradients_match_torch(hidden, output, loss, l2, reduction, sizes):
    seed = len(sizes) * 1000 + HIDDEN.index(hidden) * 10 + HEADS.index((output, loss))
    rng = np.random.default_rng(seed)
    net = MLP(sizes, activation=hidden, output=output, loss=loss, l2=l2, reduction=reduction,
              seed=seed)
    m = 6
    X = rng.standard_normal((m, sizes[0]))
    y = targets(loss, output, m, sizes[-1], rng)
    model = torch_model(net)

    value, grads = net.loss(X, y)
    expected_value, expected = torch_loss_and_grads(
        model, X, y, hidden=hidden, output=output, loss=loss, reduction=reduction, l2=l2
    )
    assert value == pytest.approx(expected_value, rel=1e-12)
    assert list(grads) == list(net.params)
    for name in net.params:
        assert grads[name].shape == net.params[name].shape
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-9, atol=1e-12)


def test_single_output_accepts_targets_of_shape_m():
    rng = np.random.default_rng(1)
    net = MLP([2, 3, 1], activation="tanh", seed=1)
    X, y = rng.standard_normal((5, 2)), rng.standard_normal(5)
    value, grads = net.loss(X, y)
    expected_value, expected = torch_loss_and_grads(
        torch_model(net), X, y[:, None], hidden="tanh", output="identity",
        loss="squared_error", reduction="mean", l2=0.0,
    )
    assert value == pytest.approx(expected_value, rel=1e-12)
    for name in net.params:
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-9, atol=1e-12)


def test_forward_matches_torch():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((4, 3))
    net = MLP([3, 5, 4], activation="tanh", loss="softmax_cross_entropy", seed=2)
    model = torch_model(net)
    logits = model[1](torch.tanh(model[0](torch.tensor(X))))
    probabilities = net.forward(X)
    np.testing.assert_allclose(probabilities, torch.softmax(logits, dim=1).detach().numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)


# -- parameters and initialisation ---------------------------------------------------------------


def test_params_are_named_and_shaped_like_torch_linear_layers():
    net = MLP([3, 5, 4, 2], seed=0)
    assert list(net.params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    shapes = {name: p.shape for name, p in net.params.items()}
    assert shapes == {"W1": (5, 3), "b1": (5,), "W2": (4, 5), "b2": (4,), "W3": (2, 4),
                      "b3": (2,)}
    assert net.n_layers == 3


def test_the_2_3_1_network_has_13_parameters():
    # 2 * 3 weights + 3 biases into the hidden layer, 3 * 1 + 1 into the output
    net = MLP([2, 3, 1], seed=0)
    assert net.n_params() == 13
    assert sum(p.size for p in net.params.values()) == 13


def test_zeros_init():
    net = MLP([4, 6, 3], init="zeros", seed=0)
    for p in net.params.values():
        np.testing.assert_array_equal(p, 0.0)


def test_uniform_init_covers_minus_one_to_one_for_weights_and_biases():
    net = MLP([200, 300, 400], init="uniform", seed=0)
    for name, p in net.params.items():
        assert p.min() >= -1.0 and p.max() <= 1.0, name
        assert p.min() < -0.9 and p.max() > 0.9, name  # spread over the interval, biases too
        assert abs(p.mean()) < 0.1, name


@pytest.mark.parametrize(
    ("init", "expected_std"),
    [("small", lambda n_in, n_out: 0.01),
     ("xavier", lambda n_in, n_out: np.sqrt(2.0 / (n_in + n_out))),
     ("he", lambda n_in, n_out: np.sqrt(2.0 / n_in))],
)
def test_random_init_scales(init, expected_std):
    n_in, n_out = 400, 300
    net = MLP([n_in, n_out, 10], init=init, seed=0)
    W1 = net.params["W1"]
    assert W1.std() == pytest.approx(expected_std(n_in, n_out), rel=0.03)
    assert abs(W1.mean()) < 0.03 * expected_std(n_in, n_out)
    np.testing.assert_array_equal(net.params["b1"], 0.0)


def test_default_init_depends_on_the_activation():
    assert MLP([2, 2], activation="relu").init == "he"
    assert MLP([2, 2], activation="leaky_relu").init == "he"
    assert MLP([2, 2], activation="tanh").init == "xavier"
    assert MLP([2, 2], activation="sigmoid").init == "xavier"


def test_same_seed_same_params():
    a, b = MLP([3, 4, 2], seed=7), MLP([3, 4, 2], seed=7)
    c = MLP([3, 4, 2], seed=8)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert not np.array_equal(a.params["W1"], c.params["W1"])


def test_a_generator_is_accepted_as_seed():
    a = MLP([3, 4, 2], seed=np.random.default_rng(5))
    b = MLP([3, 4, 2], seed=np.random.default_rng(5))
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    rng = np.random.default_rng(5)
    first, second = MLP([3, 4, 2], seed=rng), MLP([3, 4, 2], seed=rng)
    assert not np.array_equal(first.params["W1"], second.params["W1"])  # the generator moved on


# -- predictions ---------------------------------------------------------------------------------


def test_predict_returns_class_labels_for_softmax():
    net = MLP([2, 3], loss="softmax_cross_entropy")
    net.params["W1"] = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    net.params["b1"] = np.zeros(3)
    X = np.array([[2.0, 1.0], [0.0, 3.0], [-1.0, -2.0]])
    # scores (2, 1, -3), (0, 3, -3), (-1, -2, 3)
    labels = net.predict(X)
    np.testing.assert_array_equal(labels, [0, 1, 2])
    assert np.issubdtype(labels.dtype, np.integer)


def test_predict_returns_labels_for_binary_cross_entropy():
    net = MLP([2, 1], loss="binary_cross_entropy")
    net.params["W1"] = np.array([[1.0, -1.0]])
    net.params["b1"] = np.array([0.0])
    X = np.array([[2.0, 1.0], [1.0, 2.0], [0.0, 0.0]])
    labels = net.predict(X)  # scores 1, -1, 0 -> probabilities > .5, < .5, = .5
    np.testing.assert_array_equal(labels, [1, 0, 1])
    assert labels.shape == (3,)
    np.testing.assert_allclose(net.forward(X)[:, 0], 1 / (1 + np.exp([-1.0, 1.0, 0.0])))


def test_predict_returns_the_output_for_squared_error():
    net = MLP([2, 2], activation="tanh", output="sigmoid")
    net.params["W1"] = np.array([[1.0, 0.0], [0.0, -1.0]])
    net.params["b1"] = np.array([0.0, 1.0])
    X = np.array([[0.0, 0.0], [2.0, 1.0]])
    expected = 1 / (1 + np.exp(-np.array([[0.0, 1.0], [2.0, 0.0]])))
    np.testing.assert_allclose(net.predict(X), expected)


def test_assigned_params_are_used():
    """The ReLU network that computes XOR exactly, with its weights set by hand."""
    net = MLP([2, 2, 1], activation="relu")
    net.params["W1"] = np.array([[1.0, 1.0], [1.0, 1.0]])
    net.params["b1"] = np.array([0.0, -1.0])
    net.params["W2"] = np.array([[1.0, -2.0]])
    net.params["b2"] = np.array([0.0])
    X, y = datasets.xor()
    np.testing.assert_array_equal(net.forward(X)[:, 0], y)
    loss, grads = net.loss(X, y)
    assert loss == 0.0
    for g in grads.values():
        np.testing.assert_array_equal(g, 0.0)


def test_assigned_integer_params_can_be_trained():
    net = MLP([2, 2, 1], activation="relu")
    net.params.update(W1=[[1, 1], [1, 1]], b1=np.array([0, -1]), W2=np.array([[1, -2]]),
                      b2=np.array([0]))
    X, y = datasets.xor()
    targets = y + 0.5
    loss, grads = net.loss(X, targets)
    net.step(grads, lr=0.1)
    for p in net.params.values():
        assert isinstance(p, np.ndarray) and p.dtype == np.float64
    assert net.loss(X, targets)[0] < loss


# -- training ------------------------------------------------------------------------------------


def test_step_is_gradient_descent_in_place():
    rng = np.random.default_rng(3)
    net = MLP([3, 4, 2], activation="tanh", seed=3)
    X, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    before = {name: p.copy() for name, p in net.params.items()}
    arrays = {name: id(p) for name, p in net.params.items()}
    loss, grads = net.loss(X, y)
    net.step(grads, lr=0.05)
    for name, p in net.params.items():
        assert id(p) == arrays[name]
        np.testing.assert_allclose(p, before[name] - 0.05 * grads[name], rtol=1e-15)
    assert net.loss(X, y)[0] < loss


@pytest.mark.parametrize(("hidden", "output", "loss"), [
    ("relu", "identity", "squared_error"),
    ("sigmoid", "sigmoid", "binary_cross_entropy"),
    ("tanh", "softmax", "softmax_cross_entropy"),
])
def test_gradient_descent_decreases_the_loss(hidden, output, loss):
    rng = np.random.default_rng(4)
    net = MLP([3, 6, 2], activation=hidden, output=output, loss=loss, l2=0.01, seed=4)
    X = rng.standard_normal((8, 3))
    y = targets(loss, output, 8, 2, rng)
    history = []
    for _ in range(20):
        value, grads = net.loss(X, y)
        history.append(value)
        net.step(grads, lr=0.1)
    assert np.all(np.diff(history) < 0), history


@pytest.mark.parametrize("seed", [0, 1])
def test_learns_xor(seed):
    X, y = datasets.xor()
    net = MLP([2, 4, 1], activation="tanh", loss="binary_cross_entropy", seed=seed)
    for _ in range(1000):
        _, grads = net.loss(X, y)
        net.step(grads, lr=0.5)
    np.testing.assert_array_equal(net.predict(X), y)


def test_float32():
    rng = np.random.default_rng(5)
    net32 = MLP([3, 5, 2], activation="tanh", loss="softmax_cross_entropy", seed=5,
                dtype=np.float32)
    net64 = MLP([3, 5, 2], activation="tanh", loss="softmax_cross_entropy")
    net64.params = {name: p.astype(np.float64) for name, p in net32.params.items()}
    X, y = rng.standard_normal((6, 3)), rng.integers(0, 2, 6)

    assert all(p.dtype == np.float32 for p in net32.params.values())
    assert net32.forward(X).dtype == np.float32
    loss32, grads32 = net32.loss(X, y)
    loss64, grads64 = net64.loss(X, y)
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    for name in grads32:
        assert grads32[name].dtype == np.float32
        np.testing.assert_allclose(grads32[name], grads64[name], rtol=1e-4, atol=1e-6)
    net32.step(grads32, lr=0.1)
    assert all(p.dtype == np.float32 for p in net32.params.values())


# -- bad input -----------------------------------------------------------------------------------


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match=r"'swish'.*'sigmoid'.*'relu'"):
        MLP([2, 2], activation="swish")
    with pytest.raises(ValueError, match=r"'hinge'.*'squared_error'.*'softmax_cross_entropy'"):
        MLP([2, 2], loss="hinge")
    with pytest.raises(ValueError, match=r"'orthogonal'.*'zeros'.*'xavier'.*'he'"):
        MLP([2, 2], init="orthogonal")
    with pytest.raises(ValueError, match=r"'median'.*'mean'"):
        MLP([2, 2], reduction="median")
    with pytest.raises(ValueError, match=r"'softmax'.*'identity'"):
        MLP([2, 2], output="softmax")  # softmax comes with softmax_cross_entropy only


def test_inconsistent_settings_are_refused():
    with pytest.raises(ValueError, match=r"needs output='softmax'"):
        MLP([2, 3], loss="softmax_cross_entropy", output="sigmoid")
    with pytest.raises(ValueError, match="at least 2 output units"):
        MLP([2, 1], loss="softmax_cross_entropy")
    with pytest.raises(ValueError, match="sizes"):
        MLP([3])
    with pytest.raises(ValueError, match=">= 0"):
        MLP([2, 2], l2=-1.0)


def test_input_with_the_wrong_number_of_features():
    net = MLP([3, 4, 2], seed=0)
    with pytest.raises(ValueError, match=r"X must have shape \(m, 3\), got \(5, 2\)"):
        net.forward(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"X must have shape \(m, 3\), got shape \(3,\)"):
        net.loss(np.ones(3), np.ones(2))
    with pytest.raises(TypeError, match="X must be a numeric array"):
        net.forward(np.array([["a", "b", "c"]]))


def test_targets_of_the_wrong_shape():
    net = MLP([3, 4, 2], seed=0)
    with pytest.raises(ValueError, match=r"y must have shape \(5, 2\).*got \(5, 3\)"):
        net.loss(np.ones((5, 3)), np.ones((5, 3)))
    net = MLP([3, 4, 3], loss="softmax_cross_entropy", seed=0)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        net.loss(np.ones((2, 3)), np.array([0, 3]))


def test_params_assigned_with_the_wrong_shape():
    net = MLP([3, 4, 2], seed=0)
    net.params["W1"] = np.ones((3, 4))  # transposed
    with pytest.raises(ValueError, match=r"params\['W1'\] must have shape \(4, 3\), got \(3, 4\)"):
        net.forward(np.ones((5, 3)))
    net = MLP([3, 4, 2], seed=0)
    net.params["b1"] = np.array(["a", "b", "c", "d"])
    with pytest.raises(TypeError, match=r"params\['b1'\] must be a numeric array"):
        net.forward(np.ones((5, 3)))
    net = MLP([3, 4, 2], seed=0)
    del net.params["b2"]
    with pytest.raises(KeyError, match=r"'b2'.*\['W1', 'b1', 'W2', 'b2'\]"):
        net.loss(np.ones((5, 3)), np.ones((5, 2)))


@pytest.mark.parametrize("call", ["loss", "forward", "predict"])
def test_a_parameter_reshaped_in_place_is_named(call):
    net = MLP([3, 4, 2], loss="softmax_cross_entropy", seed=0)
    X, y = np.ones((5, 3)), np.array([0, 1, 1, 0, 1])
    net.step(net.loss(X, y)[1], lr=0.1)  # the parameters have passed their checks
    net.params["W1"].shape = (3, 4)  # the very same array, given another shape in place
    run = (lambda: net.loss(X, y)) if call == "loss" else (lambda: getattr(net, call)(X))
    with pytest.raises(ValueError, match=r"params\['W1'\] must have shape \(4, 3\), got \(3, 4\)"):
        run()
    net.params["W1"].shape = (4, 3)
    run()  # its shape given back, it works again


def test_an_error_in_a_layer_with_sound_parameters_is_raised_as_it_is(monkeypatch):
    net = MLP([3, 4, 2], loss="softmax_cross_entropy", seed=0)
    X, y = np.ones((5, 3)), np.array([0, 1, 1, 0, 1])
    net.loss(X, y)

    def failing(*args, **kwargs):
        raise ValueError("not a shape problem")

    monkeypatch.setattr(mlp_module, "affine", failing)
    for run in (lambda: net.loss(X, y), lambda: net.forward(X)):
        with pytest.raises(ValueError, match="^not a shape problem$"):
            run()


# -- the step's shared arrays --------------------------------------------------------------------
# MLP keeps its parameters in one flat array, returns gradients as views of one flat array, and
# reuses its layer outputs from one loss() call to the next. None of that may show: each test
# below trains one network the fast way and one the plain way and wants the very same numbers.


def plain_training(net: MLP, X, y, lr: float, steps: int) -> list[float]:
    """Gradient descent on parameters of their own (not views of the flat array) and copied
    gradients: no kept arrays, no flat gradient, one update per array."""
    net.params = {name: p.copy() for name, p in net.params.items()}
    history = []
    for _ in range(steps):
        loss, grads = net.loss(X, y)
        history.append(loss)
        net.step({name: g.copy() for name, g in grads.items()}, lr)
    assert not net._params_flat and not net._workspace  # the plain way, all along
    return history


def fast_training(net: MLP, X, y, lr: float, steps: int) -> list[float]:
    history = []
    for _ in range(steps):
        loss, grads = net.loss(X, y)
        history.append(loss)
        net.step(grads, lr)
    return history


def updated_shapes(monkeypatch) -> list[tuple]:
    """A list that gets the shape of every array MLP.step updates, one entry per update."""
    shapes = []
    descend = mlp_module._descend
    monkeypatch.setattr(mlp_module, "_descend", lambda p, g, lr: (shapes.append(p.shape), descend(p, g, lr)))
    return shapes


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "softplus"])
def test_the_flat_update_equals_one_update_per_parameter(activation, monkeypatch):
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 4, 40)
    fast = MLP([3, 7, 5, 4], activation=activation, loss="softmax_cross_entropy", seed=5)
    plain = MLP([3, 7, 5, 4], activation=activation, loss="softmax_cross_entropy", seed=5)
    updates = updated_shapes(monkeypatch)  # one flat array per step, or one per parameter
    assert fast_training(fast, X, y, 0.1, 15) == plain_training(plain, X, y, 0.1, 15)
    assert updates[:16] == [(fast.n_params(),)] * 15 + [(7, 3)]
    for name in fast.params:
        np.testing.assert_array_equal(fast.params[name], plain.params[name])


def test_a_large_parameter_is_updated_in_blocks_to_the_same_numbers():
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((16, 300)), rng.integers(0, 3, 16)
    fast = MLP([300, 200, 3], loss="softmax_cross_entropy", seed=6)  # W1 has 60,000 entries
    plain = MLP([300, 200, 3], loss="softmax_cross_entropy", seed=6)
    assert fast_training(fast, X, y, 0.05, 3) == plain_training(plain, X, y, 0.05, 3)
    np.testing.assert_array_equal(fast.params["W1"], plain.params["W1"])
    # Against the update in one piece, p - lr * g, with no blocks at all:
    before = {name: p.copy() for name, p in fast.params.items()}
    _, grads = fast.loss(X, y)
    expected = {name: before[name] - 0.05 * grads[name] for name in before}
    fast.step(grads, 0.05)
    for name, p in fast.params.items():
        np.testing.assert_array_equal(p, expected[name])


def test_gradients_of_an_earlier_call_are_kept():
    rng = np.random.default_rng(7)
    net = MLP([2, 5, 1], activation="tanh", seed=7)
    X1, X2 = rng.standard_normal((6, 2)), rng.standard_normal((6, 2))
    y = rng.standard_normal(6)
    _, first = net.loss(X1, y)
    saved = {name: g.copy() for name, g in first.items()}
    net.loss(X2, y)
    for name, g in first.items():
        np.testing.assert_array_equal(g, saved[name])
    net.step(first, lr=0.5)  # an older gradient still takes the right step
    reference = MLP([2, 5, 1], activation="tanh", seed=7)
    for name, p in reference.params.items():
        np.testing.assert_array_equal(net.params[name], p - 0.5 * saved[name])


def test_forward_results_survive_later_training_steps():
    rng = np.random.default_rng(8)
    net = MLP([2, 6, 6, 3], loss="softmax_cross_entropy", seed=8)
    X = rng.standard_normal((9, 2))
    logits, caches = net.forward_logits(X)
    hidden = [cache.activation.a.copy() for cache in caches[:-1]]
    kept = logits.copy()
    for _ in range(3):
        net.loss(X, rng.integers(0, 3, 9))  # same batch size: the same reused arrays
    np.testing.assert_array_equal(logits, kept)
    for cache, a in zip(caches[:-1], hidden, strict=True):
        np.testing.assert_array_equal(cache.activation.a, a)


def test_batch_sizes_can_change_from_call_to_call():
    rng = np.random.default_rng(9)
    net = MLP([3, 8, 2], activation="relu", loss="softmax_cross_entropy", seed=9)
    for m in [5, 7, 5, 1, 12, 7, 3, 5]:  # more sizes than are kept
        X, y = rng.standard_normal((m, 3)), rng.integers(0, 2, m)
        loss, grads = net.loss(X, y)
        fresh = MLP([3, 8, 2], activation="relu", loss="softmax_cross_entropy", seed=9)
        fresh.params.update({name: p.copy() for name, p in net.params.items()})
        expected_loss, expected = fresh.loss(X, y)
        assert loss == expected_loss
        for name in grads:
            np.testing.assert_array_equal(grads[name], expected[name])
        net.step(grads, lr=0.1)


@pytest.mark.parametrize("dtype, itemsize", [(np.float64, 8), (np.float32, 4)])
def test_the_kept_arrays_are_counted_per_batch_size(dtype, itemsize):
    net = MLP([2, 3, 4, 2], loss="softmax_cross_entropy", seed=13, dtype=dtype)
    assert net.scratch_nbytes == 0  # nothing kept before the first step
    rng = np.random.default_rng(13)
    # A batch of m keeps each layer's output (3 + 4 + 2 rows) and room for the widest hidden
    # layer's input gradient (4 rows): 13 rows of m entries.
    # A batch size seen before reuses its arrays.
    for m, kept_rows in [(5, 13 * 5), (7, 13 * (5 + 7)), (5, 13 * (5 + 7))]:
        before = net._workspace.get(m)
        net.loss(rng.standard_normal((m, 2)), rng.integers(0, 2, m))
        assert net.scratch_nbytes == kept_rows * itemsize
        assert before is None or net._workspace[m] is before
    net.predict(np.ones((9, 2)))  # only training steps keep arrays
    assert net.scratch_nbytes == 13 * 12 * itemsize
    assert pickle.loads(pickle.dumps(net)).scratch_nbytes == 0  # a copy starts without them


def test_assigned_arrays_and_edited_gradients_are_updated_as_given():
    rng = np.random.default_rng(10)
    X, y = rng.standard_normal((8, 2)), rng.standard_normal((8, 1))
    net = MLP([2, 3, 1], activation="tanh", seed=10)
    W1 = np.array([[0.5, -0.2], [0.1, 0.3], [-0.4, 0.2]])
    net.params["W1"] = W1  # now a separate array: it must still be trained in place
    loss, grads = net.loss(X, y)
    grads["b2"] = 2 * grads["b2"]  # a new array in the gradients: it must be used
    before = {name: p.copy() for name, p in net.params.items()}
    net.step(grads, lr=0.1)
    assert net.params["W1"] is W1
    for name, p in net.params.items():
        np.testing.assert_array_equal(p, before[name] - 0.1 * grads[name])


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_network_trains_on_its_own(how, monkeypatch):
    import copy

    rng = np.random.default_rng(11)
    X, y = rng.standard_normal((10, 2)), rng.integers(0, 2, 10)
    original = MLP([2, 4, 2], activation="tanh", loss="softmax_cross_entropy", seed=11)
    original.loss(X, y)  # so that there are kept arrays and a last gradient to copy
    twin = copy.deepcopy(original) if how == "deepcopy" else pickle.loads(pickle.dumps(original))
    updates = updated_shapes(monkeypatch)
    fast_training(twin, X, y, 0.3, 5)
    assert updates == [(twin.n_params(),)] * 5  # the copy updates its own flat array at once
    monkeypatch.undo()
    untouched = MLP([2, 4, 2], activation="tanh", loss="softmax_cross_entropy", seed=11)
    for name, p in original.params.items():
        np.testing.assert_array_equal(p, untouched.params[name])  # the copy did not write here
    assert fast_training(original, X, y, 0.3, 5) == plain_training(untouched, X, y, 0.3, 5)
    for name, p in twin.params.items():
        np.testing.assert_array_equal(p, original.params[name])


def test_a_float32_parameter_in_a_float64_network():
    rng = np.random.default_rng(12)
    X, y = rng.standard_normal((6, 2)), rng.integers(0, 2, 6)
    net = MLP([2, 3, 2], loss="softmax_cross_entropy", seed=12)
    net.params["W2"] = net.params["W2"].astype(np.float32)
    loss, grads = net.loss(X, y)
    assert np.isfinite(loss) and grads["W1"].dtype == np.float64
    net.step(grads, lr=0.1)
    assert net.params["W2"].dtype == np.float32


@pytest.mark.parametrize("labels", [[0, 2, 1, 3], [0, -1, 1, 1]])
def test_labels_out_of_range_in_a_training_step(labels):
    net = MLP([2, 3, 3], loss="softmax_cross_entropy", seed=0)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\), got range"):
        net.loss(np.ones((4, 2)), np.array(labels))


def test_an_empty_batch_is_refused():
    net = MLP([2, 3, 3], loss="softmax_cross_entropy", seed=0)
    with pytest.raises(ValueError, match="X is empty"):
        net.loss(np.ones((0, 2)), np.array([], dtype=int))


def test_threads_training_one_network_get_their_own_results():
    import threading

    rng = np.random.default_rng(13)
    net = MLP([20, 64, 64, 3], activation="tanh", loss="softmax_cross_entropy", seed=13)
    batches = [(rng.standard_normal((100, 20)), rng.integers(0, 3, 100)) for _ in range(4)]
    expected = [net.loss(X, y) for X, y in batches]  # the parameters do not change below
    failures = []

    def work(k: int) -> None:
        X, y = batches[k]
        for _ in range(150):
            loss, grads = net.loss(X, y)
            if loss != expected[k][0] or any(
                not np.array_equal(grads[name], expected[k][1][name]) for name in grads
            ):
                failures.append(k)
                return

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"sizes": [2, 3.7, 1]}, TypeError, "whole numbers"),
        ({"sizes": "231"}, TypeError, "whole numbers"),
        ({"sizes": [2, True, 1]}, TypeError, "whole numbers"),
        ({"sizes": [2, 3, 1], "dtype": int}, TypeError, "floating-point"),
        ({"sizes": [2, 3, 1], "l2": float("nan")}, ValueError, "finite and >= 0"),
        ({"sizes": [2, 3, 1], "l2": -0.1}, ValueError, "finite and >= 0"),
    ],
)
def test_a_network_that_would_compute_nonsense_is_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        MLP(**kwargs)
    assert MLP(np.array([2, 3, 1]), dtype=np.float32).sizes == [2, 3, 1]  # numpy integers are fine
    assert MLP(n for n in (2, 3, 1)).sizes == [2, 3, 1]  # and any iterable


def test_step_refuses_gradients_that_do_not_fit_and_changes_nothing():
    net = MLP([2, 3, 1], seed=0)
    X, y = datasets.xor()
    _, grads = net.loss(X, y)
    before = {name: p.copy() for name, p in net.params.items()}
    wrong = [
        ({**grads, "W1": grads["W1"][:1]}, ValueError,
         r"grads\['W1'\] must have the shape .*\(3, 2\); got \(1, 2\)"),
        ({**grads, "b1": 0.5}, ValueError, r"grads\['b1'\] must have the shape"),
        ({**grads, "W1": grads["W1"].T}, ValueError, r"grads\['W1'\]"),
        ({k: v for k, v in grads.items() if k != "b1"}, KeyError, "grads has no 'b1'"),
        ({**grads, "dW1": grads["W1"]}, KeyError, "grads has 'dW1'"),
    ]
    for bad, error, message in wrong:
        with pytest.raises(error, match=message):
            net.step(bad, 0.1)
        for name, p in net.params.items():
            np.testing.assert_array_equal(p, before[name])
    net.step(dict(grads), 0.1)  # a copy of the dict: the checked path, which then updates
    np.testing.assert_allclose(net.params["W1"], before["W1"] - 0.1 * grads["W1"])


def test_a_parameter_the_network_has_not_is_named():
    net = MLP([2, 3, 1], seed=0)
    net.params["W3"] = np.ones((1, 1))
    with pytest.raises(KeyError, match="params has 'W3', which this network has not"):
        net.loss(*datasets.xor())
