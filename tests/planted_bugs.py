"""A corpus of planted backprop bugs, for proving that ``coursekit.gradcheck.gradcheck`` finds them.

Every entry is a loss-and-gradient function ``(params, X, y) -> (loss, grads)`` for one small
network, written with numpy alone and independent of the library: two hidden layers and a
softmax output, with L2 on the weights::

    Z1 = X @ W1.T + b1,  A1 = g(Z1)
    Z2 = A1 @ W2.T + b2, A2 = g(Z2)
    Z3 = A2 @ W3.T + b3
    loss = mean_i CE(softmax(Z3[i]), y[i]) + LAM/2 * (||W1||^2 + ||W2||^2 + ||W3||^2)

Each bug is one mistake planted in the backward pass, the kind a learner makes; the loss is
always computed correctly. :func:`reference` gives the correct version.

The hidden layers are square (4 units fed by 4 inputs) and the batch has 4 rows, so that several
bugs (a transposed square ``dW``, a bias summed over the wrong axis, the wrong cache) still give
arrays of the right shapes and can only be found by their values. The output layer is not square
(3 classes), so a transposed ``dW3`` or ``db3`` summed over the wrong axis is a shape mismatch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

SIZES = (4, 4, 4, 3)
BATCH = 4
LAM = 0.1
PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")
WEIGHTS = frozenset({"W1", "W2", "W3"})
BIASES = frozenset({"b1", "b2", "b3"})
EVERYTHING = WEIGHTS | BIASES


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


#: name -> (g, derivative of g given z and a = g(z))
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "sigmoid": (_sigmoid, lambda z, a: a * (1.0 - a)),
    "tanh": (np.tanh, lambda z, a: 1.0 - a**2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(float)),
}


def network(params, X, y, *, activation: str = "tanh", bug: str | None = None):
    """Loss and gradients of the network above, with the named ``bug`` planted (None: correct)."""
    W1, b1, W2, b2, W3, b3 = (params[name] for name in PARAMS)
    g, dg = ACTIVATIONS[activation]
    m = X.shape[0]

    Z1 = X @ W1.T + b1
    A1 = g(Z1)
    Z2 = A1 @ W2.T + b2
    A2 = g(Z2)
    Z3 = A2 @ W3.T + b3
    shifted = Z3 - Z3.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    Y = np.eye(Z3.shape[1])[y]
    loss = -np.sum(Y * logp) / m + LAM / 2 * sum(np.sum(W * W) for W in (W1, W2, W3))

    P = np.exp(logp)
    dZ3 = (P - Y) / m
    if bug == "softmax_gradient_without_y":
        dZ3 = P / m
    elif bug == "sign_error_in_output_delta":
        dZ3 = (Y - P) / m
    dW3 = dZ3.T @ A2
    if bug == "forgot_one_over_m":
        dW3 = (P - Y).T @ A2
    db3 = dZ3.sum(axis=0)
    if bug == "bias_summed_over_wrong_axis_shape_mismatch":
        db3 = dZ3.sum(axis=1)

    dA2 = dZ3 @ W3
    dZ2 = dA2 * dg(Z2, A2)
    if bug == "off_by_one_layer_activation_cache":
        dZ2 = dA2 * dg(Z1, A1)
    dW2 = dZ2.T @ A1
    if bug == "transposed_dW_square":
        dW2 = A1.T @ dZ2
    elif bug == "sign_error_in_dW":
        dW2 = -(dZ2.T @ A1)
    elif bug == "off_by_one_layer_linear_cache":
        dW2 = dZ2.T @ A2
    db2 = dZ2.sum(axis=0)
    if bug == "bias_summed_over_wrong_axis":
        db2 = dZ2.sum(axis=1)

    dA1 = dZ2 @ W2
    dZ1 = dA1 * dg(Z1, A1)
    if bug == "missing_activation_derivative":
        dZ1 = dA1
    elif bug == "sigmoid_derivative_from_z":
        dZ1 = dA1 * Z1 * (1.0 - Z1)
    dW1 = dZ1.T @ X
    if bug == "dW_double_counted":
        dW1 = dW1 + dZ1.T @ X
    db1 = dZ1.sum(axis=0)

    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}
    if bug == "first_example_only":
        for l, (dZ, A_prev) in enumerate([(dZ1, X), (dZ2, A1), (dZ3, A2)], start=1):
            grads[f"W{l}"] = np.outer(dZ[0], A_prev[0])
            grads[f"b{l}"] = dZ[0]
    if bug != "missing_l2_term":
        for name in WEIGHTS:
            grads[name] = grads[name] + LAM * params[name]
    if bug == "l2_applied_to_biases":
        for name in BIASES:
            grads[name] = grads[name] + LAM * params[name]
    if bug == "transposed_dW_non_square":
        grads["W3"] = grads["W3"].T
    return loss, grads


def reference(activation: str) -> Callable:
    """The correct loss-and-gradient function."""
    return partial(network, activation=activation, bug=None)


@dataclass(frozen=True)
class Bug:
    """One planted bug: its name, the hidden activation it is planted in, and what it breaks."""

    name: str
    activation: str
    wrong: frozenset[str]
    shape_mismatch: bool = False

    @property
    def loss_and_grads(self) -> Callable:
        return partial(network, activation=self.activation, bug=self.name)


BUGS = [
    Bug("missing_activation_derivative", "tanh", frozenset({"W1", "b1"})),
    Bug("missing_activation_derivative", "relu", frozenset({"W1", "b1"})),
    Bug("sigmoid_derivative_from_z", "sigmoid", frozenset({"W1", "b1"})),
    Bug("transposed_dW_square", "tanh", frozenset({"W2"})),
    Bug("transposed_dW_square", "relu", frozenset({"W2"})),
    Bug("transposed_dW_non_square", "tanh", frozenset({"W3"}), shape_mismatch=True),
    Bug("forgot_one_over_m", "sigmoid", frozenset({"W3"})),
    Bug("dW_double_counted", "relu", frozenset({"W1"})),
    Bug("bias_summed_over_wrong_axis", "tanh", frozenset({"b2"})),
    Bug("bias_summed_over_wrong_axis_shape_mismatch", "relu", frozenset({"b3"}),
        shape_mismatch=True),
    Bug("sign_error_in_dW", "relu", frozenset({"W2"})),
    Bug("sign_error_in_output_delta", "sigmoid", EVERYTHING),
    Bug("missing_l2_term", "tanh", WEIGHTS),
    Bug("l2_applied_to_biases", "relu", BIASES),
    Bug("softmax_gradient_without_y", "tanh", EVERYTHING),
    Bug("off_by_one_layer_linear_cache", "sigmoid", frozenset({"W2"})),
    Bug("off_by_one_layer_activation_cache", "tanh", frozenset({"W2", "b2", "W1", "b1"})),
    Bug("first_example_only", "tanh", EVERYTHING),
]


def random_problem(seed: int, sizes: tuple[int, ...] = SIZES, batch: int = BATCH
                   ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Parameters, a batch ``X`` and labels ``y``, for the corpus's network or a wider one.

    The biases are non-zero, so that a bias bug shows, and centred on 0.5, so that a ReLU layer
    is rarely dead for a whole small batch (a dead layer has zero gradients, right or wrong).
    """
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(sizes)):
        n_in, n_out = sizes[l - 1], sizes[l]
        params[f"W{l}"] = rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)
        params[f"b{l}"] = 0.5 + 0.5 * rng.standard_normal(n_out)
    X = rng.standard_normal((batch, sizes[0]))
    y = rng.integers(0, sizes[-1], batch)
    return params, X, y
