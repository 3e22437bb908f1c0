"""Loss functions. Each returns ``(loss, dpred)``: the scalar loss and its gradient.

Reductions are stated, because the notes use two conventions: the half sum of squares
``1/2 sum (a - y)^2`` and the batch mean ``1/m sum``. Every loss here is numerically stable:
logits as large as 1e4 in magnitude give finite losses and gradients with no warnings.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import numpy as np

from coursekit._validation import (
    as_float_array,
    check_choice,
    check_l2_strength,
    check_ndim,
    check_same_shape,
    quiet_underflow,
)
from coursekit.layers import ones, sigmoid

__all__ = [
    "LOSSES",
    "squared_error",
    "binary_cross_entropy",
    "softmax",
    "log_softmax",
    "softmax_cross_entropy",
    "l2_penalty",
]

REDUCTIONS = ("mean", "sum")


def squared_error(pred, y, reduction: str = "sum") -> tuple[float, np.ndarray]:
    """Half squared error.

    ``reduction="sum"``: ``L = 1/2 * sum((pred - y)**2)``, the cost of the notes' two-layer
    derivation. ``reduction="mean"``: the same divided by the number of examples ``m``.

    Parameters
    ----------
    pred, y : array, shape (m,) or (m, k)
        Predictions and targets; the shapes must agree.
    reduction : {"sum", "mean"}

    Returns
    -------
    loss : float
    dpred : array, same shape as ``pred``
    """
    check_choice(reduction, REDUCTIONS, "reduction")
    pred = as_float_array(pred, "pred")
    y = as_float_array(y, "y")
    check_same_shape(pred, y, "pred", "y")
    if pred.ndim == 0:
        raise ValueError("pred must have a batch axis: shape (m,) or (m, k), got a scalar")
    if pred.size == 0:
        raise ValueError(f"pred is empty: shape {pred.shape}")
    diff = pred - y
    scale = 1.0 if reduction == "sum" else 1.0 / pred.shape[0]
    loss = 0.5 * scale * float(np.sum(diff * diff))
    return loss, (scale * diff).astype(pred.dtype, copy=False)


def binary_cross_entropy(logits, y, reduction: str = "mean") -> tuple[float, np.ndarray]:
    """Cross-entropy of a sigmoid output, computed from the logits.

    ``L = mean(log(1 + exp(z)) - y * z)`` over every entry (or the sum, with
    ``reduction="sum"``), which equals
    ``mean(-y log sigmoid(z) - (1 - y) log(1 - sigmoid(z)))`` without ever forming a log of 0.

    Parameters
    ----------
    logits : array, shape (m,) or (m, k)
        Pre-sigmoid scores ``z``.
    y : array, same shape
        Targets in [0, 1].
    reduction : {"mean", "sum"}

    Returns
    -------
    loss : float
    dlogits : array, same shape as ``logits``: ``(sigmoid(z) - y) / logits.size`` for the mean
    """
    check_choice(reduction, REDUCTIONS, "reduction")
    z = as_float_array(logits, "logits")
    y = as_float_array(y, "y")
    check_same_shape(z, y, "logits", "y")
    if z.size == 0:
        raise ValueError("logits is empty")
    _check_probabilities(y, "y")
    scale = 1.0 / z.size if reduction == "mean" else 1.0
    with quiet_underflow():  # exp(-|z|) underflows to 0 for large |z|: harmless
        loss = scale * float(np.sum(np.logaddexp(0, z) - y * z))
        dlogits = scale * (sigmoid(z) - y)
    return loss, dlogits.astype(z.dtype, copy=False)


def log_softmax(logits) -> np.ndarray:
    """Row-wise ``log(softmax(logits))`` of an array of shape (m, k), shifted by the row maximum
    so that nothing overflows."""
    logits = as_float_array(logits, "logits")
    check_ndim(logits, 2, "logits", "(m, k)")
    shifted = logits - logits.max(axis=1, keepdims=True)
    with quiet_underflow():  # exp of a very negative score is 0: harmless
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits) -> np.ndarray:
    """Row-wise softmax of an array of shape (m, k)."""
    logits = as_float_array(logits, "logits")
    check_ndim(logits, 2, "logits", "(m, k)")
    with quiet_underflow():
        return np.exp(log_softmax(logits))


def softmax_cross_entropy(logits, y, reduction: str = "mean") -> tuple[float, np.ndarray]:
    """Softmax followed by cross-entropy, averaged over the batch (or summed).

    Parameters
    ----------
    logits : array, shape (m, k)
        Unnormalised class scores.
    y : array of int, shape (m,), or array, shape (m, k)
        Integer class labels in ``[0, k)``, or one-hot (or any probability) rows: entries in
        [0, 1], each row summing to 1.
    reduction : {"mean", "sum"}

    Returns
    -------
    loss : float
        ``-1/m * sum_i sum_c Y[i, c] * log softmax(logits)[i, c]``
    dlogits : array, shape (m, k)
        ``(softmax(logits) - Y) / m``
    """
    check_choice(reduction, REDUCTIONS, "reduction")
    z = as_float_array(logits, "logits")
    check_ndim(z, 2, "logits", "(m, k)")
    m, k = z.shape
    if m == 0:
        raise ValueError("logits is empty: shape (0, k)")
    scale = 1.0 / m if reduction == "mean" else 1.0
    return _softmax_cross_entropy(z, softmax_targets(y, m, k), scale)


def softmax_targets(y, m: int, k: int) -> np.ndarray:
    """``y`` as integer labels (m,), or as checked target rows (m, k), for the softmax loss.

    The labels' range is checked by :func:`_softmax_cross_entropy`, at no extra cost.
    """
    labels = class_labels(y, m, k, check_range=False)
    return labels if labels is not None else one_hot_targets(y, m, k)


def _softmax_cross_entropy(
    z: np.ndarray, targets: np.ndarray, scale: float
) -> tuple[float, np.ndarray]:
    """The arithmetic of :func:`softmax_cross_entropy`, for logits known to be right.

    ``z`` is a float array (m, k) with m >= 1; ``targets`` holds integer labels (m,) or target
    rows (m, k), from :func:`softmax_targets`; ``scale`` is ``1/m`` for the mean, 1 for the sum.
    Labels outside ``[0, k)`` raise ``ValueError``.
    """
    # Work on the transpose (k, m), contiguous: each example's reductions over its k scores then
    # run along the batch, which numpy does much faster than m reductions of a few numbers.
    # (The logits of coursekit.MLP are stored that way already: there is nothing to copy.)
    zt = np.ascontiguousarray(z.T)
    shifted = zt - np.maximum.reduce(zt, axis=0)
    with quiet_underflow():  # exp of a very negative score is 0: harmless
        p = np.exp(shifted)
        total = np.dot(ones(p.shape[0], p.dtype), p)  # each example's sum over its k classes
        # log softmax = shifted - log(total), softmax = exp(shifted) / total: one exp for both.
        p /= total
    if targets.ndim == 1:
        # Each example's target class as a (k, m) mask. A label outside [0, k) matches no
        # class, so counting the matches checks the labels' range in the same pass.
        is_target = np.equal(_class_ids(z.shape[1]), targets)
        if np.count_nonzero(is_target) != targets.shape[0]:
            raise _label_range_error(targets, z.shape[1])
        picked = np.vdot(shifted, is_target)  # a product with the mask: quicker than selecting
        if not math.isfinite(picked):  # a logit of -inf elsewhere gives -inf * 0 = nan: select
            picked = np.add.reduce(shifted[is_target])
        loss = scale * float(np.add.reduce(np.log(total)) - picked)
        p -= is_target
    else:
        Yt = targets.T
        log_p = shifted - np.log(total)
        loss = 0.0 - scale * float(np.vdot(Yt, log_p))
        if math.isnan(loss):  # a logit of -inf where Y is 0 gives 0 * -inf = nan: leave those out
            with np.errstate(invalid="ignore"):
                loss = 0.0 - scale * float(np.where(Yt == 0, 0.0, Yt * log_p).sum())
        p -= Yt
    p *= scale
    return loss, p.T


@functools.lru_cache(maxsize=64)
def _class_ids(k: int) -> np.ndarray:
    """The column ``[[0], [1], ..., [k-1]]``, made once per ``k`` and read-only."""
    ids = np.arange(k)[:, None]
    ids.flags.writeable = False
    return ids


def class_labels(y, m: int, k: int, check_range: bool = True) -> np.ndarray | None:
    """``y`` as integer labels (m,) in ``[0, k)``, or None when it is not 1-D integer data.

    With ``check_range=False`` the range is left to the caller.
    """
    if not (isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "iu"):
        y = np.asarray(y)
        if not (y.ndim == 1 and y.dtype.kind in "iub"):  # signed, unsigned or bool
            return None
        if y.dtype == bool:
            y = y.astype(np.intp)  # as indices, not as a mask
    if y.shape[0] != m:
        raise ValueError(f"y has {y.shape[0]} labels but logits has {m} rows")
    if check_range and y.size and (np.minimum.reduce(y) < 0 or np.maximum.reduce(y) >= k):
        raise _label_range_error(y, k)
    return y


def _label_range_error(labels: np.ndarray, k: int) -> ValueError:
    return ValueError(
        f"integer labels must lie in [0, {k}), got range [{labels.min()}, {labels.max()}]"
    )


def one_hot_targets(y, m: int, k: int) -> np.ndarray:
    """Turn integer labels (m,) or target rows (m, k) into target rows of shape (m, k)."""
    labels = class_labels(y, m, k)
    if labels is not None:
        Y = np.zeros((m, k))
        Y[np.arange(m), labels] = 1.0
        return Y
    y = np.asarray(y)
    if y.ndim == 1:
        raise TypeError(
            f"y of shape ({y.shape[0]},) must hold integer class labels, got dtype {y.dtype}"
        )
    Y = as_float_array(y, "y")
    if Y.shape != (m, k):
        raise ValueError(f"one-hot y must have shape ({m}, {k}) like logits, got {Y.shape}")
    _check_probabilities(Y, "y")
    # The gradient (softmax - Y) / m is that of the loss only for rows that sum to 1.
    sums = np.dot(Y, ones(k, Y.dtype))
    off = np.abs(sums - 1.0)
    if off.max() > 1e-6 * max(k, 10):
        row = int(np.argmax(off))
        raise ValueError(
            f"each row of y must sum to 1 (a one-hot row or probabilities); row {row} sums to "
            f"{sums[row]:.6g}"
        )
    return Y


def l2_penalty(weights: Iterable[np.ndarray], lam: float) -> tuple[float, list[np.ndarray]]:
    """The weight-decay term ``lam/2 * sum ||W||_F^2`` over the given weight matrices.

    Biases are not penalised, as in the notes. Returns the penalty and its gradient ``lam * W``
    for each matrix, in order.

    Parameters
    ----------
    weights : iterable of float arrays
        The weight matrices, e.g. ``[net.params["W1"], net.params["W2"]]``.
    lam : float
        The strength, finite and >= 0.
    """
    check_l2_strength(lam, "the L2 strength")
    if isinstance(weights, (dict, str)):
        raise TypeError(
            "weights must be an iterable of weight arrays such as [params['W1'], params['W2']], "
            f"got a {type(weights).__name__}"
        )
    weights = [as_float_array(W, f"weights[{i}]") for i, W in enumerate(weights)]
    penalty = 0.5 * lam * sum(float(np.sum(W * W)) for W in weights)
    return penalty, [lam * W for W in weights]


def _check_probabilities(y: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(y)) or (y.size and (y.min() < 0 or y.max() > 1)):
        raise ValueError(f"{name} must hold targets in [0, 1]")


#: Output-loss name -> function, for :class:`coursekit.MLP`.
LOSSES = {
    "squared_error": squared_error,
    "binary_cross_entropy": binary_cross_entropy,
    "softmax_cross_entropy": softmax_cross_entropy,
}
