"""The judgement's parts: plain-data records, comparison messages, delegation, the sandbox warning."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from notebooks import ROOT, run_test_cell, solution

from coursekit.grading import record, sandbox
from coursekit.grading.judge import Check, Trial, compare, judge_question, static_delegation
from coursekit.testing import Case, CheckFailure, check_function


def roundtrip(value, tmp_path):
    record.save(tmp_path / "v", value)
    return record.load(tmp_path / "v")


def test_records_keep_arrays_numbers_and_structure(tmp_path):
    value = {"W1": np.arange(6.0).reshape(2, 3), "n": 3, "ok": True, "x": 0.5, "nan": float("nan"),
             "t": (np.int64(2), [1.5, None, "s"]), "f32": np.float32(1.25)}
    got = roundtrip(value, tmp_path)
    np.testing.assert_array_equal(got["W1"], value["W1"])
    assert got["n"] == 3 and got["ok"] is True and got["x"] == 0.5 and np.isnan(got["nan"])
    assert got["t"][0] == 2 and isinstance(got["t"], tuple) and got["t"][1] == [1.5, None, "s"]
    assert got["f32"].dtype == np.float32


def test_objects_that_are_not_plain_data_are_recorded_by_type_only(tmp_path):
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    class Sneaky(float):
        pass

    got = roundtrip([AlwaysEqual(), Sneaky(1.0), np.array([object()]), {1: 2}], tmp_path)
    assert [type(v).__name__ for v in got] == ["Opaque"] * 4
    assert compare(got[0], 1.0, "output", 1e-6, 1e-9) == (
        "output: returned a AlwaysEqual, which is not plain numbers or arrays")


def test_records_load_without_unpickling(tmp_path):
    record.save(tmp_path / "v", {"a": np.ones(2)})
    # a pickled object array in the npz is refused, not executed
    np.savez(tmp_path / "v.npz", a0=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        record.load(tmp_path / "v")


def test_an_array_subclass_is_recorded_as_a_plain_array(tmp_path):
    class Loud(np.ndarray):
        def __eq__(self, other):
            return True

    got = roundtrip(np.arange(3.0).view(Loud), tmp_path)
    assert type(got) is np.ndarray


@pytest.mark.parametrize(
    ("got", "expected", "message"),
    [
        (np.array([1, 0]), np.array([1, 0, 1]), "expected shape (3,), got shape (2,)"),
        (np.array([1.0, 0.0]), np.array([1, 0]), "expected an integer array"),
        (np.array([[1.0], [2.0]]), np.array([1.0, 2.0]), "expected shape (2,), got shape (2, 1)"),
        (np.array([1.0, 2.5, 3.0]), np.array([1.0, 2.0, 3.0]), "first differs at index (1,): expected 2"),
        ({"W1": np.ones(2), "b1": np.zeros(1)}, {"W1": np.ones(2), "b1": np.ones(1)}, "output['b1']"),
        ((np.ones(2),), (np.ones(2), 1.0), "expected 2 values"),
        (3.0, np.array([3.0]), "expected an array of shape (1,)"),
        (np.array([True, False]), np.array([1.0, 0.0]), "expected numbers, got booleans"),
        ("3", 3.0, "expected 3.0, got '3'"),
        (np.array([0.5, 0.0]), np.array([0.0, 0.0]), "expected 0, got 0.5 (absolute error 0.5)"),
        (np.array([1e6, 1.0001]), np.array([0.0, 1.0]), "expected 0, got 1e+06 (absolute error 1e+06)"),
        (np.array([1.0, 3.0]), np.array([1.0, 2.0]), "expected 2, got 3 (relative error 0.5)"),
        (np.array([np.nan, 1.0]), np.array([1.0, 1.0]), "expected 1, got nan (not a finite number)"),
        (np.array([True, False]), [1, 0], "expected 2 values, got array"),
        # As the notebooks' checks: an integer array for a float one, 1 for True, True for a number
        (np.array([0, 0]), np.array([0.0, 0.0]), "expected a float array (dtype float64), got dtype int64"),
        (1, True, "expected True (a bool), got 1"),
        (np.float64(0.0), False, "expected False (a bool)"),
        (True, 4, "expected numbers, got booleans"),
    ],
)
def test_comparison_says_what_differs(got, expected, message):
    problem = compare(got, expected, "output", 1e-6, 1e-9)
    assert problem is not None and message in problem, problem


@pytest.mark.parametrize("got", [True, np.bool_(True), np.array(True)])
def test_any_kind_of_true_answers_true(got):
    assert compare(got, True, "converged", 1e-6, 1e-9) is None


def test_comparison_accepts_equal_values_within_tolerance():
    assert compare({"a": (np.array([1.0, 2.0]), 3)}, {"a": (np.array([1.0, 2.0 + 1e-9]), 3)}, "o",
                   1e-6, 1e-9) is None
    assert compare(np.float64(2.0), 2.0, "o", 1e-6, 1e-9) is None
    assert compare(np.array([np.nan]), np.array([np.nan]), "o", 1e-6, 1e-9) is None


def test_numpy_scalars_keep_their_shape(tmp_path):
    got = roundtrip([np.float64(0.5), np.array(0.25), np.int64(3), np.bool_(True)], tmp_path)
    assert [np.shape(v) for v in got] == [(), (), (), ()]
    assert compare(got[0], 0.5, "o", 1e-9, 0) is None and compare(0.25, got[1], "o", 1e-9, 0) is None
    assert compare(got[2], 3, "o", 1e-9, 0) is None


def test_numbers_in_an_array_answer_a_list_of_numbers_and_booleans_no_integer_array():
    assert compare(np.array([0.5, 0.25]), [0.5, np.float64(0.25)], "losses", 1e-9, 0) is None
    assert "expected 3 values" in compare(np.array([0.5, 0.25]), [0.5, 0.25, 0.1], "losses", 1e-9, 0)
    problem = compare(np.array([True, False]), np.array([1, 0]), "labels", 1e-9, 0)
    assert "expected an integer array (dtype int64), got dtype bool" in problem


def test_several_values_returned_in_one_array_fail_as_in_the_notebooks():
    def add_backward(dout, x, y):  # (dx, dy) as one array
        return np.array([dout, dout])

    assert "expected 2 values, got array shape (2,)" in compare(add_backward(2.0, 6.0, 5.0), (2.0, 2.0),
                                                                "output", 1e-9, 0)
    with pytest.raises(CheckFailure, match=r"must return the two values \(dx, dy\), got array"):
        check_function(add_backward, [Case("add", (2.0, 6.0, 5.0), (2.0, 2.0))], outputs=("dx", "dy"),
                       quiet=True)


def judged(assignment, grade_id, reference, student, monkeypatch, tmp_path):
    """Judge ``student``'s functions on a question as the grader does, in this process: record them
    and the ``reference`` ones on the judges' trials through files, then compare."""
    import __main__
    from coursekit.grading import recorder
    from coursekit.grading.judge import load_checks

    judges = ROOT / "autograder" / "judges" / f"{assignment}.py"
    check = {c.grade_id: c for c in load_checks(judges)}[grade_id]
    trials = check.draw()
    record.save(tmp_path / "trials", [t.as_record() for t in trials])
    outputs = {}
    for who, functions in (("reference", reference), ("student", student)):
        for name, function in functions.items():
            monkeypatch.setattr(__main__, name, function, raising=False)  # the notebook's namespace
        recorder.record(str(tmp_path / "trials"), str(tmp_path / who), list(check.delegates), 20.0)
        outputs[who] = record.load(tmp_path / who)
    reference_out = outputs["reference"] if check.verdict is None else None
    return judge_question(check, 2.0, trials, outputs["student"], reference_out, "")


