"""A scalar computational graph with reverse-mode automatic differentiation, and its drawing.

Every arithmetic operation on a :class:`Value` returns a new ``Value`` that remembers its inputs
(``children``), the operation (``op``) and the *local derivative* of its result with respect to
each input, worked out during the forward pass. :meth:`Value.backward` then applies the chain
rule once per edge, in reverse topological order::

    a, b, c = Value(3.0, label="a"), Value(2.0, label="b"), Value(5.0, label="c")
    J = 2 * (a * b + c)
    J.backward()
    a.grad, b.grad, c.grad   # (4.0, 6.0, 2.0)

**Repeated calls.** ``backward()`` first sets the gradient of every node of the graph below the
root to zero, then seeds ``root.grad = 1`` and propagates. Calling it twice therefore gives the
same gradients, not twice as much; this differs from PyTorch, which accumulates into ``.grad``
until you zero it. The gradients left in the nodes are always those of the last root on which
``backward()`` was called. Within one call, gradients arriving along different paths (a node
used twice, as in ``x * x`` or ``a + a``) are added up, as the multivariate chain rule demands.

:func:`draw_graph` draws a graph with matplotlib alone: one box per value with its label, value
and gradient, one circle per operation, laid out in columns from the inputs on the left to the
root on the right.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.text import Text

__all__ = ["Value", "GraphDrawing", "draw_graph", "layout"]

#: Symbols shown in the operation circles of a drawing.
OP_SYMBOLS = {
    "+": "+", "*": "×", "pow": "^", "exp": "exp", "log": "log",
    "tanh": "tanh", "sigmoid": "σ", "relu": "ReLU",
}


_CONSTANT_EXPONENT = (
    "the exponent of ** must be a constant number, not a Value: the graph only "
    "differentiates x ** k for a fixed k (write exp(y * log(x)) for x ** y)"
)


def _number(x, what: str) -> float:
    """``x`` as a float if it is a real number (not a bool); otherwise a clear TypeError."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(
            f"{what} must be a real number (int or float) or a Value, got {type(x).__name__} {x!r}"
        )
    return float(x)


