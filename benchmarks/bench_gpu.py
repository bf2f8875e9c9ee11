"""The GPU path measured: CUDA against the CPU, the paper's scale, the embedded chapters' heavy runs.

One script that runs unchanged on a CPU here (``--device cpu --tiny``, the dry run
``make test`` makes) and on a GPU machine that has torch, transformers,
sentence-transformers, scikit-learn and pandas but not mteb, openTSNE, papermill,
model2vec, the MiniLM weights or the wiki corpus's package. Three parts, each
written to the record as soon as it is done, so that a run stopped at its time
limit keeps what it finished:

- ``correctness``: the bare and scratch starts train the same few batches of crops
  in fp32 on the device and on the CPU, dropout off (no random mask may differ
  between the devices); their losses agree within ``FP32_LOSS_TOLERANCE``. bf16
  autocast on the device stays within ``BF16_LOSS_TOLERANCE`` of the CPU's fp32
  losses, and ``encode`` on the device matches the CPU within ``ENCODE_TOLERANCE``.
- ``paper_scale``: an encoder of MPNet-base's shape (transformers' ``MPNetConfig``:
  12 layers, hidden 768, 12 heads, vocabulary 30,527; random weights, as speed does
  not depend on them) trains ours at the paper's settings: batches of 64
  two-sentence crop pairs of the wiki corpus, max length 512, per-batch padding,
  Adam, bf16 autocast. 100 batches are timed (the paper's "about 1 min on one RTX
  A6000", Fig. 1) → pairs/s, tokens/s, the share of the bf16 matmul peak measured in
  the same run, and one ICLR and one arXiv epoch estimated as bench_paper_estimate.py
  does for the CPU.
- ``chapter_runs``: chapter 1's bare crops and dropout runs and the scratch start's,
  at the profile's settings, on the device and on the CPU, with their kNN
  accuracies (95 % intervals) side by side and the paired difference.

On a CPU the device *is* the CPU: the comparisons then only exercise the code, and
their status says so. What the GPU machine lacks is staged here once and carried:

    .venv/bin/python benchmarks/bench_gpu.py --stage benchmarks/gpu_inputs
    PYTHONPATH=. python3 benchmarks/bench_gpu.py --device cuda --threads 16 --inputs benchmarks/gpu_inputs \\
        --out $OUT/bench_gpu.json                                    # there (benchmarks/README.md)
    .venv/bin/python benchmarks/bench_gpu.py --device cpu --tiny --threads 1 --out /tmp/bench_gpu.json
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from harness import Comparison, compare, fix_threads, matmul_peak_gflops, parse_args, report
from torch import nn
from training_setup import (
    SEED, first_pairs, gflops, non_embedding_params, paper_run_estimates, real_tokens, train_config,
)
from transformers import MPNetConfig, MPNetModel

from textembed_utils import experiments as ex
from textembed_utils.corpora import Corpus
from textembed_utils.corpora.wiki import WIKI_FILE_VARIABLE, wiki_json_path
from textembed_utils.evaluation.intervals import paired_difference
from textembed_utils.evaluation.scoring import KNN_METRICS, EvalSpec, Scores, score
from textembed_utils.machine import cpu_description
from textembed_utils.models import EMBEDDED_MODEL, TextEncoder, embedded_model_path, load_tokenizer
from textembed_utils.profiles import load_profile
from textembed_utils.training import train

CPU = torch.device("cpu")
PARTS = ("correctness", "paper_scale", "chapter_runs")
STARTS = ("bare", "scratch")
CHAPTER_RUNS = tuple(ex.Run(start, augmentation) for start in STARTS for augmentation in ("crops", "dropout"))
# Largest |loss on the device − loss on the CPU| in nats over the compared batches (losses start near log 64).
FP32_LOSS_TOLERANCE = 1e-3  # the same arithmetic in another order: rounding only
BF16_LOSS_TOLERANCE = 0.02  # bf16 keeps ~3 significant digits in the matrix products
ENCODE_TOLERANCE = 1e-4  # largest |difference| of the vectors over their largest |value|, fp32
PAPER_N_SENTENCES = 2
PAPER_A6000_SECONDS = 60.0  # the paper's 100 batches on one RTX A6000 (Fig. 1)
# mpnet-base's 514 positions: MPNet numbers positions from the padding index + 1, so 512 tokens need 514.
MPNET_POSITIONS = 514
STAGED_WIKI = "summaries_en-us.json"
STAGED_TOKENIZER = "all-MiniLM-L6-v2-tokenizer"
TOKENIZER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


@dataclass(frozen=True)
class Scale:
    """How big each part is: the paper's and the embedded profile's, or the dry run's tiny stand-ins."""

    profile: str  # whose bare and scratch starts are trained
    correctness_steps: int
    encode_texts: int
    batch: int
    max_length: int
    warmup_batches: int
    timed_batches: int
    matmul_size: int
    mpnet_changes: dict = field(default_factory=dict)  # over MPNetConfig's defaults (mpnet-base's shape)