def test_an_answer_given_as_a_numpy_scalar_earns_its_points(monkeypatch, tmp_path):
    from coursekit.layers import sigmoid

    def reference(w, b, x, y):
        dz = float(sigmoid(w @ x + b)) - y
        return dz * x, dz

    def student(w, b, x, y):  # a - y is a numpy float64, not a float
        a = 1 / (1 + np.exp(-(w @ x + b)))
        return (a - y) * x, a - y

    result = judged("03-chain-rule", "test_logistic_grads", {"logistic_grads": reference},
                    {"logistic_grads": student}, monkeypatch, tmp_path)
    assert result.score == 2.0, result.failures
    wrong = judged("03-chain-rule", "test_logistic_grads", {"logistic_grads": reference},
                   {"logistic_grads": lambda w, b, x, y: student(w, b, x, y)[::-1]}, monkeypatch, tmp_path)
    assert wrong.score == 0.0


def test_a_gradient_step_for_two_layers_only_is_caught(monkeypatch, tmp_path):
    def reference(params, grads, lr):
        return {name: p - lr * grads[name] for name, p in params.items()}

    def two_layers_only(params, grads, lr):
        return {name: params[name] - lr * grads[name] for name in ("W1", "b1", "W2", "b2")}

    right = judged("04-two-layer", "test_gradient_step", {"gradient_step": reference},
                   {"gradient_step": reference}, monkeypatch, tmp_path)
    assert right.score == 2.0, right.failures
    wrong = judged("04-two-layer", "test_gradient_step", {"gradient_step": reference},
                   {"gradient_step": two_layers_only}, monkeypatch, tmp_path)
    assert wrong.score == 0.0 and [f.trial for f in wrong.failures] == ["three layers, keys last to first"]