class Value:
    """One scalar node of a computational graph.

    Parameters
    ----------
    data : float
        The node's value.
    label : str, optional
        A name shown when the graph is drawn, e.g. ``"a"``.

    Attributes
    ----------
    data : float
        The value computed in the forward pass.
    grad : float
        ``dRoot/dself`` after ``root.backward()``; 0 before.
    op : str
        The operation that made the node (``"+"``, ``"*"``, ``"pow"``, ``"exp"``, ``"log"``,
        ``"tanh"``, ``"sigmoid"``, ``"relu"``), or ``""`` for an input.
    children : tuple of Value
        The operation's inputs, in order; a node used twice appears twice.
    local_grads : tuple of float
        ``d self / d child`` for each child, same order: the node's local backward rule.
    label : str

    Notes
    -----
    Operators: ``+``, ``-``, ``*``, ``/``, unary ``-`` and ``**`` with a constant exponent, with
    a plain number on either side (``2 * v`` works). Subtraction and division are built from the
    primitives: ``x - y = x + (-1) * y`` and ``x / y = x * y ** -1``. Methods: :meth:`exp`,
    :meth:`log`, :meth:`tanh`, :meth:`sigmoid`, :meth:`relu`. Anything but a real number or a
    ``Value`` as an operand raises TypeError.
    """

    def __init__(self, data, label: str = "", *, _children: tuple = (), _op: str = "",
                 _local_grads: tuple = ()):
        self.data = _number(data, "Value data")
        self.grad = 0.0
        self.label = str(label)
        self.op = _op
        self.children: tuple[Value, ...] = tuple(_children)
        self.local_grads: tuple[float, ...] = tuple(_local_grads)

    def __repr__(self) -> str:
        parts = [f"data={self.data:.6g}", f"grad={self.grad:.6g}"]
        if self.op:
            parts.append(f"op={self.op!r}")
        if self.label:
            parts.append(f"label={self.label!r}")
        return f"Value({', '.join(parts)})"

    def named(self, label: str) -> Value:
        """Set the label and return the node itself, e.g. ``u = (a * b).named("u")``."""
        self.label = str(label)
        return self

    # -- building the graph ---------------------------------------------------------------------

    @staticmethod
    def _wrap(other, op: str) -> Value:
        if isinstance(other, Value):
            return other
        if isinstance(other, bool) or not isinstance(other, numbers.Real):
            raise TypeError(
                f"unsupported operand for {op}: a Value combines only with real numbers and other "
                f"Values, got {type(other).__name__} {other!r}"
            )
        return Value(other)

    @staticmethod
    def _result(data: float, op: str, children: Iterable[Value], local_grads: Iterable[float]) -> Value:
        return Value(data, _children=tuple(children), _op=op, _local_grads=tuple(local_grads))

    def __add__(self, other) -> Value:
        other = self._wrap(other, "+")
        return self._result(self.data + other.data, "+", (self, other), (1.0, 1.0))

    def __mul__(self, other) -> Value:
        other = self._wrap(other, "*")
        return self._result(self.data * other.data, "*", (self, other), (other.data, self.data))

    def __pow__(self, exponent) -> Value:
        if isinstance(exponent, Value):
            raise TypeError(_CONSTANT_EXPONENT)
        k = _number(exponent, "the exponent of **")
        x = self.data
        if x == 0 and k < 0:
            raise ValueError(f"0 ** {k:g} divides by zero")
        if x < 0 and not k.is_integer():
            raise ValueError(f"({x:g}) ** {k:g} is not a real number: a negative base needs an "
                             "integer exponent")
        if k == 0:
            local = 0.0  # x ** 0 is constant, even at x = 0
        elif x == 0 and k < 1:
            local = math.inf  # 0 ** k with 0 < k < 1: the slope is infinite
        else:
            local = k * x ** (k - 1)
        return self._result(x**k, "pow", (self,), (local,))

    def exp(self) -> Value:
        """``e ** self``; its local derivative is the result itself."""
        try:
            out = math.exp(self.data)
        except OverflowError:
            out = math.inf
        return self._result(out, "exp", (self,), (out,))

    def log(self) -> Value:
        """Natural logarithm; raises ValueError unless ``data > 0``."""
        if not self.data > 0:
            name = f" ({self.label})" if self.label else ""
            raise ValueError(f"log needs a positive number, got log({self.data:g}){name}")
        return self._result(math.log(self.data), "log", (self,), (1.0 / self.data,))

    def tanh(self) -> Value:
        """Hyperbolic tangent; local derivative ``1 - tanh(x)**2``."""
        t = math.tanh(self.data)
        return self._result(t, "tanh", (self,), (1.0 - t * t,))

    def sigmoid(self) -> Value:
        """Logistic function ``1 / (1 + exp(-x))``; local derivative ``s (1 - s)``."""
        x = self.data
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:  # the same function, written so that exp never overflows
            e = math.exp(x)
            s = e / (1.0 + e)
        return self._result(s, "sigmoid", (self,), (s * (1.0 - s),))

    def relu(self) -> Value:
        """``max(0, x)``; local derivative 1 for ``x > 0`` and 0 otherwise (0 at the kink too)."""
        x = self.data
        return self._result(max(0.0, x), "relu", (self,), (1.0 if x > 0 else 0.0,))

    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other) -> Value:
        return self + (-self._wrap(other, "-"))

    def __truediv__(self, other) -> Value:
        other = self._wrap(other, "/")
        if other.data == 0:
            raise ZeroDivisionError("division of a Value by zero")
        return self * other**-1

    def __radd__(self, other) -> Value:
        return self._wrap(other, "+") + self

    def __rmul__(self, other) -> Value:
        return self._wrap(other, "*") * self

    def __rsub__(self, other) -> Value:
        return self._wrap(other, "-") - self

    def __rtruediv__(self, other) -> Value:
        return self._wrap(other, "/") / self

    def __rpow__(self, base):
        raise TypeError(_CONSTANT_EXPONENT)

    # -- backward -------------------------------------------------------------------------------

    def topological_order(self) -> list[Value]:
        """Every node of the graph below ``self``, each once, every node after all its children.

        An iterative depth-first search, so graphs of any depth work (no recursion limit).
        ``self`` is the last element.
        """
        order: list[Value] = []
        visited: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            # reversed, so that the first child is visited first
            stack.extend((child, False) for child in reversed(node.children) if id(child) not in visited)
        return order

    def backward(self) -> None:
        """Fill ``grad`` of every node below ``self`` with ``d self / d node``.

        The graph's gradients are reset to 0 first, so calling ``backward()`` again gives the same
        result (unlike PyTorch, which accumulates). Then ``self.grad = 1`` and each node, taken
        from the root towards the inputs, adds ``local_grad * node.grad`` to each child's
        ``grad``: the chain rule along every edge, summed over every path.
        """
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            for child, local in zip(node.children, node.local_grads, strict=True):
                child.grad += local * node.grad