FULL = Scale("embedded", correctness_steps=5, encode_texts=512, batch=64, max_length=512, warmup_batches=5,
             timed_batches=100, matmul_size=8192)
TINY = Scale("tiny", correctness_steps=3, encode_texts=64, batch=8, max_length=64, warmup_batches=1,
             timed_batches=3, matmul_size=256,
             mpnet_changes={"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 2,
                            "intermediate_size": 128})


# --- what the GPU machine lacks -----------------------------------------------------------------


def stage_inputs(folder: Path) -> None:
    """Copy into ``folder`` what the GPU machine lacks: the wiki corpus's JSON, MiniLM's tokenizer and config.

    About 7 MB and no weights: the bare and scratch starts need only MiniLM's vocabulary and
    configuration, and their random weights are drawn from the profile's seed.
    """
    tokenizer = folder / STAGED_TOKENIZER
    tokenizer.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(wiki_json_path(), folder / STAGED_WIKI)
    for name in TOKENIZER_FILES:
        shutil.copyfile(embedded_model_path() / name, tokenizer / name)


def use_inputs(folder: Path | None) -> str:
    """The tokenizer the starts are built on: MiniLM's package, or the copy staged in ``folder``.

    With ``folder``, its copy of the wiki JSON stands in for the corpus's package too.
    """
    if folder is None:
        return EMBEDDED_MODEL
    os.environ[WIKI_FILE_VARIABLE] = str(folder / STAGED_WIKI)
    return str(folder / STAGED_TOKENIZER)


def profile_for(name: str, tokenizer: str) -> dict:
    """Profile ``name`` with its bare and scratch starts built on ``tokenizer`` (a folder or the embedded model)."""
    if tokenizer == EMBEDDED_MODEL:
        return load_profile(name)
    return load_profile(name, {"starts": {"scratch": {"model": tokenizer}, "bare": {"tokenizer_from": tokenizer}}})


def on(profile: dict, device: torch.device, precision: str | None = None) -> dict:
    """``profile`` with its runs on ``device`` (and in ``precision``, when given)."""
    return {**profile, "device": str(device), "precision": precision or profile["precision"]}


def status(device: torch.device) -> str:
    """What a device-vs-CPU comparison means on this ``device``."""
    if device.type == "cuda":
        return f"compared: {device.type} vs cpu"
    return "skipped: no CUDA (the device is the CPU, compared with itself: only the code is exercised)"


def describe(device: torch.device) -> dict[str, Any]:
    """The device's name and what its speed depends on."""
    if device.type != "cuda":
        return {"type": device.type, "name": str(cpu_description())}
    props = torch.cuda.get_device_properties(device)
    return {"type": "cuda", "name": props.name, "memory_gib": props.total_memory / 2**30,
            "capability": f"{props.major}.{props.minor}", "multiprocessors": props.multi_processor_count,
            "cuda": torch.version.cuda, "float32_matmul_precision": torch.get_float32_matmul_precision()}


# --- correctness ----------------------------------------------------------------------------------


def without_dropout(encoder: TextEncoder) -> TextEncoder:
    """``encoder`` with every dropout rate at 0: the two devices draw different masks from the same seed."""
    for module in encoder.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    return encoder


def crop_losses(profile: dict, start: str, steps: int, texts: list[str]) -> list[float]:
    """Per-batch losses of ``steps`` batches of crops from ``start``'s seeded weights, dropout off."""
    encoder = without_dropout(ex.make_encoder(profile, start))
    config = ex.train_config(profile, start, "crops", steps=steps)
    return train(encoder, texts, config, progress=False).losses


