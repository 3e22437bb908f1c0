"""Placeholder, replaced by the real explorer."""

from coursekit.widgets.base import Explorer

__all__ = ["DepthExplorer"]


class DepthExplorer(Explorer):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError
