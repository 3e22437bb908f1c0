"""Gradient checking: numerical_gradient, relative_error, and gradcheck against planted bugs."""

import re

import numpy as np
import planted_bugs
import pytest
import torch
from planted_bugs import BUGS, PARAMS

from coursekit import MLP
from coursekit.gradcheck import (
    GradcheckReport,
    ParamCheck,
    gradcheck,
    numerical_gradient,
    relative_error,
)


def check(loss_and_grads, params, X, y, grads=None, **options) -> GradcheckReport:
    """gradcheck a ``(params, X, y) -> (loss, grads)`` function at ``params``."""
    if grads is None:
        _, grads = loss_and_grads(params, X, y)
    return gradcheck(lambda: loss_and_grads(params, X, y)[0], params, grads, **options)


def copy_arrays(arrays):
    return {name: a.copy() for name, a in arrays.items()}


# -- numerical_gradient --------------------------------------------------------------------------


def test_numerical_gradient_is_exact_on_a_quadratic_when_the_arithmetic_is():
    # Integer-valued x and A, and h a power of two: every f(x +- h e_i) is computed without
    # rounding, and the central difference of a quadratic has no truncation error.
    A = np.array([[2.0, -1.0, 0.0], [3.0, 4.0, 1.0], [0.0, -2.0, 5.0]])
    c = np.array([1.0, -3.0, 2.0])
    x = np.array([1.0, -2.0, 3.0])
    f = lambda v: 0.5 * v @ A @ v + c @ v
    expected = 0.5 * (A + A.T) @ x + c  # [-1.5, -14.5, 15.5] by hand
    np.testing.assert_array_equal(numerical_gradient(f, x, h=2.0**-10), expected)


def test_numerical_gradient_of_a_random_quadratic():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5))
    c = rng.standard_normal(5)
    x = rng.standard_normal(5)
    f = lambda v: 0.5 * v @ A @ v + c @ v
    np.testing.assert_allclose(numerical_gradient(f, x), 0.5 * (A + A.T) @ x + c, rtol=1e-8)


def test_numerical_gradient_restores_x_bit_for_bit():
    h = 1e-5
    x = np.array([[0.1, 1.0 / 3.0, 1e-7], [12345.678, -2.5e-3, np.pi]])
    # The test means something only if adding and subtracting h does not give x back exactly.
    assert not np.array_equal((x + h) - h, x)
    before = x.copy()
    grad = numerical_gradient(lambda v: np.sum(np.sin(v)), x, h=h)
    assert x.tobytes() == before.tobytes()
    np.testing.assert_allclose(grad, np.cos(before), rtol=1e-6, atol=1e-9)


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([0.1, 0.2, 0.3])
    before = x.copy()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("boom")
        return float(np.sum(v))

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    assert x.tobytes() == before.tobytes()


def test_numerical_gradient_with_dout_when_f_returns_x_itself():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4))
    dout = rng.standard_normal((3, 4))
    # f returns x, the very array being perturbed: the gradient of sum(x * dout) is dout.
    np.testing.assert_allclose(numerical_gradient(lambda v: v, x, dout=dout), dout, rtol=1e-8)
    np.testing.assert_allclose(
        numerical_gradient(lambda v: v.T, x, dout=dout.T), dout, rtol=1e-8
    )


def test_numerical_gradient_when_f_returns_a_view_of_part_of_x():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4))
    dout = rng.standard_normal(4)
    expected = np.zeros((3, 4))
    expected[0] = dout
    np.testing.assert_allclose(
        numerical_gradient(lambda v: v[0], x, dout=dout), expected, rtol=1e-8, atol=1e-12
    )
    # A one-entry view of x as the scalar output, without dout.
    expected = np.zeros((3, 4))
    expected[0, 0] = 1.0
    np.testing.assert_allclose(
        numerical_gradient(lambda v: v[0, :1], x), expected, rtol=1e-8, atol=1e-12
    )


def test_numerical_gradient_rejects_integer_arrays():
    with pytest.raises(TypeError, match=r"int64.*floating-point"):
        numerical_gradient(lambda v: float(np.sum(v)), np.array([1, 2, 3], dtype=np.int64))


def test_numerical_gradient_needs_dout_for_an_array_valued_f():
    with pytest.raises(TypeError, match=r"scalar.*shape \(3,\)"):
        numerical_gradient(lambda v: 2 * v, np.ones(3))


def test_numerical_gradient_rejects_a_dout_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        numerical_gradient(lambda v: 2 * v, np.ones(3), dout=np.ones(4))


