"""Results records (what makes a run redoable) and the paper's stored tables."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from textembed_utils import atomic
from textembed_utils.errors import TextembedError
from textembed_utils.chapters.reproduction import Status
from textembed_utils.results import (
    package_versions,
    paper_claims,
    paper_table,
    read_record,
    read_records,
    record_path,
    write_record,
)
from textembed_utils.results.records import git_commit

CONFIG = {"augmentation": "crops", "lr": 2e-5, "seed": 42, "batch_size": 64}


def test_record_holds_everything_needed_to_redo_a_run(fresh_storage, toy_corpus):
    path = write_record("tiny", "crops-vs-dropout", config=CONFIG, metrics={"knn": 0.83},
                        curves={"knn": [[0, 0.5], [10, 0.8]]}, device="cpu", wall_time_s=1.5,
                        data_fingerprint=toy_corpus.fingerprint(), notes="test")
    assert path == fresh_storage / "results" / "tiny" / "crops-vs-dropout.json" == record_path("tiny", "crops-vs-dropout")
    record = json.loads(path.read_text())
    assert record["config"] == CONFIG and record["seed"] == 42
    assert record["metrics"] == {"knn": 0.83} and record["curves"]["knn"][1] == [10, 0.8]
    assert record["data_fingerprint"] == toy_corpus.fingerprint() and len(record["data_fingerprint"]) == 64
    assert record["versions"]["torch"] == package_versions()["torch"] != "not installed"
    assert {"python", "transformers", "sentence-transformers", "scikit-learn", "numpy"} <= set(record["versions"])
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?|unknown", record["git_commit"])
    assert (record["device"], record["wall_time_s"], record["profile"]) == ("cpu", 1.5, "tiny")
    assert read_record("tiny", "crops-vs-dropout") == record
    assert list(read_records("tiny")) == ["crops-vs-dropout"]


def test_git_commit_names_this_checkout():
    commit = git_commit()
    assert commit == "unknown" or re.fullmatch(r"[0-9a-f]{40}(-dirty)?", commit)


def test_git_commit_outside_a_repository_is_unknown(tmp_path):
    assert git_commit(tmp_path) == "unknown"


def test_records_are_written_atomically(fresh_storage, monkeypatch):
    path = write_record("tiny", "exp", config=CONFIG, metrics={"knn": 0.5})
    before = path.read_text()

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        write_record("tiny", "exp", config=CONFIG, metrics={"knn": 0.9})
    assert path.read_text() == before  # the old record is intact, not half-replaced
    assert [p.name for p in path.parent.iterdir()] == ["exp.json"]  # no temporary leftovers


def test_missing_record_says_which_notebook_to_run(fresh_storage):
    with pytest.raises(TextembedError, match="run the notebook"):
        read_record("tiny", "never-written")
    assert read_records("tiny") == {}


def test_unwritable_results_folder_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TEXTEMBED_RESULTS", str(blocker / "results"))
    with pytest.raises(TextembedError, match="Cannot write into the folder"):
        write_record("tiny", "exp", config=CONFIG, metrics={})


# --- the paper's numbers -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["Table 1", "Table 2", "Table S1", "Table S3", "Table S6"])
def test_paper_tables_are_complete_numeric_frames(name):
    table = paper_table(name)
    assert table.attrs["table"] == name and table.attrs["caption"] and table.attrs["metric"]
    assert table.shape[0] >= 2 and table.shape[1] >= 2
    assert table.map(lambda v: v is None or isinstance(v, (int, float))).all().all()


def test_table_2_averages_and_the_numbers_quoted_in_the_text():
    table = paper_table("Table 2")
    datasets = ["ICLR", "arXiv", "bioRxiv", "medRxiv", "Reddit", "StackExchange"]
    np.testing.assert_allclose(table.loc[datasets].mean(), table.loc["Average"], atol=0.051)
    # §3.3 of the paper: 46.5% (MPNet), 49.1% (dropout), 55.8% (crops), 59.5% (SBERT) on average.
    assert table.loc["Average", ["MPNet", "MPNet + dropout", "MPNet + crops", "SBERT"]].tolist() == [
        46.5, 49.1, 55.8, 59.5]


def test_unknown_table_lists_the_choices():
    with pytest.raises(TextembedError, match="Table 1"):
        paper_table("Table 99")


def test_the_reproduction_page_puts_our_runs_with_intervals_beside_the_papers_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTEMBED_RESULTS", str(tmp_path))
    rows = [{"run": "bare/crops", "start": "bare", "augmentation": "crops", "trained_on": None, "overrides": {},
             "reference": None, "metric": "knn_euclidean", "value": 0.61, "low": 0.55, "high": 0.66, "n_test": 300},
            {"run": "bare/crops", "start": "bare", "augmentation": "crops", "trained_on": None, "overrides": {},
             "reference": None, "metric": "knn_cosine", "value": 0.7, "low": 0.6, "high": 0.8, "n_test": 300}]
    write_record("tiny", "03_knn", config={}, rows=rows)
    frame, status, _ = Status("tiny").table2()
    assert frame.loc["MPNet + crops", "paper: ICLR"] == 58.9 and frame.loc["MPNet + crops", "test texts"] == ""
    assert frame.loc["bare/crops", "ours: tiny (%)"] == 61.0  # the Euclidean row only
    assert frame.loc["bare/crops", "ours: 95 % interval"] == "55.0–66.0" and frame.loc["bare/crops", "test texts"] == "300"
    assert frame.loc["bare/crops", "paper: ICLR"] == ""  # what the paper did not measure stays empty
    assert status == "not measured"  # no crops-vs-dropout finding in this record


def test_paper_claims_are_keyed_typed_claims():
    claims = paper_claims()
    assert "crops_beat_dropout_knn" in claims and all(claim.key == key for key, claim in claims.items())


def test_the_reproduction_page_shows_a_chapters_main_runs_once_and_chapter_8_with_intervals(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTEMBED_RESULTS", str(tmp_path))

    def row(run, metric, value, part=None, n_test=904):
        return {"run": run, "start": run.split("/")[0], "augmentation": run.split("/")[1], "trained_on": None,
                "overrides": {}, "reference": None, "metric": metric, "value": value, "low": value - 0.02,
                "high": value + 0.02, "n_test": n_test, **({"part": part} if part else {})}

    write_record("tiny", "05_from_scratch", config={},
                 rows=[row("bare/crops", "knn_euclidean", 0.83, "runs"), row("bare/crops", "knn_euclidean", 0.72, "gap")])
    frame, _, _ = Status("tiny").table_s6()
    assert list(frame.loc[frame.index == "bare/crops", "ours: tiny (%)"]) == [83.0]  # the side study's row is left out
    write_record("tiny", "07_static", config={},
                 rows=[row("bare/crops", "knn_euclidean", 0.83), row("bare/crops", "knn_cosine", 0.85),
                       row("reference/tfidf", "knn_cosine", 0.81, n_test=200)])
    beyond = Status("tiny").beyond_the_paper()
    assert beyond.loc["bare/crops", "kNN Euclidean (%)"] == "83.0 (81.0–85.0)"
    assert beyond.loc["bare/crops", "test texts"] == 904
    assert beyond.loc["reference/tfidf", "kNN Euclidean (%)"] == "–"  # not measured, not NaN
    assert beyond.loc["reference/tfidf", "test texts"] == 200
