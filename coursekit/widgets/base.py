"""What every explorer shares: a matplotlib figure shown as a PNG inside an ipywidgets layout.

The figure is a plain :class:`matplotlib.figure.Figure` on the Agg canvas, not a pyplot figure:
nothing is displayed twice and no GUI backend is needed, which also lets the explorers run where
there are no threads (JupyterLite). Callbacks move the existing artists and re-render the PNG,
so the picture changes in place without flicker.

Redraws are blitted: the static parts (axes, ticks, labels, legends) are drawn once into a cached
background, and an update draws only the artists a subclass lists in :meth:`animated_artists`
on top of it. Drawing ticks and text is most of matplotlib's cost, so this keeps an update to a
few tens of milliseconds.
"""

from __future__ import annotations

import base64
import io
from contextlib import contextmanager

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image


class Explorer:
    """Base class: subclasses build ``self.fig`` artists and controls, and implement ``draw``."""

    #: Resolution of the rendered PNG; modest, so that a redraw stays well under 50 ms.
    dpi = 80

    def __init__(self, figsize: tuple[float, float]):
        self.fig = Figure(figsize=figsize, dpi=self.dpi, layout="constrained")
        FigureCanvasAgg(self.fig)
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self._holding = False
        self._png = b""
        self._background = None
        self._background_key = None

    # -- to implement ---------------------------------------------------------------------------

    def draw(self) -> None:
        """Move the artists to the current state (no new figures, no new axes)."""
        raise NotImplementedError

    @property
    def widget(self) -> widgets.Widget:
        """The whole explorer as one ipywidgets container."""
        raise NotImplementedError

    def animated_artists(self) -> list:
        """The artists that change between updates; everything else is drawn once.

        The default, no artists, redraws the whole figure on every update.
        """
        return []

    def background_key(self):
        """A value that changes whenever the static parts must be redrawn (e.g. new axis limits)."""
        return None

    # -- shared machinery -----------------------------------------------------------------------

    def refresh(self, *_) -> None:
        """Redraw and re-render; called by every control."""
        if self._holding:
            return
        self.draw()
        canvas = self.fig.canvas
        animated = self.animated_artists()
        key = self.background_key()
        if self._background is None or not animated or key != self._background_key:
            for artist in animated:
                artist.set_animated(True)  # left out of canvas.draw(), drawn below instead
            canvas.draw()
            if self._background is None:
                self.fig.set_layout_engine("none")  # keep the layout of the first draw
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            self._background_key = key
        else:
            canvas.restore_region(self._background)
        renderer = canvas.get_renderer()
        for artist in animated:
            artist.draw(renderer)
        self._png = _encode_png(canvas)
        self.image.value = self._png

    @contextmanager
    def hold(self):
        """Change several controls at once and redraw only once, at the end."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        self.refresh()

    def png(self) -> bytes:
        """The current picture as PNG bytes."""
        return self._png

    def _repr_mimebundle_(self, **kwargs):
        # JupyterLab renders the live widget; a front end without widgets (nbconvert, a headless
        # run, GitHub's viewer) falls back to the static PNG of the current state.
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        bundle["image/png"] = base64.b64encode(self._png).decode("ascii")
        return bundle


def _encode_png(canvas: FigureCanvasAgg) -> bytes:
    """The canvas as PNG bytes, compressed lightly: encoding speed matters more than size here."""
    rgba = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    rgba.convert("RGB").save(buffer, format="png", compress_level=1)
    return buffer.getvalue()
