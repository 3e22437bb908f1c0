"""Plots of classifiers in the plane. Views keep their artists, so updates redraw in place."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap

from coursekit import perceptron

__all__ = [
    "CLASS_COLORS",
    "REGION_CMAP",
    "class_points",
    "legend_below",
    "region_image",
    "wrong_marker",
    "grid",
    "plot_decision_boundary",
    "LinearBoundaryView",
    "boundary_segment",
    "plot_linear_boundary",
]

#: Colours of class 0 and class 1, used by every plot in the course.
CLASS_COLORS = ("#2b6cb0", "#dd6b20")
REGION_CMAP = ListedColormap(["#cfe0f3", "#fbe0c8"])


def grid(xlim: tuple[float, float], ylim: tuple[float, float], resolution: int = 200) -> np.ndarray:
    """Points of a regular grid over a rectangle, shape (resolution**2, 2), row by row."""
    xs = np.linspace(*xlim, resolution)
    ys = np.linspace(*ylim, resolution)
    xx, yy = np.meshgrid(xs, ys)
    return np.column_stack([xx.ravel(), yy.ravel()])


def plot_decision_boundary(
    predict: Callable[[np.ndarray], np.ndarray],
    X,
    y,
    ax: Axes | None = None,
    resolution: int = 200,
    margin: float = 0.5,
) -> Axes:
    """Shade the regions a classifier assigns to each class, with the data on top.

    Parameters
    ----------
    predict : callable
        Maps an array of shape (k, 2) to labels of shape (k,).
    X : array, shape (m, 2)
    y : int array, shape (m,)
    ax : matplotlib Axes, optional
        Drawn on a new figure's axes if not given.
    """
    import matplotlib.pyplot as plt

    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (m, 2) to be drawn in the plane, got {X.shape}")
    ax = ax or plt.subplots(figsize=(4, 4))[1]
    xlim = (X[:, 0].min() - margin, X[:, 0].max() + margin)
    ylim = (X[:, 1].min() - margin, X[:, 1].max() + margin)
    points = grid(xlim, ylim, resolution)
    labels = np.asarray(predict(points))
    if labels.shape != (len(points),):
        raise ValueError(
            f"predict must return one label per point: given shape {points.shape}, it returned "
            f"shape {labels.shape}"
        )
    labels = labels.reshape(resolution, resolution)
    ax.imshow(labels, origin="lower", extent=(*xlim, *ylim), cmap=REGION_CMAP, vmin=0, vmax=1,
              aspect="auto", interpolation="nearest")
    for label, points in enumerate(class_points(ax)):
        points.set_offsets(X[y == label].reshape(-1, 2))
    ax.set(xlim=xlim, ylim=ylim, xlabel="$x_1$", ylabel="$x_2$")
    return ax


def region_image(ax: Axes, lim: tuple[float, float], resolution: int):
    """An empty class-region image over the square ``lim`` x ``lim``, to fill with ``set_data``.

    Nearest-neighbour regions, coloured before they are resampled: the same pixels as the other
    way round, in less than half the time.
    """
    return ax.imshow(np.zeros((resolution, resolution)), origin="lower", extent=(*lim, *lim),
                     cmap=REGION_CMAP, vmin=0, vmax=1, interpolation="nearest", interpolation_stage="data",
                     zorder=0, aspect="auto")


def class_points(ax: Axes) -> list:
    """One empty scatter per class, in the class colours, to fill with ``set_offsets``."""
    return [ax.scatter(np.empty(0), np.empty(0), s=110, c=c, edgecolors="black", zorder=3,
                       label=f"y = {k}") for k, c in enumerate(CLASS_COLORS)]


def wrong_marker(ax: Axes):
    """An empty scatter of red rings for misclassified points, to fill with ``set_offsets``."""
    return ax.scatter(np.empty(0), np.empty(0), s=420, facecolors="none", edgecolors="crimson",
                      linewidths=2.5, zorder=4, label="misclassified")


def legend_below(ax: Axes) -> None:
    """The legend under the axes, where it never hides a data point."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8, frameon=False)


class LinearBoundaryView:
    """A linear threshold unit in the plane: its regions, its line, and the points it gets wrong.

    Create it once on an Axes, then call :meth:`update` as often as the weights change; the same
    artists are reused, so nothing is rebuilt.
    """

    def __init__(self, ax: Axes, lim: tuple[float, float] = (-0.5, 1.5), resolution: int = 120):
        self.ax = ax
        self.lim = lim
        self._grid = grid(lim, lim, resolution)
        self._resolution = resolution
        self.region = region_image(ax, lim, resolution)
        (self.line,) = ax.plot([], [], color="black", lw=2, zorder=2, label="$w \\cdot x + b = 0$")
        self.points = class_points(ax)
        self.wrong = wrong_marker(ax)
        ax.set(xlim=lim, ylim=lim, xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
        legend_below(ax)

    def update(self, w, b: float, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Redraw for weights ``w`` (shape (2,)) and bias ``b``; return the mask of wrong points."""
        w = np.asarray(w, dtype=float)
        regions = perceptron.predict(self._grid, w, b)
        self.region.set_data(regions.reshape(self._resolution, self._resolution))
        self.line.set_data(*boundary_segment(w, b, self.lim))
        for label, artist in enumerate(self.points):
            artist.set_offsets(X[y == label].reshape(-1, 2))
        wrong = perceptron.predict(X, w, b) != y
        self.wrong.set_offsets(X[wrong].reshape(-1, 2))
        return wrong


def boundary_segment(w, b: float, lim: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """End points of the line ``w1 x1 + w2 x2 + b = 0`` inside the square ``lim`` x ``lim``.

    Returns empty arrays when ``w`` is zero (no line: the unit predicts one class everywhere).
    """
    w1, w2 = float(w[0]), float(w[1])
    lo, hi = lim
    if abs(w2) >= abs(w1) and w2 != 0:
        xs = np.array([lo, hi])
        return xs, -(w1 * xs + b) / w2
    if w1 != 0:
        ys = np.array([lo, hi])
        return -(w2 * ys + b) / w1, ys
    return np.array([]), np.array([])


def plot_linear_boundary(w, b: float, X, y, ax: Axes | None = None) -> Axes:
    """A static :class:`LinearBoundaryView` of one perceptron on a dataset."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(4, 4))[1]
    LinearBoundaryView(ax).update(w, b, np.asarray(X, dtype=float), np.asarray(y))
    return ax
