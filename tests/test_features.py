"""Input features of the playground."""

import math

import numpy as np
import pytest

from coursekit.features import FEATURES, feature_map


def test_every_feature_is_computed_from_the_coordinates():
    X = np.array([[1.0, 2.0], [-0.5, 3.0]])
    got = feature_map(X, list(FEATURES))
    expected = [[x1, x2, x1 * x1, x2 * x2, x1 * x2, math.sin(x1), math.sin(x2)] for x1, x2 in X]
    np.testing.assert_allclose(got, expected)


def test_features_come_in_the_order_asked():
    X = np.array([[2.0, 5.0]])
    np.testing.assert_allclose(feature_map(X, ["x2", "x1^2"]), [[5.0, 4.0]])


@pytest.mark.parametrize(
    ("X", "names", "error", "message"),
    [
        (np.zeros((3, 2)), [], ValueError, "at least one feature"),
        (np.zeros((3, 2)), ["x3"], ValueError, "unknown feature 'x3'"),
        (np.zeros((3, 3)), ["x1"], ValueError, r"shape \(m, 2\)"),
        (np.zeros(3), ["x1"], ValueError, r"shape \(m, 2\)"),
        (np.array([["a", "b"]]), ["x1"], TypeError, "numeric"),
    ],
)
def test_bad_input_is_refused(X, names, error, message):
    with pytest.raises(error, match=message):
        feature_map(X, names)


def test_one_name_may_be_given_as_a_string():
    X = np.array([[1.0, 2.0], [-3.0, 0.5]])
    np.testing.assert_array_equal(feature_map(X, "x1^2"), feature_map(X, ["x1^2"]))
    np.testing.assert_array_equal(feature_map(X, "x1^2"), [[1.0], [9.0]])
