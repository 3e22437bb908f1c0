"""A fully connected network drawn as TensorFlow Playground draws it: every unit is a small picture.

Each node of the diagram is a thumbnail: what that unit outputs at every point of the plane, blue
where it is negative and orange where it is positive. Lines join the units of neighbouring layers,
one per weight ``W_l[j, i]`` (from unit ``i`` of layer ``l - 1`` to unit ``j`` of layer ``l``); a
line's width is proportional to ``|w|`` and its colour gives the sign, orange for positive and blue
for negative, the same colours as the classes (class 1 is orange).

The thumbnails are drawn pixel for pixel with :class:`TileArtist`, without matplotlib's image
resampling: dozens of small pictures then cost about a millisecond, which keeps a redraw fast.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import LinearSegmentedColormap, to_rgba

from coursekit.plotting import CLASS_COLORS

__all__ = [
    "NEGATIVE_COLOR",
    "POSITIVE_COLOR",
    "UNIT_CMAP",
    "WIDTH_PER_UNIT",
    "MAX_WIDTH",
    "NetworkDiagram",
    "TileArtist",
    "tile_rgba",
    "weight_styles",
]

#: Colours of negative and positive values (and weights): those of class 0 and class 1.
NEGATIVE_COLOR, POSITIVE_COLOR = CLASS_COLORS
#: Maps a unit's output in [-1, 1] to a colour: blue, white at 0, orange.
UNIT_CMAP = LinearSegmentedColormap.from_list("unit", [NEGATIVE_COLOR, "#ffffff", POSITIVE_COLOR])
#: A line is ``WIDTH_PER_UNIT * |w|`` points wide ...
WIDTH_PER_UNIT = 1.5
#: ... up to this width, so that a runaway weight does not cover the diagram.
MAX_WIDTH = 8.0
#: Resolution the tiles are designed for: at this dpi, one tile value is one pixel.
BASE_DPI = 80


def weight_styles(weights: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Line widths and colours of every weight, in the order of :attr:`NetworkDiagram.edges`.

    Parameters
    ----------
    weights : sequence of arrays
        ``W1, W2, ...``; ``W_l`` has shape (n_l, n_{l-1}).

    Returns
    -------
    widths : float array, shape (n_weights,)
        ``WIDTH_PER_UNIT * |w|``, at most :data:`MAX_WIDTH` (0 for a weight that is not finite).
    colors : float array, shape (n_weights, 4)
        RGBA of :data:`POSITIVE_COLOR` where ``w >= 0``, of :data:`NEGATIVE_COLOR` where ``w < 0``.
    """
    w = np.concatenate([np.asarray(W, dtype=float).ravel() for W in weights]) if weights else np.empty(0)
    finite = np.isfinite(w)
    widths = np.minimum(WIDTH_PER_UNIT * np.abs(np.where(finite, w, 0.0)), MAX_WIDTH)
    colors = np.where((w < 0)[:, None], to_rgba(NEGATIVE_COLOR), to_rgba(POSITIVE_COLOR))
    return widths, colors


def tile_rgba(values) -> np.ndarray:
    """The picture of one unit: its values, clipped to [-1, 1], through :data:`UNIT_CMAP`.

    Parameters
    ----------
    values : array, shape (res, res)
        Row ``r`` holds the grid points of the ``r``-th lowest ``x2``, as
        :func:`coursekit.plotting.grid` orders them.

    Returns
    -------
    uint8 array, shape (res, res, 4)
        RGBA, in the same row order (what :meth:`TileArtist.draw` expects). A value that is not
        finite is transparent.
    """
    values = np.asarray(values, dtype=float)
    values = np.where(np.isfinite(values), values, np.nan)  # the colour map's "bad": transparent
    return UNIT_CMAP((np.clip(values, -1.0, 1.0) + 1.0) / 2.0, bytes=True)


