"""The chain-rule explorer: the graph of ``J = 2(ab + c)`` forward and backward, and the nudge."""

from __future__ import annotations

import functools

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

from coursekit.graph import Value, draw_graph
from coursekit.widgets.base import Explorer

__all__ = ["ChainRuleExplorer", "build_graph", "nudge_ratios"]

#: Nudge sizes on the error plot; the slider for h covers the same range.
H_MIN_EXP, H_MAX_EXP = -10, 0
H_GRID = np.logspace(H_MIN_EXP, H_MAX_EXP, 101)
#: Errors below this (exact zeros included) are drawn on this floor of the log axis.
ERROR_FLOOR = 1e-16


def build_graph(a: float, b: float, c: float) -> Value:
    """``J = 2(ab + c)`` as a graph of :class:`Value` nodes labelled a, b, c, u, v, J, after
    ``J.backward()``."""
    a, b, c = Value(a, "a"), Value(b, "b"), Value(c, "c")
    u = (a * b).named("u")
    v = (u + c).named("v")
    J = (2 * v).named("J")
    J.backward()
    return J


def J_linear(a, b, c):
    """``2(ab + c)``, the notes' function: linear in ``a``. Works elementwise on arrays."""
    return 2 * (a * b + c)


def J_curved(a, b, c):
    """``2(a^2 b + c)``, a variant that bends in ``a``. Works elementwise on arrays."""
    return 2 * (a * a * b + c)


def nudge_ratios(a: float, b: float, c: float, h) -> tuple[np.ndarray, np.ndarray]:
    """The forward-difference ratios ``(J(a + h) - J(a)) / h`` of both functions, at each ``h``.

    Parameters
    ----------
    a, b, c : float
    h : float or array of positive floats

    Returns
    -------
    linear, curved : arrays, shape of ``h``
        For ``J = 2(ab + c)``, whose ``dJ/da = 2b`` (only rounding separates the two, since ``J``
        is linear in ``a``), and for ``J = 2(a^2 b + c)``, whose ``dJ/da = 4ab`` (off by the
        truncation error ``2 b h`` plus rounding).
    """
    h = np.asarray(h, dtype=np.float64)
    linear = (J_linear(a + h, b, c) - J_linear(a, b, c)) / h
    curved = (J_curved(a + h, b, c) - J_curved(a, b, c)) / h
    return linear, curved


