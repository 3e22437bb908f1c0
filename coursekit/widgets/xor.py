"""The XOR explorer: a 2-2-1 network set by hand, seen in input space and in hidden space.

The network is ``h = g(W1 x + b1)`` with ``g`` the ReLU or the step, and ``y_hat = W2 h + b2``
with no output activation; the network says class 1 where ``y_hat >= threshold`` (0.5, halfway
between the targets 0 and 1). For a batch, in the course's notation,
``H = g(X @ W1.T + b1)`` and ``y_hat = H @ W2.T + b2``.

:class:`XORNetworkView` draws such a network into two axes and moves its artists in place;
:func:`plot_xor_network` is its static form for the lesson's figures, and :class:`XORExplorer`
puts sliders on every weight and bias.
"""

from __future__ import annotations

import functools
import math

import ipywidgets as widgets
import numpy as np
from matplotlib.axes import Axes

from coursekit._validation import as_float_array, check_choice, check_ndim, check_shape
from coursekit.datasets import xor
from coursekit.layers import identity_forward, linear_forward, relu_forward, step_forward
from coursekit.plotting import (
    boundary_segment,
    class_points,
    grid,
    legend_below,
    region_image,
    wrong_marker,
)
from coursekit.widgets.base import Explorer

__all__ = [
    "HIDDEN_ACTIVATIONS",
    "NOTES_SOLUTION",
    "PRESETS",
    "THRESHOLD",
    "xor_network",
    "XORNetworkView",
    "plot_xor_network",
    "XORExplorer",
]

#: The network says class 1 where ``y_hat >= THRESHOLD``.
THRESHOLD = 0.5

#: Hidden activations the explorer offers; "identity" leaves the layer linear.
#: The hidden units' activations, as the library's forward functions.
_HIDDEN = {"relu": relu_forward, "step": step_forward, "identity": identity_forward}
HIDDEN_ACTIVATIONS = tuple(_HIDDEN)

#: The notes' hint (b1 = [-1, -1], W1 of 1s and 2s) worked out: both positive points land on
#: h = (0, 1), the negatives on (0, 0) and (1, 3), and y_hat = -3 h1 + h2 is exactly XOR.
NOTES_SOLUTION = {
    "W1": ((1.0, 1.0), (2.0, 2.0)),
    "b1": (-1.0, -1.0),
    "W2": ((-3.0, 1.0),),
    "b2": (0.0,),
    "activation": "relu",
}

#: Named settings of the explorer: (W1, b1, W2, b2, activation).
PRESETS: dict[str, dict] = {
    "notes: W1 = [[1, 1], [2, 2]], b1 = [-1, -1]": NOTES_SOLUTION,
    "classic: relu(x1 + x2), relu(x1 + x2 - 1)": {
        "W1": ((1.0, 1.0), (1.0, 1.0)), "b1": (0.0, -1.0), "W2": ((1.0, -2.0),), "b2": (0.0,),
        "activation": "relu",
    },
    "gates: OR and NAND into AND (step)": {
        # The AND unit's bias -1.5 becomes -1 here, because the output is compared with 0.5.
        "W1": ((1.0, 1.0), (-1.0, -1.0)), "b1": (-0.5, 1.5), "W2": ((1.0, 1.0),), "b2": (-1.0,),
        "activation": "step",
    },
    "1s and 2s that fail: W1 = [[1, 2], [2, 1]]": {
        "W1": ((1.0, 2.0), (2.0, 1.0)), "b1": (-1.0, -1.0), "W2": ((1.0, 1.0),), "b2": (0.0,),
        "activation": "relu",
    },
}

_UNIT_COLORS = ("#6b46c1", "#2f855a")  # hidden unit 1, hidden unit 2
_INPUT_NAMES = ("(0,0)", "(0,1)", "(1,0)", "(1,1)")


def xor_network(X, W1, b1, W2, b2, activation: str = "relu") -> tuple[np.ndarray, np.ndarray]:
    """Forward pass of a 2-2-1 network with a linear output.

    Parameters
    ----------
    X : array, shape (m, 2)
    W1 : array, shape (2, 2)
    b1 : array, shape (2,)
    W2 : array, shape (1, 2)
    b2 : array, shape (1,)
    activation : {"relu", "step", "identity"}
        Of the hidden units; the step is 1 where ``z >= 0``, the identity leaves ``z`` as it is.

    Returns
    -------
    H : array, shape (m, 2)
        The hidden layer, ``g(X @ W1.T + b1)``.
    y_hat : array, shape (m,)
        The output, ``H @ W2.T + b2`` flattened.
    """
    check_choice(activation, HIDDEN_ACTIVATIONS, "hidden activation")
    X = as_float_array(X, "X")
    check_ndim(X, 2, "X", "(m, 2)")
    if X.shape[1] != 2:
        raise ValueError(f"X must have shape (m, 2), got shape {X.shape}")
    W1, b1, W2, b2 = _checked_params(W1, b1, W2, b2)
    Z1, _ = linear_forward(X, W1, b1)
    H, _ = _HIDDEN[activation](Z1)
    y_hat, _ = linear_forward(H, W2, b2)
    return H, y_hat[:, 0]