class TileArtist(Artist):
    """RGBA pictures, each centred on a point in data coordinates and drawn pixel for pixel.

    At the figure's dpi of :data:`BASE_DPI` each value of a tile covers ``zoom`` x ``zoom``
    pixels; at a whole multiple of that dpi (a high-resolution export) the squares grow with it,
    and between multiples they keep the size of the multiple below, so that above :data:`BASE_DPI`
    a tile never grows past its place (below it, tiles keep their size and overlap). Nothing is
    resampled, so a redraw costs next to nothing.

    Parameters
    ----------
    centers : array, shape (k, 2)
        Where the tiles go, in the data coordinates of the axes the artist is added to.
    zoom : int, default 1
        Pixels per value and side at :data:`BASE_DPI`.
    """

    def __init__(self, centers, zoom: int = 1):
        super().__init__()
        self.centers = np.asarray(centers, dtype=float).reshape(-1, 2)
        self.zoom = int(zoom)
        self.tiles: list[np.ndarray] = []

    def set_tiles(self, tiles: Sequence[np.ndarray]) -> None:
        """Replace the pictures: one uint8 RGBA array per centre, row 0 at the bottom."""
        if len(tiles) != len(self.centers):
            raise ValueError(f"expected {len(self.centers)} tiles, got {len(tiles)}")
        self.tiles = list(tiles)
        self.stale = True

    def _scale(self, dpi: float) -> int:
        return self.zoom * max(1, int(dpi // BASE_DPI))

    def pixel_boxes(self, dpi: float | None = None) -> list[tuple[int, int, int, int]]:
        """Where each tile lands on the canvas: ``(left, bottom, width, height)`` in pixels,
        counted from the canvas's bottom-left corner."""
        scale = self._scale(self.figure.dpi if dpi is None else dpi)
        xy = self.axes.transData.transform(self.centers) if len(self.centers) else self.centers
        boxes = []
        for (x, y), tile in zip(xy, self.tiles, strict=True):
            h, w = tile.shape[0] * scale, tile.shape[1] * scale
            boxes.append((round(x - w / 2), round(y - h / 2), w, h))
        return boxes

    def draw(self, renderer) -> None:
        if not self.get_visible() or not self.tiles:
            return
        scale = self._scale(renderer.dpi)
        gc = renderer.new_gc()
        for (left, bottom, _, _), tile in zip(self.pixel_boxes(renderer.dpi), self.tiles, strict=True):
            if scale > 1:
                tile = tile.repeat(scale, axis=0).repeat(scale, axis=1)
            # Agg puts row 0 of the array at the bottom, as the grid orders the points.
            renderer.draw_image(gc, left, bottom, tile)
        gc.restore()
        self.stale = False


class NetworkDiagram:
    """A network of thumbnails joined by weight lines, drawn into one Axes and updated in place.

    The axes' data coordinates are its pixels at :data:`BASE_DPI`, so the layout is set out in
    pixels. :meth:`build` lays out a network of given layer sizes (and removes what an earlier
    layout drew); :meth:`update` recolours the tiles and restyles the lines.

    Parameters
    ----------
    ax : Axes
        Given to the diagram alone; its frame and ticks are turned off.
    spacing : float
        Pixels between the centres of neighbouring units in a column.
    """

    def __init__(self, ax: Axes, spacing: float = 38.0):
        self.ax = ax
        self.spacing = float(spacing)
        ax.set_axis_off()
        bbox = ax.get_position()
        fig_w, fig_h = ax.figure.get_size_inches() * BASE_DPI
        self.width, self.height = bbox.width * fig_w, bbox.height * fig_h
        ax.set(xlim=(0.0, self.width), ylim=(0.0, self.height))
        #: Columns of node centres (first the inputs, last the output), each of shape (n_l, 2).
        self.positions: list[np.ndarray] = []
        #: ``(l, j, i)`` of each line, in order: the weight ``W_l[j, i]``.
        self.edges: list[tuple[int, int, int]] = []
        self.lines: LineCollection | None = None
        self.tiles: TileArtist | None = None
        self._static: list[Artist] = []

    @property
    def artists(self) -> list[Artist]:
        """What :meth:`update` changes: the lines, then the tiles over them."""
        return [self.lines, self.tiles]

    def build(self, sizes: Sequence[int], input_labels: Sequence[str], headers: Sequence[str],
              left: float = 62.0, right: float = 22.0, top: float = 34.0) -> None:
        """Lay out a network with ``sizes[l]`` units in column ``l`` (inputs first).

        Parameters
        ----------
        sizes : sequence of int
            Units per column, e.g. ``[2, 4, 2, 1]``.
        input_labels : sequence of str
            One label per input, written left of its tile.
        headers : sequence of str
            One title per column, written above it.
        left, right, top : float
            Margins in pixels around the columns of tiles.
        """
        sizes = [int(n) for n in sizes]
        if len(input_labels) != sizes[0] or len(headers) != len(sizes):
            raise ValueError(
                f"need {sizes[0]} input labels and {len(sizes)} headers for sizes {sizes}, "
                f"got {len(input_labels)} and {len(headers)}"
            )
        for artist in [*self._static, self.lines, self.tiles]:
            if artist is not None:
                artist.remove()
        xs = np.linspace(left, self.width - right, len(sizes))
        middle = (self.height - top) / 2
        self.positions = [
            np.column_stack([np.full(n, x), middle + self.spacing * ((n - 1) / 2 - np.arange(n))])
            for x, n in zip(xs, sizes, strict=True)
        ]
        self.edges = [(l, j, i) for l in range(1, len(sizes)) for j in range(sizes[l])
                      for i in range(sizes[l - 1])]
        segments = [(self.positions[l - 1][i], self.positions[l][j]) for l, j, i in self.edges]
        self.lines = LineCollection(segments, zorder=1, capstyle="round")
        self.ax.add_collection(self.lines, autolim=False)
        self.tiles = TileArtist(np.concatenate(self.positions))
        self.tiles.set_zorder(2)
        self.ax.add_artist(self.tiles)

        text = dict(fontsize=8, color="#333333")
        self._static = [
            self.ax.text(x, self.height - 8, header, ha="center", va="top", **text)
            for x, header in zip(xs, headers, strict=True)
        ]
        self._static += [
            self.ax.text(x - 17, y, label, ha="right", va="center", **text)
            for (x, y), label in zip(self.positions[0], input_labels, strict=True)
        ]

    def update(self, shown: Sequence[np.ndarray], weights: Sequence[np.ndarray]) -> None:
        """Recolour every tile and restyle every line.

        Parameters
        ----------
        shown : sequence of arrays
            One per column, shape (n_l, res, res): each unit's values over the plane, scaled so
            that [-1, 1] spans the colour map (beyond it they are clipped).
        weights : sequence of arrays
            ``W1, W2, ...`` of shapes (n_l, n_{l-1}).
        """
        widths, colors = weight_styles(weights)
        self.lines.set_linewidths(widths)
        self.lines.set_colors(colors)
        self.tiles.set_tiles([tile_rgba(unit) for column in shown for unit in column])
