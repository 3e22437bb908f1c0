"""Forward and backward primitives against finite differences and against PyTorch autograd."""

import warnings
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit import layers
from coursekit.gradcheck import numerical_gradient

pytestmark = pytest.mark.usefixtures("single_threaded")

CASES = [(0, (1, 1, 1)), (1, (4, 3, 2)), (2, (7, 5, 6)), (3, (2, 9, 1))]  # seed, (m, n_in, n_out)
ACT_CASES = [(4, (1,)), (5, (3, 4)), (6, (6, 2)), (7, (2, 3, 4))]  # seed, shape of z


def tensor(array):
    return torch.tensor(array, dtype=torch.float64, requires_grad=True)


def torch_vjp(fn, inputs, dout):
    """Gradients of sum(fn(*inputs) * dout) with respect to each input, by autograd."""
    ts = [tensor(x) for x in inputs]
    (fn(*ts) * torch.tensor(dout)).sum().backward()
    return [t.grad.numpy() for t in ts]


def linear_case(seed, shape):
    m, n_in, n_out = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, n_in))
    W = rng.standard_normal((n_out, n_in))
    b = rng.standard_normal(n_out)
    dout = rng.standard_normal((m, n_out))
    return x, W, b, dout


# name -> (forward, backward, the same function in torch)
ACTIVATIONS = {
    "identity": (layers.identity_forward, layers.identity_backward, lambda z: z),
    "sigmoid": (layers.sigmoid_forward, layers.sigmoid_backward, torch.sigmoid),
    "tanh": (layers.tanh_forward, layers.tanh_backward, torch.tanh),
    "relu": (layers.relu_forward, layers.relu_backward, torch.relu),
    "leaky_relu": (
        layers.leaky_relu_forward,
        layers.leaky_relu_backward,
        partial(F.leaky_relu, negative_slope=0.01),
    ),
    "leaky_relu(0.2)": (
        partial(layers.leaky_relu_forward, alpha=0.2),
        layers.leaky_relu_backward,
        partial(F.leaky_relu, negative_slope=0.2),
    ),
    "softplus": (layers.softplus_forward, layers.softplus_backward, F.softplus),
}
KINKED = {"relu", "leaky_relu", "leaky_relu(0.2)"}


def activation_case(name, seed, shape):
    rng = np.random.default_rng(seed)
    z = 3 * rng.standard_normal(shape)
    if name in KINKED:  # keep finite differences away from the kink at 0
        z += np.where(z >= 0, 0.1, -0.1)
    return z, rng.standard_normal(shape)


# -- linear --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "shape"), CASES)
def test_linear_forward_matches_torch(seed, shape):
    x, W, b, _ = linear_case(seed, shape)
    out, _ = layers.linear_forward(x, W, b)
    expected = F.linear(torch.tensor(x), torch.tensor(W), torch.tensor(b)).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("seed", "shape"), CASES)
