"""The depth explorer: activations and gradients, layer by layer, of a deep network at initialisation.

A network of ``depth`` hidden layers of ``width`` units each, with a 10-class softmax output, is
built from a chosen activation and initialisation scheme and run once, forward and backward, on a
fixed batch. The picture shows what each hidden layer outputs (a histogram per layer, on its side)
and how large each weight gradient ``||dW_l||`` is (on a log axis). Deep sigmoid networks, or tiny
initial weights, make the gradients of the first layers vanish; large weights make them explode.

Nothing is trained here: what you see is the network the first step of gradient descent starts from.
"""

from __future__ import annotations

import functools
import math

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import FixedFormatter, FixedLocator, FuncFormatter, NullLocator

from coursekit._validation import check_choice
from coursekit.init import INITS
from coursekit.mlp import MLP
from coursekit.plotting import CLASS_COLORS
from coursekit.training import gradient_norms, hidden_activations
from coursekit.widgets.base import Explorer

__all__ = [
    "DEPTH_ACTIVATIONS",
    "MAX_DEPTH",
    "N_BINS",
    "RELU_TOP",
    "DepthExplorer",
    "bar_widths",
    "histogram_edges",
    "layer_histograms",
]

#: Hidden activations on offer: the two that saturate and the one that does not.
DEPTH_ACTIVATIONS = ("sigmoid", "tanh", "relu")
#: Most hidden layers the explorer shows; the picture keeps a slot for each.
MAX_DEPTH = 12
#: Bins of every layer's histogram.
N_BINS = 40
#: Top of a ReLU layer's histogram; larger outputs are counted in the last bin. A ReLU of a
#: normal input of variance 2 (what He initialisation aims at) stays below 4 over 99% of the time.
RELU_TOP = 4.0
#: Rows of the fixed batch, and classes of its labels.
BATCH_SIZE, N_CLASSES = 256, 10
#: Range of the weight-scale slider, as powers of two: 1/4 to 4.
SCALE_MIN_EXP, SCALE_MAX_EXP = -2.0, 2.0
#: A ratio of gradient norms beyond this factor, either way, is called vanishing or exploding.
RATIO_TOLERANCE = 10.0
#: Gradients all below this barely move the weights in a step of gradient descent; gradients all
#: above the other throw them far off with any usual learning rate.
TINY_GRADIENT, HUGE_GRADIENT = 1e-6, 1e3

#: Widest histogram, in layer slots.
HIST_WIDTH = 0.8
#: A bin holding this share of a layer's outputs, or more, fills the slot's width.
FULL_SHARE = 0.08
#: The gradient axis grows in steps of this many decades.
DECADE_STEP = 2

_HIST_COLOR, _GRAD_COLOR = CLASS_COLORS
_UNUSED_COLOR = "#ececec"


def histogram_edges(activation: str) -> np.ndarray:
    """The bin edges shared by every layer's histogram.

    Sigmoid and tanh outputs have fixed ranges, (0, 1) and (-1, 1). A ReLU output has no upper
    bound; its range is 0 to :data:`RELU_TOP`, which holds nearly all outputs of a layer of
    unit-variance inputs, and :func:`layer_histograms` counts larger outputs in the last bin.
    Fixed ranges let you compare layers, and settings: outputs that collapse towards 0 pile up in
    one bar at 0, outputs that blow up pile up at the top.

    Parameters
    ----------
    activation : {"sigmoid", "tanh", "relu"}

    Returns
    -------
    float array, shape (N_BINS + 1,)
    """
    check_choice(activation, DEPTH_ACTIVATIONS, "activation")
    low, high = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, RELU_TOP)}[activation]
    return np.linspace(low, high, N_BINS + 1)


def layer_histograms(activations: list[np.ndarray], edges: np.ndarray) -> list[np.ndarray]:
    """Counts of each layer's outputs per bin; outputs beyond the edges count in the end bins.

    Returns
    -------
    list of int arrays, shapes (len(edges) - 1,)
    """
    low, high = float(edges[0]), float(edges[-1])
    # Equal bins given by their number and range take numpy's fast path, which does not sort.
    return [np.histogram(np.clip(a, low, high), bins=len(edges) - 1, range=(low, high))[0]
            for a in activations]