# -- relative_error ------------------------------------------------------------------------------


def test_numerical_gradient_in_float32_uses_a_step_float32_can_hold():
    # At 100 a float32 step of 1e-5 is rounded to a multiple of 7.6e-6: the default step and the
    # division by the step actually taken keep the result close.
    x = np.array([1.0, 3.0, 100.0], np.float32)
    grad = numerical_gradient(lambda v: float(0.5 * np.sum(v * v)), x)
    np.testing.assert_allclose(grad, [1.0, 3.0, 100.0], rtol=5e-3)
    # 4000 + 1e-3 is stored as 4000 + 0.000977: dividing by 2h would be 2.3% off
    big = np.array([4000.0], np.float32)
    square = lambda v: float(0.5 * np.float64(v[0]) ** 2)  # noqa: E731
    np.testing.assert_allclose(numerical_gradient(square, big, h=1e-3), [4000.0], rtol=1e-4)
    assert x.dtype == np.float32 and np.array_equal(x, [1.0, 3.0, 100.0])


def test_relative_error_is_zero_for_equal_arrays():
    a = np.random.default_rng(3).standard_normal((4, 5))
    assert relative_error(a, a.copy()) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0


def test_relative_error_by_hand():
    assert relative_error([3.0, 4.0], [0.0, 0.0]) == pytest.approx(1.0)  # 5 / (5 + 0)
    assert relative_error([1.0, 0.0], [0.0, 1.0]) == pytest.approx(np.sqrt(2) / 2)
    assert relative_error([1.0], [1.1]) == pytest.approx(0.1 / 2.1)


def test_relative_error_is_symmetric():
    rng = np.random.default_rng(4)
    for _ in range(10):
        a, b = rng.standard_normal((2, 6, 3))
        assert relative_error(a, b) == relative_error(b, a)


def test_relative_error_rejects_different_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        relative_error(np.ones((2, 3)), np.ones((3, 2)))


# -- the planted bugs ----------------------------------------------------------------------------


