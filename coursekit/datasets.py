"""Small datasets that ship with the package: no downloads at run time."""

from __future__ import annotations

import numpy as np

from coursekit._validation import check_choice

__all__ = [
    "DATA_LIM",
    "GATES",
    "PLANE_DATASETS",
    "digits",
    "logic_gate",
    "plane_dataset",
    "train_test_split",
    "xor",
]

_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])

#: Truth tables over the inputs (0,0), (0,1), (1,0), (1,1), in that order.
GATES: dict[str, tuple[int, int, int, int]] = {
    "AND": (0, 0, 0, 1),
    "OR": (0, 1, 1, 1),
    "NAND": (1, 1, 1, 0),
    "NOR": (1, 0, 0, 0),
    "XOR": (0, 1, 1, 0),
}


def logic_gate(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The truth table of a two-input logic gate.

    Parameters
    ----------
    name : {"AND", "OR", "NAND", "NOR", "XOR"}
        Case-insensitive.

    Returns
    -------
    X : float array, shape (4, 2)
        The inputs (0,0), (0,1), (1,0), (1,1), one per row.
    y : int array, shape (4,)
        The gate's output for each row.
    """
    if not isinstance(name, str):
        raise TypeError(f"gate name must be a string, got {type(name).__name__}")
    key = check_choice(name.upper(), GATES, "gate")
    return _INPUTS.copy(), np.array(GATES[key], dtype=int)


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The XOR truth table: no single line separates its classes."""
    return logic_gate("XOR")


# -- two-class datasets in the plane, for the trainer and the playground ------------------------

#: Points of the plane datasets lie in the square [-DATA_LIM, DATA_LIM]^2 (before noise).
DATA_LIM = 3.0


def _xor_quadrants(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Uniform points kept a little away from the axes, labelled 1 where x1 and x2 differ in sign.
    X = rng.uniform(0.3, DATA_LIM, size=(n, 2)) * rng.choice([-1.0, 1.0], size=(n, 2))
    return X, (X[:, 0] * X[:, 1] < 0).astype(int)


def _circles(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Class 0 inside radius 1.2, class 1 on a ring from 1.8 to DATA_LIM.
    y = np.arange(n) % 2
    radius = np.where(y == 0, rng.uniform(0.0, 1.2, n), rng.uniform(1.8, DATA_LIM, n))
    angle = rng.uniform(0.0, 2 * np.pi, n)
    return np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]), y


def _gaussian(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Two round clusters centred at (1.5, 1.5) and (-1.5, -1.5): a line separates them.
    y = np.arange(n) % 2
    centres = np.where(y[:, None] == 1, 1.5, -1.5)
    return centres + 0.6 * rng.standard_normal((n, 2)), y


def _moons(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Two interleaved half circles of radius 2, the second one flipped and shifted.
    y = np.arange(n) % 2
    t = rng.uniform(0.0, np.pi, n)
    upper = np.column_stack([2 * np.cos(t) - 1.0, 2 * np.sin(t) - 0.5])
    lower = np.column_stack([1.0 - 2 * np.cos(t), 0.5 - 2 * np.sin(t)])
    return np.where(y[:, None] == 0, upper, lower), y


def _spiral(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Two arms winding 1.5 turns out from the centre, the second rotated by half a turn.
    y = np.arange(n) % 2
    t = rng.uniform(0.0, 1.0, n)
    radius = 0.2 + (DATA_LIM - 0.2) * t
    angle = 3 * np.pi * t + np.pi * y
    return np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]), y


#: The two-class plane datasets by name; see :func:`plane_dataset`.
PLANE_DATASETS = {
    "xor": _xor_quadrants,
    "circles": _circles,
    "gaussian": _gaussian,
    "moons": _moons,
    "spiral": _spiral,
}


def plane_dataset(
    name: str, n: int = 200, noise: float = 0.0, seed: int | np.random.Generator | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A two-class dataset in the plane, like those of TensorFlow Playground.

    Parameters
    ----------
    name : {"xor", "circles", "gaussian", "moons", "spiral"}
    n : int, default 200
        Number of points; the classes are balanced (to within one point).
    noise : float, default 0.0
        Standard deviation of Gaussian noise added to every coordinate, as a fraction of
        :data:`DATA_LIM` (0.1 moves points by about 0.3). Must be in [0, 1].
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    X : float array, shape (n, 2)
    y : int array, shape (n,)
        Labels 0 and 1.
    """
    key = check_choice(name, PLANE_DATASETS, "dataset")
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be in [0, 1], got {noise}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    X, y = PLANE_DATASETS[key](int(n), rng)
    X = X + noise * DATA_LIM * rng.standard_normal(X.shape)
    return X, y


def train_test_split(
    X, y, test_fraction: float = 0.5, seed: int | np.random.Generator | None = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle the rows and split them into a training and a test set.

    Parameters
    ----------
    X : array, shape (m, ...)
    y : array, shape (m, ...)
    test_fraction : float, default 0.5
        Share of the rows that go to the test set, in (0, 1); both sets keep at least one row.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    X_train, X_test, y_train, y_test : arrays
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same number of rows, got {len(X)} and {len(y)}")
    if len(X) < 2:
        raise ValueError(f"need at least 2 rows to split, got {len(X)}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    order = rng.permutation(len(X))
    n_test = min(max(1, round(test_fraction * len(X))), len(X) - 1)
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


def digits(
    test_fraction: float = 0.2, seed: int | np.random.Generator | None = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 8x8 handwritten digits that ship with scikit-learn (1797 images, no download).

    Pixels are scaled from 0..16 to [0, 1] and each image is flattened to 64 values.

    Returns
    -------
    X_train, X_test : float arrays, shape (m_train, 64) and (m_test, 64)
    y_train, y_test : int arrays, labels 0 to 9
    """
    from sklearn.datasets import load_digits  # imported here: scikit-learn is slow to import

    data = load_digits()
    return train_test_split(data.data / 16.0, data.target.astype(int), test_fraction, seed)
