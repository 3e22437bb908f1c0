"""coursekit: neural networks from one perceptron to deep, vectorised backpropagation.

The library behind the course's notebooks: forward/backward primitives (:mod:`coursekit.layers`),
losses (:mod:`coursekit.losses`), a multilayer network (:class:`MLP`), gradient checking
(:mod:`coursekit.gradcheck`), the perceptron (:mod:`coursekit.perceptron`), datasets, plots and
interactive explorers (:mod:`coursekit.widgets`, imported on demand because it needs ipywidgets).
"""

from coursekit import datasets, gradcheck, layers, losses, perceptron
from coursekit.mlp import MLP

__version__ = "0.1.0"
__all__ = ["MLP", "datasets", "gradcheck", "layers", "losses", "perceptron", "__version__"]