def agreement(reference: list[float] | np.ndarray, other: list[float] | np.ndarray, tolerance: float,
              relative: bool = False) -> dict[str, Any]:
    """Largest |difference| of ``other`` from ``reference`` (over the reference's largest |value| if ``relative``)."""
    reference, other = np.asarray(reference, dtype=float), np.asarray(other, dtype=float)
    gap = float(np.abs(other - reference).max() / (np.abs(reference).max() if relative else 1.0))
    return {"max_difference": gap, "tolerance": tolerance, "within": gap <= tolerance}


def correctness(profile: dict, device: torch.device, scale: Scale) -> dict[str, Any]:
    """Losses and encodings of the bare and scratch starts on ``device`` against the CPU's, fp32 and bf16."""
    texts = ex.profile_corpus(profile).texts
    starts = {}
    for start in STARTS:
        cpu = crop_losses(on(profile, CPU, "fp32"), start, scale.correctness_steps, texts)
        fp32 = crop_losses(on(profile, device, "fp32"), start, scale.correctness_steps, texts)
        bf16 = crop_losses(on(profile, device, "bf16"), start, scale.correctness_steps, texts)
        sample = texts[: scale.encode_texts]
        vectors = [ex.embed(on(profile, where, "fp32"), ex.make_encoder(profile, start).to(where), sample)
                   for where in (CPU, device)]
        starts[start] = {
            "cpu_fp32": {"losses": cpu, "finite": all(map(math.isfinite, cpu)), "decreased": cpu[-1] < cpu[0]},
            "device_fp32": {"losses": fp32, **agreement(cpu, fp32, FP32_LOSS_TOLERANCE)},
            "device_bf16": {"losses": bf16, **agreement(cpu, bf16, BF16_LOSS_TOLERANCE)},
            "encode_fp32": {"texts": len(sample), **agreement(*vectors, ENCODE_TOLERANCE, relative=True)},
        }
    checks = [check["within"] for found in starts.values() for key, check in found.items() if key != "cpu_fp32"]
    return {"status": status(device), "steps": scale.correctness_steps, "starts": starts, "passed": all(checks),
            "note": "crops, dropout off; losses in nats; encode_fp32's difference is relative to the largest |value|"}


# --- the paper's scale ----------------------------------------------------------------------------


def mpnet_encoder(tokenizer_name: str, scale: Scale) -> TextEncoder:
    """An encoder of MPNet-base's shape with random weights, over MiniLM's (BERT's uncased) vocabulary.

    mpnet-base's own tokenizer is not available offline; its vocabulary is BERT's uncased one plus
    five special tokens, so BERT's tokenizer gives the same token counts, and its ids fit the
    30,527-row embedding table. The padding index is the tokenizer's.
    """
    tokenizer = load_tokenizer(tokenizer_name)
    torch.manual_seed(SEED)
    config = MPNetConfig(max_position_embeddings=MPNET_POSITIONS, pad_token_id=tokenizer.pad_token_id,
                         **scale.mpnet_changes)
    return TextEncoder(tokenizer, MPNetModel(config, add_pooling_layer=False), pooling="mean",
                       max_length=scale.max_length, name="MPNet-base shape, random init")


