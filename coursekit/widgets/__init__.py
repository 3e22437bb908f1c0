"""Interactive explorers for self-study. Each one shows itself when it is the last line of a cell.

Run without a widget front end (nbconvert, nbclient), an explorer shows a static picture instead.
"""

from coursekit.widgets.base import Explorer
from coursekit.widgets.chain_rule import ChainRuleExplorer
from coursekit.widgets.depth import DepthExplorer
from coursekit.widgets.perceptron import PerceptronExplorer
from coursekit.widgets.playground import PlaygroundExplorer
from coursekit.widgets.trainer import TwoLayerExplorer
from coursekit.widgets.xor import XORExplorer

__all__ = [
    "ChainRuleExplorer",
    "DepthExplorer",
    "Explorer",
    "PerceptronExplorer",
    "PlaygroundExplorer",
    "TwoLayerExplorer",
    "XORExplorer",
]
