"""Values as plain arrays and JSON: how inputs reach a student's kernel and outputs come back.

Nothing is pickled. A value is encoded as a JSON tree whose leaves are numbers, booleans, strings,
``None`` or references to arrays kept in an ``.npz`` file, and it is decoded by reading that tree
and loading the arrays with ``allow_pickle=False``. An output that is not made of these (an object
whose ``__eq__`` always says True, a generator, a float subclass) is recorded only by its type
name, so it can never compare equal to an expected value.
"""

from __future__ import annotations

import json
import math
import numbers
from pathlib import Path

import numpy as np

#: Biggest array a student's output may record (elements), so a huge return cannot fill the disk.
MAX_ELEMENTS = 10_000_000


def encode(value, arrays: dict[str, np.ndarray]):
    """The JSON tree of ``value``; its arrays are added to ``arrays`` under fresh keys."""
    if value is None or type(value) is bool or type(value) is str:
        return {"kind": "scalar", "value": value}
    if type(value) is int:
        return {"kind": "scalar", "value": value if abs(value) < 2**53 else float(value)}
    if type(value) is float:
        return {"kind": "float", "value": value if math.isfinite(value) else repr(value)}
    if isinstance(value, (np.generic, np.ndarray)):
        # A plain C-ordered ndarray, whatever subclass came in; a 0-d one stays 0-d (a numpy scalar
        # is as good an answer as a float, and np.ascontiguousarray would make it shape (1,)).
        array = np.array(value, copy=True, order="C")
        if array.dtype.kind not in "biuf":
            return {"kind": "unsupported", "type": f"array of dtype {array.dtype}"}
        if array.size > MAX_ELEMENTS:
            return {"kind": "unsupported", "type": f"array of {array.size} elements"}
        key = f"a{len(arrays)}"
        arrays[key] = array
        return {"kind": "array", "key": key, "scalar": isinstance(value, np.generic)}
    if type(value) in (tuple, list):
        return {"kind": type(value).__name__, "items": [encode(v, arrays) for v in value]}
    if type(value) is dict and all(type(k) is str for k in value):
        return {"kind": "dict", "items": {k: encode(v, arrays) for k, v in value.items()}}
    return {"kind": "unsupported", "type": type(value).__name__}


def decode(tree, arrays):
    """The value a JSON tree of :func:`encode` stands for; unsupported leaves become :class:`Opaque`."""
    kind = tree.get("kind") if isinstance(tree, dict) else None
    if kind == "scalar":
        return tree["value"]
    if kind == "float":
        value = tree["value"]
        return float(value) if isinstance(value, str) else value
    if kind == "array":
        array = np.asarray(arrays[tree["key"]])
        return array[()] if tree.get("scalar") else array
    if kind in ("tuple", "list"):
        items = [decode(t, arrays) for t in tree["items"]]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict":
        return {k: decode(t, arrays) for k, t in tree["items"].items()}
    if kind == "unsupported":
        return Opaque(str(tree.get("type", "?")))
    raise ValueError(f"not an encoded value: {str(tree)[:80]}")


class Opaque:
    """Stands for a recorded value of a type that is not plain data."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name}>"


def save(path: Path, value) -> None:
    """Write ``value`` as ``path`` (JSON) beside ``path.npz`` (its arrays)."""
    arrays: dict[str, np.ndarray] = {}
    tree = encode(value, arrays)
    np.savez(Path(f"{path}.npz"), **arrays)
    Path(path).write_text(json.dumps(tree))


def load(path: Path):
    """Read what :func:`save` wrote, without unpickling anything."""
    tree = json.loads(Path(path).read_text())
    with np.load(Path(f"{path}.npz"), allow_pickle=False) as arrays:
        return decode(tree, {k: arrays[k] for k in arrays.files})


def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