class ChainRuleExplorer(Explorer):
    """Sliders for ``a``, ``b``, ``c`` and the nudge ``h`` of ``J = 2(ab + c)``.

    The left panel is the computational graph with every node's value (forward pass) and
    gradient ``dJ/dnode`` (backward pass). The right panel compares the nudge ratio
    ``(J(a + h) - J(a)) / h`` with the chain-rule product ``dJ/du * du/da = 2b`` over a range of
    ``h`` on log-log axes, for ``J`` and for the curved variant ``2(a^2 b + c)``; dots mark the
    current ``h``. Differences below 1e-16, exact zeros included, sit on the bottom edge.

    Only the numbers and the curves change, so the rest of the figure is rendered once and each
    redraw paints the changing artists over it (see :meth:`refresh`).

    Parameters
    ----------
    a, b, c : float
        Starting inputs (the notes' 3, 2 and 5).
    h : float
        Starting nudge, between 1e-10 and 1.
    """

    #: Sliders for a, b and c run from -LIMIT to LIMIT.
    LIMIT = 5.0

    def __init__(self, a: float = 3.0, b: float = 2.0, c: float = 5.0, h: float = 0.1):
        super().__init__(figsize=(9.6, 3.5))
        slider = dict(min=-self.LIMIT, max=self.LIMIT, step=0.1, continuous_update=True,
                      readout_format=".1f")
        self.sliders = {
            "a": widgets.FloatSlider(description="a", **slider),
            "b": widgets.FloatSlider(description="b", **slider),
            "c": widgets.FloatSlider(description="c", **slider),
            "h": widgets.FloatLogSlider(base=10, min=H_MIN_EXP, max=H_MAX_EXP, step=0.1,
                                        description="nudge h", readout_format=".1e",
                                        continuous_update=True),
        }
        self.readout = widgets.HTML()

        grid = self.fig.add_gridspec(1, 2, width_ratios=[1.35, 1])
        graph_ax = self.fig.add_subplot(grid[0])
        self.graph = draw_graph(build_graph(a, b, c), ax=graph_ax, fontsize=9)
        graph_ax.set_title("J = 2(ab + c): values forward, gradients dJ/dnode backward", fontsize=10)

        ax = self.fig.add_subplot(grid[1])
        self.error_ax = ax
        ax.set(xscale="log", yscale="log", xlim=(H_GRID[0], H_GRID[-1]), ylim=(ERROR_FLOOR, 1e2),
               xlabel="nudge h", ylabel="|ΔJ/Δa − dJ/da|")
        (self.linear_curve,) = ax.plot([], [], lw=1.8, color="#2b6cb0", label="J = 2(ab + c)")
        (self.curved_curve,) = ax.plot([], [], lw=1.8, color="#dd6b20", label="J = 2(a²b + c)")
        (self.linear_marker,) = ax.plot([], [], "o", ms=7, color="#2b6cb0", mec="black")
        (self.curved_marker,) = ax.plot([], [], "o", ms=7, color="#dd6b20", mec="black")
        self.h_line = ax.axvline(1.0, color="grey", lw=0.8, ls="--")
        # The legend sits above the axes, where no curve can cross it, so it stays in the background.
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False,
                  handlelength=1.5, columnspacing=1.0)
        # A tick every other decade, with plain-text labels and no minor ticks.
        for axis, exponents in ((ax.xaxis, range(H_MIN_EXP, H_MAX_EXP + 1, 2)), (ax.yaxis, range(-16, 3, 4))):
            axis.set_major_locator(FixedLocator([10.0**k for k in exponents]))
            axis.set_major_formatter(FixedFormatter([f"1e{k}" if k else "1" for k in exponents]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_minor_locator(NullLocator())
        ax.grid(True, which="major", lw=0.4, alpha=0.5)

        # Only these artists change with every value; the rest (boxes, arrows, axes, ticks) is
        # drawn once, and the nodes' texts, which the nudge h leaves alone, only when they change.
        self._dynamic = [self.linear_curve, self.curved_curve, self.h_line, self.linear_marker,
                         self.curved_marker]

        for control in self.sliders.values():
            control.observe(self.refresh, names="value")
        self.set_values(a, b, c, h)

    def animated_artists(self) -> list:
        return self._dynamic

    def background_parts(self) -> dict:
        texts = tuple(self.graph.texts)
        return {texts: tuple(text.get_text() for text in texts)}

    @property
    def values(self) -> tuple[float, float, float, float]:
        """Current ``(a, b, c, h)``."""
        s = self.sliders
        return float(s["a"].value), float(s["b"].value), float(s["c"].value), float(s["h"].value)

    def set_values(self, a: float, b: float, c: float, h: float | None = None) -> None:
        """Move the sliders and redraw once. Values beyond the sliders' range are clipped, and the
        readout says so."""
        values = {"a": a, "b": b, "c": c} | ({} if h is None else {"h": h})
        self.set_sliders(values)

    def draw(self) -> None:
        a, b, c, h = self.values
        J = build_graph(a, b, c)
        self.graph.update(J)
        nodes = {n.label: n for n in self.graph.nodes if n.label}
        u, v = nodes["u"], nodes["v"]

        # The nudge is held against what backprop says, dJ/da from the graph, not a formula.
        hs = np.append(H_GRID, h)
        linear_ratio, curved_ratio = nudge_ratios(a, b, c, hs)
        linear = np.maximum(np.abs(linear_ratio - nodes["a"].grad), ERROR_FLOOR)
        curved = np.maximum(np.abs(curved_ratio - 4 * a * b), ERROR_FLOOR)
        self.linear_curve.set_data(H_GRID, linear[:-1])
        self.curved_curve.set_data(H_GRID, curved[:-1])
        self.linear_marker.set_data([h], [linear[-1]])
        self.curved_marker.set_data([h], [curved[-1]])
        self.h_line.set_xdata([h, h])

        J_nudged = build_graph(a + h, b, c).data
        ratio = (J_nudged - J.data) / h
        self.readout.value = (
            "<table style='font-family: monospace'>"
            f"<tr><td><b>forward</b></td><td>u = ab = {u.data:.4g}, v = u + c = {v.data:.4g}, "
            f"J = 2v = {J.data:.4g}</td></tr>"
            f"<tr><td><b>backward</b></td><td>∂J/∂v = 2, ∂J/∂u = 2 · 1 = 2, "
            f"∂J/∂a = ∂J/∂u · ∂u/∂a = 2 · b = {nodes['a'].grad:.4g}, "
            f"∂J/∂b = 2 · a = {nodes['b'].grad:.4g}, ∂J/∂c = {nodes['c'].grad:.4g}</td></tr>"
            f"<tr><td><b>nudge h = {h:.1e}</b></td><td>J(a + h) = {J_nudged:.12g}, "
            f"ΔJ/Δa = {ratio:.12g} against "
            f"∂J/∂a = {nodes['a'].grad:.12g} (difference {abs(ratio - nodes['a'].grad):.2e})</td></tr>"
            f"<tr><td><b>curved 2(a²b + c)</b></td><td>ΔJ/Δa = {curved_ratio[-1]:.12g} against "
            f"4ab = {4 * a * b:.12g} (difference {abs(curved_ratio[-1] - 4 * a * b):.2e}, "
            f"2|b|h = {2 * abs(b) * h:.2e})</td></tr>"
            "</table>" + self.clip_note()
        )

    @functools.cached_property
    def widget(self) -> widgets.Widget:
        s = self.sliders
        controls = widgets.HBox([widgets.VBox([s["a"], s["b"]]), widgets.VBox([s["c"], s["h"]])])
        return widgets.VBox([controls, self.image, self.readout])
