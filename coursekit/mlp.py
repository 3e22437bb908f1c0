"""A fully connected network built from the primitives in :mod:`coursekit.layers`."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from coursekit._validation import as_float_array, check_choice, check_ndim
from coursekit.init import INITS, default_init, init_layer
from coursekit.layers import (
    ACTIVATIONS,
    ActivationCache,
    LinearCache,
    get_activation,
    linear_backward,
    linear_forward,
    sigmoid,
)
from coursekit.losses import LOSSES, REDUCTIONS, l2_penalty, softmax

__all__ = ["MLP", "LayerCache"]

#: The output unit each loss works on. The cross-entropies take the logits, so their output
#: non-linearity is part of the loss.
OUTPUT_FOR_LOSS = {"softmax_cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}


class LayerCache(NamedTuple):
    """One layer's caches from a forward pass: the linear part and the activation."""

    linear: LinearCache
    activation: ActivationCache | None


class MLP:
    """A multilayer perceptron: ``sizes[0]`` inputs, hidden layers, ``sizes[-1]`` outputs.

    Layer ``l`` (numbered from 1) has ``W{l}`` of shape ``(sizes[l], sizes[l-1])`` and ``b{l}`` of
    shape ``(sizes[l],)``. For a batch ``X`` of shape (m, n_in)::

        A0 = X;  Z_l = A_{l-1} @ W_l.T + b_l;  A_l = g(Z_l);  output = out(Z_L)

    The loss is the data term plus ``l2/2 * sum_l ||W_l||^2`` (biases are not penalised).

    Parameters
    ----------
    sizes : sequence of int
        Units per layer, input first, e.g. ``[2, 3, 1]`` (13 parameters).
    activation : str, default "relu"
        Hidden non-linearity: one of :data:`coursekit.layers.ACTIVATIONS`.
    output : str, optional
        Output non-linearity. ``"softmax"`` or ``"sigmoid"`` with the matching cross-entropy;
        any activation name with ``"squared_error"``. Defaults to what the loss implies
        (``"identity"`` for squared error).
    loss : {"squared_error", "binary_cross_entropy", "softmax_cross_entropy"}
    init : {"zeros", "uniform", "small", "xavier", "he"}, optional
        Defaults to He for ReLU-like activations and Xavier otherwise.
    l2 : float, default 0.0
        Weight-decay strength ``lambda``.
    seed : int or numpy.random.Generator, optional
        Source of the initial weights.
    reduction : {"mean", "sum"}, default "mean"
        How the data term is reduced over the batch.
    dtype : numpy dtype, default float64

    Attributes
    ----------
    params : dict of str to array
        ``W1, b1, W2, b2, ...``; read them or assign new arrays of the same shapes. Integer
        arrays and nested lists are stored as float arrays when the network next uses them.
    """

    def __init__(
        self,
        sizes,
        activation: str = "relu",
        output: str | None = None,
        loss: str = "squared_error",
        init: str | None = None,
        l2: float = 0.0,
        seed: int | np.random.Generator | None = None,
        reduction: str = "mean",
        dtype=np.float64,
    ):
        sizes = [int(n) for n in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(
                f"sizes needs at least an input and an output size, all >= 1; got {sizes}"
            )
        get_activation(activation)
        check_choice(loss, LOSSES, "loss")
        required = OUTPUT_FOR_LOSS.get(loss)
        if output is None:
            output = required or "identity"
        if required and output != required:
            raise ValueError(f"loss {loss!r} needs output={required!r}, got output={output!r}")
        if not required:
            check_choice(output, ACTIVATIONS, "output activation")
        init = init or default_init(activation)
        check_choice(init, INITS, "init scheme")
        check_choice(reduction, REDUCTIONS, "reduction")
        if l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {l2}")
        if loss == "softmax_cross_entropy" and sizes[-1] < 2:
            raise ValueError("softmax cross-entropy needs at least 2 output units")

        self.sizes = sizes
        self.activation = activation
        self.output = output
        self.loss_name = loss
        self.init = init
        self.l2 = float(l2)
        self.reduction = reduction
        self.dtype = np.dtype(dtype)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.params: dict[str, np.ndarray] = {}
        for l in range(1, len(sizes)):
            W, b = init_layer(sizes[l - 1], sizes[l], init, rng, self.dtype)
            self.params[f"W{l}"] = W
            self.params[f"b{l}"] = b

    @property
    def n_layers(self) -> int:
        """Number of layers with weights (hidden layers plus the output layer)."""
        return len(self.sizes) - 1

    def n_params(self) -> int:
        """Total number of weights and biases."""
        return sum(p.size for p in self.params.values())

    def __repr__(self) -> str:
        return (
            f"MLP(sizes={self.sizes}, activation={self.activation!r}, output={self.output!r}, "
            f"loss={self.loss_name!r}, init={self.init!r}, l2={self.l2})"
        )

    # -- forward -------------------------------------------------------------------------------

    def forward_logits(self, X) -> tuple[np.ndarray, list[LayerCache]]:
        """Run every layer; return the last pre-activation ``Z_L`` and each layer's caches.

        ``Z_L`` has shape (m, sizes[-1]). For the squared-error loss the output activation is
        applied too and recorded in the last cache; the cross-entropies take ``Z_L`` itself.
        """
        A = self._check_input(X)
        self._check_params()
        hidden_forward = ACTIVATIONS[self.activation][0]
        caches: list[LayerCache] = []
        L = self.n_layers
        for l in range(1, L + 1):
            Z, linear_cache = linear_forward(A, self.params[f"W{l}"], self.params[f"b{l}"])
            if l < L:
                A, act_cache = hidden_forward(Z)
                caches.append(LayerCache(linear_cache, act_cache))
            else:
                act_cache = None
                if self.loss_name == "squared_error":
                    A, act_cache = ACTIVATIONS[self.output][0](Z)
                caches.append(LayerCache(linear_cache, act_cache))
        return (A if self.loss_name == "squared_error" else Z), caches

    def forward(self, X) -> np.ndarray:
        """Network output for a batch.

        Parameters
        ----------
        X : array, shape (m, sizes[0])

        Returns
        -------
        array, shape (m, sizes[-1])
            Class probabilities for the cross-entropies, the output activation otherwise.
        """
        out, _ = self.forward_logits(X)
        if self.loss_name == "softmax_cross_entropy":
            return softmax(out)
        if self.loss_name == "binary_cross_entropy":
            return sigmoid(out)
        return out

    def predict(self, X) -> np.ndarray:
        """Predictions for a batch.

        Returns
        -------
        array
            Class labels of shape (m,) for the cross-entropy losses (argmax of the softmax,
            or ``p >= 0.5`` per output for a sigmoid); the network's output for squared error.
        """
        out = self.forward(X)
        if self.loss_name == "softmax_cross_entropy":
            return out.argmax(axis=1)
        if self.loss_name == "binary_cross_entropy":
            labels = (out >= 0.5).astype(int)
            return labels[:, 0] if labels.shape[1] == 1 else labels
        return out

    # -- loss and gradients --------------------------------------------------------------------

    def loss(self, X, y) -> tuple[float, dict[str, np.ndarray]]:
        """Loss on a batch and its gradient with respect to every parameter.

        Parameters
        ----------
        X : array, shape (m, sizes[0])
        y : array
            Integer labels (m,) or one-hot (m, k) for softmax cross-entropy; targets of shape
            (m, sizes[-1]) otherwise, or (m,) when there is a single output.

        Returns
        -------
        loss : float
        grads : dict of str to array
            Same keys and shapes as :attr:`params`.
        """
        out, caches = self.forward_logits(X)
        if self.loss_name != "softmax_cross_entropy":  # which takes labels or one-hot rows itself
            y = self._targets(y, out.shape)
        loss, dout = LOSSES[self.loss_name](out, y, self.reduction)
        grads = self.backward(dout, caches)
        if self.l2:
            names = [f"W{l}" for l in range(1, self.n_layers + 1)]
            penalty, dWs = l2_penalty((self.params[n] for n in names), self.l2)
            loss += penalty
            for name, dW in zip(names, dWs, strict=True):
                grads[name] += dW
        return loss, grads

    def backward(self, dout, caches: list[LayerCache]) -> dict[str, np.ndarray]:
        """Backpropagate ``dout`` through the caches of :meth:`forward_logits`.

        ``dout`` is the gradient with respect to what :meth:`forward_logits` returned. The data
        term's gradients are returned; :meth:`loss` adds the L2 term.
        """
        hidden_backward = ACTIVATIONS[self.activation][1]
        grads: dict[str, np.ndarray] = {}
        dA = as_float_array(dout, "dout")
        for l in range(self.n_layers, 0, -1):
            linear_cache, act_cache = caches[l - 1]
            if l == self.n_layers:
                dZ = ACTIVATIONS[self.output][1](dA, act_cache) if act_cache is not None else dA
            else:
                dZ = hidden_backward(dA, act_cache)
            dA, grads[f"W{l}"], grads[f"b{l}"] = linear_backward(dZ, linear_cache)
        return {name: grads[name] for name in self.params}  # W1, b1, W2, ... as in params

    def step(self, grads: dict[str, np.ndarray], lr: float) -> None:
        """One gradient-descent update, ``p -= lr * grads[p]``, in place on :attr:`params`."""
        self._check_params()
        for name, p in self.params.items():
            p -= lr * grads[name]

    # -- checks --------------------------------------------------------------------------------

    def _check_input(self, X) -> np.ndarray:
        X = as_float_array(X, "X")
        check_ndim(X, 2, "X", f"(m, {self.sizes[0]})")
        if X.shape[1] != self.sizes[0]:
            raise ValueError(f"X must have shape (m, {self.sizes[0]}), got {X.shape}")
        return X.astype(self.dtype, copy=False)

    def _check_params(self) -> None:
        """Check the shapes of :attr:`params`, and store assigned non-float values as floats.

        A learner may assign ``np.array([[2, -1], [-2, -1]])`` or a nested list; it is kept as a
        float array of the network's dtype, so that :meth:`step` can update it in place.
        """
        for l in range(1, self.n_layers + 1):
            W_shape = (self.sizes[l], self.sizes[l - 1])
            for name, shape in ((f"W{l}", W_shape), (f"b{l}", (self.sizes[l],))):
                p = self.params.get(name)
                if p is None:
                    raise KeyError(
                        f"params has no {name!r}; expected keys {self._expected_keys()}"
                    )
                if not (isinstance(p, np.ndarray) and np.issubdtype(p.dtype, np.floating)):
                    p = as_float_array(p, f"params[{name!r}]").astype(self.dtype)
                if p.shape != shape:
                    raise ValueError(f"params[{name!r}] must have shape {shape}, got {p.shape}")
                if p is not self.params[name]:
                    self.params[name] = p

    def _expected_keys(self) -> list[str]:
        return [f"{kind}{l}" for l in range(1, self.n_layers + 1) for kind in "Wb"]

    def _targets(self, y, out_shape) -> np.ndarray:
        y = as_float_array(y, "y")
        if y.ndim == 1 and out_shape[1] == 1:
            y = y[:, None]
        if y.shape != out_shape:
            raise ValueError(
                f"y must have shape {out_shape} (or ({out_shape[0]},) for one output), "
                f"got {y.shape}"
            )
        return y