# -- drawing ------------------------------------------------------------------------------------

#: Geometry of a drawing in data units: distance between value columns, and box size.
COLUMN_STEP = 2.0
ROW_STEP = 1.0
BOX_WIDTH = 1.05
BOX_HEIGHT = 0.62

LEAF_COLOR = "#dbeafe"
CONSTANT_COLOR = "#ffffff"
NODE_COLOR = "#f3f4f6"
ROOT_COLOR = "#fde68a"
OP_COLOR = "#fff7ed"


def _node_text(node: Value) -> str:
    data, grad = node.data + 0.0, node.grad + 0.0  # + 0.0 turns -0.0 into 0.0
    head = f"{node.label} = {data:.4g}" if node.label else f"{data:.4g}"
    return f"{head}\ngrad {grad:.4g}"


def layout(root: Value) -> tuple[list[Value], dict[int, tuple[float, float]]]:
    """Positions of the value nodes: columns by longest path to the root, rows by parents.

    A node's column counts back from the root: it is the length of the longest path from the node
    up to the root, so every edge points to the right. Within a column the nodes are ordered by
    the mean height of the operations that use them (then by argument position) and spread
    evenly around that height.

    Returns
    -------
    order : list of Value
        Topological order (inputs first, root last).
    positions : dict
        ``id(node) -> (x, y)`` in data units.
    """
    order = root.topological_order()
    depth = {id(root): 0}
    users: dict[int, list[tuple[Value, int]]] = {id(n): [] for n in order}
    for node in reversed(order):  # parents before children
        for position, child in enumerate(node.children):
            depth[id(child)] = max(depth.get(id(child), 0), depth[id(node)] + 1)
            users[id(child)].append((node, position))
    n_columns = max(depth.values()) + 1
    columns: list[list[Value]] = [[] for _ in range(n_columns)]
    for node in order:
        columns[n_columns - 1 - depth[id(node)]].append(node)

    positions = {id(root): ((n_columns - 1) * COLUMN_STEP, 0.0)}
    for col in range(n_columns - 2, -1, -1):
        # Each node sits near the mean height of the nodes that use it, in their operand order.
        keys = {}
        for node in columns[col]:
            ys = [positions[id(user)][1] for user, _ in users[id(node)]]
            keys[id(node)] = (-sum(ys) / len(ys), min(p for _, p in users[id(node)]))
        nodes = sorted(columns[col], key=lambda n: keys[id(n)])
        centre = -sum(keys[id(n)][0] for n in nodes) / len(nodes)
        for i, node in enumerate(nodes):
            y = centre + ((len(nodes) - 1) / 2 - i) * ROW_STEP
            positions[id(node)] = (col * COLUMN_STEP, y)
    return order, positions


