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


# -- plane datasets, the split and the digits ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(datasets.PLANE_DATASETS))
def test_plane_datasets_are_balanced_seeded_and_in_range(name):
    X, y = datasets.plane_dataset(name, n=301, seed=3)
    assert X.shape == (301, 2) and y.shape == (301,)
    assert set(np.unique(y)) == {0, 1}
    assert abs(int(np.sum(y == 1)) - int(np.sum(y == 0))) <= 1 or name == "xor"
    assert np.all(np.abs(X) <= datasets.DATA_LIM + 2.0)  # gaussian tails reach a little beyond
    X2, y2 = datasets.plane_dataset(name, n=301, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = datasets.plane_dataset(name, n=301, seed=4)
    assert not np.allclose(X, X3)


def test_xor_labels_follow_the_signs():
    X, y = datasets.plane_dataset("xor", n=500, seed=0)
    np.testing.assert_array_equal(y, np.sign(X[:, 0]) != np.sign(X[:, 1]))


def test_circles_separate_by_radius():
    X, y = datasets.plane_dataset("circles", n=500, seed=0)
    radius = np.hypot(X[:, 0], X[:, 1])
    assert radius[y == 0].max() <= 1.2 < 1.8 <= radius[y == 1].min()


def test_spiral_arms_are_half_a_turn_apart():
    X, y = datasets.plane_dataset("spiral", n=400, seed=0)
    # Rotating arm 0 by pi maps it onto arm 1's curve: each point of arm 1 has a rotated twin nearby.
    arm0, arm1 = X[y == 0], X[y == 1]
    rotated = -arm0
    distances = np.linalg.norm(arm1[:, None, :] - rotated[None, :, :], axis=-1).min(axis=1)
    assert np.median(distances) < 0.1


def test_noise_moves_points_by_the_stated_amount():
    clean, _ = datasets.plane_dataset("gaussian", n=4000, noise=0.0, seed=5)
    noisy, _ = datasets.plane_dataset("gaussian", n=4000, noise=0.1, seed=5)
    # Same seed, so the clean points are drawn first and the noise is the difference.
    assert np.std(noisy - clean) == pytest.approx(0.1 * datasets.DATA_LIM, rel=0.05)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"name": "swirl"}, "unknown dataset 'swirl'"), ({"name": "xor", "noise": 2.0}, "noise"),
     ({"name": "xor", "n": 1}, "n must be")],
)
def test_plane_dataset_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.plane_dataset(**kwargs)


def test_split_keeps_rows_together_and_loses_none():
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, 0.3, seed=1)
    assert len(X_test) == 3 and len(X_train) == 7
    np.testing.assert_array_equal(X_train[:, 0] / 2, y_train)
    np.testing.assert_array_equal(X_test[:, 0] / 2, y_test)
    assert sorted(np.concatenate([y_train, y_test])) == list(range(10))


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_split_refuses_a_fraction_outside_0_1(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        datasets.train_test_split(np.zeros((4, 2)), np.zeros(4), fraction)


def test_split_refuses_mismatched_rows():
    with pytest.raises(ValueError, match="same number of rows"):
        datasets.train_test_split(np.zeros((4, 2)), np.zeros(3))


def test_digits_ship_with_the_package_and_are_scaled():
    X_train, X_test, y_train, y_test = datasets.digits(test_fraction=0.25, seed=0)
    assert X_train.shape[1] == 64 and len(X_train) + len(X_test) == 1797
    assert len(X_test) == round(0.25 * 1797)
    assert X_train.min() >= 0.0 and X_train.max() <= 1.0 and X_train.max() == 1.0
    assert set(np.unique(y_train)) == set(range(10))