def test_xor_parameters_as_nested_lists_earn_their_points(monkeypatch, tmp_path):
    def as_lists():
        return [[1, -1], [-1, 1]], [0, 0], [[1, 1]], [0]

    def not_xor():
        return [[1, 0], [0, 1]], [0, 0], [[1, 1]], [0]

    for answer, points in ((as_lists, 2.0), (not_xor, 0.0)):
        result = judged("02-xor", "test_xor_relu_params", {}, {"xor_relu_params": answer},
                        monkeypatch, tmp_path)
        assert result.score == points, result.failures


def test_xor_parameters_too_few_get_the_notebooks_message_from_the_grader(monkeypatch, tmp_path):
    def two_values():
        return [[1, -1], [-1, 1]], [0, 0]

    result = judged("02-xor", "test_xor_relu_params", {}, {"xor_relu_params": two_values},
                    monkeypatch, tmp_path)
    assert result.score == 0.0
    with pytest.raises(CheckFailure) as notebook:
        run_test_cell("02-xor", "test_xor_relu_params", {"xor_relu_params": two_values})
    message = "xor_relu_params(): must return the four values (W1, b1, W2, b2), got 2 values in a tuple"
    assert message in str(notebook.value)
    assert {f.message for f in result.failures} == {message}


def test_a_right_training_loop_passes_whatever_its_random_draws():
    # The library's MLP and train, seeded differently from the reference: another student's draws.
    from coursekit import MLP
    from coursekit.grading.judge import load_checks
    from coursekit.training import train

    check = {c.grade_id: c for c in load_checks(ROOT / "autograder" / "judges" / "05-deep-backprop.py")}[
        "test_train_network"]

    def trained(trial, seed, lam):
        X, y, sizes = trial.args
        kwargs = dict(trial.kwargs)
        net = MLP(sizes, activation=kwargs.get("activation", "relu"), loss="softmax_cross_entropy",
                  l2=lam, seed=1000 + seed)
        untrained = {k: v.copy() for k, v in net.params.items()}
        train(net, X, y, epochs=kwargs["epochs"], lr=kwargs["lr"], batch_size=kwargs["batch_size"],
              seed=seed, progress=False)
        return net.params, untrained

    trials = check.draw()
    assert [t.kwargs.get("lam", 0.0) for t in trials] == [0.0, 0.0, 0.0, 0.1, 0.1, 0.1]
    for trial in trials[:-2]:  # the last two are the L2 trial with its seed again, then the next seed
        lam = trial.kwargs.get("lam", 0.0)
        for seed in range(60):  # at 15 epochs and 0.9, two of these failed
            params, untrained = trained(trial, seed, lam)
            assert check.verdict(trial, params) is None, (trial.name, seed)
        if not lam:
            assert "below the" in check.verdict(trial, untrained)
    # The L2 trial: a loop that leaves lam out, or divides it by the batch size, is caught.
    for seed in range(10):
        for lam in (0.0, 0.1 / 30):
            assert "is lam used?" in check.verdict(trials[-3], trained(trials[-3], seed, lam)[0]), (seed, lam)