@dataclass
class GraphDrawing:
    """The artists of a drawn graph, kept so that the texts can be changed in place.

    Attributes
    ----------
    ax : Axes
    nodes : list of Value
        The drawn graph's nodes in topological order.
    texts : list of Text
        One per node, same order: label, value and gradient.
    op_texts : list of Text
        One per operation node (the nodes with an ``op``), same order as they appear in ``nodes``.
    """

    ax: Axes
    nodes: list[Value]
    texts: list[Text]
    op_texts: list[Text]

    def text_of(self, node: Value) -> Text:
        """The text artist of ``node``."""
        for candidate, text in zip(self.nodes, self.texts, strict=True):
            if candidate is node:
                return text
        raise KeyError(f"{node!r} is not in this drawing")

    def update(self, root: Value | None = None) -> None:
        """Rewrite the texts from the nodes' current data and grad.

        Parameters
        ----------
        root : Value, optional
            A new graph of exactly the same shape (same operations, in the same order), e.g. the
            same expression rebuilt from other inputs. Its values replace the drawn ones; the
            layout and the artists stay.
        """
        if root is not None:
            nodes = root.topological_order()
            shape = [(n.op, len(n.children)) for n in nodes]
            if shape != [(n.op, len(n.children)) for n in self.nodes]:
                raise ValueError("the new graph does not have the shape of the drawn one")
            self.nodes = nodes
        for node, text in zip(self.nodes, self.texts, strict=True):
            text.set_text(_node_text(node))


def draw_graph(root: Value, ax: Axes | None = None, fontsize: float = 9) -> GraphDrawing:
    """Draw the computational graph below ``root`` with each node's label, value and gradient.

    Values are rounded boxes (named inputs blue, unnamed constants white, the root yellow),
    operations are circles between
    their inputs and their result, and arrows point forward, from the inputs on the left to the
    root on the right. Call ``root.backward()`` first to see gradients other than 0.

    Parameters
    ----------
    root : Value
    ax : Axes, optional
        Where to draw; a new figure if not given. Its axis lines are turned off.
    fontsize : float

    Returns
    -------
    GraphDrawing
        The artists, with :meth:`GraphDrawing.update` to rewrite the numbers in place.
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw_graph needs a Value, got {type(root).__name__}")
    order, positions = layout(root)
    if ax is None:
        import matplotlib.pyplot as plt  # only here: the engine itself needs no pyplot

        n_columns = 1 + round(max(x for x, _ in positions.values()) / COLUMN_STEP)
        n_rows = 1 + round(max(y for _, y in positions.values()) - min(y for _, y in positions.values()))
        _, ax = plt.subplots(figsize=(1.6 * n_columns + 0.6, 0.9 * n_rows + 0.8), layout="constrained")

    texts, op_texts = [], []
    arrow = dict(arrowstyle="-|>", mutation_scale=9, color="#6b7280", lw=1.0, zorder=1)
    half_w, half_h = BOX_WIDTH / 2, BOX_HEIGHT / 2
    for node in order:
        x, y = positions[id(node)]
        if node is root:
            color = ROOT_COLOR
        elif node.op:
            color = NODE_COLOR
        else:  # an input: named ones are variables, unnamed ones constants such as the 2 in 2 * v
            color = LEAF_COLOR if node.label else CONSTANT_COLOR
        ax.add_patch(FancyBboxPatch((x - half_w, y - half_h), BOX_WIDTH, BOX_HEIGHT,
                                    boxstyle="round,pad=0,rounding_size=0.12",
                                    facecolor=color, edgecolor="#374151", lw=1.0, zorder=2))
        texts.append(ax.text(x, y, _node_text(node), ha="center", va="center", fontsize=fontsize,
                             zorder=3, linespacing=1.3))
        if not node.op:
            continue
        ox = x - COLUMN_STEP / 2  # midway between the columns
        op_texts.append(ax.text(ox, y, OP_SYMBOLS.get(node.op, node.op), ha="center", va="center",
                                fontsize=fontsize, zorder=3,
                                bbox=dict(boxstyle="circle,pad=0.25", facecolor=OP_COLOR,
                                          edgecolor="#9a3412", lw=1.0)))
        ax.add_patch(FancyArrowPatch((ox, y), (x - half_w, y), shrinkA=9, shrinkB=0, **arrow))
        for child in node.children:
            cx, cy = positions[id(child)]
            ax.add_patch(FancyArrowPatch((cx + half_w, cy), (ox, y), shrinkA=0, shrinkB=9, **arrow))

    xs = [p[0] for p in positions.values()]
    ys = [p[1] for p in positions.values()]
    ax.set_xlim(min(xs) - half_w - 0.15, max(xs) + half_w + 0.15)
    ax.set_ylim(min(ys) - half_h - 0.2, max(ys) + half_h + 0.2)
    ax.set_axis_off()
    return GraphDrawing(ax, order, texts, op_texts)
