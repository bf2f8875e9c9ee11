"""Benchmarks' plumbing, without timing anything: records written by the harness render into the page,
and the fast kNN agrees with scikit-learn on the benchmark's synthetic data."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import harness  # noqa: E402
import render_page  # noqa: E402
from bench_knn import gaussian_mixture  # noqa: E402

from textembed_utils.evaluation import knn_predict  # noqa: E402
from textembed_utils.machine import CpuInfo, cpu_description  # noqa: E402


@pytest.fixture
def results_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path)
    args = argparse.Namespace(threads=2, no_write=False)
    harness.report(
        "bench_encode", "encoding throughput", args,
        comparisons=[harness.compare("encode_vs_sentence_transformers", 30.0, 20.0, "texts/s",
                                     higher_is_better=True, goal=1.0)],
        figures={"texts_per_second": {"ours": 30.0, "sentence_transformers": 20.0},
                 "ms_per_text": {"ours": 33.3, "sentence_transformers": 50.0}, "texts": 8,
                 "mean_tokens_per_text": 100.0, "max_abs_difference": 1e-6},
        settings={}, notes=["a fixture note"],
    )
    harness.report(
        "bench_knn", "exact kNN", args,
        comparisons=[harness.compare("knn_vs_sklearn_10k", 0.5, 2.0, "s", higher_is_better=False, goal=5.0)],
        figures={"sizes": [{"n_texts": 10_000, "n_queries": 1_000, "n_reference": 9_000,
                            "median_s": {"ours": 0.5, "sklearn": 2.0},
                            "peak_extra_rss_mb": {"ours": 64.0, "sklearn": 10.0},
                            "distance_matrix_mb_if_unchunked": 68.7, "identical_predictions": True}]},
        settings={}, notes=[],
    )
    contenders = [f"{who}/{precision}" for precision in ("bf16", "fp32")
                  for who in ("ours", "sentence_transformers", "authors_padding")]
    harness.report(
        "bench_train", "training throughput", args,
        comparisons=[harness.compare("train_vs_sentence_transformers", 12.0, 8.0, "pairs/s", higher_is_better=True,
                                     goal=1.2, note="both bf16")],
        figures={"median_seconds": dict.fromkeys(contenders, 10.0), "pairs_per_second": dict.fromkeys(contenders, 6.4),
                 "achieved_gflops": dict.fromkeys(contenders, 50.0),
                 "matmul_peak_gflops": {"bf16": 800.0, "fp32": 190.0}, "pairs": 64, "real_tokens_per_pair": 65.0,
                 "non_embedding_params": 10.8e6, "authors_padding_width": 76},
        settings={"precisions": ["bf16", "fp32"]}, notes=[],
    )
    return tmp_path


def test_record_holds_machine_versions_and_oriented_ratios(results_dir):
    record = json.loads((results_dir / "bench_knn.json").read_text())
    assert {"cpu", "cores", "torch_threads", "native_bf16", "cpu_kind"} <= set(record["machine"])
    assert record["machine"]["cpu_kind"] == str(cpu_description())
    assert "torch" in record["versions"] and record["date"] and record["commit"]
    (comparison,) = record["comparisons"]
    assert comparison["ratio"] == pytest.approx(4.0)  # lower seconds is better: baseline / ours
    assert comparison["met"] is False


def test_page_renders_every_figure_from_the_records(results_dir):
    page = render_page.render(results_dir)
    assert page.startswith("# Performance")
    assert "`encode_vs_sentence_transformers` | 30 | 20 | texts/s | 1.50×" in page
    assert "`knn_vs_sklearn_10k` | 0.5 | 2 | s | 4.00× | ≥ 5× (not met)" in page
    assert "a fixture note" in page and "GPU timings were not taken" in page
    assert "## Encoding" in page and "## kNN accuracy" in page
    assert "| authors' corpus-wide padding | fp32 | 10 | 6.4 | 50 |" in page
    assert "800 GFLOP/s in bf16, 190 GFLOP/s in fp32" in page


def test_page_names_the_cpu_kind(results_dir):
    assert f"*Machine*: {cpu_description()}, 2 threads" in render_page.render(results_dir)


@pytest.mark.parametrize("native", [True, False])
def test_training_compares_fp32_only_where_bf16_is_emulated(native):
    from bench_train import default_precisions, precision_note

    cpu = CpuInfo("AMD EPYC", 2, native, ("avx512_bf16",) if native else ())
    precisions = default_precisions(cpu)
    assert precisions == (["bf16", "fp32"] if native else ["fp32"])
    note = precision_note(cpu, precisions)
    assert str(cpu) in note and ("bf16 and fp32" in note if native else "fp32 only" in note)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_knn_matches_sklearn_on_benchmark_data(metric):
    vectors, labels = gaussian_mixture(3_000, seed=1)
    train_x, train_y, test_x = vectors[:2_700], labels[:2_700], vectors[2_700:]
    expected = KNeighborsClassifier(n_neighbors=10, algorithm="brute", metric=metric).fit(train_x, train_y)
    np.testing.assert_array_equal(knn_predict(train_x, train_y, test_x, metric=metric), expected.predict(test_x))


def test_length_grouped_forward_equals_one_padded_pass():
    """The training speed-up must not change the vectors: grouping by length only drops padding."""
    import torch

    from textembed_utils.models import load_encoder
    from textembed_utils.training.trainer import MIN_GROUP_TEXTS, forward_by_length

    encoder = load_encoder(init="random", config_overrides={
        "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}).eval()
    texts = [" ".join(["word"] * (1 + (7 * i) % 40)) for i in range(2 * MIN_GROUP_TEXTS + 5)]
    tokens = encoder.tokenize(texts)
    with torch.inference_mode():
        grouped = forward_by_length(encoder, tokens["input_ids"], tokens["attention_mask"], torch.device("cpu"))
        padded = encoder(tokens["input_ids"], tokens["attention_mask"])
    torch.testing.assert_close(grouped, padded, rtol=1e-4, atol=1e-5)


def test_the_precision_benchmark_scores_both_precisions_on_the_same_split_and_renders(tmp_path, monkeypatch):
    import bench_encode_precision

    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(sys, "argv", ["bench_encode_precision.py", "--texts", "120", "--threads", "1"])
    bench_encode_precision.main()
    figures = json.loads((tmp_path / "bench_encode_precision.json").read_text())["figures"]
    assert figures["texts"] == 120 and figures["test_texts"] == 12
    for metric in ("euclidean", "cosine"):
        accuracy = figures[metric]["accuracy"]
        assert accuracy["fp32"]["n_test"] == accuracy["bf16"]["n_test"] == 12
        assert figures[metric]["bf16_minus_fp32"]["delta"] == pytest.approx(
            accuracy["bf16"]["value"] - accuracy["fp32"]["value"])
        assert 0 <= figures[metric]["same_prediction"] <= 1
    assert 0 < figures["relative_vector_deviation"]["max"] < 0.05
    assert "## Encoding in bf16: what it saves and what it changes" in render_page.render(tmp_path)


def test_the_large_corpus_benchmark_reads_finetunes_memory_stage_by_stage_and_renders_it(tmp_path):
    import bench_large_corpus

    sentences = bench_large_corpus.wiki_sentences()[:400]
    _, table_file = bench_large_corpus.write_corpora(tmp_path, 300, sentences)
    run = bench_large_corpus.measure_stages(
        ["finetune", str(table_file), "--model", "bare", "--label-column", "topic", "--n-sentences", "1",
         "--steps", "2", "--batch-size", "8", "--drop-rare-classes", "--no-tsne", "--out", str(tmp_path / "out")],
        threads=1)
    stages = run["stages"]
    assert len(stages) >= 3 and stages[-1]["before"] == "exit"
    peaks = [mark["peak_rss_mb"] for mark in stages if mark["peak_rss_mb"] is not None]
    assert peaks == sorted(peaks) and peaks[-1] == run["peak_rss_mb"] > 50  # a high-water mark only grows
    row = {"corpus_mb": 0.1, "npy_mb": 0.4, "measured": True, "finetune": run,
           "embed": {"seconds": 1.0, "peak_rss_mb": 100.0}, "evaluate": {"seconds": 1.0, "peak_rss_mb": 100.0}}
    page = render_page.large_corpus_section({"figures": {"sizes": {"300": row}}})
    assert "`finetune` on 300 texts, stage by stage" in page and "| exit |" in page
