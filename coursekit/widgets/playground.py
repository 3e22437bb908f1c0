"""Placeholder, replaced by the real explorer."""

from coursekit.widgets.base import Explorer

__all__ = ["PlaygroundExplorer"]


class PlaygroundExplorer(Explorer):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError
