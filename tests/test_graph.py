"""The scalar autodiff graph: gradients against PyTorch, reuse, repeated backward, errors, drawing."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from coursekit.graph import Value, draw_graph, layout


def notes_graph(a=3.0, b=2.0, c=5.0):
    a, b, c = Value(a, "a"), Value(b, "b"), Value(c, "c")
    u = (a * b).named("u")
    v = (u + c).named("v")
    J = (2 * v).named("J")
    return a, b, c, u, v, J


# -- the notes' example --------------------------------------------------------------------------


def test_notes_example_forward_nudge_and_backward():
    a, b, c, u, v, J = notes_graph()
    assert (u.data, v.data, J.data) == (6.0, 11.0, 22.0)
    J.backward()
    assert (a.grad, b.grad, c.grad) == (4.0, 6.0, 2.0)
    assert (u.grad, v.grad, J.grad) == (2.0, 2.0, 1.0)
    *_, J_nudged = notes_graph(a=3.1)
    assert J_nudged.data == pytest.approx(22.4)
    assert (J_nudged.data - J.data) / 0.1 == pytest.approx(4.0)


def test_local_derivatives_of_the_activation_nodes():
    for x in (-2.0, -0.3, 0.0, 0.7, 3.0):
        z = Value(x)
        sig = 1 / (1 + math.exp(-x))  # derived here, not read back from the node
        s = z.sigmoid()
        assert s.data == pytest.approx(sig)
        assert s.local_grads[0] == pytest.approx(sig * (1 - sig))
        t = z.tanh()
        assert t.data == pytest.approx(math.tanh(x))
        assert t.local_grads[0] == pytest.approx(1 - math.tanh(x) ** 2)
        assert z.relu().local_grads[0] == (1.0 if x > 0 else 0.0)
    assert Value(0.0).relu().local_grads == (0.0,)  # the kink takes 0, as PyTorch does


def test_logistic_regression_graph_gives_dz_equal_a_minus_y():
    for y in (0.0, 1.0):
        w1, w2, b = Value(0.5), Value(-0.25), Value(0.1)
        z = w1 * 1.0 + w2 * 2.0 + b
        a = z.sigmoid()
        loss = -(y * a.log() + (1 - y) * (1 - a).log())
        loss.backward()
        assert z.grad == pytest.approx(a.data - y)
        assert w2.grad == pytest.approx((a.data - y) * 2.0)


# -- against PyTorch ------------------------------------------------------------------------------


OPS = ["add", "mul", "sub", "neg", "div", "radd", "rmul", "rsub", "rdiv",
       "pow_int", "pow_frac", "pow_neg", "exp", "log", "tanh", "sigmoid", "relu"]


def apply(op, x, y, k):
    """The same operation on two Values or on two torch tensors (duck typing)."""
    if op == "add":
        return x + y
    if op == "mul":
        return x * y
    if op == "sub":
        return x - y
    if op == "neg":
        return -x
    if op == "div":
        return x / (y * y + 1.0)
    if op == "radd":
        return k + x
    if op == "rmul":
        return k * x
    if op == "rsub":
        return k - x
    if op == "rdiv":
        return k / (x * x + 0.5)
    if op == "pow_int":
        return x ** int(round(abs(k) * 2) + 1)
    if op == "pow_frac":
        return (x * x + 0.1) ** (abs(k) + 0.25)
    if op == "pow_neg":
        return (x * x + 1.0) ** -1.5
    if op == "exp":
        return x.tanh().exp()
    if op == "log":
        return (x * x + 0.5).log()
    if op == "tanh":
        return x.tanh()
    if op == "sigmoid":
        return x.sigmoid()
    if op == "relu":
        return x.relu()
    raise AssertionError(op)


def random_expression(seed):
    """A random graph built from every operation, with nodes reused, as Values and as tensors."""
    rng = np.random.default_rng(seed)
    n_leaves = int(rng.integers(2, 5))
    data = rng.normal(size=n_leaves) * 1.5
    leaves = [Value(float(d), f"x{i}") for i, d in enumerate(data)]
    tensors = [torch.tensor(float(d), dtype=torch.float64, requires_grad=True) for d in data]
    pool = list(zip(leaves, tensors, strict=True))
    ops = list(OPS) + list(rng.choice(OPS, size=int(rng.integers(5, 20))))
    rng.shuffle(ops)
    for op in ops:
        i, j = rng.integers(len(pool), size=2)  # i == j happens: a node used twice
        k = float(np.round(rng.normal() * 2, 3))
        (vx, tx), (vy, ty) = pool[i], pool[j]
        value, tensor = apply(op, vx, vy, k), apply(op, tx, ty, k)
        if abs(value.data) > 20:  # keep values in a sane range on both sides alike
            value, tensor = value.tanh(), tensor.tanh()
        pool.append((value, tensor))
    # The root sums a few nodes, so early nodes are reused by late ones too.
    picks = rng.choice(len(pool), size=3)
    root_v, root_t = pool[-1]
    for p in picks:
        root_v, root_t = root_v + pool[p][0] * pool[-2][0], root_t + pool[p][1] * pool[-2][1]
    return leaves, tensors, root_v, root_t


@pytest.mark.parametrize("seed", range(150))
def test_gradients_match_pytorch_on_random_expressions(seed):
    leaves, tensors, root_v, root_t = random_expression(seed)
    root_v.backward()
    root_t.backward()
    assert root_v.data == pytest.approx(root_t.item(), rel=1e-10, abs=1e-12)
    got = np.array([leaf.grad for leaf in leaves])
    expected = np.array([0.0 if t.grad is None else t.grad.item() for t in tensors])
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12 * scale, err_msg=f"seed {seed}")


def test_every_operation_is_exercised_by_the_random_expressions():
    ops = set()
    for seed in range(5):
        _, _, root, _ = random_expression(seed)
        ops |= {node.op for node in root.topological_order()}
    assert ops >= {"+", "*", "pow", "exp", "log", "tanh", "sigmoid", "relu"}


# -- reuse, order and repeated calls ---------------------------------------------------------------


def test_a_node_used_twice_gets_both_contributions():
    x = Value(3.0)
    y = x * x
    y.backward()
    assert x.grad == 6.0
    a = Value(-1.5)
    s = a + a
    s.backward()
    assert a.grad == 2.0
    assert len(s.topological_order()) == 2  # a, s: the reused node appears once


def test_diamond_graph():
    # a feeds b and c, both feed d: dd/da = c * db/da + b * dc/da
    a = Value(2.0)
    b = a * 3.0
    c = a.exp()
    d = b * c
    d.backward()
    assert a.grad == pytest.approx(3.0 * c.data + b.data * c.data)
    t = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    (t * 3.0 * t.exp()).backward()
    assert a.grad == pytest.approx(t.grad.item(), rel=1e-12)


def test_intermediate_node_reused_three_times():
    a, b = Value(1.5), Value(-2.0)
    u = a * b
    J = u * u + u
    J.backward()
    du = 2 * u.data + 1
    assert u.grad == pytest.approx(du)
    assert (a.grad, b.grad) == (pytest.approx(du * b.data), pytest.approx(du * a.data))


def test_topological_order_puts_every_node_after_its_children_once():
    for seed in range(20):
        _, _, root, _ = random_expression(seed)
        order = root.topological_order()
        assert order[-1] is root
        assert len({id(n) for n in order}) == len(order)
        where = {id(n): i for i, n in enumerate(order)}
        for node in order:
            for child in node.children:
                assert where[id(child)] < where[id(node)]


def test_long_chain_needs_no_recursion():
    x = Value(0.5)
    y = x
    for _ in range(50_000):  # far beyond Python's recursion limit
        y = y + x
    y.backward()
    assert x.grad == 50_001.0
    assert y.data == pytest.approx(0.5 * 50_001)


def test_repeated_backward_gives_the_same_gradients():
    a, b, c, u, v, J = notes_graph()
    J.backward()
    first = [n.grad for n in (a, b, c, u, v, J)]
    J.backward()
    J.backward()
    assert [n.grad for n in (a, b, c, u, v, J)] == first


def test_backward_from_a_new_root_resets_the_shared_nodes():
    x = Value(2.0)
    y = x * x
    y.backward()
    assert x.grad == 4.0
    z = y * 3.0  # reuses y's graph
    z.backward()
    assert x.grad == 12.0 and y.grad == 3.0  # d z / d x, not 4 + 12
    y.backward()
    assert x.grad == 4.0


# -- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("x", [0.0, -1.0])
def test_log_of_a_non_positive_number_is_refused(x):
    with pytest.raises(ValueError, match="log needs a positive number"):
        Value(x, "q").log()


def test_pow_needs_a_constant_exponent():
    with pytest.raises(TypeError, match="constant number"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(TypeError, match="constant number"):
        2.0 ** Value(3.0)
    with pytest.raises(TypeError, match="real number"):
        Value(2.0) ** "2"
    with pytest.raises(ValueError, match="negative base"):
        Value(-8.0) ** (1 / 3)
    with pytest.raises(ValueError, match="divides by zero"):
        Value(0.0) ** -1


@pytest.mark.parametrize("other", ["3", None, [1.0], True, 1j])
def test_non_numeric_operands_are_refused(other):
    with pytest.raises(TypeError, match="real numbers"):
        Value(1.0) + other
    with pytest.raises(TypeError, match="real numbers"):
        other * Value(1.0)


@pytest.mark.parametrize("data", ["3", None, True, np.array([1.0, 2.0])])
def test_non_numeric_data_is_refused(data):
    with pytest.raises(TypeError, match="real number"):
        Value(data)


def test_division_by_zero_is_refused():
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / 0


def test_numpy_scalars_and_extreme_inputs():
    assert (Value(np.float64(2.0)) * np.int64(3)).data == 6.0
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(1000.0).sigmoid().data == 1.0
    assert Value(1000.0).exp().data == math.inf
    sqrt = Value(0.0) ** 0.5
    assert sqrt.data == 0.0 and sqrt.local_grads == (math.inf,)
    assert (Value(0.0) ** 0).local_grads == (0.0,)  # as torch: x ** 0 is flat
    assert (Value(0.0) ** 1).local_grads == (1.0,)


def test_operator_overloads():
    x = Value(4.0)
    cases = {
        "x - 1": (x - 1, 3.0), "1 - x": (1 - x, -3.0), "x / 2": (x / 2, 2.0), "2 / x": (2 / x, 0.5),
        "-x": (-x, -4.0), "x ** 2": (x**2, 16.0), "3 + x": (3 + x, 7.0), "3 * x": (3 * x, 12.0),
    }
    for name, (node, expected) in cases.items():
        assert node.data == pytest.approx(expected), name
    assert "label='x'" in repr(Value(1.0, "x"))


# -- drawing ------------------------------------------------------------------------------------------


def headless_axes():
    fig = Figure(figsize=(7, 3.5))
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def test_draw_graph_shows_one_text_per_node_with_value_and_grad():
    a, b, c, u, v, J = notes_graph()
    J.backward()
    fig, ax = headless_axes()
    drawing = draw_graph(J, ax=ax)
    nodes = J.topological_order()
    assert len(drawing.texts) == len(nodes) == 7  # a, b, u, c, v, the constant 2, J
    assert len(drawing.op_texts) == 3  # *, +, *
    assert all(t in ax.texts for t in drawing.texts + drawing.op_texts)
    assert len(ax.texts) == 10
    expected = {"a": "a = 3\ngrad 4", "b": "b = 2\ngrad 6", "c": "c = 5\ngrad 2", "u": "u = 6\ngrad 2",
                "v": "v = 11\ngrad 2", "J": "J = 22\ngrad 1"}
    for node, text in zip(drawing.nodes, drawing.texts, strict=True):
        if node.label:
            assert text.get_text() == expected[node.label]
        else:
            assert text.get_text() == "2\ngrad 11"
    assert drawing.text_of(a).get_text() == "a = 3\ngrad 4"
    fig.canvas.draw()  # renders without error, no graphviz involved


def test_draw_graph_without_axes_makes_a_figure():
    x = Value(0.3, "x")
    y = (x * x).sigmoid().named("y")
    y.backward()
    drawing = draw_graph(y)
    assert drawing.ax.figure is not None
    assert len(drawing.texts) == 3
    plt.close(drawing.ax.figure)


def test_draw_graph_update_rewrites_texts_in_place():
    *_, J = notes_graph()
    J.backward()
    fig, ax = headless_axes()
    drawing = draw_graph(J, ax=ax)
    texts = list(drawing.texts)
    *_, J2 = notes_graph(a=4.0, b=-1.0, c=0.5)
    J2.backward()
    drawing.update(J2)
    assert drawing.texts == texts and all(a is b for a, b in zip(drawing.texts, texts, strict=True))
    assert "J = -7\ngrad 1" in [t.get_text() for t in drawing.texts]
    assert "a = 4\ngrad -2" in [t.get_text() for t in drawing.texts]
    assert len(ax.texts) == 10
    with pytest.raises(ValueError, match="shape"):
        drawing.update(Value(1.0) + Value(2.0))


def test_layout_columns_follow_the_longest_path_and_edges_point_right():
    a, b, c, u, v, J = notes_graph()
    order, positions = layout(J)
    x = {n.label or "2": positions[id(n)][0] for n in order}
    assert x["a"] == x["b"] < x["u"] == x["c"] < x["v"] < x["J"]
    for seed in range(10):
        _, _, root, _ = random_expression(seed)
        order, positions = layout(root)
        for node in order:
            for child in node.children:
                assert positions[id(child)][0] < positions[id(node)][0]
        # no two nodes share a spot
        assert len({positions[id(n)] for n in order}) == len(order)


def test_draw_graph_refuses_a_non_value():
    with pytest.raises(TypeError, match="needs a Value"):
        draw_graph(3.0)