def paper_scale(texts: list[str], tokenizer_name: str, device: torch.device, scale: Scale) -> dict[str, Any]:
    """Time ``scale.timed_batches`` batches at the paper's settings: rates, peak share and epoch estimates."""
    encoder = mpnet_encoder(tokenizer_name, scale)
    settings = (PAPER_N_SENTENCES, scale.batch)
    train(encoder, texts, train_config(*settings, scale.warmup_batches, scale.max_length, "bf16", str(device)),
          progress=False)  # kernels chosen and memory pooled before the clock starts
    result = train(encoder, texts, train_config(*settings, scale.timed_batches, scale.max_length, "bf16",
                                                str(device)), progress=False)
    peak = matmul_peak_gflops(scale.matmul_size, dtype=torch.bfloat16, device=device)
    pairs = first_pairs(texts, *settings, scale.timed_batches)
    tokens, params = real_tokens(encoder, pairs, scale.max_length), non_embedding_params(encoder)
    seconds = result.train_seconds
    achieved = gflops(params, tokens, seconds)
    return {
        "model": dict(encoder.backbone.config.to_diff_dict(), attention=encoder.backbone.config._attn_implementation),
        "non_embedding_params": params, "batches": scale.timed_batches, "batch_size": scale.batch,
        "max_length": scale.max_length, "precision": result.precision, "seconds": seconds,
        "pairs_per_second": len(pairs) / seconds, "tokens_per_second": tokens / seconds, "tokens": tokens,
        "tokens_per_crop": tokens / (2 * len(pairs)), "achieved_gflops": achieved, "bf16_matmul_peak_gflops": peak,
        "peak_fraction": achieved / peak, "first_loss": result.losses[0], "last_loss": result.losses[-1],
        "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
        "estimates": paper_run_estimates(seconds / tokens, tokens / (2 * len(pairs))),
    }


def paper_comparisons(found: dict[str, Any], scale: Scale) -> list[Comparison]:
    """The paper-scale part's headline ratios: its share of the matmul peak, and (at full size) the paper's A6000."""
    comparisons = [compare("gpu_train_bf16_matmul_peak_fraction", found["achieved_gflops"],
                           found["bf16_matmul_peak_gflops"], "GFLOP/s", higher_is_better=True,
                           note="achieved training GFLOP/s (6 x non-embedding parameters x real tokens) / bf16 "
                                "matmul peak measured in the same run")]
    if not scale.mpnet_changes:
        comparisons.append(compare(
            "gpu_paper_100_batches_vs_a6000", found["seconds"] * 100 / found["batches"], PAPER_A6000_SECONDS, "s",
            higher_is_better=False, note="MPNet-base shape, bf16, batch 64 two-sentence wiki crops, max length 512; "
                                         "the paper's crops (ICLR abstracts) may be longer"))
    return comparisons


# --- the chapters' heavy runs ---------------------------------------------------------------------


def scored_run(run: ex.Run, profile: dict, corpus: Corpus, data: ex.EvalSet) -> tuple[ex.RunResult, Scores]:
    """``run`` trained afresh (no cache) under ``profile`` and its kNN scores on ``data``."""
    fitted = ex.fit(run, profile, corpus, cache=False)
    vectors = ex.embed(profile, fitted.encoder, data.texts)
    return fitted, score(vectors, data.labels, EvalSpec.from_profile(profile), probe=False)


def chapter_runs(profile: dict, device: torch.device) -> dict[str, Any]:
    """Each of ``CHAPTER_RUNS`` on ``device`` and on the CPU: training time, kNN accuracies, their difference."""
    corpus = ex.profile_corpus(profile)
    runs = {}
    for run in CHAPTER_RUNS:
        data = ex.start_eval_set(profile, corpus, run.start)
        sides = {where: scored_run(run, on(profile, place), corpus, data)
                 for where, place in (("device", device), ("cpu", CPU))}
        entry = {where: {"train_seconds": fitted.train_seconds, "steps": fitted.total_steps,
                         "precision": fitted.precision, **{row["metric"]: row for row in scores.rows()}}
                 for where, (fitted, scores) in sides.items()}
        for metric in KNN_METRICS:
            diff = paired_difference(sides["device"][1].correct[metric], sides["cpu"][1].correct[metric])
            entry[f"{metric}_device_minus_cpu"] = {"delta": diff.delta, "low": diff.low, "high": diff.high,
                                                   "agree": diff.low <= 0 <= diff.high}
        runs[run.name] = entry
    agree = all(entry[f"{metric}_device_minus_cpu"]["agree"] for entry in runs.values() for metric in KNN_METRICS)
    return {"status": status(device), "profile": profile["name"], "runs": runs, "agree": agree,
            "note": "each side in the profile's precision on its device (auto: bf16 on CUDA and on CPUs with native "
                    "bf16); agree = the paired 95 % interval of device − CPU contains 0"}


# --- the run ----------------------------------------------------------------------------------------


def write(args: argparse.Namespace, scale: Scale, figures: dict, comparisons: list[Comparison], final: bool) -> None:
    """The record as far as the run got: rewritten after every part, printed after the last."""
    report(
        "bench_gpu", "the GPU path: CUDA against the CPU, the paper's scale, the embedded chapters' heavy runs",
        args, comparisons=comparisons, figures=figures, out=args.out, echo=final,
        command=(f"PYTHONPATH=. python3 benchmarks/bench_gpu.py --device {args.device} --threads {args.threads}"
                 + (" --tiny" if args.tiny else "") + (f" --inputs {args.inputs}" if args.inputs else "")),
        settings={"scale": asdict(scale), "parts": args.parts, "budget_s": args.budget_s, "threads": args.threads},
        notes=[
            "Correctness: crops with dropout off, the same seeded weights and batches on both devices; fp32 losses "
            f"within {FP32_LOSS_TOLERANCE:g} nats, bf16 autocast within {BF16_LOSS_TOLERANCE:g} of the CPU's fp32, "
            f"encode within {ENCODE_TOLERANCE:g} of the largest value.",
            "Paper scale: MPNet-base's shape from transformers' MPNetConfig with random weights, over BERT's "
            "uncased vocabulary (MiniLM's tokenizer); ours (train) with length-grouped per-batch padding, Adam, "
            "bf16 autocast; timed after warm-up batches, up to the loss's host copy at the end.",
        ],
    )


def main() -> None:
    def options(parser):
        parser.add_argument("--device", default="auto",
                            help="cuda (the GPU run), cpu (the dry run, with --out) or auto (cuda if there is one)")
        parser.add_argument("--tiny", action="store_true", help="tiny shapes and the tiny profile: the dry run")
        parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="which parts, in order")
        parser.add_argument("--budget-s", type=float, default=420.0,
                            help="a part not started within this many seconds is skipped (and says so)")
        parser.add_argument("--inputs", type=Path, help="folder made by --stage (where the packages are absent)")
        parser.add_argument("--stage", type=Path, help="copy what the GPU machine lacks into this folder and exit")
        parser.add_argument("--out", type=Path, help="write the record here instead of results/bench_gpu.json")

    args = parse_args(__doc__.splitlines()[0], options)
    if args.stage:
        stage_inputs(args.stage)
        print(f"staged the wiki JSON and MiniLM's tokenizer in {args.stage}")
        return
    if args.device == "auto" and not torch.cuda.is_available():
        print("bench_gpu: no CUDA GPU here, nothing measured or written (the dry run: --device cpu --tiny --out FILE)")
        return
    device, scale = torch.device("cuda" if args.device == "auto" else args.device), TINY if args.tiny else FULL
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("No CUDA GPU is visible here: run the dry run with --device cpu --tiny --out FILE.")
    if device.type != "cuda" and args.out is None and not args.no_write:
        raise SystemExit("A run without CUDA is a dry run: give it --out FILE (results/bench_gpu.json holds "
                         "measurements on a GPU only).")
    began = time.perf_counter()
    limits = fix_threads(args.threads)  # noqa: F841 (kept alive for the whole run)
    tokenizer = use_inputs(args.inputs)
    profile = profile_for(scale.profile, tokenizer)
    figures: dict[str, Any] = {"device": describe(device), "parts_done": [], "seconds": {},
                               "inputs": "staged copies (--inputs)" if args.inputs else "installed packages"}
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "correctness": lambda: correctness(profile, device, scale),
        "paper_scale": lambda: paper_scale(ex.profile_corpus(profile).texts, tokenizer, device, scale),
        "chapter_runs": lambda: chapter_runs(profile, device),
    }
    comparisons: list[Comparison] = []
    for number, part in enumerate(args.parts, 1):
        if time.perf_counter() - began > args.budget_s:
            figures[part] = {"status": f"skipped: the {args.budget_s:.0f} s budget was spent before it started"}
        else:
            part_began = time.perf_counter()
            figures[part] = runners[part]()
            figures["seconds"][part] = time.perf_counter() - part_began
            figures["parts_done"].append(part)
            print(f"{part}: done in {figures['seconds'][part]:.0f} s", flush=True)
            if part == "paper_scale":
                comparisons = paper_comparisons(figures[part], scale)
        write(args, scale, figures, comparisons, final=number == len(args.parts))


if __name__ == "__main__":
    main()
