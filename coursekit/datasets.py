"""Small datasets that ship with the package: no downloads at run time."""

from __future__ import annotations

import numpy as np

from coursekit._validation import check_choice

__all__ = ["GATES", "logic_gate", "xor"]

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
