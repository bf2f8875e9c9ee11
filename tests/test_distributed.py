"""Data-parallel training and encoding: two gloo processes on the CPU against one process (issue 13).

One ``torchrun`` launch runs every two-process case (distributed_worker.py, cases in
distributed_cases.py); each test compares one of them with an independent
single-process computation:

- crops (the model's dropout off): the plain single-process trainer, same global batch and seed;
  for the transformer, and for the bare start (the book runner's tiny chapters train it);
- dropout: the two ranks draw their masks from two streams, which one process cannot
  draw in one pass, so the reference is one process that embeds rank 0's slice under
  rank 0's stream, then rank 1's under rank 1's, and takes one plain InfoNCE step on the
  concatenated batch (no gather, no DDP): the gather, the loss scaling and the gradient
  averaging are what the comparison checks;
- the gathered loss: ``info_nce`` on the concatenated batch, and its gradient.

Tolerances: losses within 1e-5 relative, weights within 1e-5 relative + 1e-6 absolute
(measured with crops: 7e-8 relative on the losses, 2.4e-7 absolute on the weights; some
weights are ~1e-7, e.g. attention key biases whose gradient is zero in exact arithmetic).
With dropout the two runs agree bit for bit: each slice is forwarded in the same shapes,
and with two ranks the gather's ×2 and DDP's ÷2 are exact.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import make_toy_corpus
from distributed_cases import CASES, fresh_model, gather_inputs, weights
from textembed_utils.errors import TextembedError
from textembed_utils.evaluation import encode
from textembed_utils.training import distributed, info_nce, train
from textembed_utils.training import trainer as trainer_module
from textembed_utils.training.rng import rng_state, set_rng_state

pytestmark = pytest.mark.distributed

TESTS = Path(__file__).resolve().parent
WORKER = TESTS / "distributed_worker.py"
LOSS_TOLERANCE = dict(rel=1e-5)
WEIGHT_TOLERANCE = dict(rtol=1e-5, atol=1e-6)
# Cached mini-batches sum each gradient in another order. Adam divides by the gradient's own scale, so on entries
# whose gradient is nearly zero those rounding differences move the update by a few thousandths of lr (1e-3):
# 3.8e-6 measured after 3 steps. The bound is 1 % of one step's largest update.
CACHED_WEIGHT_TOLERANCE = dict(rtol=1e-5, atol=1e-2 * CASES["cached"].config.lr)


def torchrun(out: Path, *scenarios: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Two gloo ranks of distributed_worker.py on the CPU, one thread each."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(WORKER), str(out), *scenarios]
    return subprocess.run(command, cwd=TESTS, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("two-processes")
    done = torchrun(out, "gather", "crops", "dropout", "cached", "resume", "encode", "bare")
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def produced(out: Path, scenario: str) -> dict:
    return torch.load(out / f"{scenario}.pt", weights_only=True)


def single_process(case_name: str) -> dict:
    case = CASES[case_name]
    encoder = fresh_model(case)
    result = train(encoder, make_toy_corpus(case.texts).texts, case.config, progress=False)
    return {"losses": result.losses, "weights": weights(encoder)}


def assert_same_training(two: dict, one: dict, weight_tolerance: dict = WEIGHT_TOLERANCE) -> None:
    assert len(two["losses"]) == len(one["losses"])
    assert two["losses"] == pytest.approx(one["losses"], **LOSS_TOLERANCE)
    assert two["weights"].keys() == one["weights"].keys()
    for name, value in one["weights"].items():
        assert torch.allclose(two["weights"][name], value, **weight_tolerance), name


def test_gathered_loss_is_info_nce_of_the_concatenated_batch(two_processes):
    got = produced(two_processes, "gather")
    anchors, positives = (x.clone().requires_grad_() for x in gather_inputs())
    expected = info_nce(anchors, positives)
    expected.backward()
    assert float(got["loss"]) == pytest.approx(expected.item(), rel=1e-6)
    # The gather's backward sums the gradients of the W identical loss copies: W × ∂L/∂v,
    # which DDP's average over W ranks brings back to ∂L/∂θ (training/distributed.py).
    world_size = got["world_size"]
    assert torch.allclose(got["anchor_grad"], world_size * anchors.grad, rtol=1e-5, atol=1e-7)
    assert torch.allclose(got["positive_grad"], world_size * positives.grad, rtol=1e-5, atol=1e-7)


def test_two_processes_train_like_one_with_crops(two_processes):
    assert_same_training(produced(two_processes, "crops"), single_process("crops"))


def test_two_processes_train_the_bare_start_like_one(two_processes):
    assert_same_training(produced(two_processes, "bare"), single_process("bare"))


def test_cached_mini_batches_in_two_processes_train_like_one_plain_process(two_processes):
    assert_same_training(produced(two_processes, "cached"), single_process("crops"), CACHED_WEIGHT_TOLERANCE)


def emulated_two_ranks(monkeypatch, seed: int, world_size: int = 2) -> None:
    """Make one process's trainer embed each rank's slice under that rank's dropout stream, then one loss.

    It reuses the trainer's own tokenisation and forward of a rank's slice; what it does
    not reuse is what the two-process run is checked for: the gather with gradients,
    the DDP average and the per-rank seeding (each stream here starts from
    ``torch.manual_seed(dropout_seed(seed, rank))`` on its own).
    """
    streams = []
    for rank in range(world_size):
        with torch.random.fork_rng():
            torch.manual_seed(distributed.dropout_seed(seed, rank))
            streams.append(rng_state())

    def backward(self, step: int) -> torch.Tensor:
        outside, chunks = rng_state(), []
        for rank in range(world_size):
            self.world = distributed.World(rank=rank, size=world_size)
            ids, mask = self.tokens(step)
            set_rng_state(streams[rank])
            chunks.append(self.embed(ids, mask))
            streams[rank] = rng_state()
        self.world = distributed.World()
        set_rng_state(outside)
        loss = self.pairs_loss(chunks)
        loss.backward()
        return loss.detach()

    monkeypatch.setattr(trainer_module._Run, "backward", backward)


def test_two_processes_train_like_one_with_dropout(two_processes, monkeypatch):
    case = CASES["dropout"]
    emulated_two_ranks(monkeypatch, case.config.seed)
    two = produced(two_processes, "dropout")
    assert_same_training(two, single_process("dropout"))
    monkeypatch.undo()
    # The plain single-process run draws other masks: the comparison above is not vacuous.
    assert single_process("dropout")["losses"][0] != pytest.approx(two["losses"][0], rel=1e-4)


def test_a_two_process_run_killed_after_a_checkpoint_resumes_to_the_same_weights(two_processes):
    got = produced(two_processes, "resume")
    assert got["resumed_from"] == 2
    (ref_losses, ref_weights), (losses, resumed_weights) = got["reference"], got["resumed"]
    assert losses == ref_losses and len(losses) == CASES["resume"].config.steps
    assert all(torch.equal(resumed_weights[k], ref_weights[k]) for k in ref_weights)


def test_distributed_encode_equals_single_process_encode_in_corpus_order(two_processes):
    got = produced(two_processes, "encode")
    encoder = fresh_model(CASES["crops"])
    texts = make_toy_corpus(300, seed=1).texts
    np.testing.assert_array_equal(got["vectors"].numpy(), encode(encoder, texts, batch_size=32, progress=False))
    layers = encode(encoder, texts[:50], batch_size=16, progress=False, all_layers=True)
    np.testing.assert_array_equal(got["layers"].numpy(), layers)


def test_an_error_on_one_rank_stops_all_with_its_message_and_publishes_nothing(tmp_path):
    done = torchrun(tmp_path, "fail")
    assert done.returncode != 0
    assert "rank 1 broke on purpose" in done.stderr
    assert not (tmp_path / "model").exists()


def test_a_batch_that_does_not_split_evenly_names_the_fix():
    with pytest.raises(TextembedError) as err:
        distributed.check_divisible(10, distributed.World(rank=0, size=4))
    assert "cannot be split evenly across 4" in err.value.problem and "8 or 12" in err.value.fix


def test_a_checkpoint_of_another_number_of_processes_is_refused_with_the_fix(tmp_path):
    from textembed_utils.training.checkpoint import CHECKPOINT_FILE

    case = CASES["dropout"]
    config = type(case.config)(**{**case.config.to_dict(), "checkpoint_every": 1, "steps": 1})
    texts = make_toy_corpus(case.texts).texts
    train(fresh_model(case), texts, config, checkpoint_dir=tmp_path, progress=False)
    state = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)
    torch.save({**state, "world_size": 2, "rng": {"ranks": [state["rng"]] * 2}}, tmp_path / CHECKPOINT_FILE)
    with pytest.raises(TextembedError) as err:
        train(fresh_model(case), texts, config, checkpoint_dir=tmp_path, progress=False)
    assert "written by a run in 2 processes; this one has 1" in err.value.problem
    assert "resume with 2 processes" in err.value.fix


def test_the_performance_page_section_renders_every_contender():
    sys.path.insert(0, str(TESTS.parent / "benchmarks"))
    import render_page

    names = ("train/1", "train/1x1", "train/2", "train_cached/1x1", "encode/1", "encode/2")
    record = {"figures": {"rate": {name: float(i + 1) for i, name in enumerate(names)},
                          "unit": {"train": "pairs/s", "encode": "texts/s"}, "precision": "bf16"},
              "settings": {"batch": 32, "steps": 4, "texts": 256, "repeats": 2, "threads": 2}}
    section = render_page.distributed_section(record)
    assert "| training, 2 processes (gloo) × 1 thread(s) | 3 | pairs/s |" in section
    assert "| training, 1 process × 1 thread(s), cached loss | 4 | pairs/s |" in section
    assert "| encoding, 2 processes (gloo) × 1 thread(s) | 6 | texts/s |" in section
    assert "B − 1 other positives" in section and "Global batch 32 pairs" in section


def test_textembed_finetune_under_torchrun_publishes_one_folder_like_one_process(tmp_path, monkeypatch):
    import csv
    import json

    from textembed_utils.cli import main as textembed

    fresh_model(CASES["crops"]).save(tmp_path / "tiny-model")
    corpus = make_toy_corpus(96)
    with open(tmp_path / "toy.csv", "w", newline="") as fh:
        rows = csv.writer(fh)
        rows.writerow(["text", "topic"])
        rows.writerows(zip(corpus.texts, corpus.labels))
    args = ["finetune", "toy.csv", "--label-column", "topic", "--model", "tiny-model", "--n-sentences", "1",
            "--batch-size", "16", "--steps", "3", "--lr", "1e-3", "--precision", "fp32", "--no-tsne", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "textembed_utils.cli", *args, "--out", "two"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-4000:]
    assert two.stdout.count("Wrote two:") == 1  # rank 0 alone speaks and publishes
    monkeypatch.chdir(tmp_path)
    assert textembed([*args, "--out", "one"]) == 0
    one_report, two_report = (json.loads((tmp_path / out / "report.json").read_text()) for out in ("one", "two"))
    assert two_report["training"]["loss_curve"] == pytest.approx(one_report["training"]["loss_curve"], rel=1e-5)
    assert two_report["training"]["processes"] == {"count": 2, "backend": "gloo", "pairs_per_process": 8}
    assert "in 2 processes (gloo, 8 pairs each)" in two.stdout
    np.testing.assert_allclose(np.load(tmp_path / "two" / "embeddings.npy"),
                               np.load(tmp_path / "one" / "embeddings.npy"), rtol=1e-5, atol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "tiny-model", "toy.csv", "two"]  # no leftovers


BOOK_CHAPTER = """
from textembed_utils import experiments
from textembed_utils.experiments import Run
from textembed_utils.profiles import load_profile
from textembed_utils.results.records import write_record
from textembed_utils.training.distributed import world
result = experiments.fit(Run.of("bare", "crops", steps=2), load_profile("tiny"))
write_record(profile, "trained_together", config={"processes": world().size},
             metrics={"losses": result.losses, "cached": result.cached})