def bar_widths(counts: np.ndarray) -> np.ndarray:
    """Widths of a histogram's bars, as fractions of the widest: the share of the layer's outputs in
    each bin over :data:`FULL_SHARE`, at most 1.

    One scale for every layer lets you compare their spreads; a spike (a layer whose outputs all
    sit at 0, or at the ends of a saturated range) fills the width instead of dwarfing the rest.
    """
    total = max(int(counts.sum()), 1)
    return np.minimum(counts / (FULL_SHARE * total), 1.0)


def _log_limits(norms: np.ndarray) -> tuple[float, float]:
    """Log-axis limits for the gradient norms: powers of ten around them.

    The axis holds at least 1e-4 to 10, the span of a healthy network, and grows beyond in steps
    of :data:`DECADE_STEP` decades.
    """
    positive = norms[(norms > 0) & np.isfinite(norms)]
    low_exp, high_exp = -4, 1
    if positive.size:
        low_exp = min(low_exp, DECADE_STEP * math.floor(math.log10(positive.min()) / DECADE_STEP))
        high_exp = max(high_exp, 1 + DECADE_STEP * math.ceil((math.log10(positive.max()) - 1) / DECADE_STEP))
    return 10.0**low_exp, 10.0**high_exp


def _decade_label(value: float, _position=None) -> str:
    """``1e-8`` rather than mathtext: plain text renders faster."""
    exponent = round(math.log10(value)) if value > 0 else 0
    return "1" if exponent == 0 else f"1e{exponent}"


