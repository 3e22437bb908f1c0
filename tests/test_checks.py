"""The check helpers the lessons' test cells use: what a student is told about a changed input."""

import numpy as np
import pytest
from notebooks import run_test_cell, solution

from coursekit.testing import Case, CheckFailure, check_function, unpack


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


def test_several_values_come_as_a_tuple_or_a_list_and_nothing_else():
    W, b = np.ones((2, 2)), np.zeros(2)
    for result in ((W, b), [W, b]):
        got = unpack(result, ("W", "b"), "layer")
        assert type(got) is tuple and got[0] is W and got[1] is b
    refused = [
        ((W, b, 1.0), "got 3 values in a tuple"),
        ([W], "got 1 value in a list"),
        (np.array([1.0, 2.0]), "got array [1., 2.] (shape (2,), dtype float64)"),  # one value, not two
        (None, "got None (NoneType)"),
    ]
    for result, got in refused:
        with pytest.raises(CheckFailure) as failure:
            unpack(result, ("W", "b"), "layer")
        assert str(failure.value) == f"layer: must return the two values (W, b), {got}"
    with pytest.raises(CheckFailure, match=r"must return the 12 values \(v0, "):
        unpack((), [f"v{i}" for i in range(12)], "many")


def test_check_function_takes_several_values_by_the_same_rule():
    cases = [Case("one case", (), (1.0, 2.0))]
    check_function(lambda: [1.0, 2.0], cases, outputs=("x", "y"), quiet=True)
    message = r"case 'one case': must return the two values \(x, y\), got array"
    with pytest.raises(CheckFailure, match=message):
        check_function(lambda: np.array([1.0, 2.0]), cases, outputs=("x", "y"), quiet=True)


def test_lesson_4s_checks_catch_a_changed_params_dict():
    reference = solution("04-two-layer")

    def forward_keeping_a_cache(X, params):
        A2, A1 = reference["two_layer_forward"](X, params)
        params["A1"] = A1  # a key added to the caller's dict
        return A2, A1

    def grads_keeping_a_cache(X, Y, params):
        loss, grads = reference["two_layer_grads"](X, Y, params)
        params["grads"] = grads
        return loss, grads

    def forward_converting_params(X, params):  # an equal array in place of one: not a change
        params["W1"] = np.asarray(params["W1"], dtype=float).copy()
        return reference["two_layer_forward"](X, params)

    run_test_cell("04-two-layer", "test_two_layer_forward", {})  # the reference passes
    run_test_cell("04-two-layer", "test_two_layer_forward", {"two_layer_forward": forward_converting_params})
    with pytest.raises(CheckFailure, match="changed params"):
        run_test_cell("04-two-layer", "test_two_layer_forward",
                      {"two_layer_forward": forward_keeping_a_cache})
    with pytest.raises(CheckFailure, match="added or removed keys of params"):
        run_test_cell("04-two-layer", "test_two_layer_grads", {"two_layer_grads": grads_keeping_a_cache})
