"""A fully connected network built from the primitives in :mod:`coursekit.layers`."""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from coursekit._validation import (
    as_float_array,
    check_choice,
    check_l2_strength,
    check_ndim,
    check_same_shape,
)
from coursekit.init import INITS, default_init, init_layer
from coursekit.layers import (
    ACTIVATIONS,
    KERNELS,
    ActivationCache,
    LinearCache,
    affine,
    affine_input_grad,
    affine_param_grads,
    check_linear_upstream,
    get_activation,
    sigmoid,
)
from coursekit.losses import (
    LOSSES,
    REDUCTIONS,
    _softmax_cross_entropy,
    l2_penalty,
    softmax,
    softmax_targets,
)

__all__ = ["MLP", "LayerCache"]

#: The output unit each loss works on. The cross-entropies take the logits, so their output
#: non-linearity is part of the loss.
OUTPUT_FOR_LOSS = {"softmax_cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}


class LayerCache(NamedTuple):
    """One layer's caches from a forward pass: the linear part and the activation."""

    linear: LinearCache
    activation: ActivationCache | None


class _Buffers(NamedTuple):
    """Arrays a training step writes in: each layer's output, and one for input gradients."""

    Z: list[np.ndarray]  #: layer l's pre-activation (n_l, m), then its activation over it
    dA: np.ndarray  #: flat, for the gradient with respect to the input of the layer at hand
    dA_in: list[np.ndarray | None]  #: [l - 1]: gradient of layer l's input (n_{l-1}, m), a view of dA


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
    dtype : numpy floating dtype, default float64
        float64 or float32 (the parameters, the layer outputs and the gradients).

    Attributes
    ----------
    params : dict of str to array
        ``W1, b1, W2, b2, ...``; read them or assign new arrays of the same shapes. Integer
        arrays and nested lists are stored as float arrays when the network next uses them.

    Notes
    -----
    The initial parameters are views of one flat array, and :meth:`loss` returns its gradients
    as views of one flat array too, so that :meth:`step` can update every parameter with a
    couple of operations on that array. An assigned array works as well; its update is done
    on its own.
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
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Iterable):
            raise TypeError(f"sizes must be a sequence of whole numbers such as [2, 3, 1], got {sizes!r}")
        sizes = list(sizes)
        if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in sizes):
            raise TypeError(f"sizes must be a sequence of whole numbers such as [2, 3, 1], got {sizes!r}")
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
        check_l2_strength(l2, "l2")
        if np.dtype(dtype).kind != "f":
            raise TypeError(
                f"dtype must be a floating-point type such as np.float64 or np.float32, got {dtype!r}"
            )
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
        #: (W name, b name, W shape, b shape) per layer, for the checks on every batch.
        self._layout = [
            (f"W{l}", f"b{l}", (sizes[l], sizes[l - 1]), (sizes[l],)) for l in range(1, len(sizes))
        ]
        self._names = tuple(name for W_name, b_name, _, _ in self._layout for name in (W_name, b_name))
        #: (slice of the flat arrays of parameters and gradients, shape to give it, or None when
        #: it is 1-D already) per parameter, in the order of _names
        self._parts: list[tuple[slice, tuple | None]] = []
        start = 0
        for _, _, W_shape, b_shape in self._layout:
            for shape in (W_shape, b_shape):
                stop = start + math.prod(shape)
                self._parts.append((slice(start, stop), shape if len(shape) > 1 else None))
                start = stop
        self._n_params = start
        self._checked_names: tuple = ()  # names and arrays of params when they last passed _check_params
        self._checked: tuple = ()
        self._params_flat = False  # whether params are the views of self._flat, as first made
        self._last_grads: tuple | None = None  # (flat gradient, its views) last returned
        self._workspace: dict[int, _Buffers] = {}  # batch size -> arrays, see _take_buffers
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self._flat = np.empty(self._n_params, self.dtype)
        self._flat_views = self._split(self._flat)
        self.params: dict[str, np.ndarray] = dict(zip(self._names, self._flat_views, strict=True))
        for l in range(1, len(sizes)):
            W, b = init_layer(sizes[l - 1], sizes[l], init, rng, self.dtype)
            self.params[f"W{l}"][...] = W
            self.params[f"b{l}"][...] = b

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
        """Run every layer; return what the loss takes, and each layer's caches.

        That is the last pre-activation ``Z_L``, of shape (m, sizes[-1]), for the cross-entropies,
        which take the logits; for squared error it is the output activation ``out(Z_L)``, whose
        cache is the last one's.
        """
        out, caches = self._forward(self._checked_input(X), None)
        return out, [LayerCache(LinearCache(x, W), act) for x, W, act in caches]

    def _forward(self, A: np.ndarray, buffers: _Buffers | None) -> tuple[np.ndarray, list[tuple]]:
        """:meth:`forward_logits` of a checked input, into ``buffers`` if given (see :meth:`loss`).

        Each layer's cache is a plain tuple ``(input, W, activation cache)``, quicker to make.
        When numpy refuses a product, the parameters are checked again in full (see
        :meth:`_check_params_again`), so that a parameter reshaped in place is named.
        """
        hidden, _ = KERNELS[self.activation]
        squared_error = self.loss_name == "squared_error"
        params = self.params
        caches = []
        last = self.n_layers - 1
        outputs = [None] * self.n_layers if buffers is None else buffers.Z
        # When the backward needs only the activation (or its sign), it may overwrite Z.
        in_place = buffers is not None and self.activation in IN_PLACE
        for l, (W_name, b_name, _, _) in enumerate(self._layout):
            W = params[W_name]
            x = A
            try:
                Z = affine(x, W, params[b_name], outputs[l])
            except ValueError:
                self._check_params_again()
                raise
            if l < last:
                A, act_cache = hidden(Z, Z if in_place else None)
            elif squared_error:
                A, act_cache = KERNELS[self.output][0](Z)
            else:
                act_cache = None
            caches.append((x, W, act_cache))
        return (A if squared_error else Z), caches

    def _take_buffers(self, m: int) -> _Buffers:
        """The arrays a training step on a batch of ``m`` examples writes its layer outputs in.

        A fresh array of a few hundred KiB or more costs more than the arithmetic done in it:
        the system maps its pages again, one fault per 4 KiB. So :meth:`loss`, whose layer outputs
        never leave it, keeps them from step to step (:meth:`_keep_buffers`), for the last few
        batch sizes. They are taken out of the workspace while a call uses them: another thread
        training the same network meanwhile makes its own.
        """
        buffers = self._workspace.pop(m, None)
        if buffers is None:
            Z = [np.empty((n, m), self.dtype) for n in self.sizes[1:]]
            dA = np.empty(max(self.sizes[1:-1], default=0) * m, self.dtype)  # the widest hidden layer
            dA_in = [None] + [dA[: n * m].reshape(n, m) for n in self.sizes[1:-1]]
            buffers = _Buffers(Z, dA, dA_in)
        return buffers

    @property
    def scratch_nbytes(self) -> int:
        """Bytes of the arrays kept from one training step to the next (see :meth:`_take_buffers`)."""
        return sum(a.nbytes for kept in self._workspace.values() for a in (*kept.Z, kept.dA))

    def _keep_buffers(self, m: int, buffers: _Buffers) -> None:
        if m not in self._workspace and len(self._workspace) >= SCRATCH_BATCH_SIZES:
            self._workspace.clear()  # batch sizes keep changing: start again
        self._workspace[m] = buffers

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
        A = self._checked_input(X)
        m = A.shape[0]
        if m == 0:
            raise ValueError(f"X is empty: shape {A.shape}")
        # Reuse arrays only for the network's own flat parameters, all of its dtype.
        buffers = self._take_buffers(m) if self._params_flat else None
        try:
            out, caches = self._forward(A, buffers)
            if self.loss_name == "softmax_cross_entropy":  # labels or one-hot rows, checked there
                scale = 1.0 / m if self.reduction == "mean" else 1.0
                loss, dout = _softmax_cross_entropy(out, softmax_targets(y, m, out.shape[1]), scale)
            else:
                loss, dout = LOSSES[self.loss_name](out, self._targets(y, out.shape), self.reduction)
            grads = self._backward(dout, caches, buffers)
        finally:
            if buffers is not None:
                self._keep_buffers(m, buffers)
        if self.l2:
            names = [W_name for W_name, _, _, _ in self._layout]
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
        dout = as_float_array(dout, "dout").astype(self.dtype, copy=False)
        linear_cache, act_cache = caches[-1]
        if act_cache is not None:
            check_same_shape(dout, act_cache.z, "da", "the activation's input z")
        check_linear_upstream(dout, linear_cache)
        return self._backward(dout, [(*linear, act) for linear, act in caches], None)

    def _backward(
        self, dA: np.ndarray, caches: list[tuple], buffers: _Buffers | None
    ) -> dict[str, np.ndarray]:
        """:meth:`backward` without the checks, on the caches of :meth:`_forward`; it empties them.

        Each layer's cache is dropped once it has been used, so that its arrays can be freed
        while the earlier layers still run. With ``buffers`` (from :meth:`loss`, which owns
        ``dA``), gradients with respect to the layers' inputs are written into them and ``dA``
        may be overwritten.
        """
        _, hidden_grad = KERNELS[self.activation]
        self._last_grads = None  # free the previous flat gradient before making the next
        # For the network's own flat parameters, the gradients are views of one flat array too.
        grad_flat = np.empty(self._n_params, self.dtype) if self._params_flat else None
        grad_views = None if grad_flat is None else self._split(grad_flat)
        grads = {}
        L = self.n_layers
        # With buffers, dZ of an in-place activation goes over its activation (no longer needed:
        # the layer above has its gradients), so that dA's buffer is free for the next dA.
        in_place = buffers is not None and self.activation in IN_PLACE
        for l in range(L, 0, -1):
            x, W, act_cache = caches.pop()
            if l < L:  # dA is a product made here: it may be overwritten
                dZ = hidden_grad(dA, act_cache, act_cache.a if in_place else dA)
            elif act_cache is not None:
                dZ = KERNELS[self.output][1](dA, act_cache, dA if buffers else None)
            else:
                dZ = dA
            act_cache = None  # Z_l and A_l are not needed any more
            W_name, b_name, _, _ = self._layout[l - 1]
            grads[W_name], grads[b_name] = affine_param_grads(
                dZ, x, None if grad_views is None else grad_views[2 * l - 2 : 2 * l]
            )
            if l > 1:  # the input X needs no gradient
                out = None
                if buffers is not None and (in_place or l == L):  # dZ is not in buffers.dA
                    out = buffers.dA_in[l - 1]
                dA = affine_input_grad(dZ, W, out)
        if grad_views is not None:
            self._last_grads = (grad_flat, grad_views)
        return {name: grads[name] for name in self.params}  # W1, b1, W2, ... as in params

    def step(self, grads: dict[str, np.ndarray], lr: float) -> None:
        """One gradient-descent update, ``p -= lr * grads[p]``, in place on :attr:`params`."""
        self._check_params()
        last, self._last_grads = self._last_grads, None
        if (
            last is not None and self._params_flat and tuple(grads) == self._names
            and all(map(operator.is_, grads.values(), last[1]))
        ):
            # params and grads are the views of two flat arrays, laid out alike: update at once.
            _descend(self._flat, last[0], lr)
            return
        self._check_grads(grads)
        for name, p in self.params.items():
            _descend(p, grads[name], lr)

    def _check_grads(self, grads) -> None:
        """Raise unless ``grads`` has exactly the keys of :attr:`params`, each of its shape."""
        if not isinstance(grads, dict):
            raise TypeError(f"grads must be a dict like params, got {type(grads).__name__}")
        self._check_keys(grads, "grads")
        for name, p in self.params.items():
            if np.shape(grads[name]) != p.shape:
                raise ValueError(
                    f"grads[{name!r}] must have the shape of params[{name!r}], {p.shape}; "
                    f"got {np.shape(grads[name])}"
                )

    def _check_keys(self, mapping: dict, what: str) -> None:
        """Raise ``KeyError`` unless ``mapping`` has exactly the keys ``W1, b1, W2, ...``."""
        missing = [name for name in self._names if name not in mapping]
        if missing:
            raise KeyError(f"{what} has no {missing[0]!r}; expected keys {list(self._names)}")
        unexpected = [name for name in mapping if name not in self._names]
        if unexpected:
            raise KeyError(f"{what} has {unexpected[0]!r}, which this network has not; expected keys "
                           f"{list(self._names)}")

    def _split(self, flat: np.ndarray) -> tuple[np.ndarray, ...]:
        """Views of a flat array of every parameter's entries as ``W1, b1, W2, ...``."""
        return tuple([flat[part] if shape is None else flat[part].reshape(shape)
                      for part, shape in self._parts])

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_workspace"], state["_last_grads"] = {}, None  # scratch: not worth copying
        return state

    def __setstate__(self, state: dict) -> None:
        # In a copy (copy.deepcopy, pickle) each parameter is an array of its own, no longer a
        # view of the copied flat array, though it holds the same numbers: make it one again.
        self.__dict__.update(state)
        copied_views, self._flat_views = self._flat_views, self._split(self._flat)
        for name, copied, view in zip(self._names, copied_views, self._flat_views, strict=True):
            if self.params.get(name) is copied:
                self.params[name] = view
        self._checked_names = self._checked = ()  # check them afresh

    # -- checks --------------------------------------------------------------------------------

    def _checked_input(self, X) -> np.ndarray:
        """``X`` as an array of the network's dtype, after checking it and :attr:`params`."""
        self._check_params()
        if (
            isinstance(X, np.ndarray) and X.dtype == self.dtype
            and X.ndim == 2 and X.shape[1] == self.sizes[0]
        ):
            return X  # the common case, already fine: skip the conversions
        X = as_float_array(X, "X")
        check_ndim(X, 2, "X", f"(m, {self.sizes[0]})")
        if X.shape[1] != self.sizes[0]:
            raise ValueError(f"X must have shape (m, {self.sizes[0]}), got {X.shape}")
        return X.astype(self.dtype, copy=False)

    def _check_params(self) -> None:
        """Check the shapes of :attr:`params`, and store assigned non-float values as floats.

        A learner may assign ``np.array([[2, -1], [-2, -1]])`` or a nested list; it is kept as a
        float array of the network's dtype, so that :meth:`step` can update it in place.

        This runs twice per training step, so when ``params`` holds the very arrays that passed
        last time (same names, same objects) there is nothing to check again.
        """
        params = self.params
        if tuple(params) == self._checked_names and all(map(operator.is_, params.values(), self._checked)):
            return  # the very arrays that passed last time
        self._check_keys(params, "params")
        for W_name, b_name, W_shape, b_shape in self._layout:
            for name, shape in ((W_name, W_shape), (b_name, b_shape)):
                p = params[name]
                if not (isinstance(p, np.ndarray) and np.issubdtype(p.dtype, np.floating)):
                    p = as_float_array(p, f"params[{name!r}]").astype(self.dtype)
                if p.shape != shape:
                    raise ValueError(f"params[{name!r}] must have shape {shape}, got {p.shape}")
                if p is not params[name]:
                    params[name] = p
        self._checked_names = tuple(params)
        self._checked = tuple(params.values())
        flat, views = self._flat, self._flat_views
        self._params_flat = (
            self._checked_names == self._names
            and all(map(operator.is_, self._checked, views))
            and all(view.base is flat for view in views)
        )

    def _check_params_again(self) -> None:
        """:meth:`_check_params` in full, after numpy refused a parameter's shape.

        A parameter reshaped in place (``params["W1"].shape = ...``) is still the array that
        passed, so the quick check let it by; this names it instead of numpy's own message.
        """
        self._checked_names = self._checked = ()
        try:
            self._check_params()
        except (KeyError, TypeError, ValueError) as error:
            raise error from None  # numpy's message says nothing more

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


