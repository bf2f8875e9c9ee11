"""How a chapter page looks: one figure style, and DataFrames shown as a reader wants to see them.

pandas' own HTML shows a 0, 1, 2… row index that means nothing, writes missing
cells as "NaN", cuts long text at 50 characters with "..." and prints small
floats as ``1.788139e-07``. ``setup()`` (called once at the top of every
notebook) replaces that HTML for every DataFrame the page displays with
``dataframe_html``: no meaningless index, "–" for a missing value, whole texts,
numbers written to a few significant digits, and headers that may break after a "/". The notebook's text output
(``text/plain``) is left as pandas writes it.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from . import plotting

MISSING = "–"
# A header cell's text: where a long name such as "ours: pretrained/untrained" may break.
HEADER_TEXT = re.compile(r"(<th[^>]*>)([^<]*)(</th>)")


def readable_number(value: float) -> str:
    """A float as people write it: ``2,943``, ``0.549``, ``2e-5``, ``3e-4``, ``1.8e-7``; "–" when missing."""
    if value is None or math.isnan(value):
        return MISSING
    value = float(value)
    if value == 0 or value.is_integer() and abs(value) < 1e15:
        return f"{value:,.0f}"
    if 1e-3 <= abs(value) < 1e6:
        return f"{value:,.4g}"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"


def _cell(value: object) -> object:
    """A cell of a mixed (object) column: floats and missing values written like those of a float column."""
    if value is None or isinstance(value, float):
        return readable_number(value)
    return value


def dataframe_html(frame: pd.DataFrame) -> str:
    """``frame`` as an HTML table: its index only when it names the rows, "–" for missing cells, whole texts."""
    names_rows = not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None
    shown = frame.copy()
    for position, dtype in enumerate(frame.dtypes):
        if dtype == object:
            shown.iloc[:, position] = frame.iloc[:, position].map(_cell)
    html = shown.to_html(index=names_rows, na_rep=MISSING, float_format=readable_number, border=0)
    # Run names are long single words ("pretrained/untrained"): let a header break after its slash, so a
    # table of many runs fits the column without breaking inside a word.
    return HEADER_TEXT.sub(lambda m: m[1] + m[2].replace("/", "/<wbr>") + m[3], html)


def setup() -> None:
    """Set the figure style and show every DataFrame of the running notebook with ``dataframe_html``."""
    plotting.set_style()
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, dataframe_html)