def _checked_params(W1, b1, W2, b2) -> tuple[np.ndarray, ...]:
    shapes = {"W1": (2, 2), "b1": (2,), "W2": (1, 2), "b2": (1,)}
    return tuple(check_shape(v, shape, name) for (name, shape), v in zip(shapes.items(), (W1, b1, W2, b2),
                                                                           strict=True))


class XORNetworkView:
    """A 2-2-1 network on the XOR points, in two panels whose artists are reused on every update.

    *Input space* (``ax_input``): the regions the network assigns to each class, the line
    ``z_j = 0`` of each hidden unit, and the four points. *Hidden space* (``ax_hidden``): where the
    four points land, ``h = g(W1 x + b1)``, labelled with their inputs, and the output unit's line
    ``W2 h + b2 = threshold`` with its regions. Red circles mark misclassified points in both.

    Parameters
    ----------
    ax_input, ax_hidden : matplotlib Axes
    threshold : float
        Class 1 where ``y_hat >= threshold``.
    resolution : int
        Grid points per side of the shaded regions.
    """

    lim = (-0.5, 1.5)

    def __init__(self, ax_input: Axes, ax_hidden: Axes, threshold: float = THRESHOLD,
                 resolution: int = 90):
        self.ax_input, self.ax_hidden = ax_input, ax_hidden
        self.threshold = float(threshold)
        self.X, self.y = xor()
        self._res = resolution
        self._grid = grid(self.lim, self.lim, resolution)
        self.hidden_lim = self.lim

        ax = ax_input
        self.region = region_image(ax, self.lim, resolution)
        self.unit_lines = [
            ax.plot([], [], color=c, lw=2, ls=ls, zorder=2, label=f"unit {j + 1}: $z_{j + 1} = 0$")[0]
            for j, (c, ls) in enumerate(zip(_UNIT_COLORS, ("-", "--"), strict=True))
        ]
        self.input_points = class_points(ax)
        for label, artist in enumerate(self.input_points):
            artist.set_offsets(self.X[self.y == label])
        self.input_wrong = wrong_marker(ax)
        ax.set(xlim=self.lim, ylim=self.lim, xticks=(0, 1), yticks=(0, 1), xlabel="$x_1$", ylabel="$x_2$",
               aspect="equal")
        self.input_title = ax.set_title("input space")
        legend_below(ax)

        ax = ax_hidden
        self.hidden_region = region_image(ax, self.lim, resolution)
        (self.output_line,) = ax.plot([], [], color="black", lw=2, zorder=2,
                                      label=f"output: $W_2 h + b_2 = {self.threshold:g}$")
        self.hidden_points = class_points(ax)
        self.hidden_wrong = wrong_marker(ax)
        self.point_labels = [ax.annotate("", (0.0, 0.0), xytext=(7, 5), textcoords="offset points",
                                         fontsize=8, zorder=5) for _ in range(len(self.y))]
        ax.set(xlim=self.lim, ylim=self.lim, xlabel="$h_1$", ylabel="$h_2$", aspect="equal")
        self.hidden_title = ax.set_title("hidden space")
        legend_below(ax)

        #: Everything inside the two panels, and the input panel's title, in drawing order (the
        #: regions first, then the frames over them): what changes whenever the network does. The
        #: hidden panel's title and limits change only with the activation and the range of h.
        self.frame_artists = [
            self.region, *ax_input.spines.values(), *self.unit_lines, *self.input_points, self.input_wrong,
            self.input_title,
            self.hidden_region, *ax_hidden.spines.values(), self.output_line, *self.hidden_points,
            self.hidden_wrong, *self.point_labels,
        ]

    def update(self, W1, b1, W2, b2, activation: str = "relu") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Move every artist to the network ``(W1, b1, W2, b2)``.

        Returns
        -------
        H : array, shape (4, 2)
            Hidden values of the points (0,0), (0,1), (1,0), (1,1).
        y_hat : array, shape (4,)
            Their outputs.
        wrong : bool array, shape (4,)
            The points whose class ``y_hat >= threshold`` differs from XOR.
        """
        W1, b1 = np.asarray(W1, dtype=float), np.asarray(b1, dtype=float)
        W2, b2 = np.asarray(W2, dtype=float), np.asarray(b2, dtype=float)
        H, y_hat = xor_network(self.X, W1, b1, W2, b2, activation)
        wrong = (y_hat >= self.threshold).astype(int) != self.y
        res = self._res

        # Input space: what the whole network says on a grid, and each hidden unit's line.
        _, grid_out = xor_network(self._grid, W1, b1, W2, b2, activation)
        self.region.set_data((grid_out >= self.threshold).reshape(res, res))
        for j, line in enumerate(self.unit_lines):
            line.set_data(*boundary_segment(W1[j], b1[j], self.lim))
        self.input_wrong.set_offsets(self.X[wrong].reshape(-1, 2))

        # Hidden space: square limits that hold every point, in whole steps so the view stays put.
        hi = max(self.lim[1], math.ceil(float(H.max())) + 0.5)
        lo = min(self.lim[0], math.floor(float(H.min())) - 0.5)
        self.hidden_lim = (lo, hi)
        self.ax_hidden.set(xlim=self.hidden_lim, ylim=self.hidden_lim)
        hidden_grid = grid(self.hidden_lim, self.hidden_lim, res)
        self.hidden_region.set_data((hidden_grid @ W2[0] + b2[0] >= self.threshold).reshape(res, res))
        self.hidden_region.set_extent((lo, hi, lo, hi))
        self.output_line.set_data(*boundary_segment(W2[0], b2[0] - self.threshold, self.hidden_lim))
        for label, artist in enumerate(self.hidden_points):
            artist.set_offsets(H[self.y == label].reshape(-1, 2))
        self.hidden_wrong.set_offsets(H[wrong].reshape(-1, 2))
        self._label_points(H)

        n_right = int((~wrong).sum())
        self.input_title.set_text(f"input space: {n_right}/4 right")
        self.hidden_title.set_text(f"hidden space: h = {activation}(W1 x + b1)")
        return H, y_hat, wrong

    def _label_points(self, H: np.ndarray) -> None:
        # Points that land on the same spot share one label, e.g. "(0,1) (1,0)": the fold.
        done: set[int] = set()
        for i, annotation in enumerate(self.point_labels):
            annotation.xy = (float(H[i, 0]), float(H[i, 1]))
            if i in done:
                annotation.set_text("")
                continue
            same = [k for k in range(len(H)) if np.allclose(H[k], H[i], atol=1e-9)]
            done.update(same)
            annotation.set_text(" ".join(_INPUT_NAMES[k] for k in same))


def plot_xor_network(W1, b1, W2, b2, activation: str = "relu", threshold: float = THRESHOLD,
                     axes=None) -> XORNetworkView:
    """Draw a 2-2-1 network on XOR once, in input space and hidden space.

    Parameters
    ----------
    W1, b1, W2, b2 : arrays of shapes (2, 2), (2,), (1, 2), (1,)
    activation : {"relu", "step", "identity"}
    threshold : float
        Class 1 where ``y_hat >= threshold``.
    axes : (Axes, Axes), optional
        Drawn on a new pyplot figure if not given.

    Returns
    -------
    XORNetworkView
        Its ``ax_input`` and ``ax_hidden`` can be decorated further.
    """
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 2, figsize=(9.2, 4.6), layout="constrained")
    view = XORNetworkView(*axes, threshold=threshold)
    view.update(W1, b1, W2, b2, activation)
    return view


class XORExplorer(Explorer):
    """Sliders for all nine parameters of a 2-2-1 network on XOR.

    The picture shows the input space (the network's regions, both hidden units' lines, the
    four points) beside the hidden space (where the first layer sends the four points, and the
    output unit's line). A toggle switches the hidden units between ReLU, step and the identity
    (no activation: the two layers collapse into one affine map), a menu loads
    a preset, and *Reset* reloads the chosen preset. The readout counts the points classified
    right, class 1 being ``y_hat >= 0.5``.

    Parameters
    ----------
    W1, b1, W2, b2 : arrays of shapes (2, 2), (2,), (1, 2), (1,)
        Starting parameters; the notes' solution by default.
    activation : {"relu", "step", "identity"}
        Starting hidden activation.
    """

    #: Sliders run from -LIMIT to LIMIT.
    LIMIT = 4.0
    #: Slider names, in page order: the first one is ``W1[0,0]``.
    NAMES = ("W1[0,0]", "W1[0,1]", "W1[1,0]", "W1[1,1]", "b1[0]", "b1[1]", "W2[0,0]", "W2[0,1]", "b2[0]")

    def __init__(self, W1=NOTES_SOLUTION["W1"], b1=NOTES_SOLUTION["b1"], W2=NOTES_SOLUTION["W2"],
                 b2=NOTES_SOLUTION["b2"], activation: str = "relu"):
        check_choice(activation, HIDDEN_ACTIVATIONS, "hidden activation")
        super().__init__(figsize=(9.2, 4.6))
        self.n_right = 0

        slider = dict(min=-self.LIMIT, max=self.LIMIT, step=0.1, continuous_update=True,
                      readout_format=".1f", style={"description_width": "56px"},
                      layout=widgets.Layout(width="300px"))
        self.sliders = {name: widgets.FloatSlider(description=name, **slider) for name in self.NAMES}
        self.activation = widgets.ToggleButtons(options=list(HIDDEN_ACTIVATIONS), value=activation,
                                                description="hidden g",
                                                style={"button_width": "74px", "description_width": "56px"})
        self.preset = widgets.Dropdown(options=list(PRESETS), value=next(iter(PRESETS)),
                                       description="preset", style={"description_width": "56px"},
                                       layout=widgets.Layout(width="300px"))
        self.reset_button = widgets.Button(description="Reset to preset", icon="undo")
        self.readout = widgets.HTML()

        ax_input, ax_hidden = self.fig.subplots(1, 2)
        self.view = XORNetworkView(ax_input, ax_hidden)

        for control in (*self.sliders.values(), self.activation):
            control.observe(self.refresh, names="value")
        self.preset.observe(lambda change: self.load_preset(change["new"]), names="value")
        self.reset_button.on_click(lambda _: self.load_preset(self.preset.value))
        self.set_params(W1, b1, W2, b2)

    @property
    def params(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Current ``(W1, b1, W2, b2)`` as set by the sliders."""
        v = np.array([self.sliders[name].value for name in self.NAMES])
        return v[:4].reshape(2, 2), v[4:6], v[6:8].reshape(1, 2), v[8:9]

    def set_params(self, W1, b1, W2, b2, activation: str | None = None) -> None:
        """Move the sliders (and the toggle) and redraw once. Values beyond the sliders' range
        are clipped, and the readout says so."""
        values = np.concatenate([p.ravel() for p in _checked_params(W1, b1, W2, b2)])
        if activation is not None:
            check_choice(activation, HIDDEN_ACTIVATIONS, "hidden activation")
        with self.hold():
            self.set_sliders(dict(zip(self.NAMES, values, strict=True)))
            if activation is not None:
                self.activation.value = activation

    def load_preset(self, name: str) -> None:
        """Set the network to one of :data:`PRESETS`."""
        check_choice(name, PRESETS, "preset")
        p = PRESETS[name]
        self.set_params(p["W1"], p["b1"], p["W2"], p["b2"], p["activation"])

    def animated_artists(self) -> list:
        return self.view.frame_artists

    def background_parts(self) -> dict:
        # The hidden panel's limits and title follow the first layer; they are drawn with the
        # static parts, and a change redraws only the ticks and the title (the limits stay square).
        view = self.view
        part = (view.ax_hidden.xaxis, view.ax_hidden.yaxis, view.hidden_title)
        return {part: (view.hidden_lim, view.hidden_title.get_text())}

    def draw(self) -> None:
        H, y_hat, wrong = self.view.update(*self.params, self.activation.value)
        self.n_right = int((~wrong).sum())
        marks = ("&#10003;", "<b style='color:crimson'>wrong</b>")
        rows = "".join(
            f"<tr><td>{name}</td><td>{y_i}</td><td>({h[0]:.2f}, {h[1]:.2f})</td><td>{yh:.2f}</td>"
            f"<td>{marks[int(bad)]}</td></tr>"
            for name, y_i, h, yh, bad in zip(_INPUT_NAMES, self.view.y, H, y_hat, wrong, strict=True)
        )
        self.readout.value = (
            f"<b>{self.n_right} of 4 right</b> (class 1 where &ycirc; &ge; {self.view.threshold:g})"
            "<table style='font-family:monospace'><tr><th>x</th><th>y</th><th>h</th><th>&ycirc;</th>"
            f"<th></th></tr>{rows}</table>"
        )
        self.readout.value += self.clip_note()

    @functools.cached_property
    def widget(self) -> widgets.Widget:
        first = widgets.VBox([widgets.HTML("<b>hidden layer</b>: h = g(W1 x + b1)"),
                              *(self.sliders[n] for n in self.NAMES[:6])])
        second = widgets.VBox([widgets.HTML("<b>output unit</b>: &ycirc; = W2 h + b2"),
                               *(self.sliders[n] for n in self.NAMES[6:]),
                               self.activation, self.preset, self.reset_button])
        return widgets.VBox([self.image, widgets.HBox([first, second, self.readout])])
