"""What every explorer shares: a matplotlib figure shown as a PNG inside an ipywidgets layout.

The figure is a plain :class:`matplotlib.figure.Figure` on the Agg canvas, not a pyplot figure:
nothing is displayed twice and no GUI backend is needed, which also lets the explorers run where
there are no threads (JupyterLite). Callbacks move the existing artists and re-render the PNG,
so the picture changes in place without flicker.

Redraws are blitted: the static parts (axes, ticks, labels, legends) are drawn once into a cached
background, and an update draws only the artists a subclass lists in :meth:`animated_artists`
on top of it. Drawing ticks and text is most of matplotlib's cost, so this keeps an update to a
few tens of milliseconds. When a part of the static picture changes on its own (an axis with new
limits, a title with a new count), only that part is drawn again, over a kept picture of the
rest (see :meth:`Explorer.background_parts`); and the last few backgrounds are kept by their keys,
so moving a slider back and forth draws nothing static twice.
"""

from __future__ import annotations

import base64
import functools
import math
import struct
import zlib
from collections import OrderedDict
from contextlib import contextmanager, nullcontext

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


class Explorer:
    """Base class: subclasses build ``self.fig`` artists and ``self.sliders``, and implement ``draw``.

    Attributes
    ----------
    sliders : dict of str to ipywidgets slider
        The explorer's numeric controls, by name, in the order shown.
    clipped : bool
        True if the last :meth:`set_sliders` had to clip a value to a slider's range, and that
        slider has not moved since.
    """

    #: Resolution of the rendered PNG; modest, so that a redraw stays well under 50 ms.
    dpi = 80
    #: Backgrounds kept, the most recently used; each is the whole canvas, about 1 MB.
    backgrounds_kept = 8

    def __init__(self, figsize: tuple[float, float]):
        self.fig = Figure(figsize=figsize, dpi=self.dpi, layout="constrained")
        FigureCanvasAgg(self.fig)
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.sliders: dict[str, widgets.Widget] = {}
        self._clipped: set[str] = set()  # sliders given a value beyond their range, not moved since
        self._watched: set[str] = set()  # sliders whose moves clear that
        self._setting = False
        self._holds = 0
        self._png = b""
        self._backgrounds: OrderedDict = OrderedDict()  # full key -> picture of the static parts
        self._shown_key = None  # the full key of the background under the current picture
        self._rest = None  # (keys, picture of the static figure without the background parts)

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
        """A value that changes whenever the static parts must be redrawn (e.g. new axis limits).

        Equal keys must mean equal static pictures: the last few backgrounds are kept by their
        keys (and those of :meth:`background_parts`) and shown again when the keys come back.
        """
        return None

    def background_parts(self) -> dict:
        """Parts of the static picture that change on their own, each mapped to a key that changes
        with them.

        A part is an artist, such as an Axes, or a tuple of artists, such as an axes' x and y
        axis and its title. When only the keys of parts change, the parts alone are drawn again,
        over a kept picture of the static figure without them; a change of
        :meth:`background_key` redraws the whole figure. A part must not overlap anything else
        that is static, and its change must not move anything else (new limits of an axes with a
        fixed aspect ratio, for example, may resize it). The default is none.
        """
        return {}

    # -- shared machinery -----------------------------------------------------------------------

    def refresh(self, *_) -> None:
        """Redraw and re-render; called by every control."""
        if self._holds:
            return
        with _one_blas_thread():
            self.draw()
        canvas = self.fig.canvas
        animated = self.animated_artists()
        if not animated:
            self._draw_whole_figure()
        else:
            for artist in animated:
                artist.set_animated(True)  # left out of the background, drawn below instead
            self._show_background(self.background_key(), self.background_parts())
            renderer = canvas.get_renderer()
            for artist in sorted(animated, key=lambda a: a.get_zorder()):  # stacked as in a full draw
                artist.draw(renderer)
        self._png = _encode_png(canvas)
        self.image.value = self._png

    def _draw_whole_figure(self) -> None:
        self.fig.canvas.draw()
        self.fig.set_layout_engine("none")  # keep the layout of the first draw

    def _show_background(self, key, parts: dict) -> None:
        """Put the static picture of these keys on the canvas: kept, partly redrawn, or drawn."""
        canvas = self.fig.canvas
        full_key = (key, tuple(parts.items()))
        kept = self._backgrounds.get(full_key)
        if kept is not None:
            self._backgrounds.move_to_end(full_key)
            canvas.restore_region(kept)
        else:
            if parts and self._shown_key is not None and self._shown_key[0] == key:
                self._redraw_parts(key, parts)  # only parts changed
            else:
                self._draw_whole_figure()
            self._backgrounds[full_key] = canvas.copy_from_bbox(self.fig.bbox)
            while len(self._backgrounds) > self.backgrounds_kept:
                self._backgrounds.popitem(last=False)
        self._shown_key = full_key

    def _redraw_parts(self, key, parts: dict) -> None:
        """Draw the parts again over a kept picture of the static figure without them."""
        canvas = self.fig.canvas
        artists = [artist for part in parts for artist in _artists(part)]
        rest_key = (key, tuple(parts))
        if self._rest is not None and self._rest[0] == rest_key:
            canvas.restore_region(self._rest[1])
        else:
            # Animated, not hidden: a hidden title has no extent, and its axes would move it away.
            for artist in artists:
                artist.set_animated(True)
            try:
                canvas.draw()
            finally:
                for artist in artists:
                    artist.set_animated(False)
            self._rest = (rest_key, canvas.copy_from_bbox(self.fig.bbox))
        renderer = canvas.get_renderer()
        for artist in sorted(artists, key=lambda a: a.get_zorder()):
            artist.draw(renderer)

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
        readout to tell the learner (see :meth:`clip_note`), until that slider moves.

        Raises
        ------
        ValueError
            If a value is NaN, which no slider can show.
        """
        values = {name: float(value) for name, value in values.items()}
        for name, value in values.items():  # before any slider moves
            if math.isnan(value):
                raise ValueError(f"{name} must be a number, got {value}")
        with self.hold():
            self._clipped = set()
            self._setting = True
            try:
                for name, value in values.items():
                    slider = self.sliders[name]
                    low, high = _slider_range(slider)
                    slider.value = float(np.clip(value, low, high))
                    if not low <= value <= high:
                        self._clipped.add(name)
                    if name not in self._watched:
                        slider.observe(functools.partial(self._slider_moved, name), "value")
                        self._watched.add(name)
            finally:
                self._setting = False

    def _slider_moved(self, name: str, change) -> None:
        if not self._setting:  # the learner moved it: its clipped value is gone
            self._clipped.discard(name)

    @property
    def clipped(self) -> bool:
        return bool(self._clipped)

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
    """The canvas as an RGB PNG, written directly: encoding speed matters more than size here.

    Every row is stored unfiltered and deflated at level 1. PIL's encoder tries every PNG row
    filter on every row to choose one, which costs more than the compression itself and, for the
    flat colours of these figures, makes the file hardly smaller; writing the few chunks here
    halves the time. The pixels are exactly those of the canvas.
    """
    width, height = canvas.get_width_height()
    rgba = np.asarray(canvas.buffer_rgba())
    rows = np.empty((height, 1 + 3 * width), dtype=np.uint8)
    rows[:, 0] = 0  # each row starts with its filter type: 0, none
    rows[:, 1:] = rgba[:, :, :3].reshape(height, 3 * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, not interlaced
    return b"".join([
        b"\x89PNG\r\n\x1a\n",
        _png_chunk(b"IHDR", header),
        _png_chunk(b"IDAT", zlib.compress(rows, 1)),
        _png_chunk(b"IEND", b""),
    ])


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk: length, type, data and the CRC-32 of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _one_blas_thread():
    """A context in which BLAS (numpy's matrix products) runs on one thread, if it can be told.

    An explorer's products are small (a few hundred rows), too small for threads to pay: on a
    busy machine, BLAS threads waiting for each other made the depth explorer's redraw many times
    slower. Only the explorer's own computation is limited; the setting is restored after it.
    """
    if _blas_threads is None:
        return nullcontext()
    return _blas_threads.limit(limits=1, user_api="blas")


def _blas_controller():
    # threadpoolctl comes with scikit-learn. The limit only saves time, so if threadpoolctl is
    # missing or cannot inspect this platform's libraries, BLAS is left as it is.
    try:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController()
    except Exception:
        return None


_blas_threads = _blas_controller()


def _artists(part) -> tuple:
    """The artists of a background part: an artist (e.g. an Axes) or a tuple of them."""
    return part if isinstance(part, tuple) else (part,)


def _slider_range(slider) -> tuple[float, float]:
    """The values a slider can show (a log slider keeps exponents in ``min`` and ``max``)."""
    if isinstance(slider, widgets.FloatLogSlider):
        return slider.base**slider.min, slider.base**slider.max
    return slider.min, slider.max
