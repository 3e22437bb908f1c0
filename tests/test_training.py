"""The training loop, accuracy and the per-layer diagnostics."""

import numpy as np
import pytest
import torch

from coursekit import MLP, datasets, training


def test_minibatches_cover_every_row_once_per_epoch():
    rng = np.random.default_rng(0)
    batches = list(training.minibatches(10, 4, rng))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches)) == list(range(10))
    assert not np.array_equal(np.concatenate(batches), np.arange(10))  # shuffled


def test_full_batch_keeps_the_order():
    (batch,) = training.minibatches(5, None, np.random.default_rng(0))
    np.testing.assert_array_equal(batch, np.arange(5))


def test_minibatches_refuse_a_batch_size_below_1():
    with pytest.raises(ValueError, match="batch_size"):
        list(training.minibatches(5, 0, np.random.default_rng(0)))


def test_full_batch_training_is_plain_gradient_descent():
    X, y = datasets.plane_dataset("gaussian", n=40, seed=0)
    model = MLP([2, 3, 1], activation="tanh", loss="binary_cross_entropy", seed=1)
    twin = MLP([2, 3, 1], activation="tanh", loss="binary_cross_entropy", seed=1)
    history = training.train(model, X, y, epochs=5, lr=0.2, progress=False)
    losses = []
    for _ in range(5):  # the same updates written out
        loss, grads = twin.loss(X, y)
        twin.step(grads, 0.2)
        losses.append(loss)
    np.testing.assert_allclose(history.loss, losses)
    for name in model.params:
        np.testing.assert_allclose(model.params[name], twin.params[name])


def test_training_records_every_epoch_and_learns():
    X, y = datasets.plane_dataset("moons", n=200, noise=0.02, seed=0)
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, 0.25, seed=0)
    model = MLP([2, 16, 1], activation="tanh", loss="binary_cross_entropy", seed=0)
    seen = []
    history = training.train(model, X_train, y_train, epochs=60, lr=0.2, batch_size=16, seed=0,
                             X_test=X_test, y_test=y_test, progress=False,
                             callback=lambda epoch, h: seen.append((epoch, len(h.loss))))
    assert seen == [(e, e + 1) for e in range(60)]
    assert len(history.loss) == len(history.train_accuracy) == len(history.test_accuracy) == 60
    assert history.loss[-1] < 0.5 * history.loss[0]
    assert history.test_accuracy[-1] >= 0.9


def test_digits_reach_95_percent():
    X_train, X_test, y_train, y_test = datasets.digits(seed=0)
    model = MLP([64, 64, 10], activation="relu", loss="softmax_cross_entropy", seed=0)
    history = training.train(model, X_train, y_train, epochs=20, lr=0.1, batch_size=32,
                             X_test=X_test, y_test=y_test, progress=False)
    assert history.test_accuracy[-1] >= 0.95


def test_a_long_loop_shows_a_progress_bar(monkeypatch, capsys):
    X, y = datasets.plane_dataset("xor", n=20, seed=0)
    model = MLP([2, 2, 1], activation="tanh", loss="binary_cross_entropy", seed=0)
    training.train(model, X, y, epochs=3, lr=0.1, progress=False)
    assert "training" not in capsys.readouterr().err
    monkeypatch.setattr(training, "PROGRESS_DELAY", 0.0)  # every loop counts as long now
    training.train(model, X, y, epochs=3, lr=0.1)
    assert "training" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"epochs": -1, "lr": 0.1}, "epochs"), ({"epochs": 1, "lr": 0.0}, "lr")]
)
def test_train_refuses_bad_settings(kwargs, message):
    model = MLP([2, 1], loss="binary_cross_entropy")
    with pytest.raises(ValueError, match=message):
        training.train(model, np.zeros((3, 2)), np.zeros(3), **kwargs)


def test_train_refuses_mismatched_rows():
    model = MLP([2, 1], loss="binary_cross_entropy")
    with pytest.raises(ValueError, match="same number of rows"):
        training.train(model, np.zeros((3, 2)), np.zeros(4), epochs=1, lr=0.1)


def test_accuracy_reads_labels_and_one_hot_rows():
    model = MLP([2, 3], loss="softmax_cross_entropy", seed=0)
    X = np.random.default_rng(0).standard_normal((8, 2))
    labels = (X @ model.params["W1"].T + model.params["b1"]).argmax(axis=1)
    assert training.accuracy(model, X, labels) == 1.0
    assert training.accuracy(model, X, np.eye(3)[labels]) == 1.0
    wrong = labels.copy()
    wrong[:2] = (wrong[:2] + 1) % 3
    assert training.accuracy(model, X, wrong) == 0.75


