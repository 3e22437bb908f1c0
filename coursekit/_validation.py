"""Checks at the library's boundary: bad input fails early, with a message a student can act on."""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Iterable

import numpy as np


def as_float_array(value, name: str) -> np.ndarray:
    """Return ``value`` as a floating-point array, refusing anything that is not numeric.

    Integer and boolean input is promoted to float64; float32 and float64 are kept as they are.
    """
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value  # the common case, on every training step: nothing to convert or check
    array = np.asarray(value)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == bool
    ):
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must be real, got dtype {array.dtype}")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    return array


def check_ndim(array: np.ndarray, ndim: int, name: str, shape_hint: str) -> None:
    """Raise ``ValueError`` unless ``array`` has ``ndim`` dimensions."""
    if array.ndim != ndim:
        raise ValueError(f"{name} must have shape {shape_hint}, got shape {array.shape}")


def check_shape(value, shape: tuple[int, ...], name: str) -> np.ndarray:
    """``value`` as a float array, or ``ValueError`` unless it has exactly ``shape``."""
    array = as_float_array(value, name)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    return array


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` naming both arguments unless their shapes agree."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {a.shape} and {b.shape}"
        )


def check_choice(value: str, known: Iterable[str], what: str) -> str:
    """Return ``value`` if it is one of ``known``, else raise ``ValueError`` listing them."""
    known = list(known)
    if value not in known:
        raise ValueError(f"unknown {what} {value!r}; known: {', '.join(map(repr, known))}")
    return value


def check_l2_strength(lam, name: str) -> None:
    """Raise unless ``lam`` is a finite real number >= 0 (NaN fails every comparison)."""
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(lam).__name__}")
    if not 0 <= lam < math.inf:
        raise ValueError(f"{name} must be finite and >= 0, got {lam}")


_UNCHANGED = contextlib.nullcontext()


def quiet_underflow() -> contextlib.AbstractContextManager:
    """A context in which numpy does not report underflow to 0, which is the right answer.

    ``np.errstate(under="ignore")``, or nothing when that is numpy's setting already (its
    default): entering an errstate costs a couple of microseconds, on every training step.
    """
    return _UNCHANGED if np.geterr()["under"] == "ignore" else np.errstate(under="ignore")