def plain_train_network(X, y, sizes, *, epochs, lr, batch_size, lam=0.0, activation="relu", seed=0,
                        draws="own"):
    """A right train_network in plain numpy, drawing its random numbers as ``draws`` says: from
    ``default_rng(seed)`` ("own"), numpy's global generator seeded with ``seed`` ("global"), a
    generator seeded from the system ("unseeded") or with 0 whatever the seed ("fixed")."""
    rng = {"own": lambda: np.random.default_rng(seed), "unseeded": np.random.default_rng,
           "fixed": lambda: np.random.default_rng(0),
           "global": lambda: np.random.seed(seed) or np.random}[draws]()  # noqa: NPY002 (on purpose)
    normal = rng.randn if draws == "global" else lambda *shape: rng.standard_normal(shape)
    g, dg = {"relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0) * 1.0),
             "tanh": (np.tanh, lambda z, a: 1 - a * a)}[activation]
    params = {}
    for l in range(1, len(sizes)):
        scale = np.sqrt(2 / sizes[l - 1]) if activation == "relu" else np.sqrt(2 / (sizes[l - 1] + sizes[l]))
        params[f"W{l}"] = scale * normal(sizes[l], sizes[l - 1])
        params[f"b{l}"] = np.zeros(sizes[l])
    L = len(sizes) - 1
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            rows = order[start:start + batch_size]
            A, Zs, As = X[rows], [], [X[rows]]
            for l in range(1, L + 1):
                Z = A @ params[f"W{l}"].T + params[f"b{l}"]
                A = g(Z) if l < L else Z
                Zs.append(Z)
                As.append(A)
            P = np.exp(A - A.max(axis=1, keepdims=True))
            P /= P.sum(axis=1, keepdims=True)
            P[np.arange(len(rows)), y[rows]] -= 1
            dZ = P / len(rows)
            for l in range(L, 0, -1):
                dW, db = dZ.T @ As[l - 1] + lam * params[f"W{l}"], dZ.sum(axis=0)
                if l > 1:
                    dZ = (dZ @ params[f"W{l}"]) * dg(Zs[l - 2], As[l - 1])
                params[f"W{l}"] = params[f"W{l}"] - lr * dW
                params[f"b{l}"] = params[f"b{l}"] - lr * db
    return params


@pytest.mark.parametrize(("draws", "trial", "message"), [
    ("own", None, None),
    ("global", "digits, [64, 32, 10] relu", "changed numpy's global random state"),
    ("unseeded", "the trials together", "returned different parameters"),
    ("fixed", "the trials together", "returned the same parameters: is seed used?"),
])
def test_a_training_loop_must_draw_from_its_own_seeded_generator(draws, trial, message, monkeypatch,
                                                                 tmp_path):
    def student(*args, **kwargs):
        return plain_train_network(*args, **kwargs, draws=draws)

    result = judged("05-deep-backprop", "test_train_network", {}, {"train_network": student},
                    monkeypatch, tmp_path)
    if message is None:
        assert result.score == 2.0, result.failures
    else:
        assert result.score == 0.0
        assert trial == result.failures[0].trial and message in result.failures[0].message, result.failures


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("def predict(X, w, b):\n    return perceptron.predict(X, w, b)", True),
        ("import coursekit\ndef predict(X, w, b):\n    return coursekit.perceptron.predict(X, w, b)", True),
        ("from coursekit.perceptron import predict as p\ndef predict(X, w, b):\n    return p(X, w, b)", True),
        ("def predict(X, w, b):\n    return (X @ w + b >= 0).astype(int)", False),
        ("def predict(X, w, b):\n    model.predict(X)", False),
        ("this is not python", False),
    ],
)
def test_static_delegation_finds_the_library_call(source, found):
    assert bool(static_delegation(source, ("coursekit.perceptron:predict",))) is found


