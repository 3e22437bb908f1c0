"""Training loops for :class:`coursekit.MLP`: mini-batch gradient descent, accuracy, diagnostics.

A loop that runs longer than a second shows a ``tqdm.auto`` progress bar (a widget in Jupyter,
text elsewhere); a shorter one prints nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from coursekit.mlp import MLP

__all__ = [
    "History",
    "accuracy",
    "gradient_norms",
    "hidden_activations",
    "minibatches",
    "train",
]

#: Seconds a loop runs before its progress bar appears.
PROGRESS_DELAY = 1.0


def minibatches(m: int, batch_size: int | None, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Row indices of one epoch: a fresh shuffle cut into batches of ``batch_size``.

    The last batch is smaller when ``batch_size`` does not divide ``m``; ``None`` gives one batch
    of all ``m`` rows, in order (full-batch gradient descent).
    """
    if batch_size is None or batch_size >= m:
        yield np.arange(m)
        return
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = rng.permutation(m)
    for start in range(0, m, batch_size):
        yield order[start : start + batch_size]


def accuracy(model: MLP, X, y) -> float:
    """Share of correct predictions on ``X``.

    Parameters
    ----------
    model : MLP
    X : array, shape (m, sizes[0])
    y : array
        Class labels (m,) or one-hot rows (m, k); with ``binary_cross_entropy``, 0/1 targets of
        the output's shape ((m,) for one output), and each output of each row counts.

    Returns
    -------
    float
    """
    predicted = model.predict(X)
    if model.loss_name == "squared_error":  # a real-valued output: threshold or argmax it
        predicted = (predicted[:, 0] >= 0.5).astype(int) if predicted.shape[1] == 1 else predicted.argmax(1)
    y = given = np.asarray(y)
    if model.loss_name != "binary_cross_entropy" and y.ndim == 2 and y.shape[1] > 1:  # one-hot
        y = y.argmax(axis=1)
    if y.shape[:1] != predicted.shape[:1] or y.size != predicted.size:
        raise ValueError(
            f"y must hold a target for each prediction, shape {predicted.shape} for {len(predicted)} "
            f"rows of X; got shape {given.shape}"
        )
    return float(np.mean(predicted == y.reshape(predicted.shape)))


@dataclass
class History:
    """What :func:`train` recorded, one entry per epoch.

    Attributes
    ----------
    loss : list of float
        Mean training loss over the epoch's batches (L2 term included).
    train_accuracy, test_accuracy : list of float
        Accuracy after each epoch; ``test_accuracy`` is empty without test data.
    """

    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)


def train(
    model: MLP,
    X,
    y,
    *,
    epochs: int,
    lr: float,
    batch_size: int | None = None,
    seed: int | np.random.Generator | None = 0,
    X_test=None,
    y_test=None,
    progress: bool = True,
    callback: Callable[[int, History], None] | None = None,
) -> History:
    """Train ``model`` in place by mini-batch gradient descent.

    Parameters
    ----------
    model : MLP
    X : array, shape (m, sizes[0])
    y : array
        Targets as :meth:`MLP.loss` takes them.
    epochs : int
        Passes over the data.
    lr : float
        Learning rate.
    batch_size : int, optional
        Rows per update; ``None`` for full-batch gradient descent.
    seed : int or numpy.random.Generator, optional
        Source of the shuffles.
    X_test, y_test : arrays, optional
        Held-out data whose accuracy is recorded after every epoch.
    progress : bool, default True
        Show a progress bar if the loop runs longer than :data:`PROGRESS_DELAY` seconds.
    callback : callable, optional
        Called as ``callback(epoch, history)`` after every epoch.

    Returns
    -------
    History
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if lr <= 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same number of rows, got {len(X)} and {len(y)}")
    if (X_test is None) != (y_test is None):
        raise ValueError("X_test and y_test go together: give both or neither")
    if X_test is not None:  # checked now, not after an epoch has changed the model
        X_test, y_test = np.asarray(X_test), np.asarray(y_test)
        if X_test.shape[1:] != X.shape[1:]:
            row = ", ".join(map(str, X.shape[1:]))
            raise ValueError(f"X_test must have rows like X's, shape (m, {row}); got {X_test.shape}")
        if len(X_test) != len(y_test):
            raise ValueError(
                f"X_test and y_test must have the same number of rows, got {len(X_test)} and "
                f"{len(y_test)}"
            )
        accuracy(model, X_test, y_test)  # the targets' shape, as each epoch will read them
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    history = History()
    bar = tqdm(range(epochs), desc="training", unit="epoch", delay=PROGRESS_DELAY,
               disable=not progress, leave=False)
    for epoch in bar:
        losses, sizes = [], []
        for rows in minibatches(len(X), batch_size, rng):
            loss, grads = model.loss(X[rows], y[rows])
            model.step(grads, lr)
            losses.append(loss)
            sizes.append(len(rows))
        history.loss.append(float(np.average(losses, weights=sizes)))
        history.train_accuracy.append(accuracy(model, X, y))
        if X_test is not None:
            history.test_accuracy.append(accuracy(model, X_test, y_test))
        bar.set_postfix(loss=f"{history.loss[-1]:.4f}", refresh=False)
        if callback is not None:
            callback(epoch, history)
    return history


def hidden_activations(model: MLP, X) -> list[np.ndarray]:
    """The output ``A_l`` of every hidden layer for a batch, first hidden layer first.

    Returns
    -------
    list of arrays, shapes (m, sizes[l]) for l = 1 .. L-1
    """
    _, caches = model.forward_logits(X)
    return [cache.activation.a for cache in caches[:-1]]


def gradient_norms(grads: dict[str, np.ndarray]) -> np.ndarray:
    """The Frobenius norm of each layer's weight gradient ``dW_l``, layer 1 first.

    Parameters
    ----------
    grads : dict of str to array
        As :meth:`MLP.loss` returns them (keys ``W1, b1, W2, ...``).

    Returns
    -------
    float array, shape (L,)
    """
    layers = {}
    for name in grads:
        if name.startswith("W"):
            if not name[1:].isdigit():
                raise ValueError(
                    f"weight gradients are named W1, W2, ... as MLP.loss returns them; got {name!r}"
                )
            layers[int(name[1:])] = name
    return np.array([np.linalg.norm(grads[layers[l]]) for l in sorted(layers)])