class DepthExplorer(Explorer):
    """Vanishing and exploding gradients in a deep network, before any training.

    The network is ``MLP([width, width x depth, 10], activation, init=init,
    loss="softmax_cross_entropy")``, with every initial weight multiplied by the weight-scale
    slider. It sees one fixed batch of 256 standard-normal inputs with random labels.

    The top panel has one histogram per hidden layer, on its side at ``x = l``: the output values
    run up the page, and a bar's width is the share of the layer's outputs in it (see
    :func:`bar_widths`), on one scale for all layers. The bottom panel shows ``||dW_l||`` for
    every weight layer ``l = 1 .. depth + 1`` on a log axis (a square for the output layer, an
    ``x`` on the bottom edge for a gradient that is exactly zero), so that layer ``l``'s outputs
    sit above the gradient of the weights that made them. Slots beyond the network are greyed
    out. Both axes hold every depth and weight scale, so the sliders move the picture, not the
    axes. The readout gives the ratio of the first layer's norm to the last's, and each layer's
    standard deviation.

    Parameters
    ----------
    depth : int
        Hidden layers, 1 to :data:`MAX_DEPTH` (beyond that it is clipped, and the readout says so).
    width : int
        Units per hidden layer, and inputs per example.
    activation : {"sigmoid", "tanh", "relu"}
    init : {"zeros", "uniform", "small", "xavier", "he"}
        One of :data:`coursekit.init.INITS`.
    seed : int or numpy.random.Generator
        Source of the batch and of the initial weights. The hidden layers' weights do not depend
        on the depth, so a deeper network adds layers on top of the same first ones.
    scale : float
        Factor on every initial weight (on the scheme's standard deviation), 1/4 to 4.

    Attributes
    ----------
    X : array, shape (256, width)
    y : int array, shape (256,)
    model : MLP
        The network now shown.
    activations : list of arrays, shapes (256, width)
        Each hidden layer's output, first hidden layer first.
    gradient_norms : array, shape (depth + 1,)
        ``||dW_l||`` (Frobenius norm) of the loss's gradient, layer 1 first.
    loss : float
        The loss of the batch.
    bin_edges : array, shape (N_BINS + 1,)
        The edges of every histogram (see :func:`histogram_edges`).
    histograms : list of int arrays, shapes (N_BINS,)
        Counts of each hidden layer's outputs per bin (see :func:`layer_histograms`).
    """

    def __init__(self, depth: int = 6, width: int = 64, activation: str = "tanh", init: str = "xavier",
                 seed: int | np.random.Generator = 0, scale: float = 1.0):
        check_choice(activation, DEPTH_ACTIVATIONS, "activation")
        check_choice(init, INITS, "init scheme")
        if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
            raise ValueError(f"width must be an integer >= 1, got {width!r}")
        super().__init__(figsize=(9.0, 5.6))
        self.fig.set_layout_engine("none")  # fixed margins: tick labels come and go with the data
        self.width = int(width)

        # Standard-normal inputs have the unit variance that the Xavier and He schemes assume, and
        # with width inputs every hidden layer has the same shape, so any change from one layer to
        # the next comes from depth alone, not from the data (digits would be neither). The labels
        # are random: before training, only their share per class matters to the gradients.
        rng = np.random.default_rng(seed)
        self.X = rng.standard_normal((BATCH_SIZE, self.width))
        self.y = rng.integers(0, N_CLASSES, size=BATCH_SIZE)
        # The weights come from a stream of their own: drawn from the data's stream, the first
        # layer's weights would repeat the first inputs. Every rebuild starts it afresh.
        self._model_seed = int(rng.integers(2**63))

        self.sliders = {
            "depth": widgets.IntSlider(value=1, min=1, max=MAX_DEPTH, step=1, description="depth",
                                       continuous_update=True),
            "scale": widgets.FloatLogSlider(value=1.0, base=2, min=SCALE_MIN_EXP, max=SCALE_MAX_EXP,
                                            step=0.1, description="weight scale", readout_format=".2f",
                                            continuous_update=True, style={"description_width": "80px"}),
        }
        self.menus = {
            "activation": widgets.Dropdown(options=list(DEPTH_ACTIVATIONS), value=activation,
                                           description="activation"),
            "init": widgets.Dropdown(options=list(INITS), value=init, description="init"),
        }
        self.readout = widgets.HTML()

        self.model: MLP | None = None
        self.activations: list[np.ndarray] = []
        self.gradient_norms = np.zeros(0)
        self.loss = float("nan")
        self.bin_edges = np.linspace(0.0, 1.0, N_BINS + 1)
        self.histograms: list[np.ndarray] = []
        self._extremes: dict[tuple[str, str], np.ndarray] = {}  # see _extreme_norms
        self._build_figure()

        for control in (*self.sliders.values(), *self.menus.values()):
            control.observe(self.refresh, names="value")
        self.set_sliders({"depth": depth, "scale": scale})

    # -- the figure -------------------------------------------------------------------------------

    def _build_figure(self) -> None:
        grid = self.fig.add_gridspec(2, 1, height_ratios=(1.25, 1.0), left=0.085, right=0.985, bottom=0.09,
                                     top=0.93, hspace=0.42)
        slots = np.arange(1, MAX_DEPTH + 2)  # hidden layers 1..12, and the output layer of the deepest net
        xlim = (0.5, MAX_DEPTH + 1.5)

        ax = self.act_ax = self.fig.add_subplot(grid[0])
        self.hists = [ax.stairs(np.full(N_BINS, float(l)), self.bin_edges, baseline=float(l),
                                orientation="horizontal", fill=True, color=_HIST_COLOR, alpha=0.85, zorder=2)
                      for l in slots[:-1]]
        ax.set(xlim=xlim, xticks=slots[:-1])
        ax.tick_params(labelbottom=False)  # the panel below numbers the layers
        ax.set_title(f"each hidden layer's outputs A_l, as a histogram on its side "
                     f"(a bar's width is its share; {FULL_SHARE:.0%} or more fills the slot)", fontsize=10)
        ax.set_ylabel("output value", fontsize=9)
        self.act_unused = ax.axvspan(xlim[1], xlim[1], color=_UNUSED_COLOR, zorder=1.6, lw=0)

        ax = self.grad_ax = self.fig.add_subplot(grid[1], sharex=self.act_ax)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(_decade_label))
        ax.yaxis.set_minor_locator(NullLocator())
        (self.grad_line,) = ax.plot([], [], "o-", color=_GRAD_COLOR, lw=1.6, ms=5, zorder=2,
                                    label="hidden layer")
        (self.output_mark,) = ax.plot([], [], "s", color=_GRAD_COLOR, mec="black", ms=7, zorder=2.1,
                                      label="output layer")
        (self.zero_marks,) = ax.plot([], [], "x", color="crimson", ms=8, mew=2, clip_on=False, zorder=2.2,
                                     label="exactly 0")
        self.grad_unused = ax.axvspan(xlim[1], xlim[1], color=_UNUSED_COLOR, zorder=1.6, lw=0)
        ax.set_xticks(slots)
        ax.tick_params(labelbottom=True)
        ax.set_xlabel("layer l", fontsize=9)
        ax.set_ylabel("||dW_l||", fontsize=9)
        ax.grid(True, axis="y", which="major", lw=0.4, alpha=0.6)
        # The legend sits above the axes, where the line cannot cross it: it stays in the background.
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3, fontsize=8, frameon=False,
                  handlelength=1.5, borderaxespad=0.2)
        ax.set_title("gradient norm of each weight layer", fontsize=10, loc="left")
        for axes in (self.act_ax, self.grad_ax):
            axes.tick_params(labelsize=8)

    def animated_artists(self) -> list:
        # The spines too: the bars reach the panel's edges, and the frame must stay on top of them.
        return [*self.hists, self.act_unused, *self.act_ax.spines.values(),
                self.grad_line, self.output_mark, self.zero_marks, self.grad_unused,
                *self.grad_ax.spines.values()]

    def background_key(self):
        return (self.act_ax.get_ylim(), self.grad_ax.get_ylim())

    # -- state ------------------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Hidden layers now shown."""
        return int(self.sliders["depth"].value)

    @property
    def scale(self) -> float:
        """Factor on the initial weights."""
        return float(self.sliders["scale"].value)

    @property
    def activation(self) -> str:
        """Hidden activation now chosen."""
        return self.menus["activation"].value

    @property
    def init(self) -> str:
        """Initialisation scheme now chosen."""
        return self.menus["init"].value

    def set_options(self, activation: str | None = None, init: str | None = None) -> None:
        """Choose the activation and/or the initialisation scheme, and redraw once.

        Raises
        ------
        ValueError
            For an unknown name; the message lists the known ones.
        """
        if activation is not None:
            check_choice(activation, DEPTH_ACTIVATIONS, "activation")
        if init is not None:
            check_choice(init, INITS, "init scheme")
        with self.hold():
            if activation is not None:
                self.menus["activation"].value = activation
            if init is not None:
                self.menus["init"].value = init

    def build_model(self, depth: int | None = None, scale: float | None = None) -> MLP:
        """The network of the current settings, its weights scaled; ``depth`` and ``scale`` override
        the sliders'."""
        depth = self.depth if depth is None else depth
        scale = self.scale if scale is None else scale
        sizes = [self.width, *[self.width] * depth, N_CLASSES]
        model = MLP(sizes, self.activation, init=self.init, loss="softmax_cross_entropy",
                    seed=self._model_seed)
        for l in range(1, model.n_layers + 1):
            model.params[f"W{l}"] *= scale
        return model

    def _extreme_norms(self) -> np.ndarray:
        """``||dW_l||`` of the deepest network at both ends of the weight-scale slider."""
        key = (self.activation, self.init)
        if key not in self._extremes:
            norms = []
            for scale in (2.0**SCALE_MIN_EXP, 2.0**SCALE_MAX_EXP):
                with np.errstate(over="ignore", invalid="ignore"):
                    _, grads = self.build_model(MAX_DEPTH, scale).loss(self.X, self.y)
                norms.append(gradient_norms(grads))
            self._extremes[key] = np.concatenate(norms)
        return self._extremes[key]

    # -- drawing ----------------------------------------------------------------------------------

    def draw(self) -> None:
        self.model = self.build_model()
        with np.errstate(over="ignore", invalid="ignore"):  # a wild scale may overflow: reported below
            self.loss, grads = self.model.loss(self.X, self.y)
            self.activations = hidden_activations(self.model, self.X)
            self.gradient_norms = gradient_norms(grads)
        self.bin_edges = histogram_edges(self.activation)
        self.histograms = layer_histograms(self.activations, self.bin_edges)
        self._draw_histograms()
        self._draw_gradients()
        self.readout.value = self._readout() + self.clip_note()

    def _draw_histograms(self) -> None:
        edges = self.bin_edges
        for l, patch in enumerate(self.hists, start=1):
            patch.set_visible(l <= self.depth)
            if l <= self.depth:
                half = 0.5 * HIST_WIDTH * bar_widths(self.histograms[l - 1])
                patch.set_data(l + half, edges, l - half)
        ax = self.act_ax
        ax.set_ylim(edges[0], edges[-1])
        ticks = np.linspace(edges[0], edges[-1], 5)
        labels = [f"{t:g}" for t in ticks]
        if self.activation == "relu":
            labels[-1] = f"{RELU_TOP:g}+"  # the last bin holds every larger output
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_major_formatter(FixedFormatter(labels))
        self.act_unused.set_x(self.depth + 0.5)  # the output layer's slot too: it has no histogram
        self.act_unused.set_width(MAX_DEPTH + 1 - self.depth)

    def _draw_gradients(self) -> None:
        norms = self.gradient_norms
        layers = np.arange(1, len(norms) + 1)
        # The axis also holds the norms of the deepest network at both ends of the weight scale, so
        # that it stays put while the sliders move: you see the line move, and only the changing
        # artists are redrawn.
        low, high = _log_limits(np.concatenate([norms, self._extreme_norms()]))
        self.grad_ax.set_ylim(low, high)
        shown = np.where(norms > 0, norms, np.nan)  # a zero has no place on a log axis
        self.grad_line.set_data(layers, shown)
        self.output_mark.set_data(layers[-1:], shown[-1:])
        zeros = layers[norms == 0]
        self.zero_marks.set_data(zeros, np.full(len(zeros), low))
        self.grad_unused.set_x(len(norms) + 0.5)
        self.grad_unused.set_width(MAX_DEPTH + 1 - len(norms))

    def _readout(self) -> str:
        norms = self.gradient_norms
        first, last, L = float(norms[0]), float(norms[-1]), len(norms)
        head = f"||dW1|| / ||dW{L}|| = {first:.3g} / {last:.3g}"
        if not np.all(np.isfinite(norms)):
            verdict = ": some gradients overflowed, the weights are far too large"
        elif first == 0 and last == 0:
            verdict = ": every weight gradient is exactly zero, so gradient descent cannot move any weight"
        elif last == 0:
            verdict = ": the output layer's weight gradient is exactly zero"
        elif first == 0:
            verdict = " <b>= 0</b>: the first layer's weight gradient is exactly zero"
        else:
            ratio = first / last
            verdict = f" <b>= {ratio:.2g}</b>: "
            if ratio < 1 / RATIO_TOLERANCE:
                verdict += f"vanishing, the first layer's gradient is {1 / ratio:.2g} times smaller"
            elif ratio > RATIO_TOLERANCE:
                verdict += f"exploding, the first layer's gradient is {ratio:.2g} times larger"
            else:
                verdict += f"within a factor of {RATIO_TOLERANCE:g} of each other"
            if norms.max() < TINY_GRADIENT:
                verdict += f", but every gradient is tiny (the largest is {norms.max():.2g})"
            elif norms.min() > HUGE_GRADIENT:
                verdict += f", but every gradient is huge (the smallest is {norms.min():.2g})"
        if np.any(norms == 0):
            verdict += " (x: exactly zero)"
        spreads = " &middot; ".join(f"{l}: {float(np.std(a)):.2g}" for l, a in enumerate(self.activations, 1))
        return (
            f"{head}{verdict}<br>"
            f"standard deviation of each hidden layer's outputs: {spreads}<br>"
            f"{self.depth} hidden layers of {self.width} {self.activation} units, {self.init} init "
            f"&times; {self.scale:.2f}; loss of the batch {self.loss:.4g} "
            f"(1/{N_CLASSES} for every class would give ln {N_CLASSES} = {math.log(N_CLASSES):.4g})"
        )

    @functools.cached_property
    def widget(self) -> widgets.Widget:
        s, m = self.sliders, self.menus
        controls = widgets.HBox([widgets.VBox([s["depth"], s["scale"]]),
                                 widgets.VBox([m["activation"], m["init"]])])
        return widgets.VBox([controls, self.image, self.readout])