def test_a_delegating_answer_scores_nothing_even_when_right():
    check = Check("test_f", lambda rng: [Trial("t", "f", (1.0,))], seed=0,
                  delegates=("coursekit.perceptron:predict",))
    right = [{"out": 2.0, "args_after": [[1.0], {}], "error": None, "delegated": []}]
    ref = [{"out": 2.0, "error": None}]
    trials = check.draw()
    assert judge_question(check, 3, trials, right, ref, "def f(x):\n    return 2 * x").score == 3
    flagged = [{**right[0], "delegated": ["coursekit.perceptron:predict"]}]
    result = judge_question(check, 3, trials, flagged, ref, "def f(x):\n    return 2 * x")
    assert result.score == 0 and "delegates to the library (coursekit.perceptron.predict)" in result.flags[0]


def test_changing_an_input_in_place_fails_the_trial():
    check = Check("test_f", lambda rng: [Trial("t", "f", (np.ones(2),))], seed=0)
    trials = check.draw()
    mutated = [{"out": np.ones(2), "args_after": [[np.zeros(2)], {}], "error": None, "delegated": []}]
    result = judge_question(check, 2, trials, mutated, [{"out": np.ones(2), "error": None}], "")
    assert result.score == 0 and result.failures[0].message == (
        "changed its argument 0 in place; return new values instead")
    # a list of arrays (caches) popped, and a keyword argument, are named too
    draw = lambda rng: [Trial("t", "g", (1.0, [np.ones(2), np.ones(2)]), {"lr": np.ones(1)})]
    check = Check("test_g", draw, seed=0)
    trials = check.draw()
    for after, named in (([[1.0, [np.ones(2)]], {"lr": np.ones(1)}], "argument 1"),
                         ([[1.0, [np.ones(2), np.ones(2)]], {"lr": np.zeros(1)}], "argument 'lr'")):
        got = [{"out": 1.0, "args_after": after, "error": None, "delegated": []}]
        result = judge_question(check, 2, trials, got, [{"out": 1.0, "error": None}], "")
        assert result.score == 0 and f"changed its {named} in place" in result.failures[0].message


