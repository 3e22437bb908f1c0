"""Losses: values and gradients against PyTorch, reductions, stability, and bad input."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit import losses
from coursekit.layers import sigmoid

pytestmark = pytest.mark.usefixtures("single_threaded")

SEEDS = [0, 1, 2]
SHAPES = [(5,), (4, 3)]


def torch_loss_and_grad(loss_fn, pred):
    """Value of a torch loss and its gradient with respect to ``pred``."""
    p = torch.tensor(pred, requires_grad=True)
    loss = loss_fn(p)
    loss.backward()
    return loss.item(), p.grad.numpy()


def assert_matches(ours, theirs):
    (loss, grad), (expected_loss, expected_grad) = ours, theirs
    assert isinstance(loss, float)
    assert loss == pytest.approx(expected_loss, rel=1e-12, abs=1e-14)
    assert grad.shape == expected_grad.shape
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-14)


# -- squared error -------------------------------------------------------------------------------


def test_squared_error_by_hand():
    pred, y = np.array([[1.0, 2.0], [0.0, -1.0]]), np.array([[0.0, 0.0], [0.0, 1.0]])
    # 1/2 * (1 + 4 + 0 + 4) = 4.5; the mean divides by m = 2 examples, not by 4 entries
    loss, grad = losses.squared_error(pred, y)
    assert loss == 4.5
    np.testing.assert_array_equal(grad, [[1.0, 2.0], [0.0, -2.0]])
    loss, grad = losses.squared_error(pred, y, reduction="mean")
    assert loss == 2.25
    np.testing.assert_array_equal(grad, [[0.5, 1.0], [0.0, -1.0]])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_squared_error_matches_torch(reduction, seed, shape):
    rng = np.random.default_rng(seed)
    pred, y = rng.standard_normal(shape), rng.standard_normal(shape)
    m = shape[0]
    scale = 0.5 if reduction == "sum" else 0.5 / m
    expected = torch_loss_and_grad(
        lambda p: scale * F.mse_loss(p, torch.tensor(y), reduction="sum"), pred
    )
    assert_matches(losses.squared_error(pred, y, reduction=reduction), expected)


# -- binary cross-entropy ------------------------------------------------------------------------


def test_binary_cross_entropy_by_hand():
    # z = 0: log 2 whatever the target; z = log 3: sigmoid = 3/4, target 1 -> -log(3/4)
    z, y = np.array([0.0, np.log(3.0)]), np.array([0.0, 1.0])
    loss, grad = losses.binary_cross_entropy(z, y, reduction="sum")
    assert loss == pytest.approx(np.log(2.0) - np.log(0.75))
    np.testing.assert_allclose(grad, [0.5, -0.25])
    loss, grad = losses.binary_cross_entropy(z, y)  # mean over the 2 entries by default
    assert loss == pytest.approx((np.log(2.0) - np.log(0.75)) / 2)
    np.testing.assert_allclose(grad, [0.25, -0.125])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_binary_cross_entropy_matches_torch(reduction, seed, shape):
    rng = np.random.default_rng(seed)
    z = 3 * rng.standard_normal(shape)
    y = rng.integers(0, 2, shape).astype(float)
    y[0] = 0.3  # soft targets are allowed too
    expected = torch_loss_and_grad(
        lambda p: F.binary_cross_entropy_with_logits(p, torch.tensor(y), reduction=reduction), z
    )
    assert_matches(losses.binary_cross_entropy(z, y, reduction=reduction), expected)


# -- softmax cross-entropy -----------------------------------------------------------------------


def test_softmax_cross_entropy_by_hand():
    # Row 0: equal scores over 3 classes -> log 3. Row 1: scores (log 1, log 3, log 4) give
    # softmax (1/8, 3/8, 4/8); label 2 -> -log(1/2).
    z = np.array([[0.0, 0.0, 0.0], [0.0, np.log(3.0), np.log(4.0)]])
    loss, grad = losses.softmax_cross_entropy(z, np.array([1, 2]), reduction="sum")
    assert loss == pytest.approx(np.log(3.0) + np.log(2.0))
    np.testing.assert_allclose(grad, [[1 / 3, -2 / 3, 1 / 3], [1 / 8, 3 / 8, -1 / 2]])
    loss, grad = losses.softmax_cross_entropy(z, np.array([1, 2]))
    assert loss == pytest.approx((np.log(3.0) + np.log(2.0)) / 2)
    np.testing.assert_allclose(grad, [[1 / 6, -1 / 3, 1 / 6], [1 / 16, 3 / 16, -1 / 4]])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_softmax_cross_entropy_matches_torch(reduction, seed):
    rng = np.random.default_rng(seed)
    m, k = 6, 4
    z = 3 * rng.standard_normal((m, k))
    labels = rng.integers(0, k, m)
    expected = torch_loss_and_grad(
        lambda p: F.cross_entropy(p, torch.tensor(labels), reduction=reduction), z
    )
    assert_matches(losses.softmax_cross_entropy(z, labels, reduction=reduction), expected)
    one_hot = np.eye(k)[labels]
    assert_matches(losses.softmax_cross_entropy(z, one_hot, reduction=reduction), expected)


def test_softmax_cross_entropy_with_probability_targets_matches_torch():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((5, 3))
    targets = rng.dirichlet(np.ones(3), size=5)
    expected = torch_loss_and_grad(lambda p: F.cross_entropy(p, torch.tensor(targets)), z)
    assert_matches(losses.softmax_cross_entropy(z, targets), expected)


def test_softmax_matches_torch_and_sums_to_one():
    z = 5 * np.random.default_rng(4).standard_normal((4, 6))
    p = losses.softmax(z)
    np.testing.assert_allclose(p, torch.softmax(torch.tensor(z), dim=1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(p.sum(axis=1), np.ones(4), rtol=1e-12)
    np.testing.assert_allclose(
        losses.log_softmax(z), torch.log_softmax(torch.tensor(z), dim=1).numpy(), rtol=1e-12
    )


# -- numerical stability -------------------------------------------------------------------------

HUGE = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [745.0, -745.0, 1e-3], [-1e4, 1e4, -1e4]])


def compute_without_warnings(fn, *args, **kwargs):
    """Call fn with every warning and every floating-point problem, underflow too, an error."""
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_binary_cross_entropy_is_stable_for_huge_logits(reduction):
    y = (np.arange(HUGE.size).reshape(HUGE.shape) % 2).astype(float)
    loss, grad = compute_without_warnings(losses.binary_cross_entropy, HUGE, y, reduction)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    expected = torch_loss_and_grad(
        lambda p: F.binary_cross_entropy_with_logits(p, torch.tensor(y), reduction=reduction),
        HUGE,
    )
    assert_matches((loss, grad), expected)
    # By hand: z = 1e4 with target 0 costs 1e4; z = 1e4 with target 1 costs nothing.
    single, _ = compute_without_warnings(losses.binary_cross_entropy, [1e4, 1e4, -1e4], [0, 1, 1],
                                         "sum")
    assert single == 2e4


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_softmax_cross_entropy_is_stable_for_huge_logits(reduction):
    labels = np.array([0, 1, 2, 1])
    loss, grad = compute_without_warnings(losses.softmax_cross_entropy, HUGE, labels, reduction)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    expected = torch_loss_and_grad(
        lambda p: F.cross_entropy(p, torch.tensor(labels), reduction=reduction), HUGE
    )
    assert_matches((loss, grad), expected)
    # By hand: row 0 is certain of its label (cost 0), row 1 puts 1e4 + 1e4 below the winner.
    loss, grad = compute_without_warnings(
        losses.softmax_cross_entropy, HUGE[:2], np.array([0, 0]), "sum"
    )
    assert loss == 2e4
    np.testing.assert_array_equal(grad, [[0.0, 0.0, 0.0], [-1.0, 0.0, 1.0]])


def test_softmax_cross_entropy_with_masked_logits():
    # A logit of -inf rules a class out: probability 0, and no nan from -inf * 0 in the loss.
    z = np.array([[0.0, -np.inf, np.log(3.0)], [-np.inf, 2.0, 2.0]])
    labels = np.array([2, 1])
    loss, grad = compute_without_warnings(losses.softmax_cross_entropy, z, labels, "sum")
    # By hand: row 0 is softmax (1/4, 0, 3/4), row 1 is (0, 1/2, 1/2).
    assert loss == pytest.approx(-np.log(3 / 4) - np.log(1 / 2), rel=1e-15)
    np.testing.assert_allclose(grad, [[1 / 4, 0.0, -1 / 4], [0.0, -1 / 2, 1 / 2]], rtol=1e-15)
    expected = torch_loss_and_grad(
        lambda p: F.cross_entropy(p, torch.tensor(labels), reduction="sum"), z
    )
    assert_matches((loss, grad), expected)
    # The target itself ruled out costs an infinite loss, as in torch.
    loss, _ = compute_without_warnings(losses.softmax_cross_entropy, z, np.array([1, 1]), "sum")
    assert loss == np.inf


def test_softmax_is_stable_for_huge_logits():
    p = compute_without_warnings(losses.softmax, HUGE)
    assert np.all(np.isfinite(p))
    np.testing.assert_array_equal(p[0], [1.0, 0.0, 0.0])


def test_squared_error_is_quiet_for_large_values():
    loss, grad = compute_without_warnings(losses.squared_error, HUGE, np.zeros_like(HUGE))
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    # Eight entries of magnitude 1e4, two of 745 and one of 1e-3, halved.
    assert loss == pytest.approx(0.5 * (8 * 1e8 + 2 * 745.0**2 + 1e-6), rel=1e-15)
    np.testing.assert_array_equal(grad, HUGE)


# -- L2 ------------------------------------------------------------------------------------------


def test_l2_penalty():
    W1, W2 = np.array([[1.0, 2.0]]), np.array([[3.0], [-1.0]])
    before = [W1.copy(), W2.copy()]
    penalty, grads = losses.l2_penalty([W1, W2], lam=0.5)
    assert penalty == pytest.approx(0.25 * (1 + 4 + 9 + 1))
    np.testing.assert_array_equal(grads[0], [[0.5, 1.0]])
    np.testing.assert_array_equal(grads[1], [[1.5], [-0.5]])
    np.testing.assert_array_equal(W1, before[0])
    np.testing.assert_array_equal(W2, before[1])
    assert losses.l2_penalty([W1, W2], lam=0.0)[0] == 0.0


def test_l2_penalty_matches_torch():
    rng = np.random.default_rng(5)
    Ws = [rng.standard_normal((3, 4)), rng.standard_normal((2, 3))]
    ts = [torch.tensor(W, requires_grad=True) for W in Ws]
    total = 0.3 / 2 * sum((t**2).sum() for t in ts)
    total.backward()
    penalty, grads = losses.l2_penalty(Ws, lam=0.3)
    assert penalty == pytest.approx(total.item(), rel=1e-12)
    for g, t in zip(grads, ts, strict=True):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12)


def test_l2_penalty_refuses_a_negative_strength():
    with pytest.raises(ValueError, match=">= 0"):
        losses.l2_penalty([np.ones((2, 2))], lam=-0.1)


# -- bad input -----------------------------------------------------------------------------------


def test_shapes_must_agree():
    with pytest.raises(ValueError, match=r"pred and y.*\(3,\).*\(4,\)"):
        losses.squared_error(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match=r"logits and y.*\(2, 2\).*\(4,\)"):
        losses.binary_cross_entropy(np.ones((2, 2)), np.ones(4))
    with pytest.raises(ValueError, match=r"one-hot y must have shape \(2, 3\).*\(2, 4\)"):
        losses.softmax_cross_entropy(np.ones((2, 3)), np.ones((2, 4)) / 4)
    with pytest.raises(ValueError, match=r"3 labels.*2 rows"):
        losses.softmax_cross_entropy(np.ones((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"logits must have shape \(m, k\)"):
        losses.softmax_cross_entropy(np.ones(3), np.array([0]))


@pytest.mark.parametrize("labels", [[0, 3, 1], [-1, 0, 1]])
def test_softmax_labels_out_of_range(labels):
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        losses.softmax_cross_entropy(np.zeros((3, 3)), np.array(labels))


def test_softmax_labels_must_be_integers():
    with pytest.raises(TypeError, match="integer class labels"):
        losses.softmax_cross_entropy(np.zeros((3, 3)), np.array([0.0, 1.0, 2.0]))


def test_targets_must_be_probabilities():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        losses.binary_cross_entropy(np.zeros(2), np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        losses.softmax_cross_entropy(np.zeros((1, 2)), np.array([[1.5, -0.5]]))


def test_unknown_reduction_lists_the_known_ones():
    for loss in (losses.squared_error, losses.binary_cross_entropy):
        with pytest.raises(ValueError, match=r"'median'.*'mean', 'sum'"):
            loss(np.zeros(2), np.zeros(2), reduction="median")
    with pytest.raises(ValueError, match=r"'median'.*'mean', 'sum'"):
        losses.softmax_cross_entropy(np.zeros((2, 2)), np.array([0, 1]), reduction="median")


def test_non_numeric_input_is_refused():
    with pytest.raises(TypeError, match="pred must be a numeric array"):
        losses.squared_error(np.array(["a", "b"]), np.zeros(2))
    with pytest.raises(TypeError, match="logits must be a numeric array"):
        losses.softmax_cross_entropy(np.array([["a", "b"]]), np.array([0]))


def test_softmax_target_rows_must_sum_to_one():
    # The gradient (softmax - Y) / m is the loss's only for rows that sum to 1.
    z = np.array([[1.0, 2.0, 0.5]])
    for y in (np.zeros((1, 3)), np.array([[0.5, 0.9, 0.0]])):
        with pytest.raises(ValueError, match="row 0 sums to"):
            losses.softmax_cross_entropy(z, y)
    smoothed = np.array([[0.05, 0.9, 0.05]])  # label smoothing: a valid target
    loss, dz = losses.softmax_cross_entropy(z, smoothed)
    zt = torch.tensor(z, requires_grad=True)
    expected = F.cross_entropy(zt, torch.tensor(smoothed))
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(dz, zt.grad.numpy(), rtol=1e-12)


def test_one_hot_rows_give_what_labels_give_with_a_logit_of_minus_infinity():
    z = np.array([[0.0, -np.inf, 1.0], [2.0, 0.0, -np.inf]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        by_label = losses.softmax_cross_entropy(z, np.array([2, 0]))
        by_row = losses.softmax_cross_entropy(z, np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))
    assert np.isfinite(by_row[0]) and by_row[0] == pytest.approx(by_label[0], rel=1e-15)
    np.testing.assert_array_equal(by_row[1], by_label[1])
    # a target on a class of probability 0 costs an infinite loss, as it should
    loss, _ = losses.softmax_cross_entropy(z, np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    assert loss == np.inf


def test_public_helpers_take_any_numeric_input():
    # An unsigned input would wrap around in -z; a list has no .max(axis=1).
    np.testing.assert_allclose(losses.log_softmax(np.array([[0, 255]], np.uint8)), [[-255.0, 0.0]])
    np.testing.assert_allclose(losses.log_softmax([[1, 2]]), torch.log_softmax(torch.tensor([[1.0, 2.0]]), 1))
    z = np.array([-128, -3, 0, 3, 127], np.int8)
    np.testing.assert_allclose(sigmoid(z), torch.sigmoid(torch.tensor(z, dtype=torch.float64)))
    np.testing.assert_allclose(sigmoid(np.array([1], np.uint8)), [1 / (1 + np.exp(-1))])
    with pytest.raises(ValueError, match=r"logits must have shape \(m, k\)"):
        losses.log_softmax(np.array([1.0, 2.0]))


def test_empty_squared_error_and_bad_l2_strengths_are_refused():
    with pytest.raises(ValueError, match="pred is empty"):
        losses.squared_error(np.zeros(0), np.zeros(0), reduction="mean")
    W = [np.ones((2, 2))]
    for lam in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match="finite and >= 0"):
            losses.l2_penalty(W, lam)
    with pytest.raises(TypeError, match="iterable of weight arrays"):
        losses.l2_penalty({"W1": np.ones((2, 2))}, 0.1)
    with pytest.raises(TypeError, match="must be a number"):
        losses.l2_penalty(W, "0.1")
