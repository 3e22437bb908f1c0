"""The perceptron: a linear threshold unit and Rosenblatt's learning rule.

One unit with weights ``w`` of shape (n,) and bias ``b`` predicts
``y_hat = step(w . x + b)``, where ``step(z) = 1`` for ``z >= 0`` and 0 otherwise. The rule
visits the examples in turn and, for each, moves the boundary towards a misclassified point::

    w <- w + lr * (y - y_hat) * x
    b <- b + lr * (y - y_hat)

If the classes are linearly separable the rule stops making mistakes after finitely many updates
(the perceptron convergence theorem); on XOR it never does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from coursekit._validation import as_float_array, check_ndim

__all__ = ["predict", "update", "train", "TrainResult"]


def _weights(w, b, n_features: int | None = None) -> tuple[np.ndarray, float]:
    w = as_float_array(w, "w")
    check_ndim(w, 1, "w", "(n,)")
    if n_features is not None and w.shape[0] != n_features:
        raise ValueError(f"w has {w.shape[0]} weights but the input has {n_features} features")
    b_arr = as_float_array(b, "b")
    if b_arr.size != 1:
        raise ValueError(f"b must be a scalar, got shape {b_arr.shape}")
    return w, float(b_arr.reshape(()))


def _labels(y, m: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (m,):
        raise ValueError(f"y must have shape ({m},) to match X, got {y.shape}")
    if not np.all(np.isin(y, (0, 1))):
        raise ValueError("y must hold labels 0 and 1 only")
    return y.astype(int)


def predict(X, w, b) -> np.ndarray:
    """Outputs of the linear threshold unit for a batch.

    Parameters
    ----------
    X : array, shape (m, n)
    w : array, shape (n,)
    b : float

    Returns
    -------
    int array, shape (m,)
        1 where ``X @ w + b >= 0``, else 0.
    """
    X = as_float_array(X, "X")
    check_ndim(X, 2, "X", "(m, n)")
    w, b = _weights(w, b, X.shape[1])
    return (X @ w + b >= 0).astype(int)


def update(w, b, x, y, lr: float = 1.0) -> tuple[np.ndarray, float]:
    """One application of the perceptron rule to one example.

    Parameters
    ----------
    w : array, shape (n,)
    b : float
    x : array, shape (n,)
        One example.
    y : {0, 1}
        Its label.
    lr : float
        Learning rate.

    Returns
    -------
    w_new : array, shape (n,)
        A new array; ``w`` is not modified.
    b_new : float
        Unchanged when the example is already classified correctly.
    """
    x = as_float_array(x, "x")
    check_ndim(x, 1, "x", "(n,)")
    w, b = _weights(w, b, x.shape[0])
    if y not in (0, 1):
        raise ValueError(f"y must be 0 or 1, got {y!r}")
    error = y - int(x @ w + b >= 0)
    return w + lr * error * x, b + lr * error


@dataclass
class TrainResult:
    """What :func:`train` found.

    Attributes
    ----------
    w : array, shape (n,)
    b : float
    epochs : int
        Passes made over the data, the last one included.
    converged : bool
        True if the last pass made no mistake.
    mistakes : list of int
        Mistakes made in each pass.
    """

    w: np.ndarray
    b: float
    epochs: int
    converged: bool
    mistakes: list[int] = field(default_factory=list)


def train(X, y, lr: float = 1.0, max_epochs: int = 100, w=None, b: float = 0.0) -> TrainResult:
    """Run the perceptron rule over the examples in order until a pass makes no mistake.

    Parameters
    ----------
    X : array, shape (m, n)
    y : int array, shape (m,)
        Labels 0 or 1.
    lr : float
    max_epochs : int
        Give up after this many passes (XOR never converges).
    w : array, shape (n,), optional
        Starting weights; zeros by default.
    b : float
        Starting bias.

    Returns
    -------
    TrainResult
    """
    X = as_float_array(X, "X")
    check_ndim(X, 2, "X", "(m, n)")
    y = _labels(y, X.shape[0])
    if max_epochs < 1:
        raise ValueError(f"max_epochs must be >= 1, got {max_epochs}")
    w, b = _weights(np.zeros(X.shape[1]) if w is None else w, b, X.shape[1])
    mistakes: list[int] = []
    for _ in range(max_epochs):
        count = 0
        for x_i, y_i in zip(X, y, strict=True):
            error = y_i - int(x_i @ w + b >= 0)
            if error:
                w = w + lr * error * x_i
                b = b + lr * error
                count += 1
        mistakes.append(count)
        if count == 0:
            break
    return TrainResult(w, b, len(mistakes), mistakes[-1] == 0, mistakes)
