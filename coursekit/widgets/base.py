"""What every explorer shares: a matplotlib figure shown as a PNG inside an ipywidgets layout.

The figure is a plain :class:`matplotlib.figure.Figure` on the Agg canvas, not a pyplot figure:
nothing is displayed twice and no GUI backend is needed, which also lets the explorers run where
there are no threads (JupyterLite). Callbacks move the existing artists and re-render the PNG,
so the picture changes in place without flicker.
"""

from __future__ import annotations

import base64
import io
from contextlib import contextmanager

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


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

    # -- to implement ---------------------------------------------------------------------------

    def draw(self) -> None:
        """Move the artists to the current state (no new figures, no new axes)."""
        raise NotImplementedError

    @property
    def widget(self) -> widgets.Widget:
        """The whole explorer as one ipywidgets container."""
        raise NotImplementedError

    # -- shared machinery -----------------------------------------------------------------------

    def refresh(self, *_) -> None:
        """Redraw and re-render; called by every control."""
        if self._holding:
            return
        self.draw()
        buffer = io.BytesIO()
        self.fig.savefig(buffer, format="png", dpi=self.dpi)
        self._png = buffer.getvalue()
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
