"""The perceptron explorer: move a linear threshold unit by hand, or let the rule move it."""

from __future__ import annotations

import functools
import html

import ipywidgets as widgets
import numpy as np

from coursekit import perceptron
from coursekit.datasets import GATES, logic_gate
from coursekit.plotting import LinearBoundaryView
from coursekit.widgets.base import Explorer

__all__ = ["PerceptronExplorer"]


class PerceptronExplorer(Explorer):
    """Sliders for ``w1``, ``w2`` and ``b`` over a logic-gate dataset.

    The plot shows the unit's decision line and shaded regions, and circles every point it gets
    wrong. *Perceptron step* applies the learning rule to the next example in turn (with the
    learning-rate slider) and moves the sliders to the new weights; *Reset* goes back to the
    starting weights.

    Parameters
    ----------
    gate : str
        One of :data:`coursekit.datasets.GATES`.
    w : (float, float)
        Starting weights.
    b : float
        Starting bias.
    lr : float
        Starting learning rate.
    """

    #: Sliders run from -LIMIT to LIMIT.
    LIMIT = 5.0

    def __init__(self, gate: str = "AND", w=(0.0, 0.0), b: float = 0.0, lr: float = 0.5):
        super().__init__(figsize=(4.6, 4.6))
        self.X, self.y = logic_gate(gate)
        self._start = (tuple(float(v) for v in w), float(b))
        self.next_index = 0
        self.updates = 0

        slider = dict(min=-self.LIMIT, max=self.LIMIT, step=0.1, continuous_update=True,
                      readout_format=".1f")
        self.sliders = {
            "w1": widgets.FloatSlider(description="w1", **slider),
            "w2": widgets.FloatSlider(description="w2", **slider),
            "b": widgets.FloatSlider(description="b", **slider),
        }
        self.lr = widgets.FloatSlider(value=lr, min=0.1, max=2.0, step=0.1, description="lr",
                                      readout_format=".1f")
        self.gate = widgets.Dropdown(options=list(GATES), value=gate.upper(), description="gate")
        self.step_button = widgets.Button(description="Perceptron step", icon="forward")
        self.reset_button = widgets.Button(description="Reset", icon="undo")
        self.readout = widgets.HTML()

        self.view = LinearBoundaryView(self.fig.add_subplot())
        self.title = self.view.ax.set_title("")

        for control in self.sliders.values():
            control.observe(self.refresh, names="value")
        self.gate.observe(self._on_gate, names="value")
        self.step_button.on_click(lambda _: self.step())
        self.reset_button.on_click(lambda _: self.reset())
        self.set_weights(*self._start)

    @property
    def weights(self) -> tuple[np.ndarray, float]:
        """Current ``(w, b)`` as set by the sliders."""
        s = self.sliders
        return np.array([s["w1"].value, s["w2"].value]), float(s["b"].value)

    def set_weights(self, w, b: float) -> None:
        """Move the sliders and redraw once. Values beyond the sliders' range are clipped, and the
        readout says so."""
        w1, w2 = (float(v) for v in w)
        self.set_sliders({"w1": w1, "w2": w2, "b": b})

    def step(self) -> None:
        """Apply the perceptron rule to the next example, cycling through the four."""
        w, b = self.weights
        i = self.next_index
        w_new, b_new = perceptron.update(w, b, self.X[i], int(self.y[i]), self.lr.value)
        self.next_index = (i + 1) % len(self.y)
        if not (np.array_equal(w_new, w) and b_new == b):
            self.updates += 1
        self.set_weights(w_new, b_new)

    def reset(self) -> None:
        """Back to the starting weights and the first example."""
        self.next_index = 0
        self.updates = 0
        self.set_weights(*self._start)

    def _on_gate(self, change) -> None:
        self.X, self.y = logic_gate(change["new"])
        self.next_index = 0
        self.updates = 0  # the count is of this gate's training
        self.refresh()

    def draw(self) -> None:
        w, b = self.weights
        wrong = self.view.update(w, b, self.X, self.y)
        n_right = int((~wrong).sum())
        self.title.set_text(f"{self.gate.value}: {n_right}/4 right")
        missed = ", ".join(f"({x1:g}, {x2:g})" for x1, x2 in self.X[wrong]) or "none"
        nxt = self.X[self.next_index]
        self.readout.value = (
            f"<b>{n_right} of 4 right</b> &middot; misclassified: {html.escape(missed)}"
            f" &middot; next example for the rule: ({nxt[0]:g}, {nxt[1]:g})"
            f" &middot; updates so far: {self.updates}"
            + self.clip_note("Try a smaller learning rate.")
        )

    def animated_artists(self) -> list:
        v = self.view
        # The spines too: the region image fills the axes, and the frame must stay on top of it.
        return [v.region, v.line, *v.points, v.wrong, *v.ax.spines.values()]

    def background_parts(self) -> dict:
        # The title changes only with the count of points right: it is drawn with the static parts.
        return {(self.title,): self.title.get_text()}

    @functools.cached_property
    def widget(self) -> widgets.Widget:
        controls = widgets.VBox([
            self.gate, *self.sliders.values(), self.lr,
            widgets.HBox([self.step_button, self.reset_button]),
        ])
        return widgets.VBox([widgets.HBox([self.image, controls]), self.readout])
