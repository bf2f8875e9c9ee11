"""bench_static's plumbing without timing anything: its record renders into the Performance page, and
the padded reference path it times against gives the fast static path's vectors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import harness  # noqa: E402
import render_page  # noqa: E402
from bench_static import folder_mb, padded_encode, repeated  # noqa: E402

from textembed_utils.evaluation import encode  # noqa: E402


@pytest.fixture
def results_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path)
    rates = {"ours": 6000.0, "model2vec": 5800.0, "st_static": 5000.0, "minilm": 50.0}
    rows = [{"n": n, "texts_per_second": {**rates, **({"padded": 1500.0} if n == 10_000 else {})},
             "speedup_vs_minilm": {k: v / 50.0 for k, v in {**rates, "padded": 1500.0}.items()}}
            for n in (10_000, 100_000)]
    harness.report(
        "bench_static", "static-embedding encoding throughput", argparse.Namespace(threads=2, no_write=False),
        comparisons=[harness.compare("static_vs_minilm_100k", 6000.0, 50.0, "texts/s", higher_is_better=True,
                                     goal=100.0)],
        figures={"rows": rows, "minilm_texts": 512, "mean_tokens_per_text": 90.0,
                 "size_on_disk_mb": {"ours": 31.3, "model2vec": 30.7, "minilm": 91.0},
                 "dims": {"ours": 256, "model2vec": 256, "minilm": 384}},
        settings={}, notes=["a static note"],
    )
    return tmp_path


def test_static_section_renders_every_contender_and_size(results_dir):
    page = render_page.render(results_dir)
    assert "## Encoding with a static model" in page
    assert "`static_vs_minilm_100k` | 6,000 | 50 | texts/s | 120.00× | ≥ 100× (met)" in page
    assert "| ours (bare, model2vec init, `encode`) | 6,000 (120×) | 6,000 (120×) |" in page
    assert "| ours, general padded path | 1,500 (30×) | – |" in page
    assert "ours 31.3 MB (256-d)" in page and "a static note" in page


def test_padded_reference_gives_the_fast_paths_vectors(tiny_bare):
    texts = repeated(["The cat sat on the mat.", "Turbines drive generators. " * 30, "x"], 10)
    np.testing.assert_allclose(padded_encode(tiny_bare, texts), encode(tiny_bare, texts, progress=False), atol=1e-6)


def test_folder_size_counts_every_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.bin").write_bytes(b"\0" * 1_000_000)
    (tmp_path / "sub" / "b.bin").write_bytes(b"\0" * 500_000)
    assert folder_mb(tmp_path) == pytest.approx(1.5)
