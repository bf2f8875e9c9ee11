"""Every notebook executes through papermill on the tiny profile; bad parameters fail with our message.

The runner executes into a session-wide temporary folder (``TEXTEMBED_EXECUTED``),
shared with tests/test_book.py and tests/test_browser.py, so whichever runs first
executes the notebooks and the others find them up to date.
"""

from __future__ import annotations

import json
import math

import papermill
import pytest

from textembed_utils import book
from textembed_utils.results import read_record, read_records
from textembed_utils.results.consistency import conflicts

pytestmark = pytest.mark.slow
NOTEBOOKS = book.notebook_paths()
CHAPTERS = [p for p in NOTEBOOKS if "reproduction" not in p.stem]
CHAPTERS_WITH_FINDINGS = {"01_augmentations", "03_knn", "04_domain_adaptation", "05_from_scratch", "06_layers"}


@pytest.fixture(scope="module")
def executed(isolated_storage, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TEXTEMBED_EXECUTED", str(isolated_storage / "executed"))
        timings = book.run("tiny")
        yield book.executed_dir("tiny"), timings


def _outputs(path):
    notebook = json.loads(path.read_text())
    return [o for c in notebook["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


def test_notebooks_follow_the_conventions():
    assert [p.stem[:2] for p in NOTEBOOKS] == sorted(p.stem[:2] for p in NOTEBOOKS)
    for path in NOTEBOOKS:
        notebook = json.loads(path.read_text())
        code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), f"{path.name} has outputs"
        tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: exactly one cell tagged 'parameters'"
        assert 'profile = "embedded"' in "".join(tagged[0]["source"]), path.name
        following = "".join(code[code.index(tagged[0]) + 1]["source"])
        assert "validate(globals())" in following, f"{path.name}: parameters are validated in the next cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_on_tiny(executed, path):
    folder, _ = executed
    outputs = _outputs(folder / path.name)
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert any(o.get("data", {}).get("text/html") for o in outputs), "no table shown"
    if path in CHAPTERS:
        assert any("image/png" in o.get("data", {}) for o in outputs), "no figure drawn"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_writes_a_record_with_accuracies(executed, path):
    record = read_record("tiny", path.stem)
    assert record["profile"] == "tiny" and record["rows"], "the record holds no accuracy rows"
    for row in record["rows"]:
        assert 0.0 <= row["low"] <= row["value"] <= row["high"] <= 1.0, row
        assert row["n_test"] >= 1 and row["metric"] and row["run"], row
    assert all(f["verdict"] and f["n_test"] >= 1 for f in record["findings"])
    if path.stem in CHAPTERS_WITH_FINDINGS:  # the chapter's comparisons were computed, not only a table shown
        assert record["findings"], f"{path.stem} recorded no findings"


def test_the_build_has_one_number_per_model_evaluation_and_metric(executed):
    records = read_records("tiny")
    assert set(records) >= {p.stem for p in CHAPTERS}
    assert all(row.get("evaluation") for record in records.values() for row in record["rows"]
               if row["metric"] in ("knn_euclidean", "knn_cosine", "linear_probe"))
    assert conflicts(records) == [], [c.describe() for c in conflicts(records)]


def test_second_run_skips_unchanged_notebooks(executed):
    assert all(seconds is None for seconds in book.run("tiny").values())


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"no_such_knob": 3}, "Unknown parameter(s): no_such_knob"),
        ({"batch_size": "big"}, "Parameter batch_size='big' has type str, expected int"),
        ({"profile": "huge"}, "Parameter profile='huge' must be one of"),
    ],
)
def test_bad_parameter_stops_papermill_with_our_message(tmp_path, parameters, message):
    source = book.NOTEBOOK_DIR / "01_augmentations.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(str(source), str(tmp_path / "out.ipynb"), kernel_name="python3",
                                   parameters={"profile": "tiny", **parameters}, progress_bar=False)
    assert message in str(failure.value)
    assert "How to fix" in str(failure.value)
