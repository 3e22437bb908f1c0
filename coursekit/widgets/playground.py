"""The playground: train a small network on a plane dataset and watch every unit learn.

In the spirit of TensorFlow Playground. You choose the data (dataset, noise, how much is held out
for testing, the batch size), the network (input features, hidden layers and their units) and the
training (activation, learning rate, L2 strength), then press Play. The figure shows the network
with a thumbnail for every input and unit (what it outputs over the plane) joined by lines whose
width and colour show the weights, the network's probability of class 1 over the plane with the
training and test points, and the training and test loss curves.

The network is a :class:`coursekit.MLP` with one sigmoid output and the binary cross-entropy,
trained by mini-batch gradient descent: each step takes the next batch of
:func:`coursekit.training.minibatches` and applies :meth:`MLP.step`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import ipywidgets as widgets
import numpy as np
from matplotlib.colors import LinearSegmentedColormap, to_rgb

from coursekit._validation import check_choice
from coursekit.datasets import plane_dataset, train_test_split
from coursekit.features import FEATURES, feature_map
from coursekit.layers import sigmoid
from coursekit.losses import binary_cross_entropy
from coursekit.mlp import MLP
from coursekit.plotting import CLASS_COLORS, grid
from coursekit.training import minibatches
from coursekit.widgets.base import Explorer
from coursekit.widgets.network_diagram import NetworkDiagram, TileArtist

__all__ = [
    "ACTIVATION_LABELS",
    "DATASETS",
    "HEATMAP_RESOLUTION",
    "HEATMAP_ZOOM",
    "MAX_HIDDEN_LAYERS",
    "MAX_UNITS",
    "N_POINTS",
    "PROBABILITY_CMAP",
    "TILE_RESOLUTION",
    "VIEW_LIM",
    "PlaygroundExplorer",
]

#: The datasets on offer (TensorFlow Playground's four).
DATASETS = ("circles", "xor", "gaussian", "spiral")
#: Points generated per dataset, before the train/test split.
N_POINTS = 400
#: At most this many hidden layers, each of 1 to MAX_UNITS units.
MAX_HIDDEN_LAYERS, MAX_UNITS = 6, 8
#: Hidden activations on offer: library name -> the menu's label.
ACTIVATION_LABELS = {"tanh": "tanh", "relu": "ReLU", "sigmoid": "sigmoid", "identity": "linear"}
#: The pictures cover the square [-VIEW_LIM, VIEW_LIM]^2 (the data fill [-3, 3]^2, plus noise).
VIEW_LIM = 4.0
#: Grid points per side of the probability map and of each unit's thumbnail. The values are
#: taken at the centres of the cells of a regular grid over the view, and each is drawn as a
#: square of HEATMAP_ZOOM (or 1) pixels.
HEATMAP_RESOLUTION, TILE_RESOLUTION = 72, 24
HEATMAP_ZOOM = 3
#: Milliseconds between two ticks of the Play control.
PLAY_INTERVAL = 150

_FEATURE_LABELS = {
    "x1": "$x_1$", "x2": "$x_2$", "x1^2": "$x_1^2$", "x2^2": "$x_2^2$", "x1*x2": "$x_1 x_2$",
    "sin x1": r"$\sin\,x_1$", "sin x2": r"$\sin\,x_2$",
}
# The probability map uses the class colours washed out, so that the points stand out on it.
_PALE = [tuple(0.45 * np.array(to_rgb(c)) + 0.55) for c in CLASS_COLORS]
#: Maps the probability of class 1, from 0 to 1, to the colour of the big map.
PROBABILITY_CMAP = LinearSegmentedColormap.from_list("probability", [_PALE[0], "#ffffff", _PALE[1]])

# Figure layout in pixels (the figure is 768 x 360 at dpi 80): (left, bottom, width, height).
_FIGSIZE = (9.6, 4.5)
_NETWORK_BOX = (0, 0, 500, 360)
_MAP_SIZE = HEATMAP_RESOLUTION * HEATMAP_ZOOM
_HEATMAP_BOX = (530, 360 - 26 - _MAP_SIZE, _MAP_SIZE, _MAP_SIZE)
_LOSS_BOX = (530, 10, _MAP_SIZE, 52)


class PlaygroundExplorer(Explorer):
    """Train a small network on a plane dataset, with every control of TensorFlow Playground.

    Changing the data (dataset, noise, test share) or the network (features, layers, units,
    activation) starts training again from the seed's initial weights; the learning rate, the L2
    strength, the batch size and the speed apply from the next step (a new batch size from the next
    epoch) without a restart. *Play* runs :attr:`steps_per_frame` steps per tick and redraws once;
    *Step* runs one mini-batch step; *Reset* goes back to the initial weights.

    Parameters
    ----------
    dataset : {"circles", "xor", "gaussian", "spiral"}
    noise : float
        Noise of :func:`coursekit.datasets.plane_dataset`, 0 to 0.5.
    test_fraction : float
        Share of the points held out for testing, 0.1 to 0.9.
    batch_size : int
        Rows per gradient step, 1 to 30.
    features : sequence of str
        Input features from :data:`coursekit.features.FEATURES`, at least one; they are used in
        that dictionary's order, the order of the check boxes.
    hidden : sequence of int
        Units per hidden layer: up to 6 layers of 1 to 8 units; ``()`` for none.
    activation : {"tanh", "relu", "sigmoid", "identity"}
        Of the hidden units; "identity" is shown as "linear".
    lr : float
        Learning rate, 1e-4 to 10.
    l2 : float
        L2 strength ``lambda`` of :class:`coursekit.MLP`, 0 to 0.1.
    seed : int
        Source of the data, the initial weights and the order of the batches.
    steps_per_frame : int
        Mini-batch steps per tick of *Play*, 1 to 50.

    Attributes
    ----------
    model : MLP
        The network being trained; rebuilt when the architecture changes.
    epoch : int
        Complete passes over the training set since the last restart.
    steps : int
        Mini-batch steps since the last restart.
    loss_epochs, train_loss, test_loss : list of float
        When (in epochs, fractions included) each loss was recorded, and the mean cross-entropy
        on the training and on the test set then (the L2 term left out). Entry 0 is before
        training; one entry is added per call of :meth:`step`.
    probabilities : array, shape (HEATMAP_RESOLUTION, HEATMAP_RESOLUTION)
        The big map: the network's probability of class 1 at the centres of the cells of a
        regular grid over the view, row ``r`` at the ``r``-th lowest ``x2`` (as
        :func:`coursekit.plotting.grid` orders points).
    thumbnails : list of arrays
        What the diagram shows, one array per column, shape (n_l, TILE_RESOLUTION,
        TILE_RESOLUTION), on such a grid: the input features, each hidden layer's outputs, and
        the probability of class 1.
    train_points, test_points : list of Line2D
        The data on the map, one marker line per class (class 0 first); the training points have
        a white edge, the test points a black one.
    """

    def __init__(self, dataset: str = "circles", noise: float = 0.05, test_fraction: float = 0.5,
                 batch_size: int = 10, features: Sequence[str] = ("x1", "x2"),
                 hidden: Sequence[int] = (4, 2), activation: str = "tanh", lr: float = 0.03,
                 l2: float = 0.0, seed: int = 0, steps_per_frame: int = 20):
        check_choice(dataset, DATASETS, "dataset")
        features, hidden = _check_features(features), _check_hidden(hidden)
        check_choice(activation, ACTIVATION_LABELS, "activation")
        _check_positive(noise=(noise, True), test_fraction=(test_fraction, False),
                        batch_size=(batch_size, False), lr=(lr, False), l2=(l2, True),
                        steps_per_frame=(steps_per_frame, False))
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        super().__init__(figsize=_FIGSIZE)
        self.fig.set_layout_engine("none")  # the axes are placed by hand, in pixels
        self.seed = int(seed)
        self.model: MLP | None = None
        self.note = ""
        self._quiet_depth = 0
        self._features, self._hidden, self._activation = features, hidden, activation

        self._make_controls(dataset)
        self._make_figure()
        with self.hold():
            self.set_sliders({"noise": noise, "test_fraction": test_fraction, "batch_size": batch_size,
                              "lr": lr, "l2": l2, "steps_per_frame": steps_per_frame})
            self._connect()
            self._load_data()
            with self._quiet():
                self._show_network(features, hidden, activation)
            self._build_network()

    # -- controls -------------------------------------------------------------------------------

    def _make_controls(self, dataset: str) -> None:
        style = {"description_width": "92px"}

        def size() -> widgets.Layout:
            return widgets.Layout(width="290px")  # one each: a layer's slider is hidden by its layout

        def slider(cls, description, **kwargs):
            return cls(description=description, continuous_update=True, style=style, layout=size(), **kwargs)

        # Noise comes first on the page: it visibly changes the picture (a browser test moves it).
        self.sliders = {
            "noise": slider(widgets.FloatSlider, "noise", min=0.0, max=0.5, step=0.05, readout_format=".2f"),
            "test_fraction": slider(widgets.FloatSlider, "test share", min=0.1, max=0.9, step=0.1,
                                    readout_format=".1f"),
            "batch_size": slider(widgets.IntSlider, "batch size", min=1, max=30),
            "lr": slider(widgets.FloatLogSlider, "learning rate", base=10, min=-4, max=1, step=0.1,
                         readout_format=".2g"),
            "l2": slider(widgets.FloatSlider, "L2 λ", min=0.0, max=0.1, step=0.001, readout_format=".3f"),
            "steps_per_frame": slider(widgets.IntSlider, "steps / frame", min=1, max=50),
            "layers": slider(widgets.IntSlider, "hidden layers", min=0, max=MAX_HIDDEN_LAYERS),
        }
        for k in range(1, MAX_HIDDEN_LAYERS + 1):
            self.sliders[f"units{k}"] = slider(widgets.IntSlider, f"layer {k} units", min=1, max=MAX_UNITS,
                                               value=2)
        self.dataset_menu = widgets.Dropdown(options=list(DATASETS), value=dataset, description="dataset",
                                             style=style, layout=size())
        self.activation_menu = widgets.Dropdown(
            options=[(label, name) for name, label in ACTIVATION_LABELS.items()], value=self._activation,
            description="activation", style=style, layout=size())
        self.feature_boxes = {name: widgets.Checkbox(value=name in self._features, description=name,
                                                     indent=False, layout=widgets.Layout(width="92px"))
                              for name in FEATURES}
        self.play = widgets.Play(value=0, min=0, max=10**9, step=1, interval=PLAY_INTERVAL,
                                 description="Play", show_repeat=False)
        self.step_button = widgets.Button(description="Step", icon="step-forward",
                                          tooltip="one mini-batch step", layout=widgets.Layout(width="80px"))
        self.reset_button = widgets.Button(description="Reset", icon="undo",
                                           tooltip="back to the initial weights",
                                           layout=widgets.Layout(width="80px"))
        self.readout = widgets.HTML()

    def _connect(self) -> None:
        for control in (self.dataset_menu, self.sliders["noise"], self.sliders["test_fraction"]):
            control.observe(self._on_data, names="value")
        for box in self.feature_boxes.values():
            box.observe(self._on_feature_box, names="value")
        for name in ("layers", *(f"units{k}" for k in range(1, MAX_HIDDEN_LAYERS + 1))):
            self.sliders[name].observe(self._on_hidden_slider, names="value")
        self.activation_menu.observe(lambda change: self._unless_quiet(self.set_network,
                                                                       activation=change["new"]),
                                     names="value")
        self.sliders["l2"].observe(self._on_l2, names="value")
        self.play.observe(self._on_play, names="value")
        self.step_button.on_click(lambda _: self.step())
        self.reset_button.on_click(lambda _: self.reset())

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        """Move controls from code without their callbacks reacting."""
        self._quiet_depth += 1
        try:
            yield
        finally:
            self._quiet_depth -= 1

    def _unless_quiet(self, function, *args, **kwargs) -> None:
        if not self._quiet_depth:
            function(*args, **kwargs)

    def _on_data(self, _change=None) -> None:
        if self._quiet_depth:
            return
        self._load_data()
        self._featurize()
        self._restart()
        self.refresh()

    def _on_feature_box(self, change) -> None:
        if self._quiet_depth:
            return
        chosen = tuple(name for name, box in self.feature_boxes.items() if box.value)
        if not chosen:
            # The network needs an input: the last box stays checked.
            with self._quiet():
                change["owner"].value = True
            self.note = "Keep at least one input feature."
            self.refresh()
            return
        self.set_network(features=chosen)

    def _on_hidden_slider(self, _change) -> None:
        if self._quiet_depth:
            return
        layers = self.sliders["layers"].value
        self.set_network(hidden=tuple(self.sliders[f"units{k}"].value for k in range(1, layers + 1)))

    def _on_l2(self, change) -> None:
        # Nothing to redraw: the losses shown are the data terms, and the weights are unchanged.
        self.model.l2 = float(change["new"])

    def _on_play(self, change) -> None:
        # The Play control counts up while it plays; its stop button sends it back to 0.
        if change["new"] > change["old"]:
            self.tick()

    # -- the network ----------------------------------------------------------------------------

    @property
    def features(self) -> tuple[str, ...]:
        """The input features, in the order of :data:`coursekit.features.FEATURES`."""
        return self._features

    @property
    def hidden(self) -> tuple[int, ...]:
        """Units per hidden layer."""
        return self._hidden

    @property
    def activation(self) -> str:
        """The hidden activation, a name of :data:`coursekit.layers.ACTIVATIONS`."""
        return self._activation

    @property
    def steps_per_frame(self) -> int:
        """Mini-batch steps per tick of *Play*."""
        return int(self.sliders["steps_per_frame"].value)

    @property
    def batch_size(self) -> int:
        """Rows per mini-batch (a change applies from the next epoch)."""
        return int(self.sliders["batch_size"].value)

    @property
    def lr(self) -> float:
        """The learning rate."""
        return float(self.sliders["lr"].value)

    def set_network(self, features: Sequence[str] | None = None, hidden: Sequence[int] | None = None,
                    activation: str | None = None) -> None:
        """Change the network from code, as the controls do: rebuild it once and redraw once.

        Parameters
        ----------
        features : sequence of str, optional
            Input features from :data:`coursekit.features.FEATURES` (at least one).
        hidden : sequence of int, optional
            Units per hidden layer (0 to 6 layers of 1 to 8 units).
        activation : {"tanh", "relu", "sigmoid", "identity"}, optional

        Anything not given stays as it is. A change restarts training from the seed's initial
        weights for the new architecture; no change leaves the training where it is.
        """
        features = self._features if features is None else _check_features(features)
        hidden = self._hidden if hidden is None else _check_hidden(hidden)
        if activation is None:
            activation = self._activation
        check_choice(activation, ACTIVATION_LABELS, "activation")
        changed = (features, hidden, activation) != (self._features, self._hidden, self._activation)
        with self.hold():
            with self._quiet():
                self._show_network(features, hidden, activation)
            if changed:
                self.note = ""
                self._features, self._hidden, self._activation = features, hidden, activation
                self._build_network()

    def _show_network(self, features, hidden, activation) -> None:
        """Set the check boxes, layer sliders and menu to a network (callbacks held off)."""
        for name, box in self.feature_boxes.items():
            box.value = name in features
        self.sliders["layers"].value = len(hidden)
        for k in range(1, MAX_HIDDEN_LAYERS + 1):
            unit_slider = self.sliders[f"units{k}"]
            if k <= len(hidden):
                unit_slider.value = hidden[k - 1]
            # Only the layers in use show their slider; the others keep their value for later.
            unit_slider.layout.display = None if k <= len(hidden) else "none"
        self.activation_menu.value = activation

    def _build_network(self) -> None:
        sizes = [len(self._features), *self._hidden, 1]
        self.model = MLP(sizes, activation=self._activation, loss="binary_cross_entropy",
                         l2=float(self.sliders["l2"].value), seed=self.seed)
        self._initial_params = {name: p.copy() for name, p in self.model.params.items()}
        self._featurize()
        headers = ["features", *(f"{n} unit{'s' if n > 1 else ''}" for n in self._hidden), "output"]
        self.diagram.build(sizes, [_FEATURE_LABELS[name] for name in self._features], headers)
        self._restart()

    # -- data -----------------------------------------------------------------------------------

    def _load_data(self) -> None:
        X, y = plane_dataset(self.dataset_menu.value, n=N_POINTS, noise=float(self.sliders["noise"].value),
                             seed=self.seed)
        self.X_train, self.X_test, self.y_train, self.y_test = train_test_split(
            X, y, float(self.sliders["test_fraction"].value), seed=self.seed)
        for lines, X_part, y_part in ((self.train_points, self.X_train, self.y_train),
                                      (self.test_points, self.X_test, self.y_test)):
            for label, line in enumerate(lines):
                line.set_data(*X_part[y_part == label].T)

    def _featurize(self) -> None:
        """The network's inputs: the chosen features of the data and of both grids."""
        self.F_train = feature_map(self.X_train, self._features)
        self.F_test = feature_map(self.X_test, self._features)
        self._heat_inputs = feature_map(self._heat_grid, self._features)
        self._tile_inputs = feature_map(self._tile_grid, self._features)

    # -- training -------------------------------------------------------------------------------

    def _restart(self) -> None:
        """Back to the initial weights, epoch 0, and empty loss curves."""
        for name, p in self._initial_params.items():
            self.model.params[name][...] = p
        self.epoch = 0
        self.steps = 0
        self._batches: Iterator[np.ndarray] | None = None
        self._epoch_rows = 0
        self._batch_rng = np.random.default_rng(self.seed)
        self.loss_epochs: list[float] = []
        self.train_loss: list[float] = []
        self.test_loss: list[float] = []
        self._record()

    def _next_batch(self) -> np.ndarray:
        m = len(self.y_train)
        if self._batches is None:
            self._batches = minibatches(m, self.batch_size, self._batch_rng)
            self._epoch_rows = 0
        rows = next(self._batches)
        self._epoch_rows += len(rows)
        if self._epoch_rows >= m:  # the batches of an epoch cover every row once
            self.epoch += 1
            self._batches = None
            self._epoch_rows = 0
        return rows

    def _data_loss(self, F: np.ndarray, y: np.ndarray) -> float:
        logits, _ = self.model.forward_logits(F)
        return binary_cross_entropy(logits, y[:, None].astype(float))[0]

    def _record(self) -> None:
        with np.errstate(over="ignore", invalid="ignore"):
            self.loss_epochs.append(self.epoch + self._epoch_rows / len(self.y_train))
            self.train_loss.append(self._data_loss(self.F_train, self.y_train))
            self.test_loss.append(self._data_loss(self.F_test, self.y_test))

    def step(self, n: int = 1) -> None:
        """Run ``n`` mini-batch gradient-descent steps, record the losses, and redraw once."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ValueError(f"n must be a whole number >= 0, got {n!r}")
        lr = self.lr
        self.note = ""
        # A learning rate that is too large can overflow the weights; the readout says so.
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(n):
                rows = self._next_batch()
                _, grads = self.model.loss(self.F_train[rows], self.y_train[rows])
                self.model.step(grads, lr)
        self.steps += n
        self._record()
        self.refresh()

    def tick(self) -> None:
        """What one tick of *Play* does: :attr:`steps_per_frame` steps, then one redraw."""
        self.step(self.steps_per_frame)

    def reset(self) -> None:
        """Stop playing and go back to the initial weights, epoch 0 and empty loss curves."""
        self.play.playing = False
        self.note = ""
        self._restart()
        self.refresh()

    # -- the figure -----------------------------------------------------------------------------

    def _add_axes(self, box):
        width, height = (s * self.dpi for s in _FIGSIZE)
        left, bottom, w, h = box
        return self.fig.add_axes((left / width, bottom / height, w / width, h / height))

    def _make_figure(self) -> None:
        lim = (-VIEW_LIM, VIEW_LIM)
        self._heat_grid = _cell_centres(HEATMAP_RESOLUTION)
        self._tile_grid = _cell_centres(TILE_RESOLUTION)
        self.diagram = NetworkDiagram(self._add_axes(_NETWORK_BOX), spacing=36.0)
        self.diagram.ax.text(6, 5, "lines: width ∝ |w|, orange w > 0, blue w < 0;  "
                             "units: orange > 0, blue < 0", fontsize=7, color="#555555")

        ax = self.heat_ax = self._add_axes(_HEATMAP_BOX)
        # The map fills the axes exactly, one value per HEATMAP_ZOOM x HEATMAP_ZOOM pixels.
        self.heatmap = TileArtist([(0.0, 0.0)], zoom=HEATMAP_ZOOM)
        self.heatmap.set_zorder(0)
        ax.add_artist(self.heatmap)
        # Marker lines rather than scatters: matplotlib stamps one marker image per line, which
        # is many times faster than drawing each point of a scatter on its own.
        self.train_points, self.test_points = (
            [ax.plot([], [], ls="none", marker="o", ms=4, mfc=color, mec=edge, mew=width, zorder=3)[0]
             for color in CLASS_COLORS]
            for edge, width in (("white", 0.6), ("black", 0.9))
        )
        ticks = (-4, -2, 0, 2, 4)
        ax.set(xlim=lim, ylim=lim, xticks=ticks, yticks=ticks)
        ax.tick_params(labelsize=7, length=2, pad=1)
        self.heat_title = ax.set_title("", fontsize=8)
        ax.text(1.0, -0.075, "edge: white train, black test", transform=ax.transAxes, ha="right",
                va="top", fontsize=7, color="#555555")

        ax = self.loss_ax = self._add_axes(_LOSS_BOX)
        (self.train_curve,) = ax.plot([], [], color="#888888", lw=1.3, label="train loss")
        (self.test_curve,) = ax.plot([], [], color="black", lw=1.3, label="test loss")
        ax.set(xticks=[], yticks=[])
        # Above the axes, where no curve crosses it, so that it can stay in the background.
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, fontsize=7, frameon=False,
                  handlelength=1.4, borderaxespad=0.1, borderpad=0.2)

    def animated_artists(self) -> list:
        # The spines too: the pictures fill their axes, and the frames must stay on top of them.
        return [
            self.heatmap, *self.train_points, *self.test_points, *self.heat_ax.spines.values(),
            self.heat_title,
            *self.diagram.artists,
            self.train_curve, self.test_curve, *self.loss_ax.spines.values(),
        ]

    def background_parts(self) -> dict:
        # The diagram's labels and headers follow the features and the hidden layers; a new
        # layout redraws the diagram alone.
        return {self.diagram.ax: (self._features, self._hidden)}

    def _unit_outputs(self) -> list[np.ndarray]:
        """The thumbnails: every input, hidden unit and the output over the tile grid."""
        res = TILE_RESOLUTION
        logits, caches = self.model.forward_logits(self._tile_inputs)
        columns = [self._tile_inputs, *(cache.activation.a for cache in caches[:-1]), sigmoid(logits)]
        return [A.T.reshape(A.shape[1], res, res) for A in columns]

    def draw(self) -> None:
        with np.errstate(over="ignore", invalid="ignore"):
            probability = self.model.forward(self._heat_inputs)[:, 0]
            self.probabilities = probability.reshape(HEATMAP_RESOLUTION, HEATMAP_RESOLUTION)
            self.heatmap.set_tiles([PROBABILITY_CMAP(self.probabilities, bytes=True)])
            self.thumbnails = self._unit_outputs()
            features, *hidden, output = self.thumbnails
            # Each feature fills the colour range over the view; units show [-1, 1]; the output
            # maps probability 0..1 onto it, as the big map does.
            scale = np.abs(features).max(axis=(1, 2), keepdims=True)
            shown = [features / np.where(scale > 0, scale, 1.0), *hidden, 2.0 * output - 1.0]
            weights = [self.model.params[f"W{l}"] for l in range(1, self.model.n_layers + 1)]
            self.diagram.update(shown, weights)
        self._draw_losses()

    def _draw_losses(self) -> None:
        train, test = self.train_loss[-1], self.test_loss[-1]
        self.train_curve.set_data(self.loss_epochs, self.train_loss)
        self.test_curve.set_data(self.loss_epochs, self.test_loss)
        finite = [v for v in (*self.train_loss, *self.test_loss) if np.isfinite(v)]
        self.loss_ax.set_xlim(0.0, max(1.0, self.loss_epochs[-1]))
        self.loss_ax.set_ylim(0.0, 1.08 * max(finite, default=1.0) or 1.0)
        self.heat_title.set_text(f"epoch {self.epoch} · loss: test {test:.3f}, train {train:.3f}")

        note = self.note
        if not (np.isfinite(train) and np.all([np.isfinite(p).all() for p in self.model.params.values()])):
            note = "The weights blew up: press Reset and lower the learning rate."
        sizes = "-".join(map(str, self.model.sizes))
        self.readout.value = (
            f"<b>epoch {self.epoch}</b> ({self.steps} steps) &middot; train loss {train:.3f} &middot; "
            f"test loss {test:.3f} &middot; network {sizes}, {self.model.n_params()} parameters"
            + (f"<br><b>Note:</b> {note}" if note else "")
            + self.clip_note()
        )

    @functools.cached_property
    def widget(self) -> widgets.Widget:
        s = self.sliders
        heading = widgets.HTML
        # Noise must stay the first slider on the page (see _make_controls).
        data = widgets.VBox([heading("<b>Data</b>"), self.dataset_menu, s["noise"], s["test_fraction"],
                             s["batch_size"], heading("<b>Input features</b>"),
                             widgets.GridBox(list(self.feature_boxes.values()),
                                             layout=widgets.Layout(grid_template_columns="repeat(3, 96px)"))],
                            # a fixed column: the picture beside it shrinks instead of covering it
                            layout=widgets.Layout(flex="0 0 auto", min_width="300px"))
        bar = widgets.HBox([self.play, self.step_button, self.reset_button, self.readout],
                           layout=widgets.Layout(align_items="center"))
        training = widgets.VBox([heading("<b>Training</b>"), self.activation_menu, s["lr"], s["l2"],
                                 s["steps_per_frame"]])
        network = widgets.VBox([heading("<b>Hidden layers</b>"), s["layers"],
                                *(s[f"units{k}"] for k in range(1, MAX_HIDDEN_LAYERS + 1))])
        picture = widgets.Box([self.image], layout=widgets.Layout(flex="1 1 auto", min_width="0"))
        return widgets.VBox([bar, widgets.HBox([data, picture]), widgets.HBox([training, network])])


def _cell_centres(resolution: int) -> np.ndarray:
    """The centres of ``resolution`` x ``resolution`` equal cells tiling the view, row by row."""
    half_cell = VIEW_LIM / resolution
    inner = (-VIEW_LIM + half_cell, VIEW_LIM - half_cell)
    return grid(inner, inner, resolution)


def _check_features(names) -> tuple[str, ...]:
    """Known, distinct feature names, at least one, in the order of :data:`FEATURES`."""
    names = (names,) if isinstance(names, str) else tuple(names)
    if not names:
        raise ValueError(f"features: choose at least one of {list(FEATURES)}")
    for name in names:
        check_choice(name, FEATURES, "feature")
    if len(set(names)) != len(names):
        raise ValueError(f"features: each feature may appear once, got {list(names)}")
    return tuple(name for name in FEATURES if name in names)


def _check_hidden(hidden) -> tuple[int, ...]:
    """Units per hidden layer: 0 to MAX_HIDDEN_LAYERS layers of 1 to MAX_UNITS units."""
    sizes = tuple(hidden)
    if len(sizes) > MAX_HIDDEN_LAYERS:
        raise ValueError(f"hidden: at most {MAX_HIDDEN_LAYERS} hidden layers, got {len(sizes)}")
    for n in sizes:
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 1 <= n <= MAX_UNITS:
            raise ValueError(
                f"hidden: each layer needs a whole number of 1 to {MAX_UNITS} units, got {sizes}"
            )
    return tuple(int(n) for n in sizes)


def _check_positive(**values: tuple[float, bool]) -> None:
    """Each value must be a number > 0 (or >= 0 where its flag allows zero)."""
    for name, (value, zero_ok) in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if value < 0 or (value == 0 and not zero_ok):
            raise ValueError(f"{name} must be {'>= 0' if zero_ok else '> 0'}, got {value}")
