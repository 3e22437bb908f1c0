"""The logic-gate truth tables."""

import operator

import numpy as np
import pytest

from coursekit import datasets

GATES = {
    "AND": operator.and_,
    "OR": operator.or_,
    "NAND": lambda a, b: 1 - (a & b),
    "NOR": lambda a, b: 1 - (a | b),
    "XOR": operator.xor,
}


@pytest.mark.parametrize("name", GATES)
def test_truth_tables(name):
    X, y = datasets.logic_gate(name)
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    expected = [GATES[name](a, b) for a, b in [(0, 0), (0, 1), (1, 0), (1, 1)]]
    np.testing.assert_array_equal(y, expected)
    assert X.shape == (4, 2) and np.issubdtype(X.dtype, np.floating)
    assert y.shape == (4,) and np.issubdtype(y.dtype, np.integer)


@pytest.mark.parametrize("name", ["and", "Or", "nAnD", "xor"])
def test_names_are_case_insensitive(name):
    X, y = datasets.logic_gate(name)
    X_upper, y_upper = datasets.logic_gate(name.upper())
    np.testing.assert_array_equal(X, X_upper)
    np.testing.assert_array_equal(y, y_upper)


def test_xor_shortcut():
    X, y = datasets.xor()
    np.testing.assert_array_equal(y, [0, 1, 1, 0])
    np.testing.assert_array_equal(X, datasets.logic_gate("XOR")[0])


def test_unknown_gate_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"'IMPLIES'.*'AND', 'OR', 'NAND', 'NOR', 'XOR'"):
        datasets.logic_gate("implies")


def test_gate_name_must_be_a_string():
    with pytest.raises(TypeError, match="string"):
        datasets.logic_gate(1)


def test_each_call_returns_fresh_arrays():
    X, y = datasets.logic_gate("AND")
    X[0, 0], y[0] = 9.0, 9
    X_again, y_again = datasets.logic_gate("AND")
    assert X_again[0, 0] == 0.0 and y_again[0] == 0
