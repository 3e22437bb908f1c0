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
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image


class Explorer:
    """Base class: subclasses build ``self.fig`` artists and ``self.sliders``, and implement ``draw``.

    Attributes
    ----------
    sliders : dict of str to ipywidgets slider
        The explorer's numeric controls, by name, in the order shown.
    clipped : bool
        True if the last :meth:`set_sliders` had to clip a value to a slider's range.
    """

    #: Resolution of the rendered PNG; modest, so that a redraw stays well under 50 ms.
    dpi = 80

    def __init__(self, figsize: tuple[float, float]):
        self.fig = Figure(figsize=figsize, dpi=self.dpi, layout="constrained")
        FigureCanvasAgg(self.fig)
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.sliders: dict[str, widgets.Widget] = {}
        self.clipped = False
        self._holds = 0
        self._png = b""
        self._background = None
        self._background_key = None

    # -- to implement ---------------------------------------------------------------------------

    def draw(self) -> None:
        """Move the artists to the current state (no new figures, no new axes)."""
        raise NotImplementedError

    @property
    def widget(self) -> widgets.Widget:
        """The whole explorer as one ipywidgets container (built once: a ``cached_property``)."""
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
        if self._holds:
            return
        self.draw()
        canvas = self.fig.canvas
        animated = self.animated_artists()
        key = self.background_key()
        if self._background is None or not animated or key != self._background_key:
            for artist in animated:
                artist.set_animated(True)  # left out of canvas.draw(), drawn below instead
            canvas.draw()
            self.fig.set_layout_engine("none")  # keep the layout of the first draw
            if animated:
                self._background = canvas.copy_from_bbox(self.fig.bbox)
                self._background_key = key
        else:
            canvas.restore_region(self._background)
        renderer = canvas.get_renderer()
        for artist in sorted(animated, key=lambda a: a.get_zorder()):  # stacked as in a full draw
            artist.draw(renderer)
        self._png = _encode_png(canvas)
        self.image.value = self._png

    @contextmanager
    def hold(self):
        """Change several controls at once and redraw only once, at the end (holds may nest)."""
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
        self.refresh()

    def set_sliders(self, values: dict[str, float]) -> None:
        """Move the named sliders and redraw once.

        A value beyond its slider's range is clipped to it, and :attr:`clipped` says so, for the
        readout to tell the learner (see :meth:`clip_note`).
        """
        with self.hold():
            self.clipped = False
            for name, value in values.items():
                slider = self.sliders[name]
                low, high = _slider_range(slider)
                value = float(value)
                self.clipped |= not low <= value <= high
                slider.value = float(np.clip(value, low, high))

    def clip_note(self, advice: str = "") -> str:
        """HTML for the readout: a warning, with ``advice``, when the last values were clipped."""
        if not self.clipped:
            return ""
        return f"<br><b>Note:</b> a value was beyond its slider's range, so it was clipped. {advice}"

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


def _slider_range(slider) -> tuple[float, float]:
    """The values a slider can show (a log slider keeps exponents in ``min`` and ``max``)."""
    if isinstance(slider, widgets.FloatLogSlider):
        return slider.base**slider.min, slider.base**slider.max
    return slider.min, slider.max
