"""Checks every explorer's tests share: a blitted picture must be the picture a full render gives."""

from __future__ import annotations

import io

import numpy as np
import PIL.Image


def full_render(explorer) -> np.ndarray:
    """Draw every artist the ordinary way and return the canvas as RGBA."""
    for artist in explorer.animated_artists():
        artist.set_animated(False)
    explorer.fig.canvas.draw()
    return np.asarray(explorer.fig.canvas.buffer_rgba())


def assert_blit_matches_full_render(explorer) -> None:
    """The explorer's current PNG equals a full render, up to a few pixels where lines cross frames."""
    fast = np.asarray(PIL.Image.open(io.BytesIO(explorer.png())).convert("RGBA"))
    full = full_render(explorer)
    assert fast.shape == full.shape
    differing = int(np.any(fast != full, axis=-1).sum())
    assert differing < 0.001 * fast.shape[0] * fast.shape[1], differing