def test_accuracy_thresholds_a_squared_error_output():
    model = MLP([1, 1], activation="relu", loss="squared_error", seed=0)
    model.params["W1"] = np.array([[1.0]])
    model.params["b1"] = np.array([0.0])
    X = np.array([[0.2], [0.7], [0.9]])
    assert training.accuracy(model, X, [0, 1, 0]) == pytest.approx(2 / 3)


def test_hidden_activations_and_gradient_norms_match_torch():
    model = MLP([3, 5, 4, 2], activation="tanh", loss="softmax_cross_entropy", seed=0)
    X = np.random.default_rng(1).standard_normal((6, 3))
    y = np.array([0, 1, 1, 0, 1, 0])
    Ws = [torch.tensor(model.params[f"W{l}"], requires_grad=True) for l in (1, 2, 3)]
    bs = [torch.tensor(model.params[f"b{l}"], requires_grad=True) for l in (1, 2, 3)]
    A = torch.tensor(X)
    hidden = []
    for W, b in zip(Ws[:2], bs[:2], strict=True):
        A = torch.tanh(A @ W.T + b)
        hidden.append(A)
    logits = A @ Ws[2].T + bs[2]
    torch.nn.functional.cross_entropy(logits, torch.tensor(y)).backward()

    got = training.hidden_activations(model, X)
    assert len(got) == 2
    for mine, theirs in zip(got, hidden, strict=True):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-12)
    _, grads = model.loss(X, y)
    np.testing.assert_allclose(training.gradient_norms(grads),
                               [float(W.grad.norm()) for W in Ws], rtol=1e-10)


def test_gradient_norms_go_by_layer_number():
    grads = {f"W{l}": np.full((2, 2), float(l)) for l in (10, 2, 1)}
    np.testing.assert_allclose(training.gradient_norms(grads), [2.0, 4.0, 20.0])


def test_accuracy_of_several_sigmoid_outputs_counts_each_output():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([[1, 0], [0, 1], [1, 1]])
    net = MLP([2, 3, 2], loss="binary_cross_entropy", seed=0)
    predicted = net.predict(X)
    assert predicted.shape == (3, 2)
    assert training.accuracy(net, X, y) == np.mean(predicted == y)
    history = training.train(net, X, y, epochs=3, lr=0.1, progress=False)
    assert len(history.train_accuracy) == 3
    with pytest.raises(ValueError, match=r"shape \(3, 2\) for 3 rows of X; got shape \(3,\)"):
        training.accuracy(net, X, np.ones(3))


def test_a_bad_test_set_is_refused_before_the_model_changes():
    X, y = datasets.xor()
    net = MLP([2, 3, 1], seed=0)
    before = net.params["W1"].copy()
    for test_set, message in [
        ({"X_test": X}, "give both or neither"),
        ({"X_test": X, "y_test": y[:2]}, "same number of rows, got 4 and 2"),
        ({"X_test": np.ones((4, 3)), "y_test": y}, r"rows like X's, shape \(m, 2\)"),
    ]:
        with pytest.raises(ValueError, match=message):
            training.train(net, X, y, epochs=2, lr=0.1, progress=False, **test_set)
        np.testing.assert_array_equal(net.params["W1"], before)


def test_accuracy_names_the_shape_it_was_given():
    net = MLP([2, 4, 3], loss="softmax_cross_entropy", seed=0)
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"got shape \(4, 3\)"):
        training.accuracy(net, X, np.eye(3)[[0, 1, 2, 0]])


def test_gradient_norms_need_the_networks_names():
    grads = {f"W{l}": np.full((2, 2), float(l)) for l in (1, 2, 10)}
    np.testing.assert_allclose(training.gradient_norms(grads), [2.0, 4.0, 20.0])  # W10 last
    with pytest.raises(ValueError, match="got 'Wout'"):
        training.gradient_norms({"Wout": np.ones(2)})


def test_test_targets_of_the_wrong_shape_are_refused_before_training():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    net = MLP([2, 3, 2], loss="binary_cross_entropy", seed=0)
    before = net.params["W1"].copy()
    with pytest.raises(ValueError, match=r"got shape \(4,\)"):
        training.train(net, X, y, epochs=1, lr=0.1, progress=False, X_test=X, y_test=np.ones(4))
    np.testing.assert_array_equal(net.params["W1"], before)