def test_without_bubblewrap_grading_warns_and_goes_on(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.warns(sandbox.SandboxWarning, match="without isolation"):
        argv = sandbox.kernel_argv(tmp_path, [tmp_path / "hidden"], 2**30)
    assert argv[0] != "bwrap" and "ipykernel_launcher" in argv[2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sandbox.kernel_argv(tmp_path, [], 2**30, isolate=False)  # asked for no isolation: no warning


def test_the_sandbox_keeps_what_the_kernel_needs_under_tmp(monkeypatch):
    # A virtual environment in /tmp (and a coursekit checked out there) would vanish under the
    # sandbox's empty /tmp: they are bound back in. /usr and the like need nothing.
    monkeypatch.setattr(sandbox.sys, "prefix", "/tmp/ck-venv")
    monkeypatch.setattr(sandbox.sys, "base_prefix", "/usr")
    needed = sandbox._needed_under_tmp()
    assert Path("/tmp/ck-venv").resolve() in needed
    assert all(Path("/tmp").resolve() in p.parents for p in needed)
    assert not any(p in (Path("/usr"), Path("/")) for p in needed)
    monkeypatch.setattr(sandbox.sys, "prefix", "/opt/ck-venv")  # outside /tmp: nothing to bind back
    assert Path("/opt/ck-venv") not in sandbox._needed_under_tmp()


def test_kernel_sockets_go_where_their_paths_fit(tmp_path, short_tmp):
    # A Unix socket's path has at most 107 bytes: a deep scratch folder sends them to /tmp.
    from coursekit.grading import kernel

    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    here = kernel._socket_folder(short_tmp)
    assert here.parent == short_tmp
    moved = kernel._socket_folder(deep)
    try:
        assert moved.parent == Path(kernel.SHORT_TMP) and list(deep.iterdir()) == []
    finally:
        moved.rmdir()


def test_records_are_json_and_npz_only(tmp_path):
    record.save(tmp_path / "v", [np.ones(2), 1])
    assert json.loads((tmp_path / "v").read_text())["kind"] == "list"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v", "v.npz"]


def test_a_kernel_inherits_no_secrets_from_the_grader(monkeypatch, tmp_path):
    monkeypatch.setenv("PGPASSWORD", "hunter2")
    monkeypatch.setenv("GITHUB_TOKEN", "abc")
    env = sandbox.kernel_env(tmp_path)
    assert "PGPASSWORD" not in env and "GITHUB_TOKEN" not in env
    assert env["HOME"] == str(tmp_path) and env["OPENBLAS_NUM_THREADS"] == "1" and "PATH" in env


@pytest.mark.parametrize(
    "source",
    [
        "import coursekit.layers as L\ndef f(d, x):\n    return L.sigmoid_backward(d, x)",
        "from coursekit import layers as lay\ndef f(d, x):\n    return lay.sigmoid_backward(d, x)",
        "from coursekit import layers\ndef f(d, x):\n    return layers.sigmoid_backward(d, x)",
    ],
)
def test_static_delegation_follows_module_aliases(source):
    assert static_delegation(source, ("coursekit.layers:sigmoid_backward",)) == [
        "coursekit.layers:sigmoid_backward"]


def test_static_delegation_follows_an_alias_of_the_package():
    source = "import coursekit as ck\ndef f(X):\n    return ck.MLP([2, 1]).forward(X)"
    assert static_delegation(source, ("coursekit.mlp:MLP.forward",)) == ["coursekit.mlp:MLP.forward"]
    assert static_delegation("import numpy as ck\nck.MLP", ("coursekit.mlp:MLP.forward",)) == []


def squeezed(value):
    """``value`` with every array's axes of length 1 removed: a flattened answer."""
    if isinstance(value, tuple):
        return tuple(squeezed(v) for v in value)
    if isinstance(value, dict):
        return {k: squeezed(v) for k, v in value.items()}
    return np.squeeze(value) if isinstance(value, np.ndarray) else value


def flattening(function):
    return lambda *args, **kwargs: squeezed(function(*args, **kwargs))


def squeezed_output_bias_grad(two_layer_grads):
    def student(X, Y, params):  # db2 as np.sum(dZ2, axis=0).squeeze(): a number for one output
        loss, grads = two_layer_grads(X, Y, params)
        return loss, {**grads, "b2": np.squeeze(grads["b2"])}
    return student


def converged_before_the_limit(train_perceptron):
    def student(X, y, lr=1.0, max_epochs=100):
        w, b, epochs, _ = train_perceptron(X, y, lr, max_epochs)
        return w, b, epochs, epochs < max_epochs  # wrong when the last allowed epoch is the first clean one
    return student


def drawn_each_call(xor_relu_params):
    def student():  # another right network each call: the hidden layer scaled by a random c > 0
        W1, b1, W2, b2 = (np.asarray(p, dtype=float) for p in xor_relu_params())
        c = np.random.default_rng().uniform(0.5, 2.0)
        return c * W1, c * b1, W2 / c, b2
    return student


def through_da(logistic_grads):
    def student(w, b, x, y):
        a = 1.0 / (1.0 + np.exp(-(w @ x + b)))
        with np.errstate(divide="ignore", invalid="ignore"):
            dz = (-y / a + (1 - y) / (1 - a)) * a * (1 - a)
        return dz * x, dz
    return student


def another_default_activation(deep_forward):
    def student(X, params, activation="tanh"):
        return deep_forward(X, params, activation)
    return student


def at_least_one_epoch(train_two_layer):
    return lambda X, Y, hidden, lr, epochs, seed: train_two_layer(X, Y, hidden, lr, max(epochs, 1), seed)


def two_layers_only(train_network):
    return lambda X, y, sizes, **kwargs: train_network(X, y, [sizes[0], sizes[1], sizes[-1]], **kwargs)


@pytest.mark.parametrize(("assignment", "grade_id", "function", "wrong", "failed"), [
    ("01-perceptron", "test_predict", "predict", flattening, ["a batch of one example (m=1)"]),
    ("01-perceptron", "test_train_perceptron", "train_perceptron", converged_before_the_limit,
     ["OR gate, max_epochs = 4", "NAND gate, max_epochs = 6"]),
    ("02-xor", "test_xor_gates", "xor_gates", flattening, ["a batch of one example (m=1)"]),
    ("02-xor", "test_xor_relu_params", "xor_relu_params", drawn_each_call, ["the trials together"]),
    ("03-chain-rule", "test_logistic_grads", "logistic_grads", through_da,
     ["a saturated at 1 (z = 40), y = 1", "a saturated at 1 (z = 40), y = 0"]),
    ("04-two-layer", "test_two_layer_forward", "two_layer_forward", flattening,
     ["one output, one example (2-3-1, m=1)"]),
    ("04-two-layer", "test_two_layer_grads", "two_layer_grads", squeezed_output_bias_grad,
     ["one output, one example (2-3-1, m=1)"]),
    ("04-two-layer", "test_train_two_layer", "train_two_layer", at_least_one_epoch,
     ["epochs = 0: the initial weights, and no losses"]),
    ("05-deep-backprop", "test_deep_forward", "deep_forward", another_default_activation,
     ["the default activation (relu)"]),
    ("05-deep-backprop", "test_train_network", "train_network", two_layers_only,
     ["circles, [2, 16, 16, 2] tanh (three layers)"]),
])
def test_the_judges_catch_what_the_notebooks_hidden_tests_catch(assignment, grade_id, function, wrong, failed,
                                                               monkeypatch, tmp_path):
    reference = solution(assignment)[function]
    (tmp_path / "right").mkdir()
    (tmp_path / "wrong").mkdir()
    right = judged(assignment, grade_id, {function: reference}, {function: reference}, monkeypatch,
                   tmp_path / "right")
    assert right.score == 2.0, right.failures
    caught = judged(assignment, grade_id, {function: reference}, {function: wrong(reference)}, monkeypatch,
                    tmp_path / "wrong")
    assert caught.score == 0.0 and [f.trial for f in caught.failures] == failed, caught.failures


def as_list(function):
    return lambda *args, **kwargs: list(function(*args, **kwargs))


@pytest.mark.parametrize(("assignment", "grade_id", "function"), [
    ("01-perceptron", "test_perceptron_update", "perceptron_update"),
    ("01-perceptron", "test_train_perceptron", "train_perceptron"),
    ("02-xor", "test_xor_relu_params", "xor_relu_params"),
    ("02-xor", "test_collapse", "collapse"),
    ("03-chain-rule", "test_logistic_grads", "logistic_grads"),
    ("04-two-layer", "test_two_layer_grads", "two_layer_grads"),
    ("04-two-layer", "test_train_two_layer", "train_two_layer"),
    ("05-deep-backprop", "test_l2_term", "l2_term"),
])
def test_several_values_returned_as_a_list_pass_the_notebook_and_the_grader_alike(assignment, grade_id,
                                                                                   function, monkeypatch,
                                                                                   tmp_path):
    reference = solution(assignment)[function]
    run_test_cell(assignment, grade_id, {function: as_list(reference)})  # raises if it fails
    result = judged(assignment, grade_id, {function: reference}, {function: as_list(reference)}, monkeypatch,
                    tmp_path)
    assert result.score == 2.0, result.failures


@pytest.mark.parametrize("threshold", ["perceptron.predict", "step_forward"])
def test_xor_gates_that_leave_the_threshold_to_the_library_score_nothing(threshold, monkeypatch, tmp_path):
    from coursekit import perceptron
    from coursekit.layers import step_forward

    notebook = solution("02-xor")

    def unit(inputs, w, b):
        if threshold == "perceptron.predict":
            return perceptron.predict(inputs, w, b)
        return step_forward(inputs @ w + b)[0].astype(int)

    def xor_gates(X, or_unit=notebook["OR_UNIT"], nand_unit=notebook["NAND_UNIT"],
                  and_unit=notebook["AND_UNIT"]):
        return unit(np.column_stack([unit(X, *or_unit), unit(X, *nand_unit)]), *and_unit)

    reference = notebook["xor_gates"]
    result = judged("02-xor", "test_xor_gates", {"xor_gates": reference}, {"xor_gates": xor_gates},
                    monkeypatch, tmp_path)
    assert result.score == 0.0 and not result.failures, result.failures  # right numbers, no points
    assert "delegates to the library" in result.flags[0]
