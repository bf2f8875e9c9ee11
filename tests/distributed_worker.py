"""One rank of the multi-process tests: ``torchrun --nproc_per_node 2 distributed_worker.py OUT SCENARIO...``.

Every rank runs the scenarios in order; rank 0 saves what each produced to
``OUT/<scenario>.pt`` for test_distributed.py to compare with one process.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from conftest import make_toy_corpus
from distributed_cases import CASES, GATHER_SHAPE, fresh_model, gather_inputs, weights
from textembed_utils.errors import TextembedError
from textembed_utils.evaluation import encode
from textembed_utils.training import distributed, info_nce, train


def run_training(name: str, out: Path) -> dict:
    case = CASES[name]
    encoder = fresh_model(case)
    result = train(encoder, make_toy_corpus(case.texts).texts, case.config, progress=False)
    return {"losses": result.losses, "weights": weights(encoder)}


def gathered_loss(out: Path) -> dict:
    """The loss of slices gathered with gradients, and each rank's gradient of its slice."""
    here = distributed.world()
    anchors, positives = gather_inputs()
    rows = slice(here.rank * GATHER_SHAPE[0] // here.size, (here.rank + 1) * GATHER_SHAPE[0] // here.size)
    mine = [anchors[rows].clone().requires_grad_(), positives[rows].clone().requires_grad_()]
    loss = info_nce(distributed.gather_with_grad(mine[0]), distributed.gather_with_grad(mine[1]))
    loss.backward()
    grads = distributed.gather_objects([mine[0].grad, mine[1].grad])
    return {"loss": loss.detach(), "anchor_grad": torch.cat([g[0] for g in grads]),
            "positive_grad": torch.cat([g[1] for g in grads]), "world_size": here.size}


def resumed(out: Path) -> dict:
    """An uninterrupted run, and one killed after its step-2 checkpoint and run again."""
    case = CASES["resume"]
    texts = make_toy_corpus(case.texts).texts
    full = fresh_model(case)
    reference = train(full, texts, case.config, checkpoint_dir=out / "full-checkpoints", progress=False)

    def killed_at_4(encoder, step):
        if step == 4:
            raise KeyboardInterrupt
        return {}

    folder = out / "checkpoints"
    try:
        train(fresh_model(case), texts, case.config, eval_fn=killed_at_4, checkpoint_dir=folder, progress=False)
    except KeyboardInterrupt:
        pass
    again = fresh_model(case)
    result = train(again, texts, case.config, checkpoint_dir=folder, progress=False)
    return {"reference": (reference.losses, weights(full)), "resumed": (result.losses, weights(again)),
            "resumed_from": result.resumed_from}


def encoded(out: Path) -> dict:
    encoder = fresh_model(CASES["crops"])
    texts = make_toy_corpus(300, seed=1).texts
    # Uneven shares: 300 texts in batches of 32 make 10 batches, 5 a rank, the last one short.
    return {"vectors": torch.from_numpy(encode(encoder, texts, batch_size=32, progress=False, distributed=True)),
            "layers": torch.from_numpy(encode(encoder, texts[:50], batch_size=16, progress=False, all_layers=True,
                                              distributed=True))}


def failing(out: Path) -> dict:
    """Rank 1 raises during training; rank 0 would save a model folder after it."""
    case = CASES["crops"]
    encoder = fresh_model(case)

    def fail_on_rank_1(model, step):
        if step == 2 and distributed.world().rank == 1:
            raise TextembedError("rank 1 broke on purpose", "nothing to fix: a test")
        return {}

    config = type(case.config)(**{**case.config.to_dict(), "eval_every": 1})
    train(encoder, make_toy_corpus(case.texts).texts, config, eval_fn=fail_on_rank_1, progress=False)
    if distributed.world().is_main:
        encoder.save(out / "model")
    return {}


SCENARIOS = {"gather": gathered_loss, "resume": resumed, "encode": encoded, "fail": failing}


def main(out: Path, names: list[str]) -> None:
    distributed.join_process_group()
    for name in names:
        produced = SCENARIOS[name](out) if name in SCENARIOS else run_training(name, out)
        if distributed.world().is_main:
            torch.save(produced, out / f"{name}.pt")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(Path(sys.argv[1]), sys.argv[2:])