"""
BOOK_RUNNER = """
import sys
from pathlib import Path
from textembed_utils import book
book.NOTEBOOK_DIR = Path(sys.argv[1])
sys.exit(book.main(["run", "--profile", "tiny", "--only", "01_together"]))
"""


def test_the_book_runner_under_torchrun_trains_in_every_kernel_and_only_rank_0_writes(tmp_path):
    import json

    import nbformat

    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    cells = [nbformat.v4.new_code_cell('profile = "embedded"', metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell(BOOK_CHAPTER)]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, notebooks / "01_together.ipynb")
    (tmp_path / "runner.py").write_text(BOOK_RUNNER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TEXTEMBED_CACHE": str(tmp_path / "cache"),
           "TEXTEMBED_RESULTS": str(tmp_path / "results"), "TEXTEMBED_EXECUTED": str(tmp_path / "executed")}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(tmp_path / "runner.py"), str(notebooks)]
    record_file = tmp_path / "results" / "tiny" / "trained_together.json"
    records = []
    for _ in range(2):  # the second run finds the model rank 0 stored, on both ranks, and runs the notebook again
        done = subprocess.run(command, cwd=TESTS, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-4000:]
        assert done.stdout.count("01_together: done") == 1  # rank 0 alone reports
        records.append(json.loads(record_file.read_text()))
    assert [r["metrics"]["cached"] for r in records] == [False, True]
    assert records[0]["config"] == {"processes": 2}  # the kernel trained in the two-process group
    executed = tmp_path / "executed" / "tiny"
    assert sorted(p.name for p in executed.iterdir()) == [".stamps", "01_together.ipynb"]
    models = [p.name for p in (tmp_path / "cache" / "models" / "tiny").iterdir() if p.suffix != ".lock"]
    assert len(models) == 1 and models[0].startswith("bare-crops-")  # no checkpoint left, one folder
