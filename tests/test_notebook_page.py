"""How chapter pages show tables: findings merged per comparison, DataFrames without NaN, raw floats or row numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from textembed_utils.notebook_page import MISSING, dataframe_html, readable_number
from textembed_utils.results.findings import Finding, findings_table, primary_findings
from textembed_utils.results.verdicts import Verdict


def finding(metric: str, verdict: Verdict, claim: str = "crops beat dropout", difference: float = 0.02) -> Finding:
    return Finding(claim, "bare/crops", "bare/dropout", metric, difference, difference - 0.01, difference + 0.01,
                   904, verdict)


@pytest.mark.parametrize(("value", "text"), [
    (2943.0, "2,943"), (0.549, "0.549"), (0.00002, "2e-5"), (0.0003, "3e-4"), (1.788139e-07, "1.8e-7"), (0.0, "0"),
    (float("nan"), MISSING), (12.3456, "12.35"), (-3.0, "-3"),
])
def test_numbers_are_written_as_people_write_them(value, text):
    assert readable_number(value) == text


def test_a_comparison_on_two_metrics_is_one_row_with_the_papers_metric_verdict():
    found = [finding("knn_euclidean", Verdict.HOLDS), finding("knn_cosine", Verdict.WITHIN_NOISE),
             finding("knn_cosine", Verdict.HOLDS, claim="crops beat none")]
    table = findings_table(found)
    assert len(table) == 2
    assert list(table.columns) == ["claim", "comparison", "kNN (Euclidean), p.p.", "kNN (cosine), p.p.",
                                   "test texts", "verdict (kNN (Euclidean))"]
    first, second = table.to_dict("records")
    assert first["verdict (kNN (Euclidean))"] == Verdict.HOLDS.value
    assert first["kNN (Euclidean), p.p."] == "+2.0 (+1.0\u00a0to\u00a0+3.0)"
    # measured on cosine only: its one metric gives the verdict, the Euclidean cell says it was not measured
    assert second["kNN (Euclidean), p.p."] == "–" and second["verdict (kNN (Euclidean))"] == Verdict.HOLDS.value
    assert not table.isna().any().any()


def test_one_metric_keeps_a_plain_verdict_column():
    table = findings_table([finding("knn_euclidean", Verdict.HOLDS)])
    assert list(table.columns)[-1] == "verdict"


def test_primary_findings_prefer_the_papers_metric_whatever_the_order():
    found = [finding("knn_cosine", Verdict.WITHIN_NOISE), finding("knn_euclidean", Verdict.HOLDS)]
    assert [f.metric for f in primary_findings(found)] == ["knn_euclidean"]


def test_dataframe_html_hides_row_numbers_and_writes_no_nan_and_no_raw_float():
    frame = pd.DataFrame({"text": ["x" * 120, None], "count": [2943.0, np.nan], "lr": [2e-5, 1.788139e-07]})
    html = dataframe_html(frame)
    assert "NaN" not in html and "nan" not in html.lower().replace("dataframe", "")
    assert "x" * 120 in html, "long texts are not cut with '...'"
    assert "2,943" in html and "2e-5" in html and "1.8e-7" in html
    assert "<th>0</th>" not in html, "a 0, 1, 2… index says nothing and is not shown"
    named = dataframe_html(frame.set_index(pd.Index(["a", "b"], name="run")))
    assert "<th>a</th>" in named


def test_mixed_columns_write_none_and_floats_like_float_columns():
    settings = pd.Series({"lr": 2e-5, "mini_batch_size": None, "symmetric": False, "batch_size": 64}).to_frame()
    html = dataframe_html(settings)
    assert "None" not in html and MISSING in html and "2e-5" in html and "False" in html and "64" in html
    assert 'class="dataframe"' in html


def test_setup_registers_the_html_for_dataframes(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    from textembed_utils import notebook_page

    shell = InteractiveShell.instance()
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    notebook_page.setup()
    bundle, _ = shell.display_formatter.format(pd.DataFrame({"a": [np.nan]}))
    assert "NaN" not in bundle["text/html"] and MISSING in bundle["text/html"]


def test_the_starts_table_writes_settings_as_people_read_them():
    from textembed_utils.chapters.common import starts_table

    profile = {"starts": {"scratch": {"model": "m", "lr": 0.0003, "steps": None, "pooling": None,
                                      "config_overrides": {"num_hidden_layers": 2, "hidden_size": 128}},
                          "bare": {"model": "bare", "lr": 0.5, "steps": 40, "pooling": None, "config_overrides": None}}}
    table = starts_table(profile, ["scratch", "bare"])
    assert list(table.columns) == ["scratch", "bare"] and table.index.name == "setting"
    assert "pooling" not in table.index, "a setting no start sets is left out"
    assert table.loc["lr", "scratch"] == "3e-4" and table.loc["lr", "bare"] == "0.5"
    assert table.loc["config_overrides", "scratch"] == "num_hidden_layers=2, hidden_size=128"
    assert table.loc["steps", "scratch"] == MISSING and table.loc["steps", "bare"] == "40"


def test_headers_may_break_after_a_slash_and_nowhere_else():
    frame = pd.DataFrame({"ours: pretrained/untrained": [1.5]}, index=pd.Index(["bare/crops"], name="run"))
    html = dataframe_html(frame)
    assert "ours: pretrained/<wbr>untrained" in html and "bare/<wbr>crops" in html
