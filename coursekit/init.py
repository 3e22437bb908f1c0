"""Weight initialisation schemes for a layer with ``W`` of shape (n_out, n_in), ``b`` of (n_out,).

========  ==========================================================  ======
name      weights                                                      biases
========  ==========================================================  ======
zeros     0 (every hidden unit stays identical: the symmetry trap)      0
uniform   Unif[-1, 1], as in the notes' backprop algorithm              Unif[-1, 1]
small     standard normal times 0.01                                    0
xavier    normal with std sqrt(2 / (n_in + n_out)) (Glorot)             0
he        normal with std sqrt(2 / n_in), for ReLU layers               0
========  ==========================================================  ======
"""

from __future__ import annotations

import numpy as np

from coursekit._validation import check_choice

INITS = ("zeros", "uniform", "small", "xavier", "he")


def init_layer(
    n_in: int, n_out: int, scheme: str, rng: np.random.Generator, dtype=np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(W, b)`` for one layer, drawn from ``rng`` by the named scheme.

    Parameters
    ----------
    n_in, n_out : int
        Units in the previous layer and in this one.
    scheme : {"zeros", "uniform", "small", "xavier", "he"}
    rng : numpy.random.Generator
    dtype : numpy dtype, default float64

    Returns
    -------
    W : array, shape (n_out, n_in)
    b : array, shape (n_out,)
    """
    check_choice(scheme, INITS, "init scheme")
    shape = (n_out, n_in)
    b = np.zeros(n_out)
    if scheme == "zeros":
        W = np.zeros(shape)
    elif scheme == "uniform":
        W = rng.uniform(-1.0, 1.0, size=shape)
        b = rng.uniform(-1.0, 1.0, size=n_out)
    elif scheme == "small":
        W = 0.01 * rng.standard_normal(shape)
    elif scheme == "xavier":
        W = np.sqrt(2.0 / (n_in + n_out)) * rng.standard_normal(shape)
    else:  # he
        W = np.sqrt(2.0 / n_in) * rng.standard_normal(shape)
    return W.astype(dtype), b.astype(dtype)


def default_init(activation: str) -> str:
    """He for the ReLU family, Xavier for the saturating activations."""
    return "he" if activation in ("relu", "leaky_relu") else "xavier"
