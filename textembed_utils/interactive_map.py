"""Interactive embedding maps: pan, zoom, hover to read a text, select a region in one map and see it in the others.

The static t-SNE PNGs show *that* crops give tighter topic islands than dropout; these maps let a
reader ask *which* texts sit in an island or between two. Several maps of the same texts (one per
model) share one bokeh ``ColumnDataSource``, so a box or lasso selection in one lights up the same
texts in every other, text by text. A search box selects the texts that contain a word.

bokeh renders them with its own JavaScript, which ships inside the Python wheel and is inlined
(``library``): a page or ``map.html`` opens from disk with no network. To keep pages
light, coordinates are rounded to 2 decimals and each hover text is cut to ``SNIPPET_CHARS``
characters (the search looks in those characters only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.colors import to_hex

from .atomic import write_text
from .plotting import CLASS_COLOURS

SNIPPET_CHARS = 200
COORDINATE_DECIMALS = 2
TOOLS = "pan,wheel_zoom,box_select,lasso_select,reset"
UNLABELLED = "–"
# Selecting dims every other point; these keep the selected ones in their topic colour.
SELECTED_ALPHA, UNSELECTED_ALPHA = 0.9, 0.08


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The first ``limit`` characters of ``text`` on one line, with "…" when it was longer."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def class_colours(labels: Sequence) -> list[str]:
    """One hex colour per point: its class's colour, the same as the static t-SNE maps use."""
    classes = sorted(set(labels), key=str)
    palette = [to_hex(colour) for colour in CLASS_COLOURS]
    if len(classes) > len(palette):  # more classes than distinct hues: cycle, the legend still names each
        palette = palette * (len(classes) // len(palette) + 1)
    by_class = dict(zip(classes, palette))
    return [by_class[label] for label in labels]


def map_source(maps: Mapping[str, np.ndarray], texts: Sequence[str], labels: Sequence | None):
    """One data source for every map: columns ``x0, y0, x1, y1, …`` (one pair per map), label, colour, text."""
    from bokeh.models import ColumnDataSource

    shown_labels = [UNLABELLED] * len(texts) if labels is None else [str(label) for label in labels]
    data: dict[str, list] = {"label": shown_labels, "text": [snippet(text) for text in texts],
                             "colour": class_colours(shown_labels) if labels is not None else ["#0173b2"] * len(texts)}
    for index, coords in enumerate(maps.values()):
        if len(coords) != len(texts):
            raise ValueError(f"map {index} has {len(coords)} points for {len(texts)} texts; they must match")
        rounded = np.round(np.asarray(coords, dtype=float), COORDINATE_DECIMALS)
        data[f"x{index}"], data[f"y{index}"] = rounded[:, 0].tolist(), rounded[:, 1].tolist()
    return ColumnDataSource(data)


def linked_maps(maps: Mapping[str, np.ndarray], texts: Sequence[str], labels: Sequence | None = None,
                note: str = "", width: int = 420, height: int = 420, legend: bool = True):
    """Side-by-side maps of the same ``texts`` (``{title: coordinates (n, 2)}``), one shared source, a search box.

    Hovering a point shows its class and the start of its text; a box or lasso selection in one map
    selects the same texts in all of them; typing in the search box selects the texts containing it.
    ``legend=False`` leaves out the class legend (where a static map beside it has one, and room is short).
    """
    from bokeh.layouts import column, row
    from bokeh.models import CustomJS, Div, HoverTool, TextInput
    from bokeh.plotting import figure

    source = map_source(maps, texts, labels)
    tooltip = ('<div style="max-width: 320px; white-space: normal; font-size: 12px">'
               "<b>@label</b><br>@text</div>")
    figures = []
    for index, title in enumerate(maps):
        plot = figure(title=title, width=width, height=height, tools=TOOLS, active_drag="box_select",
                      active_scroll="wheel_zoom", toolbar_location="below", match_aspect=True)
        named = {"legend_group": "label"} if legend and labels is not None and index == len(maps) - 1 else {}
        points = plot.scatter(f"x{index}", f"y{index}", source=source, color="colour", size=4, alpha=0.7,
                              selection_alpha=SELECTED_ALPHA, nonselection_alpha=UNSELECTED_ALPHA, **named)
        plot.add_tools(HoverTool(renderers=[points], tooltips=tooltip))
        plot.axis.visible = False
        plot.grid.visible = False
        if plot.legend:
            plot.add_layout(plot.legend[0], "right")
            plot.legend.label_text_font_size = "9pt"
            plot.legend.click_policy = "hide"
        figures.append(plot)
    search = TextInput(title=f"Select the texts containing (in their first {SNIPPET_CHARS} characters):",
                       width=width)
    search.js_on_change("value_input", CustomJS(args={"source": source}, code="""
        const query = cb_obj.value_input.trim().toLowerCase();
        const texts = source.data["text"];
        const hits = [];
        if (query.length > 0) {
            for (let i = 0; i < texts.length; i++) {
                if (texts[i].toLowerCase().includes(query)) hits.push(i);
            }
        }
        source.selected.indices = hits;
    """))
    header = [Div(text=f"<p style='font-size: 12px; margin: 0'>{note}</p>")] if note else []
    return column(*header, search, row(*figures))


def library():
    """bokeh's JavaScript, inlined: the core and the widgets (the search box) only, about 1.7 MB.

    ``bokeh.resources.INLINE`` would also inline WebGL, data tables and MathJax (3.9 MB), which the maps never use.
    """
    from bokeh.resources import Resources

    return Resources(mode="inline", components=["bokeh", "bokeh-widgets"])


def page_html(layout) -> str:
    """The layout as an HTML fragment for a notebook page: bokeh's JavaScript inlined, then the map.

    One map per page: a second one would inline the library again.
    """
    from bokeh.embed import components

    script, div = components(layout)
    return library().render_js() + script + div


def write_map_html(path: Path, coords: np.ndarray, texts: Sequence[str], labels: Sequence | None,
                   title: str, note: str = "") -> Path:
    """``map.html``: one self-contained page (library inlined) of one map, hover and search included."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    layout = linked_maps({title: coords}, texts, labels, note=note, width=760, height=640)
    # file_html inlines only the parts of INLINE the layout uses (the core and the widgets here)
    write_text(Path(path), file_html(layout, INLINE, title=title))
    return Path(path)