#: Hidden activations whose backward reads only ``a``, or the sign of ``z``, which is that of ``a``,
#: before it writes: in :meth:`MLP.loss` each is computed over its input, and its gradient over it.
IN_PLACE = {"tanh", "relu"}

#: How many batch sizes' arrays :meth:`MLP._keep_buffers` keeps (a last, smaller batch is common).
SCRATCH_BATCH_SIZES = 3

#: Entries per block of a large parameter's update (256 KiB in float64, so that it stays in cache).
UPDATE_BLOCK = 1 << 15


def _descend(p: np.ndarray, g, lr: float) -> None:
    """``p -= lr * g`` in place; for a large ``p``, a block of rows at a time.

    In one piece, ``lr * g`` is a temporary as large as ``p``: a fresh allocation every step,
    whose pages the system maps again, streamed through memory twice. Block by block, the
    temporaries are small and stay in the cache; the result is the same to the last bit.
    """
    if p.size <= UPDATE_BLOCK or p.ndim > 2 or not (isinstance(g, np.ndarray) and g.shape == p.shape):
        p -= lr * g
        return
    rows = max(1, UPDATE_BLOCK // (p.shape[1] if p.ndim == 2 else 1))
    for start in range(0, p.shape[0], rows):
        p[start : start + rows] -= lr * g[start : start + rows]
