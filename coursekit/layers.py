"""Forward and backward primitives: the linear layer and the activation functions.

Every primitive is a pair of pure functions. ``thing_forward(...)`` returns ``(out, cache)`` and
``thing_backward(dout, cache)`` returns the gradients of a scalar loss with respect to the inputs,
given the gradient ``dout`` with respect to ``out``. Caches are named tuples; inputs are never
modified.

Batches are rows: ``x`` has shape ``(m, n_in)``, ``W`` has shape ``(n_out, n_in)``, ``b`` has shape
``(n_out,)`` and ``out = x @ W.T + b``, which is ``z = W x + b`` for one example.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from coursekit._validation import (
    as_float_array,
    check_choice,
    check_ndim,
    check_same_shape,
    quiet_underflow,
)

__all__ = [
    "ACTIVATIONS",
    "LinearCache",
    "ActivationCache",
    "linear_forward",
    "linear_backward",
    "step_forward",
    "identity_forward",
    "identity_backward",
    "sigmoid",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "relu_forward",
    "relu_backward",
    "leaky_relu_forward",
    "leaky_relu_backward",
    "softplus_forward",
    "softplus_backward",
    "get_activation",
]


class LinearCache(NamedTuple):
    """What :func:`linear_backward` needs: the input and the weights."""

    x: np.ndarray
    W: np.ndarray


class ActivationCache(NamedTuple):
    """What an activation's backward needs: its input ``z``, its output ``a``, and a parameter."""

    z: np.ndarray
    a: np.ndarray
    alpha: float = 0.0


def linear_forward(x, W, b) -> tuple[np.ndarray, LinearCache]:
    """Affine map of a batch: ``out = x @ W.T + b``.

    Parameters
    ----------
    x : array, shape (m, n_in)
        One example per row.
    W : array, shape (n_out, n_in)
        Row ``j`` holds the weights into unit ``j``.
    b : array, shape (n_out,)

    Returns
    -------
    out : array, shape (m, n_out)
    cache : LinearCache
    """
    x = as_float_array(x, "x")
    W = as_float_array(W, "W")
    b = as_float_array(b, "b")
    check_ndim(x, 2, "x", "(m, n_in)")
    check_ndim(W, 2, "W", "(n_out, n_in)")
    check_ndim(b, 1, "b", "(n_out,)")
    if x.shape[1] != W.shape[1]:
        raise ValueError(
            f"x has {x.shape[1]} features but W expects {W.shape[1]}: "
            f"x.shape={x.shape}, W.shape={W.shape} (W is (n_out, n_in))"
        )
    if b.shape[0] != W.shape[0]:
        raise ValueError(
            f"b must have shape ({W.shape[0]},) to match W.shape={W.shape}, got {b.shape}"
        )
    return affine(x, W, b), LinearCache(x, W)


