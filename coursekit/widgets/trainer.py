"""Placeholder, replaced by the real explorer."""

from coursekit.widgets.base import Explorer

__all__ = ["TwoLayerExplorer"]


class TwoLayerExplorer(Explorer):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError
