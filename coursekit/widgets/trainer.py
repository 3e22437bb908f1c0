"""The two-layer trainer: watch gradient descent shape a 2-h-1 network's decision boundary.

The network is ``p = sigmoid(W2 g(W1 x + b1) + b2)`` with ``h`` hidden units and the hidden
activation ``g``; for a batch, in the course's notation, ``H = g(X @ W1.T + b1)`` and
``p = sigmoid(H @ W2.T + b2)``. It is trained by full-batch gradient descent on the binary
cross-entropy (the mean over the data set), one :meth:`coursekit.MLP.loss` and one
:meth:`coursekit.MLP.step` per epoch.

The picture shows the network's probability ``p(y = 1 | x)`` over the plane with the data on top,
each hidden unit's own output ``h_j(x)`` as a small map, and the loss curve.
"""

from __future__ import annotations

import functools
import math
import numbers

import ipywidgets as widgets
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import ListedColormap, to_rgb
from matplotlib.patches import Rectangle

from coursekit._validation import check_choice
from coursekit.datasets import DATA_LIM, plane_dataset
from coursekit.layers import sigmoid
from coursekit.mlp import MLP
from coursekit.plotting import (
    CLASS_COLORS,
    boundary_segment,
    class_points,
    grid,
    legend_below,
    region_image,
    wrong_marker,
)
from coursekit.widgets.base import Explorer

__all__ = [
    "DATASETS",
    "HIDDEN_ACTIVATIONS",
    "HIDDEN_CMAP",
    "MAX_HIDDEN",
    "PROBABILITY_CMAP",
    "TwoLayerExplorer",
]

#: The plane datasets the explorer offers (see :func:`coursekit.datasets.plane_dataset`).
DATASETS = ("xor", "circles", "moons", "spiral")
#: Hidden activations the explorer offers.
HIDDEN_ACTIVATIONS = ("tanh", "sigmoid", "relu")
#: The most hidden units, and so the number of hidden-unit panels.
MAX_HIDDEN = 8


def _tint(color: str, amount: float) -> tuple[float, ...]:
    """``color`` mixed with white; ``amount`` 1 keeps the colour, 0 gives white."""
    return tuple(1.0 - amount * (1.0 - c) for c in to_rgb(color))


#: Probability of class 1 in ten bands of 0.1, tints of class 0's colour below 0.5 and of class
#: 1's colour above, palest next to 0.5: the decision boundary is where the two palest bands meet.
#: Tints, so that the data points stay visible; bands, because flat areas encode into a PNG about
#: twice as fast as a smooth gradient, and they show the contours of p as well.
PROBABILITY_CMAP = ListedColormap(
    [_tint(CLASS_COLORS[0], a) for a in (0.7, 0.55, 0.42, 0.3, 0.18)]
    + [_tint(CLASS_COLORS[1], a) for a in (0.18, 0.3, 0.42, 0.55, 0.7)],
    name="probability",
)
#: Hidden-unit maps, in ten bands, palest next to the activation's midpoint (where ``z_j = 0``),
#: in colours that are not the classes'.
HIDDEN_CMAP = colormaps["PRGn"].resampled(10)
#: Colour range of each activation; ReLU's top is the unit's largest value on the grid.
_HIDDEN_RANGE = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}

#: The loss axis starts with these limits; a limit moves only when the curve leaves them, so the
#: axes (drawn once, in the background) are rarely redrawn.
_EPOCHS_SHOWN = 100
_LOSS_RANGE = (1e-2, 2.0)
#: A loss above this has diverged: it is drawn at the top of the axis, which stops there.
_LOSS_CAP = 2.0**20


class TwoLayerExplorer(Explorer):
    """Train a 2-h-1 network on a plane dataset and watch its decision boundary move.

    Controls: the hidden-units slider, the activation and dataset menus (each change builds the
    network afresh from ``seed`` and clears the history), the learning rate (used by the next
    steps), *Play* (every tick of its timer runs :attr:`steps_per_frame` gradient steps and redraws
    once), *Step* (one gradient step) and *Reset* (the initial network again).

    The large panel shades the network's ``p(y = 1 | x)`` in bands of 0.1 (blue below 0.5, orange
    above, palest near 0.5, so the decision boundary is where blue meets orange); red rings mark
    the points it gets wrong. The small panels show each hidden unit's output ``h_j(x)`` over the
    same square (green high, purple low; the dashed line is ``z_j = 0``), and the readout lists
    their weights to the output, ``W2``. The bottom panel is the loss per epoch.

    Parameters
    ----------
    dataset : {"xor", "circles", "moons", "spiral"}
    hidden : int
        Number of hidden units, 1 to :data:`MAX_HIDDEN`.
    activation : {"tanh", "sigmoid", "relu"}
        Of the hidden units.
    lr : float
        Learning rate, > 0; clipped to the slider's range (1e-3 to 10), and the readout says so.
    seed : int or numpy.random.Generator
        Source of both the data and the initial weights. A Generator is asked once for an integer
        seed, so that *Reset* can rebuild the very same network.
    n : int
        Number of data points.
    noise : float
        Noise of the data, as :func:`coursekit.datasets.plane_dataset` takes it.

    Attributes
    ----------
    model : MLP
        The network being trained; rebuilt by a change of dataset, hidden units or activation.
    history : list of float
        The loss at every epoch so far, starting with the untrained network's:
        ``history[k]`` is the loss after ``k`` gradient steps.
    X, y : arrays, shapes (n, 2) and (n,)
        The data.
    steps_per_frame : int
        Gradient steps per tick of *Play*.
    """

    #: Data and maps are drawn over the square ``lim`` x ``lim``.
    lim = (-DATA_LIM - 0.5, DATA_LIM + 0.5)
    #: Grid points per side of the probability map and of the hidden-unit maps.
    resolution = 80
    #: Learning-rate slider range, as powers of ten.
    LR_EXPONENTS = (-3, 1)

    def __init__(self, dataset: str = "xor", hidden: int = 4, activation: str = "tanh", lr: float = 0.3,
                 seed: int | np.random.Generator = 0, n: int = 200, noise: float = 0.05):
        check_choice(dataset, DATASETS, "dataset")
        check_choice(activation, HIDDEN_ACTIVATIONS, "activation")
        if not (_is_int(hidden) and 1 <= hidden <= MAX_HIDDEN):
            raise ValueError(f"hidden must be an integer from 1 to {MAX_HIDDEN}, got {hidden!r}")
        if not (isinstance(lr, numbers.Real) and lr > 0):
            raise ValueError(f"lr must be a number > 0, got {lr!r}")
        if isinstance(seed, np.random.Generator):
            seed = int(seed.integers(2**32))
        elif not _is_int(seed):
            raise ValueError(f"seed must be an int or a numpy Generator, got {seed!r}")
        self.X, self.y = plane_dataset(dataset, n, noise, seed)  # checks n and noise
        super().__init__(figsize=(10.0, 4.6))
        self.seed = int(seed)
        self.n, self.noise = n, noise
        self.steps_per_frame = 10

        self.sliders = {
            "hidden": widgets.IntSlider(value=int(hidden), min=1, max=MAX_HIDDEN, step=1,
                                        description="hidden units", continuous_update=True,
                                        style={"description_width": "90px"}),
            "lr": widgets.FloatLogSlider(value=0.1, base=10, min=self.LR_EXPONENTS[0],
                                         max=self.LR_EXPONENTS[1], step=0.1, description="learning rate",
                                         readout_format=".3g", continuous_update=True,
                                         style={"description_width": "90px"}),
        }
        menu = dict(style={"description_width": "90px"}, layout=widgets.Layout(width="250px"))
        self.dataset = widgets.Dropdown(options=list(DATASETS), value=dataset, description="dataset", **menu)
        self.activation = widgets.Dropdown(options=list(HIDDEN_ACTIVATIONS), value=activation,
                                           description="activation", **menu)
        # The front end's timer drives training: no thread in the kernel, so it runs in JupyterLite.
        self.play = widgets.Play(value=0, min=0, max=10**6, step=1, interval=100, description="Play",
                                 show_repeat=False)
        self.step_button = widgets.Button(description="Step", icon="step-forward",
                                          layout=widgets.Layout(width="90px"))
        self.reset_button = widgets.Button(description="Reset", icon="undo",
                                           layout=widgets.Layout(width="90px"))
        self.readout = widgets.HTML()

        self._grid = grid(self.lim, self.lim, self.resolution)
        self._build_figure()
        self._new_network()

        self.sliders["hidden"].observe(self._on_network_change, names="value")
        self.activation.observe(self._on_network_change, names="value")
        self.dataset.observe(self._on_dataset_change, names="value")
        self.play.observe(self._on_play, names="value")
        self.step_button.on_click(lambda _: self.step())
        self.reset_button.on_click(lambda _: self.reset())
        self.set_sliders({"lr": lr})  # clips a rate beyond the slider and draws the first picture

    # -- the figure --------------------------------------------------------------------------------

    def _build_figure(self) -> None:
        left, right = self.fig.subfigures(1, 2, width_ratios=[1, 1.25])
        layout = right.add_gridspec(3, 4, height_ratios=[1, 1, 1.3])
        right.suptitle("hidden units $h_j(x)$: green high, purple low, dashed: $z_j = 0$",
                       fontsize=8)
        res = self.resolution

        ax = self.ax_data = left.add_subplot()
        self.prob_image = region_image(ax, self.lim, res)
        self.prob_image.set(cmap=PROBABILITY_CMAP, interpolation="bilinear", interpolation_stage="data")
        self.points = class_points(ax)
        for artist in self.points:
            artist.set_sizes([22.0])
        self.wrong = wrong_marker(ax)
        self.wrong.set_sizes([90.0])
        self.wrong.set_linewidth(1.5)
        ax.set(xlim=self.lim, ylim=self.lim, xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
        self.data_title = ax.set_title(self._data_title())  # set before the layout, which makes room
        legend_below(ax)

        # The maps stop a little inside their frames, so the frames can stay in the background.
        pad = 0.02 * (self.lim[1] - self.lim[0])
        framed = (self.lim[0] - pad, self.lim[1] + pad)
        self.hidden_axes, self.hidden_images, self.unit_lines = [], [], []
        for j in range(MAX_HIDDEN):
            ax = right.add_subplot(layout[j // 4, j % 4])
            # About one grid point per pixel here, so no smoothing is needed; with nearest
            # neighbours, colouring before resampling gives the same pixels, and faster.
            image = ax.imshow(np.zeros((res, res)), origin="lower", extent=(*self.lim, *self.lim),
                              cmap=HIDDEN_CMAP, interpolation="nearest", interpolation_stage="data",
                              aspect="auto")
            (line,) = ax.plot([], [], color="black", lw=0.8, ls="--")
            ax.set(xlim=framed, ylim=framed, xticks=[], yticks=[], aspect="equal")
            ax.set_title(f"h{j + 1}", fontsize=8, pad=3)
            for spine in ax.spines.values():
                spine.set(linewidth=0.6, color="0.5")
            self.hidden_axes.append(ax)
            self.hidden_images.append(image)
            self.unit_lines.append(line)

        ax = self.ax_loss = right.add_subplot(layout[2, :])
        (self.loss_line,) = ax.plot([], [], color="black", lw=1.4)
        ax.set(yscale="log", xlim=(0, _EPOCHS_SHOWN), ylim=_LOSS_RANGE, xlabel="epoch",
               ylabel="loss")
        ax.grid(True, which="major", lw=0.4, alpha=0.5)
        ax.set_title("binary cross-entropy on the data", fontsize=9)

        # Lay the figure out once, then keep that layout.
        self.fig.get_layout_engine().execute(self.fig)
        self.fig.set_layout_engine("none")

        # Every panel stays in the background, whatever the number of hidden units; a white cover
        # hides an unused one. Hiding its axes instead would change the background, and redrawing
        # that (ticks, text) costs several times more than a whole update.
        renderer = self.fig.canvas.get_renderer()
        to_figure = self.fig.transFigure.inverted()
        self.covers = []
        for ax in self.hidden_axes:
            (x0, y0), (x1, y1) = to_figure.transform(ax.get_tightbbox(renderer).padded(2).get_points())
            cover = Rectangle((x0, y0), x1 - x0, y1 - y0, transform=self.fig.transFigure,
                              facecolor=self.fig.get_facecolor(), edgecolor="none", zorder=10,
                              animated=True)  # never part of the background
            self.covers.append(self.fig.add_artist(cover))

    def animated_artists(self) -> list:
        # The probability map fills its axes, so its frame is drawn on top of it again each time.
        artists = [self.prob_image, *self.points, self.wrong, *self.ax_data.spines.values()]
        for j in range(MAX_HIDDEN):
            artists += [self.hidden_images[j], self.unit_lines[j]] if j < self.hidden else [self.covers[j]]
        return [*artists, self.loss_line, *self.ax_loss.spines.values()]

    def background_key(self):
        return self.data_title.get_text()

    def background_parts(self) -> dict:
        # New loss limits redraw only the loss panel's ticks: a figure of ten axes costs many times more.
        ax = self.ax_loss
        return {(ax.xaxis, ax.yaxis): (ax.get_xlim(), ax.get_ylim())}

    # -- state ----------------------------------------------------------------------------------

    @property
    def hidden(self) -> int:
        """Number of hidden units, as the slider sets it."""
        return int(self.sliders["hidden"].value)

    @property
    def lr(self) -> float:
        """Learning rate, as the slider sets it."""
        return float(self.sliders["lr"].value)

    @property
    def epoch(self) -> int:
        """Gradient steps taken since the network was built."""
        return len(self.history) - 1

    @property
    def accuracy(self) -> float:
        """Share of the data points the network classifies right (class 1 where ``p >= 0.5``)."""
        return float(np.mean(self.model.predict(self.X) == self.y))

    def _new_network(self) -> None:
        """Build the network from the seed and start a new history."""
        self.model = MLP([2, self.hidden, 1], activation=self.activation.value, loss="binary_cross_entropy",
                         seed=self.seed)
        self.history = [self._loss_now()]

    def _loss_now(self) -> float:
        return float(self.model.loss(self.X, self.y)[0])

    # -- actions ----------------------------------------------------------------------------------

    def step(self, n: int = 1) -> None:
        """Take ``n`` full-batch gradient-descent steps, then redraw once."""
        if not (_is_int(n) and n >= 0):
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        lr = self.lr
        # A learning rate that is too large can overflow the weights; the readout says so.
        with np.errstate(over="ignore", invalid="ignore"):
            for i in range(n):
                loss, grads = self.model.loss(self.X, self.y)
                if i:  # the loss before this update is the one after the previous update
                    self.history.append(float(loss))
                self.model.step(grads, lr)
            if n:
                self.history.append(self._loss_now())
        self.refresh()

    def tick(self) -> None:
        """What one tick of *Play* does: :attr:`steps_per_frame` steps and one redraw."""
        self.step(self.steps_per_frame)

    def reset(self) -> None:
        """Stop *Play*, and build the initial network again (same seed, so the same weights)."""
        self.play.playing = False
        self._new_network()
        self.refresh()

    def _on_play(self, change) -> None:
        # The timer counts up; the value falls back to the start when Play is stopped.
        if change["new"] > change["old"]:
            self.tick()

    def _on_network_change(self, _=None) -> None:
        self._new_network()
        self.refresh()

    def _on_dataset_change(self, change) -> None:
        self.X, self.y = plane_dataset(change["new"], self.n, self.noise, self.seed)
        self._on_network_change()

    # -- drawing -----------------------------------------------------------------------------------

    def draw(self) -> None:
        with np.errstate(over="ignore", invalid="ignore"):  # weights blown up: the readout says so
            self._draw()

    def _draw(self) -> None:
        res = self.resolution
        params = self.model.params
        # One pass over the grid gives both the output and the hidden layer.
        logits, caches = self.model.forward_logits(self._grid)
        self.prob_image.set_data(sigmoid(logits[:, 0]).reshape(res, res))
        H = caches[0].activation.a

        for label, artist in enumerate(self.points):
            artist.set_offsets(self.X[self.y == label])
        wrong = self.model.predict(self.X) != self.y
        self.wrong.set_offsets(self.X[wrong].reshape(-1, 2))
        self.data_title.set_text(self._data_title())

        for j in range(MAX_HIDDEN):
            self.covers[j].set_visible(j >= self.hidden)
            self.hidden_images[j].set_visible(j < self.hidden)
            self.unit_lines[j].set_visible(j < self.hidden)
        low, high = _HIDDEN_RANGE.get(self.activation.value, (None, None))
        for j in range(self.hidden):
            h_j = H[:, j]
            if low is None:  # ReLU: from -top to top, so that 0 is the midpoint like tanh's
                top = float(h_j.max())
                self.hidden_images[j].set_clim(*((-top, top) if top > 0 else (-1.0, 1.0)))
            else:
                self.hidden_images[j].set_clim(low, high)
            self.hidden_images[j].set_data(h_j.reshape(res, res))
            self.unit_lines[j].set_data(*boundary_segment(params["W1"][j], params["b1"][j], self.lim))

        self._draw_loss()
        self._write_readout(wrong)

    def _data_title(self) -> str:
        return f"{self.dataset.value}: the network's p(y = 1 | x)"

    def _draw_loss(self) -> None:
        losses = np.minimum(self.history, _LOSS_CAP)  # NaN stays NaN: a gap in the curve
        self.loss_line.set_data(np.arange(len(losses)), losses)
        # Limits move in big steps (x doubles, y by decades) so the axes are seldom redrawn.
        x_high = _EPOCHS_SHOWN * 2 ** max(0, math.ceil(math.log2(max(self.epoch, 1) / _EPOCHS_SHOWN)))
        finite = losses[np.isfinite(losses) & (losses > 0)]
        low, high = _LOSS_RANGE
        if finite.size:
            low = min(low, 10.0 ** math.floor(math.log10(finite.min())))
            high = max(high, 2.0 ** math.ceil(math.log2(finite.max())))
        if self.ax_loss.get_xlim() != (0, x_high):
            self.ax_loss.set_xlim(0, x_high)
        if self.ax_loss.get_ylim() != (low, high):
            self.ax_loss.set_ylim(low, high)

    def _write_readout(self, wrong: np.ndarray) -> None:
        loss = self.history[-1]
        weights = ", ".join(f"h{j + 1}: {w:+.2f}" for j, w in enumerate(self.model.params["W2"][0]))
        text = (
            f"<b>epoch {self.epoch}</b> &middot; loss {loss:.4f} &middot; accuracy {1 - wrong.mean():.1%}"
            f" ({int(wrong.sum())} of {len(self.y)} wrong)<br>network 2-{self.hidden}-1 with "
            f"{self.activation.value} hidden units, {self.model.n_params()} parameters<br>"
            f"weights to the output, W2: {weights}; bias b2: {self.model.params['b2'][0]:+.2f}"
        )
        if not loss < _LOSS_CAP:  # NaN included
            text += "<br><b>Note:</b> the loss has diverged. Lower the learning rate and press Reset."
        self.readout.value = text + self.clip_note("The learning rate is kept within the slider's range.")

    @functools.cached_property
    def widget(self) -> widgets.Widget:
        # The hidden-units slider comes first: it is the first slider on the page.
        controls = widgets.VBox([
            self.sliders["hidden"], self.activation, self.dataset, self.sliders["lr"],
            widgets.HBox([self.play, self.step_button, self.reset_button]),
        ])
        return widgets.VBox([self.image, widgets.HBox([controls, self.readout])])


def _is_int(value) -> bool:
    """True for Python and numpy integers, but not for bools."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