def linear_backward(dout, cache: LinearCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the affine map.

    Parameters
    ----------
    dout : array, shape (m, n_out)
        Gradient of the loss with respect to ``out``.
    cache : LinearCache
        From :func:`linear_forward`.

    Returns
    -------
    dx : array, shape (m, n_in)
    dW : array, shape (n_out, n_in)
    db : array, shape (n_out,)
    """
    dout = check_linear_upstream(dout, cache)
    dW, db = affine_param_grads(dout, cache.x)
    return affine_input_grad(dout, cache.W), dW, db


def check_linear_upstream(dout, cache: LinearCache) -> np.ndarray:
    """``dout`` as a float array, or ``ValueError`` unless it has the shape of the layer's output."""
    x, W = cache
    dout = as_float_array(dout, "dout")
    expected = (x.shape[0], W.shape[0])
    if dout.shape != expected:
        raise ValueError(f"dout must have shape {expected} (m, n_out), got {dout.shape}")
    return dout


# The unchecked kernels below do the arithmetic of the primitives. The public functions check
# their arguments and call them; coursekit.MLP, which checks its arrays once per batch, calls
# them directly.


def affine(x: np.ndarray, W: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``x @ W.T + b`` for arrays already known to fit.

    It is computed as the transpose of ``W @ x.T + b[:, None]``: the same numbers, stored with each
    unit's m values side by side (a Fortran-ordered (m, n_out) array). Adding the bias, the
    activations and the softmax then work along rows of m numbers instead of short rows of n_out,
    which is much faster for narrow layers, and the later products take either order at no cost.

    ``out``, if given, is a C-contiguous array of shape (n_out, m) and of the result's dtype to
    write ``W @ x.T + b[:, None]`` into; the result is then its transpose.
    """
    # np.dot rather than the @ operator: the same product, with less overhead on small arrays.
    z = np.dot(W, x.T, out=out)
    z += b[:, None]
    return z.T


def affine_input_grad(dout: np.ndarray, W: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``dx = dout @ W``, stored like the output of :func:`affine` (one unit's values per row).

    ``out``, if given, is a C-contiguous (n_in, m) array to write ``dx.T`` into.
    """
    return np.dot(W.T, dout.T, out=out).T


def affine_param_grads(
    dout: np.ndarray, x: np.ndarray, out: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(dW, db) = (dout.T @ x, dout summed over the batch)``: the weights' part of the backward.

    With ``out=(dW, db)`` the gradients are written into those arrays. The input's gradient,
    :func:`affine_input_grad`, is left to the caller, which skips it for the first layer.
    """
    # db as a product with a vector of ones: BLAS sums the batch about twice as fast as
    # np.add.reduce does along an axis.
    batch = ones(dout.shape[0], dout.dtype)
    if out is None:
        return np.dot(dout.T, x), np.dot(dout.T, batch)
    dW, db = out
    np.dot(dout.T, x, out=dW)
    np.dot(dout.T, batch, out=db)
    return dW, db


@functools.lru_cache(maxsize=32)
def ones(n: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of ``n`` ones, made once: sums over an axis as matrix products."""
    vector = np.ones(n, dtype)
    vector.flags.writeable = False
    return vector


def step_forward(z) -> tuple[np.ndarray, ActivationCache]:
    """Heaviside step: 1 where ``z >= 0`` and 0 elsewhere, in the dtype of ``z``.

    The step's derivative is zero almost everywhere, so it has no backward: the perceptron is
    trained by its own rule, not by gradients.
    """
    z = as_float_array(z, "z")
    a = (z >= 0).astype(z.dtype)
    return a, ActivationCache(z, a)


def identity_forward(z) -> tuple[np.ndarray, ActivationCache]:
    """The identity, for a linear output layer. ``a`` is a new array, as every activation's is:
    writing into it leaves the caller's ``z`` as it was."""
    return _identity(as_float_array(z, "z").copy())


def identity_backward(da, cache: ActivationCache) -> np.ndarray:
    """Gradient through the identity: ``dz = da``."""
    return _checked_upstream(da, cache)


def sigmoid(z) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-z))`` without overflow for any finite ``z``.

    ``z`` is any numeric array (integers become float64); the result has its shape.
    """
    z = as_float_array(z, "z")  # an unsigned z would wrap around in -abs(z)
    # exp of a non-positive number never overflows; the two branches are the same function.
    # It may underflow to 0, which is the right answer, so that is not reported even under
    # np.errstate(all="raise").
    with quiet_underflow():
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_forward(z) -> tuple[np.ndarray, ActivationCache]:
    """Logistic sigmoid. ``z`` has any shape; ``a`` has the same shape."""
    return _sigmoid(as_float_array(z, "z"))


def sigmoid_backward(da, cache: ActivationCache) -> np.ndarray:
    """``dz = da * a * (1 - a)``."""
    return _sigmoid_grad(_checked_upstream(da, cache), cache)


def tanh_forward(z) -> tuple[np.ndarray, ActivationCache]:
    """Hyperbolic tangent."""
    return _tanh(as_float_array(z, "z"))


def tanh_backward(da, cache: ActivationCache) -> np.ndarray:
    """``dz = da * (1 - a**2)``."""
    return _tanh_grad(_checked_upstream(da, cache), cache)


def relu_forward(z) -> tuple[np.ndarray, ActivationCache]:
    """Rectified linear unit ``max(0, z)``."""
    return _relu(as_float_array(z, "z"))


def relu_backward(da, cache: ActivationCache) -> np.ndarray:
    """``dz = da`` where ``z > 0`` and 0 elsewhere (the subgradient 0 is used at ``z = 0``)."""
    da = _checked_upstream(da, cache)
    # A select, not the training kernel's product with the mask: exactly 0 where z <= 0, even for
    # an infinite or nan da (as in torch), and 0.0 rather than -0.0 for a negative one.
    return np.where(cache.z > 0, da, 0.0).astype(da.dtype, copy=False)


def leaky_relu_forward(z, alpha: float = 0.01) -> tuple[np.ndarray, ActivationCache]:
    """Leaky ReLU: ``z`` where ``z > 0`` and ``alpha * z`` elsewhere."""
    return _leaky_relu(as_float_array(z, "z"), alpha=alpha)


def leaky_relu_backward(da, cache: ActivationCache) -> np.ndarray:
    """``dz = da`` where ``z > 0`` and ``alpha * da`` elsewhere."""
    return _leaky_relu_grad(_checked_upstream(da, cache), cache)


def softplus_forward(z) -> tuple[np.ndarray, ActivationCache]:
    """Softplus ``log(1 + exp(z))``, the smooth ReLU, computed without overflow."""
    return _softplus(as_float_array(z, "z"))


def softplus_backward(da, cache: ActivationCache) -> np.ndarray:
    """``dz = da * sigmoid(z)``: the derivative of softplus is the logistic function."""
    return _softplus_grad(_checked_upstream(da, cache), cache)


def _checked_upstream(da, cache: ActivationCache) -> np.ndarray:
    da = as_float_array(da, "da")
    check_same_shape(da, cache.z, "da", "the activation's input z")
    return da


# Activation kernels: ``_name(z, out=None)`` returns ``(a, cache)``; ``_name_grad(da, cache,
# out=None)`` returns ``dz``. Both may write their result into ``out``, an array like ``z`` (a
# caller that owns ``da`` passes ``out=da`` to save an array; coursekit.MLP passes arrays it
# reuses from step to step). No checks: the arrays are known to be float arrays of matching
# shapes.


def _identity(z: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, ActivationCache]:
    return z, ActivationCache(z, z)


def _identity_grad(da: np.ndarray, cache: ActivationCache, out: np.ndarray | None = None) -> np.ndarray:
    return da


def _sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, ActivationCache]:
    a = sigmoid(z)
    return a, ActivationCache(z, a)


def _sigmoid_grad(da: np.ndarray, cache: ActivationCache, out: np.ndarray | None = None) -> np.ndarray:
    dz = np.multiply(da, cache.a, out=out)
    dz *= 1.0 - cache.a
    return dz


def _tanh(z: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, ActivationCache]:
    a = np.tanh(z, out=out)
    return a, ActivationCache(z, a)


def _tanh_grad(da: np.ndarray, cache: ActivationCache, out: np.ndarray | None = None) -> np.ndarray:
    a = cache.a
    slope = np.multiply(a, a, out=a if out is a else None)  # over a, when the caller gives it up
    np.subtract(1.0, slope, out=slope)  # 1 - a**2 without a second temporary
    return np.multiply(da, slope, out=out)


def _relu(z: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, ActivationCache]:
    a = np.maximum(z, 0, out=out)
    return a, ActivationCache(z, a)


def _relu_grad(da: np.ndarray, cache: ActivationCache, out: np.ndarray | None = None) -> np.ndarray:
    # A product with the mask rather than np.where: a select on a mask that is true for about
    # half the entries at random mispredicts branches and runs several times slower. A negative
    # da times False gives -0.0, which sums and multiplies like 0.0; an infinite or nan da gives
    # nan where z <= 0, which only a training run that has already diverged meets.
    return np.multiply(da, cache.z > 0, out=out)


def _leaky_relu(
    z: np.ndarray, out: np.ndarray | None = None, alpha: float = 0.01
) -> tuple[np.ndarray, ActivationCache]:
    a = np.where(z > 0, z, alpha * z).astype(z.dtype, copy=False)
    return a, ActivationCache(z, a, alpha)


def _leaky_relu_grad(da: np.ndarray, cache: ActivationCache, out: np.ndarray | None = None) -> np.ndarray:
    return np.where(cache.z > 0, da, cache.alpha * da).astype(da.dtype, copy=False)


def _softplus(z: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, ActivationCache]:
    with quiet_underflow():  # log(1 + exp(-|z|)) underflows to 0 for large |z|
        a = np.logaddexp(0, z).astype(z.dtype, copy=False)
    return a, ActivationCache(z, a)


def _softplus_grad(da: np.ndarray, cache: ActivationCache, out: np.ndarray | None = None) -> np.ndarray:
    return np.multiply(da, sigmoid(cache.z), out=out)


Forward = Callable[..., tuple[np.ndarray, ActivationCache]]
Backward = Callable[[np.ndarray, ActivationCache], np.ndarray]
Gradient = Callable[[np.ndarray, ActivationCache, "np.ndarray | None"], np.ndarray]

#: Activation name -> (forward, backward). ``step`` is absent: it has no useful gradient.
ACTIVATIONS: dict[str, tuple[Forward, Backward]] = {
    "identity": (identity_forward, identity_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
    "relu": (relu_forward, relu_backward),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "softplus": (softplus_forward, softplus_backward),
}


#: Activation name -> (forward, gradient) kernels without the checks, for coursekit.MLP.
KERNELS: dict[str, tuple[Forward, Gradient]] = {
    "identity": (_identity, _identity_grad),
    "sigmoid": (_sigmoid, _sigmoid_grad),
    "tanh": (_tanh, _tanh_grad),
    "relu": (_relu, _relu_grad),
    "leaky_relu": (_leaky_relu, _leaky_relu_grad),
    "softplus": (_softplus, _softplus_grad),
}


def get_activation(name: str) -> tuple[Forward, Backward]:
    """Return the ``(forward, backward)`` pair of a named activation.

    Raises
    ------
    ValueError
        If ``name`` is unknown; the message lists the known names.
    """
    check_choice(name, ACTIVATIONS, "activation")
    return ACTIVATIONS[name]