def torch_reference(activation, params, X, y):
    """Loss and gradients of the corpus network by PyTorch autograd."""
    act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[activation]
    p = {name: torch.tensor(v, requires_grad=True) for name, v in params.items()}
    a = torch.tensor(X)
    a = act(torch.nn.functional.linear(a, p["W1"], p["b1"]))
    a = act(torch.nn.functional.linear(a, p["W2"], p["b2"]))
    z = torch.nn.functional.linear(a, p["W3"], p["b3"])
    loss = torch.nn.functional.cross_entropy(z, torch.tensor(y))
    loss = loss + planted_bugs.LAM / 2 * sum((p[w] ** 2).sum() for w in ("W1", "W2", "W3"))
    loss.backward()
    return loss.item(), {name: t.grad.numpy() for name, t in p.items()}


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_the_corpus_reference_agrees_with_torch(activation):
    for seed in range(5):
        params, X, y = planted_bugs.random_problem(seed)
        loss, grads = planted_bugs.reference(activation)(params, X, y)
        torch_loss, torch_grads = torch_reference(activation, params, X, y)
        assert loss == pytest.approx(torch_loss, rel=1e-12)
        for name in PARAMS:
            np.testing.assert_allclose(grads[name], torch_grads[name], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("bug", BUGS, ids=lambda bug: f"{bug.name}-{bug.activation}")
def test_each_bug_corrupts_exactly_the_parameters_it_claims(bug):
    """The corpus is what it says: a bug changes the gradients of bug.wrong and nothing else."""
    for seed in range(20):
        params, X, y = planted_bugs.random_problem(seed)
        loss, right = planted_bugs.reference(bug.activation)(params, X, y)
        bad_loss, wrong = bug.loss_and_grads(params, X, y)
        assert bad_loss == loss
        changed = {
            name for name in PARAMS
            if right[name].shape != wrong[name].shape
            or not np.allclose(right[name], wrong[name], rtol=1e-6, atol=1e-9)
        }
        assert changed == bug.wrong


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_gradcheck_passes_the_correct_network_on_many_seeds(activation):
    loss_and_grads = planted_bugs.reference(activation)
    false_alarms = []
    for seed in range(50):
        params, X, y = planted_bugs.random_problem(seed)
        report = check(loss_and_grads, params, X, y)
        if not report.ok:
            false_alarms.append(f"seed {seed}:\n{report}")
    assert not false_alarms, "\n".join(false_alarms)


@pytest.mark.parametrize("bug", BUGS, ids=lambda bug: f"{bug.name}-{bug.activation}")
def test_gradcheck_finds_each_planted_bug(bug):
    missed = []
    for seed in range(20):
        params, X, y = planted_bugs.random_problem(seed)
        report = check(bug.loss_and_grads, params, X, y)
        if report.ok or set(report.failed) != bug.wrong:
            missed.append(f"seed {seed}: expected {sorted(bug.wrong)} to fail\n{report}")
        elif bug.shape_mismatch:
            (name,) = bug.wrong
            assert "shape mismatch" in report[name].problem
            assert name in str(report) and "shape mismatch" in str(report)
    assert not missed, "\n".join(missed)


def test_gradcheck_leaves_the_parameters_exactly_as_they_were():
    params, X, y = planted_bugs.random_problem(0)
    before = copy_arrays(params)
    arrays = {name: id(p) for name, p in params.items()}
    check(planted_bugs.reference("tanh"), params, X, y)
    for name in PARAMS:
        assert id(params[name]) == arrays[name]
        assert params[name].tobytes() == before[name].tobytes()


# -- the report ----------------------------------------------------------------------------------


def error_lines(text):
    """{name: error} from the lines of str(report) that start with ok or FAIL."""
    found = re.findall(r"^(ok|FAIL)\s+(\w+)\s+error\s+(\S+)", text, flags=re.MULTILINE)
    return {name: (verdict, float(error)) for verdict, name, error in found}


def test_report_of_a_pass_names_every_parameter_with_its_error():
    params, X, y = planted_bugs.random_problem(1)
    report = check(planted_bugs.reference("tanh"), params, X, y)
    text = str(report)
    assert report.ok and report.failed == []
    assert text.startswith("gradcheck passed")
    lines = error_lines(text)
    assert set(lines) == set(PARAMS)
    for name, (verdict, error) in lines.items():
        assert verdict == "ok"
        assert error == pytest.approx(report[name].error, rel=0.01, abs=1e-14)
        assert error <= report.tolerance


def test_report_of_a_failure_shows_the_worst_entry():
    params, X, y = planted_bugs.random_problem(2)
    loss_and_grads = planted_bugs.reference("tanh")
    _, right = loss_and_grads(params, X, y)
    grads = copy_arrays(right)
    grads["W2"][1, 2] += 0.5
    report = check(loss_and_grads, params, X, y, grads=grads)

    assert not report.ok and report.failed == ["W2"]
    assert report["W2"].worst_index == (1, 2)
    assert report["W2"].analytic == grads["W2"][1, 2]
    assert report["W2"].numeric == pytest.approx(right["W2"][1, 2], rel=1e-6)

    text = str(report)
    assert "FAILED: W2" in text
    assert error_lines(text)["W2"][0] == "FAIL"
    assert all(error_lines(text)[name][0] == "ok" for name in PARAMS if name != "W2")
    match = re.search(r"W2\[1, 2\]: analytic (\S+), numeric (\S+)", text)
    assert match, text
    assert float(match[1]) == pytest.approx(grads["W2"][1, 2], rel=1e-5)
    assert float(match[2]) == pytest.approx(right["W2"][1, 2], rel=1e-5)


def test_report_of_a_shape_mismatch_gives_both_shapes():
    params, X, y = planted_bugs.random_problem(3)
    loss_and_grads = planted_bugs.reference("tanh")
    grads = copy_arrays(loss_and_grads(params, X, y)[1])
    grads["W3"] = grads["W3"].T
    report = check(loss_and_grads, params, X, y, grads=grads)
    assert report.failed == ["W3"]
    assert re.search(r"shape mismatch.*\(4, 3\).*\(3, 4\)", str(report)), str(report)


def test_report_of_a_missing_or_non_finite_gradient():
    params, X, y = planted_bugs.random_problem(4)
    loss_and_grads = planted_bugs.reference("tanh")
    grads = copy_arrays(loss_and_grads(params, X, y)[1])
    del grads["b1"]
    grads["W2"][0, 3] = np.nan
    report = check(loss_and_grads, params, X, y, grads=grads)
    assert report.failed == ["b1", "W2"]
    assert "b1" in report["b1"].problem
    assert "non-finite" in report["W2"].problem and "(0, 3)" in report["W2"].problem


def test_report_ok_is_true_only_when_every_parameter_matches():
    good = ParamCheck("W1", True, 1e-9, "all 4 entries")
    bad = ParamCheck("b1", False, 0.3, "all 2 entries", (1,), 0.5, 0.2)
    assert GradcheckReport([good], 1e-5, 8).ok
    mixed = GradcheckReport([good, bad], 1e-5, 12)
    assert not mixed.ok
    assert mixed.failed == ["b1"]
    assert mixed["b1"] is bad
    with pytest.raises(KeyError, match="W7"):
        mixed["W7"]


def test_tol_decides_what_counts_as_a_match():
    params, X, y = planted_bugs.random_problem(5)
    loss_and_grads = planted_bugs.reference("sigmoid")
    grads = copy_arrays(loss_and_grads(params, X, y)[1])
    grads["b3"] *= 1.001  # relative error about 0.001 / 2.001 = 5e-4
    assert check(loss_and_grads, params, X, y, grads=grads).failed == ["b3"]
    assert check(loss_and_grads, params, X, y, grads=grads, tol=1e-3).ok


# -- gradcheck on MLPs ---------------------------------------------------------------------------


def mlp_report(net, X, y, grads=None):
    if grads is None:
        _, grads = net.loss(X, y)
    return gradcheck(lambda: net.loss(X, y)[0], net.params, grads)


def test_gradcheck_passes_relu_mlps_on_many_seeds():
    rng = np.random.default_rng(6)
    false_alarms = []
    for seed in range(20):
        net = MLP([3, 5, 4, 2], activation="relu", loss="softmax_cross_entropy", seed=seed)
        X, y = rng.standard_normal((6, 3)), rng.integers(0, 2, 6)
        report = mlp_report(net, X, y)
        if not report.ok:
            false_alarms.append(f"seed {seed}:\n{report}")
    assert not false_alarms, "\n".join(false_alarms)


def test_no_false_alarm_exactly_at_a_relu_kink():
    # XOR's input (0, 0) with zero biases puts every hidden unit's input at exactly 0, where ReLU
    # has no derivative: the central difference there is the mean of the two one-sided slopes.
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    for seed in range(8):
        net = MLP([2, 3, 1], activation="relu", seed=seed)
        assert not np.any(net.params["b1"])
        _, grads = net.loss(X, y)
        # the analytic gradients are those of PyTorch, whose ReLU has slope 0 at 0 too
        W1 = torch.tensor(net.params["W1"], requires_grad=True)
        b1 = torch.tensor(net.params["b1"], requires_grad=True)
        hidden = torch.relu(torch.tensor(X) @ W1.T + b1)
        out = hidden @ torch.tensor(net.params["W2"]).T + torch.tensor(net.params["b2"])
        (0.5 * ((out[:, 0] - torch.tensor(y)) ** 2).mean()).backward()
        np.testing.assert_allclose(grads["W1"], W1.grad.numpy(), atol=1e-15)
        np.testing.assert_allclose(grads["b1"], b1.grad.numpy(), atol=1e-15)
        report = mlp_report(net, X, y, grads)
        assert report.ok, f"seed {seed}:\n{report}"
        for name in ("W1", "W2"):  # a wrong gradient is still caught there
            assert mlp_report(net, X, y, {**grads, name: 1.5 * grads[name]}).failed == [name]


def test_a_wrong_gradient_near_a_minimum_is_caught():
    # Near a minimum the one-sided slopes straddle 0 at the default step, and a gradient of 0 or
    # twice the true one lies between them: only a kink's slopes, which stay apart, excuse that.
    x = np.array([1e-6, 2e-6, -1e-6])
    f = lambda: 0.5 * float(x @ x)  # noqa: E731
    assert gradcheck(f, {"x": x}, {"x": x.copy()}).ok
    for wrong in (np.zeros(3), 2 * x):
        assert not gradcheck(f, {"x": x}, {"x": wrong}).ok
    x32 = np.array([0.01, -0.012, 0.009], np.float32)
    f32 = lambda: float(10 * np.sum(x32 * x32))  # noqa: E731
    assert gradcheck(f32, {"x": x32}, {"x": 20 * x32}).ok
    assert not gradcheck(f32, {"x": x32}, {"x": 24 * x32}).ok


def test_a_step_too_small_for_the_value_is_widened_to_the_next_number():
    x = np.array([3.0, 1e12])
    np.testing.assert_allclose(numerical_gradient(lambda v: float(v[1] * 2.0), x), [0.0, 2.0])
    p = np.array([40000.0], np.float32)
    report = gradcheck(lambda: float(p[0]) * 3.0, {"p": p}, {"p": np.array([3.5])}, h=1e-9, atol=1e-6)
    assert report.failed == ["p"] and p[0] == 40000.0


@pytest.mark.parametrize("init", ["small", "xavier", "uniform"])
def test_no_false_alarm_on_vanishing_gradients(init):
    """A deep sigmoid net has tiny gradients in its first layers, below finite-difference noise."""
    rng = np.random.default_rng(7)
    for seed in range(3):
        net = MLP([4, 8, 8, 8, 8, 8, 2], activation="sigmoid", loss="softmax_cross_entropy",
                  init=init, seed=seed)
        X, y = rng.standard_normal((6, 4)), rng.integers(0, 2, 6)
        report = mlp_report(net, X, y)
        assert report.ok, str(report)


def test_a_bug_in_a_layer_with_small_gradients_is_still_caught():
    rng = np.random.default_rng(8)
    net = MLP([4, 8, 8, 8, 8, 8, 2], activation="sigmoid", loss="softmax_cross_entropy",
              init="xavier", seed=0)
    X, y = rng.standard_normal((6, 4)), rng.integers(0, 2, 6)
    _, grads = net.loss(X, y)
    assert np.abs(grads["W2"]).max() < 1e-2
    grads["W2"] = 2 * grads["W2"]
    assert mlp_report(net, X, y, grads).failed == ["W2"]


def test_no_false_alarm_on_a_nearly_unused_input():
    rng = np.random.default_rng(9)
    net = MLP([3, 4, 1], activation="tanh", seed=1)
    X, y = rng.standard_normal((5, 3)), rng.standard_normal(5)
    X[:, 0] *= 1e-6  # the gradient of W1[:, 0] is about 1e-7
    report = mlp_report(net, X, y)
    assert report.ok, str(report)


def test_gradcheck_in_float32():
    rng = np.random.default_rng(10)
    net = MLP([3, 5, 2], activation="tanh", loss="softmax_cross_entropy", dtype=np.float32,
              seed=2)
    X, y = rng.standard_normal((6, 3)).astype(np.float32), rng.integers(0, 2, 6)
    _, grads = net.loss(X, y)
    report = mlp_report(net, X, y, grads)
    assert report.ok, str(report)
    assert report.tolerance == pytest.approx(1e-2)
    grads["W1"] = 1.2 * grads["W1"]
    assert mlp_report(net, X, y, grads).failed == ["W1"]


# -- a network with about 250k parameters --------------------------------------------------------


@pytest.fixture(scope="module")
def big_problem():
    rng = np.random.default_rng(11)
    net = MLP([784, 256, 128, 10], activation="relu", loss="softmax_cross_entropy", seed=11)
    X, y = rng.random((8, 784)), rng.integers(0, 10, 8)
    _, grads = net.loss(X, y)
    return net, X, y, grads


def test_big_network_passes_and_is_restored(big_problem):
    net, X, y, grads = big_problem
    assert 230_000 < net.n_params() < 260_000
    before = copy_arrays(net.params)
    report = mlp_report(net, X, y, grads)
    assert report.ok, str(report)
    assert "directions" in report["W1"].how  # not differenced entry by entry
    for name, p in net.params.items():
        assert p.tobytes() == before[name].tobytes()


def test_big_network_single_coordinate_bug_is_caught(big_problem):
    net, X, y, grads = big_problem
    bad = copy_arrays(grads)
    bad["W1"][17, 401] += 1e-2
    report = mlp_report(net, X, y, bad)
    assert report.failed == ["W1"]
    # Found by the random directions, then located by bisection: the report names the entry.
    check = report["W1"]
    assert check.problem is None
    assert check.worst_index == (17, 401)
    assert check.analytic == bad["W1"][17, 401]
    assert check.numeric == pytest.approx(grads["W1"][17, 401], abs=1e-7)
    assert "worst entry W1[17, 401]" in str(report)


def test_big_network_reports_the_largest_entry_when_it_is_wrong(big_problem):
    net, X, y, grads = big_problem
    bad = copy_arrays(grads)
    index = np.unravel_index(np.argmax(np.abs(grads["W2"])), grads["W2"].shape)
    bad["W2"][index] *= 2
    report = mlp_report(net, X, y, bad)
    assert report.failed == ["W2"]
    assert report["W2"].worst_index == tuple(int(i) for i in index)
    assert report["W2"].analytic == bad["W2"][index]
    assert report["W2"].numeric == pytest.approx(grads["W2"][index], rel=1e-6)


def test_big_network_scaled_gradient_is_caught(big_problem):
    net, X, y, grads = big_problem
    bad = copy_arrays(grads)
    bad["W2"] = 1.001 * bad["W2"]
    assert mlp_report(net, X, y, bad).failed == ["W2"]
