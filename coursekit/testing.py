"""Checks for the notebooks' test cells: named cases that say exactly what is wrong.

A failing check names the function, the case, the output (for functions returning several), and
gives expected against got: the shape, the dtype, or the first differing entry with both values.
Inputs are deep-copied before each call, and a function that modifies its inputs is caught.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Case", "check_function", "check_value", "unpack", "CheckFailure"]


class CheckFailure(AssertionError):
    """Raised by a check; its message is meant for the student."""


@dataclass
class Case:
    """One call of the function under test and what it must return.

    Parameters
    ----------
    name : str
        Shown in every message, e.g. ``"AND gate, hand-picked weights"``.
    args : tuple
        Positional arguments.
    expected : object
        The return value; a tuple when the function returns several values.
    kwargs : dict
        Keyword arguments.
    """

    name: str
    args: tuple
    expected: Any
    kwargs: dict = field(default_factory=dict)


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        text = np.array2string(value, precision=6, threshold=12, separator=", ")
        return f"array {text} (shape {value.shape}, dtype {value.dtype})"
    return f"{value!r} ({type(value).__name__})"


def check_value(got, expected, where: str, rtol: float = 1e-6, atol: float = 1e-9) -> None:
    """Compare one value with what was expected; raise :class:`CheckFailure` saying how it differs.

    Arrays must agree in shape, in kind (integer vs float vs bool) and in value within
    ``rtol``/``atol``. Python numbers are compared the same way; anything else with ``==``.
    """
    if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray):
        _check_array(got, np.asarray(expected), where, rtol, atol)
    elif isinstance(expected, (bool, np.bool_)):
        if not isinstance(got, (bool, np.bool_)) or bool(got) != bool(expected):
            raise CheckFailure(f"{where}: expected {expected!r}, got {_describe(got)}")
    elif isinstance(expected, (int, float, np.integer, np.floating)):
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, float, np.integer, np.floating)):
            raise CheckFailure(f"{where}: expected a number like {expected!r}, got {_describe(got)}")
        if not np.isclose(float(got), float(expected), rtol=rtol, atol=atol):
            raise CheckFailure(f"{where}: expected {expected!r}, got {got!r}")
    elif isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            raise CheckFailure(f"{where}: expected {len(expected)} values, got {_describe(got)}")
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            check_value(g, e, f"{where}, item {i}", rtol, atol)
    elif got != expected:
        raise CheckFailure(f"{where}: expected {expected!r}, got {_describe(got)}")


def _check_array(got, expected: np.ndarray, where: str, rtol: float, atol: float) -> None:
    if not isinstance(got, np.ndarray):
        raise CheckFailure(f"{where}: expected a numpy array of shape {expected.shape}, got {_describe(got)}")
    if got.shape != expected.shape:
        raise CheckFailure(f"{where}: expected shape {expected.shape}, got shape {got.shape}")
    kinds = {"b": "boolean", "i": "integer", "u": "integer", "f": "floating-point"}
    want = kinds.get(expected.dtype.kind, expected.dtype.kind)
    have = kinds.get(got.dtype.kind, got.dtype.kind)
    if want != have:
        article = "an" if want[0] in "aeiou" else "a"
        raise CheckFailure(f"{where}: expected {article} {want} array, got dtype {got.dtype}")
    if expected.dtype.kind == "f":
        close = np.isclose(got, expected, rtol=rtol, atol=atol)
    else:
        close = got == expected
    if not np.all(close):
        bad = np.argwhere(~close)
        first = tuple(int(i) for i in bad[0])
        detail = (
            f"first difference at index {first}: "
            f"expected {expected[first].item()!r}, got {got[first].item()!r}"
        )
        if expected.dtype.kind == "f":
            scale = np.maximum(np.abs(expected), atol)
            detail += f"; max relative error {float(np.max(np.abs(got - expected) / scale)):.3g}"
        raise CheckFailure(
            f"{where}: {len(bad)} of {expected.size} entries differ; {detail}\n"
            f"    expected {_describe(expected)}\n    got      {_describe(got)}"
        )


def check_function(
    func: Callable,
    cases: Sequence[Case],
    outputs: Sequence[str] | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    quiet: bool = False,
) -> None:
    """Run ``func`` on every case and report each one.

    Parameters
    ----------
    func : callable
        The function under test.
    cases : sequence of Case
    outputs : sequence of str, optional
        Names of the values ``func`` returns, when it returns several (e.g. ``("w", "b")``): a
        tuple of them, or a list (see :func:`unpack`).
    quiet : bool
        Print nothing for passing cases.

    Raises
    ------
    CheckFailure
        Listing every failing case with expected against got, after all cases have run.
    """
    name = getattr(func, "__name__", "the function")
    failures = []
    for case in cases:
        args = copy.deepcopy(case.args)
        kwargs = copy.deepcopy(case.kwargs)
        where = f"{name}, case {case.name!r}"
        try:
            got = func(*args, **kwargs)
            _check_outputs(got, case.expected, outputs, where, rtol, atol)
            _check_unchanged(args, case.args, kwargs, case.kwargs, where)
        except CheckFailure as failure:
            failures.append(str(failure))
            continue
        except NotImplementedError:
            failures.append(f"{where}: not implemented yet (the function raised NotImplementedError)")
            continue
        except Exception as error:  # the student's code raised: say where, keep checking
            failures.append(f"{where}: raised {type(error).__name__}: {error}")
            continue
        if not quiet:
            print(f"ok   {where}")
    if failures:
        raise CheckFailure(
            f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(f"FAIL {f}" for f in failures)
        )


#: Counts as words, for messages such as "must return the two values (w, b)".
_COUNTS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def unpack(result, names: Sequence[str], where: str) -> tuple:
    """The values a function returned, once they are checked to be as many as ``names``.

    A function that returns several values may give them as a tuple (``return w, b``) or as a
    list, here and in the grader alike. Anything else is refused, one array holding them all
    included: it stands for one value.

    Parameters
    ----------
    result : object
        What the function returned.
    names : sequence of str
        The values' names, in order, e.g. ``("loss", "grads")``.
    where : str
        Starts the message, e.g. ``"two_layer_grads"``.

    Returns
    -------
    tuple
        The values, in order; ``len(names)`` of them.

    Raises
    ------
    CheckFailure
        ``"<where>: must return the two values (loss, grads), got ..."``.
    """
    if isinstance(result, (tuple, list)) and len(result) == len(names):
        return tuple(result)
    count = _COUNTS[len(names)] if len(names) < len(_COUNTS) else str(len(names))
    if isinstance(result, (tuple, list)):
        got = f"{len(result)} value{'' if len(result) == 1 else 's'} in a {type(result).__name__}"
    else:
        got = _describe(result)
    raise CheckFailure(f"{where}: must return the {count} values ({', '.join(names)}), got {got}")


def _check_outputs(got, expected, outputs, where, rtol, atol) -> None:
    if outputs is None:
        check_value(got, expected, where, rtol, atol)
        return
    got = unpack(got, outputs, where)
    for label, g, e in zip(outputs, got, expected, strict=True):
        check_value(g, e, f"{where}, output {label!r}", rtol, atol)


def _check_unchanged(args, original_args, kwargs, original_kwargs, where) -> None:
    for i, (after, before) in enumerate(zip(args, original_args, strict=True)):
        if _changed(after, before):
            raise CheckFailure(f"{where}: argument {i} was modified in place; return new values instead")
    for key, before in original_kwargs.items():
        if _changed(kwargs[key], before):
            raise CheckFailure(f"{where}: argument {key!r} was modified in place; return new values instead")


def _changed(after, before) -> bool:
    """Whether an argument differs from the copy taken before the call: its arrays, and the lists,
    tuples and dicts holding them (a list of caches popped empty, say), compared all the way down."""
    if isinstance(before, np.ndarray):
        return not (isinstance(after, np.ndarray) and after.shape == before.shape
                    and np.array_equal(after, before, equal_nan=before.dtype.kind in "fc"))
    if isinstance(before, (list, tuple)):
        return (type(after) is not type(before) or len(after) != len(before)
                or any(map(_changed, after, before)))
    if isinstance(before, dict):
        return (not isinstance(after, dict) or after.keys() != before.keys()
                or any(_changed(after[k], before[k]) for k in before))
    return False  # numbers and other values cannot be changed in place
