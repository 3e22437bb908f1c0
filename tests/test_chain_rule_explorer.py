"""The chain-rule explorer, headless: sliders rewrite the graph and the nudge plot in place."""

import base64

import ipywidgets as widgets
import numpy as np
import pytest

from coursekit.widgets.chain_rule import H_GRID, ChainRuleExplorer


def node_texts(explorer):
    return {t.get_text() for t in explorer.graph.texts}


def expected_errors(a, b, c, h):
    """The nudge ratio against the chain rule, worked out here independently of the explorer."""
    h = np.asarray(h, dtype=float)
    J = lambda a: 2 * (a * b + c)
    K = lambda a: 2 * (a**2 * b + c)
    linear = np.abs((J(a + h) - J(a)) / h - 2 * b)
    curved = np.abs((K(a + h) - K(a)) / h - 4 * a * b)
    return np.maximum(linear, 1e-16), np.maximum(curved, 1e-16)


def test_starts_at_the_notes_numbers():
    explorer = ChainRuleExplorer()
    assert explorer.values == (3.0, 2.0, 5.0, pytest.approx(0.1))
    assert {"a = 3\ngrad 4", "b = 2\ngrad 6", "c = 5\ngrad 2", "u = 6\ngrad 2", "v = 11\ngrad 2",
            "J = 22\ngrad 1"} <= node_texts(explorer)
    assert "J(a + h) = 22.4," in explorer.readout.value
    assert "J = 2v = 22" in explorer.readout.value and "= 2 · b = 4" in explorer.readout.value


def test_slider_a_rewrites_the_graph_and_the_curves_in_place():
    explorer = ChainRuleExplorer()
    texts, lines = list(explorer.graph.texts), (explorer.linear_curve, explorer.curved_curve)
    axes, png_before = list(explorer.fig.axes), explorer.png()
    n_texts = [len(ax.texts) for ax in axes]

    explorer.sliders["a"].value = 4.0
    # u = 8, v = 13, J = 26; dJ/da = 2b = 4 still, dJ/db = 2a = 8
    assert {"a = 4\ngrad 4", "b = 2\ngrad 8", "u = 8\ngrad 2", "v = 13\ngrad 2",
            "J = 26\ngrad 1"} <= node_texts(explorer)
    linear, curved = expected_errors(4.0, 2.0, 5.0, H_GRID)
    np.testing.assert_allclose(explorer.linear_curve.get_ydata(), linear, rtol=1e-12, atol=0)
    np.testing.assert_allclose(explorer.curved_curve.get_ydata(), curved, rtol=1e-12, atol=0)
    np.testing.assert_allclose(explorer.linear_curve.get_xdata(), H_GRID)
    # same artists, same axes, no new texts; a new picture
    assert all(t is u for t, u in zip(explorer.graph.texts, texts, strict=True))
    assert (explorer.linear_curve, explorer.curved_curve) == lines
    assert explorer.fig.axes == axes and [len(ax.texts) for ax in axes] == n_texts
    assert explorer.png() != png_before
    assert explorer.image.value == explorer.png()


def test_nudge_slider_moves_the_markers():
    explorer = ChainRuleExplorer()
    explorer.sliders["h"].value = 1e-3
    h = explorer.values[3]
    linear, curved = expected_errors(3.0, 2.0, 5.0, h)
    assert explorer.linear_marker.get_xdata()[0] == pytest.approx(h)
    assert explorer.curved_marker.get_ydata()[0] == pytest.approx(float(curved), rel=1e-9)
    assert explorer.linear_marker.get_ydata()[0] == pytest.approx(float(linear), rel=1e-9)
    assert list(explorer.h_line.get_xdata()) == [pytest.approx(h)] * 2
    # the curved variant's forward difference is off by exactly 2 |b| h, up to rounding
    assert float(curved) == pytest.approx(2 * 2.0 * h, rel=1e-6)


def test_an_exact_nudge_sits_on_the_bottom_edge_of_the_error_axis():
    # a = b = 1, c = 0, h = 0.5: every number is a power of two, so the linear ratio is exact.
    explorer = ChainRuleExplorer(a=1.0, b=1.0, c=0.0, h=0.5)
    linear, _ = expected_errors(1.0, 1.0, 0.0, 0.5)
    assert float(linear) == 1e-16  # the floor of an exact zero
    assert explorer.linear_marker.get_ydata()[0] == explorer.error_ax.get_ylim()[0]


def test_set_values_redraws_once():
    explorer = ChainRuleExplorer()
    calls = []
    draw = explorer.draw
    explorer.draw = lambda: (calls.append(1), draw())
    explorer.set_values(1.0, -1.0, 0.5, 1e-4)
    assert len(calls) == 1
    assert explorer.values == (1.0, -1.0, 0.5, pytest.approx(1e-4))
    assert "J = -1\ngrad 1" in node_texts(explorer)  # 2 (1 * -1 + 0.5) = -1
    assert "a = 1\ngrad -2" in node_texts(explorer)


def test_first_slider_on_the_page_is_a_and_it_changes_the_picture():
    explorer = ChainRuleExplorer()

    def sliders(widget):
        if isinstance(widget, (widgets.FloatSlider, widgets.FloatLogSlider)):
            return [widget]
        return [s for child in getattr(widget, "children", ()) for s in sliders(child)]

    first = sliders(explorer.widget)[0]
    assert first is explorer.sliders["a"]
    before = explorer.image.value
    first.value = first.value + 5 * first.step
    assert explorer.image.value != before


def test_headless_display_falls_back_to_a_static_png():
    bundle = ChainRuleExplorer()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
