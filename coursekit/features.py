"""Input features computed from the two coordinates of a plane dataset, as in TensorFlow Playground.

A network that is given ``x1**2`` and ``x2**2`` separates the circles with one linear layer; with
the raw coordinates alone it needs a hidden layer to build that curve itself.
"""

from __future__ import annotations

import numpy as np

from coursekit._validation import as_float_array, check_choice, check_ndim

__all__ = ["FEATURES", "feature_map"]

#: Feature names and how each is computed from ``X`` of shape (m, 2).
FEATURES = {
    "x1": lambda X: X[:, 0],
    "x2": lambda X: X[:, 1],
    "x1^2": lambda X: X[:, 0] ** 2,
    "x2^2": lambda X: X[:, 1] ** 2,
    "x1*x2": lambda X: X[:, 0] * X[:, 1],
    "sin x1": lambda X: np.sin(X[:, 0]),
    "sin x2": lambda X: np.sin(X[:, 1]),
}


def feature_map(X, names) -> np.ndarray:
    """Stack the named features of every point as columns.

    Parameters
    ----------
    X : array, shape (m, 2)
        Points in the plane.
    names : str or sequence of str
        Feature names from :data:`FEATURES`, at least one, in the order wanted (one name alone
        may be given as a string).

    Returns
    -------
    float array, shape (m, len(names))
    """
    X = as_float_array(X, "X")
    check_ndim(X, 2, "X", "(m, 2)")
    if X.shape[1] != 2:
        raise ValueError(f"X must have shape (m, 2), got {X.shape}")
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise ValueError(f"choose at least one feature from {list(FEATURES)}")
    for name in names:
        check_choice(name, FEATURES, "feature")
    return np.column_stack([FEATURES[name](X) for name in names])
