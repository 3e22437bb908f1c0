"""The check helpers the lessons' test cells use: what a student is told about a changed input."""

import numpy as np
import pytest

from coursekit.testing import Case, CheckFailure, check_function


def test_a_list_of_caches_popped_empty_is_a_changed_input():
    def pops(caches):
        while caches:
            caches.pop()
        return 1.0

    with pytest.raises(CheckFailure, match="argument 0 was modified in place"):
        check_function(pops, [Case("two caches", ([np.ones(2), np.zeros(2)],), 1.0)], quiet=True)


def test_an_array_changed_inside_a_dict_is_a_changed_input():
    def steps(params, lr):
        params["W1"] -= lr  # in place, inside the dict
        return float(params["W1"].sum())

    case = Case("W1", ({"W1": np.ones((2, 2))}, 0.5), 2.0)
    with pytest.raises(CheckFailure, match="argument 0 was modified in place"):
        check_function(steps, [case], quiet=True)


def test_inputs_left_alone_pass_nans_included():
    def total(values):
        return float(sum(np.nansum(v) for v in values))

    case = Case("with a nan", ([np.array([1.0, np.nan]), np.array([3])],), 4.0)
    check_function(total, [case], quiet=True)