def test_linear_backward_matches_finite_differences(seed, shape):
    x, W, b, dout = linear_case(seed, shape)
    _, cache = layers.linear_forward(x, W, b)
    dx, dW, db = layers.linear_backward(dout, cache)
    forward = layers.linear_forward
    numeric = [
        numerical_gradient(lambda v: forward(v, W, b)[0], x.copy(), dout=dout),
        numerical_gradient(lambda v: forward(x, v, b)[0], W.copy(), dout=dout),
        numerical_gradient(lambda v: forward(x, W, v)[0], b.copy(), dout=dout),
    ]
    for analytic, expected in zip([dx, dW, db], numeric, strict=True):
        assert analytic.shape == expected.shape
        np.testing.assert_allclose(analytic, expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize(("seed", "shape"), CASES)
def test_linear_backward_matches_torch(seed, shape):
    x, W, b, dout = linear_case(seed, shape)
    _, cache = layers.linear_forward(x, W, b)
    grads = layers.linear_backward(dout, cache)
    expected = torch_vjp(F.linear, [x, W, b], dout)
    for analytic, oracle in zip(grads, expected, strict=True):
        np.testing.assert_allclose(analytic, oracle, rtol=1e-12, atol=1e-12)


def test_linear_forward_by_hand():
    # z = W x + b for each row x
    out, _ = layers.linear_forward([[1, 2], [0, -1]], [[1, 0], [2, -1], [0, 3]], [0.5, 0, -1])
    np.testing.assert_array_equal(out, [[1.5, 0.0, 5.0], [0.5, 1.0, -4.0]])


def test_linear_does_not_modify_its_inputs():
    x, W, b, dout = linear_case(1, (4, 3, 2))
    copies = [a.copy() for a in (x, W, b, dout)]
    _, cache = layers.linear_forward(x, W, b)
    layers.linear_backward(dout, cache)
    for after, before in zip((x, W, b, dout), copies, strict=True):
        np.testing.assert_array_equal(after, before)


# -- activations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "shape"), ACT_CASES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_forward_matches_torch(name, seed, shape):
    forward, _, torch_fn = ACTIVATIONS[name]
    z, _ = activation_case(name, seed, shape)
    a, _ = forward(z)
    assert a.shape == z.shape
    np.testing.assert_allclose(a, torch_fn(torch.tensor(z)).numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("seed", "shape"), ACT_CASES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_matches_finite_differences(name, seed, shape):
    forward, backward, _ = ACTIVATIONS[name]
    z, dout = activation_case(name, seed, shape)
    _, cache = forward(z)
    numeric = numerical_gradient(lambda v: forward(v)[0], z.copy(), dout=dout)
    np.testing.assert_allclose(backward(dout, cache), numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize(("seed", "shape"), ACT_CASES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_matches_torch(name, seed, shape):
    forward, backward, torch_fn = ACTIVATIONS[name]
    z, dout = activation_case(name, seed, shape)
    _, cache = forward(z)
    (expected,) = torch_vjp(torch_fn, [z], dout)
    np.testing.assert_allclose(backward(dout, cache), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_does_not_modify_its_inputs(name):
    forward, backward, _ = ACTIVATIONS[name]
    z, dout = activation_case(name, 8, (3, 4))
    z_before, dout_before = z.copy(), dout.copy()
    _, cache = forward(z)
    backward(dout, cache)
    np.testing.assert_array_equal(z, z_before)
    np.testing.assert_array_equal(dout, dout_before)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_keeps_float32(name):
    forward, backward, _ = ACTIVATIONS[name]
    z = np.array([[-2.0, -0.5, 0.5, 3.0]], dtype=np.float32)
    a, cache = forward(z)
    assert a.dtype == np.float32
    assert backward(np.ones_like(z), cache).dtype == np.float32


def test_relu_family_at_the_kink():
    """At z = 0 ReLU uses the subgradient 0 and leaky ReLU uses alpha, as torch does."""
    z = np.zeros((1, 3))
    dout = np.array([[1.0, -2.0, 3.0]])
    _, cache = layers.relu_forward(z)
    np.testing.assert_array_equal(layers.relu_backward(dout, cache), [[0.0, 0.0, 0.0]])
    _, cache = layers.leaky_relu_forward(z, alpha=0.25)
    np.testing.assert_array_equal(layers.leaky_relu_backward(dout, cache), [[0.25, -0.5, 0.75]])


def test_relu_backward_stops_even_an_infinite_gradient():
    """Where z <= 0 the gradient is 0 whatever arrives from above: inf and nan too, as in torch."""
    z = np.array([[-1.0, 0.0, 2.0, -3.0, 4.0]])
    dout = np.array([[np.inf, -np.inf, np.inf, np.nan, -5.0]])
    _, cache = layers.relu_forward(z)
    dz = layers.relu_backward(dout, cache)
    zt = tensor(z)
    (expected,) = torch.autograd.grad(torch.relu(zt), zt, torch.tensor(dout))
    np.testing.assert_array_equal(dz, expected.numpy())
    np.testing.assert_array_equal(dz, [[0.0, 0.0, np.inf, 0.0, -5.0]])


def test_activations_by_hand():
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(layers.sigmoid_forward(z)[0], [1 / (1 + np.e**2), 0.5,
                                                              1 / (1 + np.e**-3)])
    np.testing.assert_array_equal(layers.relu_forward(z)[0], [0.0, 0.0, 3.0])
    np.testing.assert_allclose(layers.leaky_relu_forward(z, alpha=0.1)[0], [-0.2, 0.0, 3.0])
    np.testing.assert_allclose(layers.softplus_forward(z)[0],
                               [np.log(1 + np.e**-2), np.log(2.0), np.log(1 + np.e**3)])


def test_step_forward():
    z = np.array([-3.0, -1e-12, 0.0, 1e-12, 2.5])
    a, _ = layers.step_forward(z)
    np.testing.assert_array_equal(a, [0.0, 0.0, 1.0, 1.0, 1.0])  # step(0) = 1
    assert a.dtype == np.float64
    assert layers.step_forward(z.astype(np.float32))[0].dtype == np.float32
    np.testing.assert_array_equal(layers.step_forward([[-1, 0], [1, -5]])[0], [[0, 1], [1, 0]])


def test_saturating_activations_are_stable_for_huge_inputs():
    z = np.array([-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4])
    dout = np.ones_like(z)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        s, s_cache = layers.sigmoid_forward(z)
        p, p_cache = layers.softplus_forward(z)
        t, t_cache = layers.tanh_forward(z)
        grads = [layers.sigmoid_backward(dout, s_cache), layers.softplus_backward(dout, p_cache),
                 layers.tanh_backward(dout, t_cache)]
    for value in (s, p, t, *grads):
        assert np.all(np.isfinite(value))
    assert s[0] == 0.0 and s[-1] == 1.0
    assert p[0] == 0.0 and p[-1] == 1e4 and p[-2] == 800.0
    np.testing.assert_array_equal(grads[1][[0, -1]], [0.0, 1.0])  # softplus' = sigmoid


def test_get_activation():
    assert layers.get_activation("tanh") == (layers.tanh_forward, layers.tanh_backward)
    # Every activation the library offers is covered by the table of torch oracles below.
    assert set(layers.ACTIVATIONS) <= set(ACTIVATIONS)
    with pytest.raises(ValueError, match=r"'swish'.*'sigmoid'.*'tanh'.*'relu'"):
        layers.get_activation("swish")


# -- bad input -----------------------------------------------------------------------------------


def test_linear_forward_names_the_mismatched_shapes():
    x, W, b = np.ones((5, 3)), np.ones((4, 2)), np.ones(4)
    with pytest.raises(ValueError, match=r"x.*W.*\(5, 3\).*\(4, 2\)"):
        layers.linear_forward(x, W, b)
    with pytest.raises(ValueError, match=r"b.*\(4,\).*\(4, 3\).*\(3,\)"):
        layers.linear_forward(np.ones((5, 3)), np.ones((4, 3)), np.ones(3))
    with pytest.raises(ValueError, match=r"x must have shape \(m, n_in\), got shape \(3,\)"):
        layers.linear_forward(np.ones(3), np.ones((4, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"W must have shape \(n_out, n_in\), got shape \(3,\)"):
        layers.linear_forward(np.ones((2, 3)), np.ones(3), np.ones(1))
    with pytest.raises(ValueError, match=r"b must have shape \(n_out,\), got shape \(4, 1\)"):
        layers.linear_forward(np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 1)))


def test_backward_names_the_mismatched_upstream_gradient():
    _, cache = layers.linear_forward(np.ones((5, 3)), np.ones((4, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"dout.*\(5, 4\).*\(4, 5\)"):
        layers.linear_backward(np.ones((4, 5)), cache)
    _, cache = layers.tanh_forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"da.*z.*\(3, 2\).*\(2, 3\)"):
        layers.tanh_backward(np.ones((3, 2)), cache)


@pytest.mark.parametrize("bad", [np.array([["a", "b"]]), np.array([[None, 1.0]], dtype=object),
                                 np.array([[1 + 2j, 0j]])])
def test_non_numeric_input_is_refused(bad):
    with pytest.raises(TypeError, match="x must be"):
        layers.linear_forward(bad, np.ones((1, 2)), np.ones(1))
    with pytest.raises(TypeError, match="z must be"):
        layers.sigmoid_forward(bad)


def test_the_identitys_output_is_not_the_callers_array():
    z = np.array([[1.0, -2.0]])
    a, cache = layers.identity_forward(z)
    a[...] = 0.0
    np.testing.assert_array_equal(z, [[1.0, -2.0]])
