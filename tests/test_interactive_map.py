"""Interactive embedding maps: one shared source (linked selection), rounded coordinates, short hover texts, offline."""

from __future__ import annotations

import re

import numpy as np
import pytest

from textembed_utils import interactive_map as im

EXTERNAL_TAG = re.compile(r"""<(script|link)\b[^>]*\b(src|href)\s*=\s*["']?https?:""")


def two_maps(n: int = 30):
    rng = np.random.default_rng(0)
    texts = [f"Text number {i} about {'cats' if i % 2 else 'engines'}. " + "More words. " * 40 for i in range(n)]
    labels = ["animals" if i % 2 else "machines" for i in range(n)]
    return {"bare/crops": rng.normal(size=(n, 2)) * 10, "bare/dropout": rng.normal(size=(n, 2)) * 10}, texts, labels


def test_snippets_are_short_single_lines_and_say_when_they_were_cut():
    assert im.snippet("a  short\ntext") == "a short text"
    long = im.snippet("word " * 200)
    assert len(long) <= im.SNIPPET_CHARS and long.endswith("…")


def test_every_map_plots_from_one_source_so_a_selection_is_shared():
    from bokeh.models import GlyphRenderer

    maps, texts, labels = two_maps()
    layout = im.linked_maps(maps, texts, labels)
    renderers = [r for r in layout.select({"type": GlyphRenderer})]
    assert len(renderers) == 2 and renderers[0].data_source is renderers[1].data_source
    data = renderers[0].data_source.data
    assert set(data) >= {"x0", "y0", "x1", "y1", "label", "text", "colour"}
    assert all(value == round(value, im.COORDINATE_DECIMALS) for value in data["x0"])
    assert max(len(text) for text in data["text"]) <= im.SNIPPET_CHARS
    # the same class has the same colour, the two classes different ones
    colours = dict(zip(data["label"], data["colour"]))
    assert len(set(colours.values())) == 2


def test_a_map_needs_one_point_per_text():
    maps, texts, labels = two_maps()
    with pytest.raises(ValueError, match="map 0 has 30 points for 29 texts"):
        im.map_source(maps, texts[:29], labels[:29])


def test_the_page_fragment_requests_nothing_from_any_host():
    maps, texts, labels = two_maps()
    html = im.page_html(im.linked_maps(maps, texts, labels))
    # no <script src> or <link href> to a server (the library's own code names a MathJax URL that it fetches
    # only for math text, which maps never have: the browser test checks that nothing is requested)
    assert not EXTERNAL_TAG.search(html), "no script or stylesheet from a server"
    assert html.count("/* BEGIN bokeh.min.js */") == 1 and "Text number 3" in html
    assert len(html) < 2.5e6, "the library is inlined once, without the parts the maps do not use"


def test_map_html_is_one_self_contained_page(tmp_path):
    maps, texts, labels = two_maps()
    path = im.write_map_html(tmp_path / "map.html", maps["bare/crops"], texts, labels, "a title", note="a note")
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "a title" in page and "a note" in page
    assert not EXTERNAL_TAG.search(page)
