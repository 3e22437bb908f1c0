"""The perceptron: the threshold unit, Rosenblatt's rule, and what it can and cannot learn."""

import numpy as np
import pytest

from coursekit import datasets, perceptron


def threshold(X, w, b):
    """The unit's output computed directly: 1 where w . x + b >= 0."""
    return (np.asarray(X, dtype=float) @ np.asarray(w, dtype=float) + b >= 0).astype(int)


# -- predict -------------------------------------------------------------------------------------


def test_predict_by_hand():
    X, _ = datasets.logic_gate("AND")
    # w = (1, 1), b = -1.5: only (1, 1) reaches the threshold
    np.testing.assert_array_equal(perceptron.predict(X, [1.0, 1.0], -1.5), [0, 0, 0, 1])
    # b = -0.5 is OR; on the boundary (w . x + b = 0) the unit fires
    np.testing.assert_array_equal(perceptron.predict(X, [1.0, 1.0], -0.5), [0, 1, 1, 1])
    np.testing.assert_array_equal(perceptron.predict(X, [1.0, 1.0], -1.0), [0, 1, 1, 1])
    np.testing.assert_array_equal(perceptron.predict(X, [0.0, 0.0], 0.0), [1, 1, 1, 1])


def test_predict_returns_integers():
    labels = perceptron.predict(np.array([[0.5, -1.0]]), np.array([1.0, 1.0]), 0.0)
    assert np.issubdtype(labels.dtype, np.integer)
    assert labels.shape == (1,)


# -- update --------------------------------------------------------------------------------------


def test_update_on_a_false_positive():
    # w = (0, 0), b = 0 fires on x = (1, 1) (step(0) = 1) but the label is 0:
    # w <- w + lr * (0 - 1) * x, b <- b + lr * (0 - 1)
    w, b = perceptron.update(np.zeros(2), 0.0, np.array([1.0, 1.0]), 0, lr=0.5)
    np.testing.assert_array_equal(w, [-0.5, -0.5])
    assert b == -0.5


def test_update_on_a_false_negative():
    # w . x + b = -1 < 0 predicts 0 for a positive example: w <- w + lr * x, b <- b + lr
    w, b = perceptron.update(np.zeros(2), -1.0, np.array([2.0, 3.0]), 1, lr=0.1)
    np.testing.assert_allclose(w, [0.2, 0.3])
    assert b == pytest.approx(-0.9)


@pytest.mark.parametrize(("x", "y"), [([1.0, 1.0], 1), ([0.0, 1.0], 0), ([1.0, 0.0], 0)])
def test_update_leaves_a_correct_prediction_alone(x, y):
    w, b = perceptron.update(np.array([1.0, 1.0]), -1.5, np.array(x), y)
    np.testing.assert_array_equal(w, [1.0, 1.0])
    assert b == -1.5


def test_update_does_not_modify_its_inputs():
    w, x = np.array([0.5, -0.5]), np.array([1.0, 2.0])
    w_before, x_before = w.copy(), x.copy()
    w_new, _ = perceptron.update(w, 1.0, x, 0)
    np.testing.assert_array_equal(w, w_before)
    np.testing.assert_array_equal(x, x_before)
    assert w_new is not w
    np.testing.assert_array_equal(w_new, [-0.5, -2.5])  # fired (0.5 - 1 + 1 >= 0) on a 0


# -- train ---------------------------------------------------------------------------------------


def test_train_on_and_by_hand():
    """The rule traced by hand from w = (0, 0), b = 0, lr = 1, visiting the rows in order.

    epoch 1: (0,0) fires -> w=(0,0) b=-1; (1,1) silent -> w=(1,1) b=0            2 mistakes
    epoch 2: (0,0) -> b=-1; (0,1) -> w=(1,0) b=-2; (1,1) -> w=(2,1) b=-1         3 mistakes
    epoch 3: (0,1) -> w=(2,0) b=-2; (1,0) -> w=(1,0) b=-3; (1,1) -> w=(2,1) b=-2  3 mistakes
    epoch 4: (1,0) -> w=(1,1) b=-3; (1,1) -> w=(2,2) b=-2                        2 mistakes
    epoch 5: (0,1) -> w=(2,1) b=-3                                              1 mistake
    epoch 6: none
    """
    X, y = datasets.logic_gate("AND")
    result = perceptron.train(X, y, lr=1.0)
    assert result.converged
    assert result.epochs == 6
    assert result.mistakes == [2, 3, 3, 2, 1, 0]
    np.testing.assert_array_equal(result.w, [2.0, 1.0])
    assert result.b == -3.0


@pytest.mark.parametrize("gate", ["AND", "OR", "NAND", "NOR"])
@pytest.mark.parametrize("lr", [1.0, 0.1])
def test_separable_gates_are_learned(gate, lr):
    X, y = datasets.logic_gate(gate)
    result = perceptron.train(X, y, lr=lr, max_epochs=100)
    assert result.converged
    assert result.mistakes[-1] == 0 and all(n > 0 for n in result.mistakes[:-1])
    assert result.epochs == len(result.mistakes) < 100
    np.testing.assert_array_equal(threshold(X, result.w, result.b), y)
    np.testing.assert_array_equal(perceptron.predict(X, result.w, result.b), y)


def test_xor_is_not_learned():
    X, y = datasets.xor()
    result = perceptron.train(X, y, max_epochs=50)
    assert not result.converged
    assert result.epochs == 50
    # No line separates XOR, so every pass makes at least one mistake.
    assert len(result.mistakes) == 50 and min(result.mistakes) >= 1
    assert not np.array_equal(threshold(X, result.w, result.b), y)


def test_train_from_given_weights_that_already_solve_the_task():
    X, y = datasets.logic_gate("OR")
    result = perceptron.train(X, y, w=np.array([1.0, 1.0]), b=-0.5)
    assert result.converged and result.epochs == 1 and result.mistakes == [0]
    np.testing.assert_array_equal(result.w, [1.0, 1.0])
    assert result.b == -0.5


def test_train_does_not_modify_its_inputs():
    X, y = datasets.logic_gate("NAND")
    w = np.zeros(2)
    X_before, y_before = X.copy(), y.copy()
    perceptron.train(X, y, w=w)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    np.testing.assert_array_equal(w, [0.0, 0.0])


# -- bad input -----------------------------------------------------------------------------------


def test_bad_input_is_explained():
    X, y = datasets.logic_gate("AND")
    with pytest.raises(ValueError, match="w has 3 weights but the input has 2 features"):
        perceptron.predict(X, np.ones(3), 0.0)
    with pytest.raises(ValueError, match=r"y must have shape \(4,\).*\(3,\)"):
        perceptron.train(X, y[:3])
    with pytest.raises(ValueError, match="labels 0 and 1"):
        perceptron.train(X, np.array([0, 1, 2, 1]))
    with pytest.raises(ValueError, match="y must be 0 or 1"):
        perceptron.update(np.zeros(2), 0.0, np.ones(2), 2)
    with pytest.raises(ValueError, match="b must be a scalar"):
        perceptron.predict(X, np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="max_epochs"):
        perceptron.train(X, y, max_epochs=0)
    with pytest.raises(TypeError, match="X must be a numeric array"):
        perceptron.predict(np.array([["a", "b"]]), np.ones(2), 0.0)
