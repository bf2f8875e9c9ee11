"""Fine-tune an encoder on one corpus and write everything a user needs into one folder.

The pipeline behind ``textembed finetune``: check the inputs and the output
folder, measure kNN accuracy before, train with checkpoints, embed the whole
corpus, measure kNN accuracy after, draw a t-SNE map, and publish the folder.
Every output is written into a hidden staging folder next to ``out`` and renamed
into place at the very end, so an error or Ctrl-C never leaves a half-written
model or report behind; ``report.json`` is written last inside the staging folder.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import __version__
from .atomic import atomic_path
from .augment import PairSampler
from .corpora import Corpus
from .errors import TextembedError
from .evaluation import encode, tsne_map
from .evaluation.encode_file import StoredRows, encode_to_npy
from .evaluation.labels import check_measurable
from .evaluation.scoring import EvalSpec, Scores, eval_sample, score
from .evaluation.tsne import tsne_sample
from .experiments import Run, fit, run_config, run_fingerprint
from .models.pooling import ST_POOLING_MODES
from .output_paths import Inputs, check_output_folder, command_inputs
from .training import TrainConfig, resolve_device
from .training.distributed import join_process_group, rank_device

if TYPE_CHECKING:
    from .evaluation.intervals import Accuracy

MIN_TSNE_TEXTS = 10
REPORT_FILE = "report.json"
EMBEDDINGS_FILE = "embeddings.npy"
TSNE_FILE = "tsne.png"
MAP_FILE = "map.html"  # the same map, interactive: hover shows each text
UNLABELLED = "(no label)"
START = "model"  # the one start of the profile a finetune request describes
# The chapters' kNN evaluation (k = 10, 90/10 split, seed 42), stratified as the embedded profile's: on a user's
# corpus each class keeps its share of the test texts. The paper's own split is not stratified.
EVAL = EvalSpec(stratify=True)

Echo = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the output folder ----------------------------------------------------------------------


def check_outputs(out: Path, overwrite: bool, inputs: Inputs) -> None:
    """Refuse, before any work, an ``out`` or checkpoint folder that touches an ``inputs`` path or cannot be written.

    ``out`` must also not hold a previous run (unless ``overwrite``); the checkpoint
    folder may: a rerun resumes from it.
    """
    check_output_folder(out, "--out", inputs, overwrite=overwrite)
    check_output_folder(checkpoint_root(out), "--out's checkpoint folder", inputs, keep_contents=True)


def checkpoint_root(out: Path) -> Path:
    """The hidden folder beside ``out`` that keeps the checkpoints of interrupted runs of ``out``."""
    return out.parent / f".{out.name}.ckpt"


def checkpoint_folder(out: Path, key: str) -> Path:
    """Where an interrupted run of ``out`` keeps its checkpoint: beside ``out``, per run ``key``."""
    return checkpoint_root(out) / key


# --- the pipeline ---------------------------------------------------------------------------


class Stopwatch:
    """Wall time of each named stage, in seconds, in the order they ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._began = time.perf_counter()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - began, 3)

    def total(self) -> float:
        return round(time.perf_counter() - self._began, 3)


@dataclass
class FinetuneRequest:
    """What to fine-tune, on what, and where the results go."""

    corpus: Corpus
    out: Path
    config: TrainConfig
    model: str = "all-MiniLM-L6-v2"
    init: str = "pretrained"
    pooling: str | None = None
    eval_size: int | None = 2000
    drop_rare_classes: bool = False  # leave out classes too small to measure instead of refusing
    evaluate: bool = True  # False: train without measuring kNN accuracy (--no-eval)
    encode_batch_size: int = 64
    tsne: bool = True
    overwrite: bool = False
    progress: bool = True
    command: str = ""
    read_seconds: float = 0.0  # time the caller spent reading the corpus, for the report

    @property
    def start(self) -> str:
        """Where the weights start: the bare layer has no pretrained weights, so it starts from a random init
        unless model2vec distils it."""
        return "random" if self.model == "bare" and self.init != "model2vec" else self.init


def corpus_statistics(corpus: Corpus, sampler: PairSampler) -> dict:
    """Texts read, texts usable for training, and how many were dropped and why."""
    info = corpus.info
    stats = sampler.stats
    dropped_reason = (
        "no text dropped: masking needs no sentence structure"
        if sampler.augmentation == "masking"
        else f"fewer than two windows of {stats.n_sentences} consecutive sentence(s) of "
        "100–250 characters each (the paper's crop rule); these texts are still embedded and evaluated"
    )
    return {
        "name": corpus.name,
        "source": corpus.source,
        "format": info.get("format", "named corpus"),
        "texts_read": len(corpus) + int(info.get("dropped_empty", 0)),
        "dropped_empty": int(info.get("dropped_empty", 0)),
        "texts": len(corpus),
        "usable_for_training": stats.croppable,
        "dropped_for_training": stats.dropped,
        "dropped_for_training_reason": dropped_reason,
        "labelled": corpus.summary()["labelled"],
        "classes": dict(sorted(corpus.class_counts().items())),
        "mean_chars": round(corpus.summary()["mean_chars"], 1),
        "loader_info": info,
    }


def _prepare(request: FinetuneRequest, echo: Echo) -> tuple[PairSampler, np.ndarray]:
    """Every check that can fail fast, before a model is loaded: output, pairs, labels."""
    check_outputs(request.out, request.overwrite, command_inputs(request.corpus.source, request.model))
    if request.pooling not in (None, *ST_POOLING_MODES):
        raise TextembedError(
            f"--pooling {request.pooling} cannot be saved as a SentenceTransformer folder.",
            f"use one of {', '.join(ST_POOLING_MODES)} (the notebooks cover the other poolings).",
        )
    config = request.config
    sampler = PairSampler(request.corpus.texts, config.augmentation, config.n_sentences, config.seed,
                          config.splitter)
    if len(sampler) < config.batch_size:
        raise TextembedError(
            f"Only {len(sampler)} texts give a training pair, fewer than one batch of {config.batch_size}.",
            f"lower --batch-size to at most {len(sampler)} (≥ 2), lower --n-sentences, or add texts.",
        )
    eval_idx = eval_sample(request.corpus.labels or [None] * len(request.corpus), request.eval_size, EVAL.seed)
    if request.corpus.has_labels:
        measurable = check_measurable([request.corpus.labels[i] for i in eval_idx], EVAL.k, EVAL.test_size,
                                      drop_rare=request.drop_rare_classes, skip=not request.evaluate)
        measurable.raise_if_not_measurable()  # degenerate labels are refused, never scored
        if measurable.dropped:
            echo(f"Left out {len(measurable.dropped)} class(es) too small to measure (--drop-rare-classes): "
                 + ", ".join(f"{c} ({n})" for c, n in measurable.dropped.items()) + ".")
        eval_idx = eval_idx[measurable.keep]
    echo(sampler.stats.describe() if sampler.augmentation != "masking"
         else f"{len(sampler):,} texts train with masking.")
    return sampler, eval_idx


# Settings the profile itself holds; every other TrainConfig field is an override of the run.
_PROFILE_KEYS = ("augmentation", "n_sentences", "splitter", "seed", "device", "precision")


def request_profile(request: FinetuneRequest) -> dict:
    """The one-start profile a request describes, so ``fit`` trains it as it trains the chapters' runs."""
    config = request.config
    return {
        "name": "finetune", "seed": config.seed, "device": config.device, "precision": config.precision,
        "crops": {"n_sentences": config.n_sentences, "splitter": config.splitter},
        "eval": {"batch_size": request.encode_batch_size, "max_length": config.max_length},
        "starts": {START: {"model": request.model, "init": request.init, "pooling": request.pooling,
                           "max_length": config.max_length}},
    }


def request_run(request: FinetuneRequest) -> Run:
    """The trained run a request asks for: its whole ``TrainConfig`` as the run's settings."""
    config = request.config.to_dict()
    return Run.of(START, config["augmentation"], **{k: v for k, v in config.items() if k not in _PROFILE_KEYS})


def _knn_scores(vectors: np.ndarray, labels: list) -> Scores:
    """kNN accuracy (Euclidean, cosine), each with its 95 % interval, on the paper's split."""
    return score(vectors, labels, EVAL, probe=False)


def _by_metric(scores: Scores | None, value: Callable[[Accuracy], object]) -> dict | None:
    """``{"euclidean": ..., "cosine": ...}`` of the report, or None when nothing was measured."""
    if scores is None:
        return None
    return {metric.removeprefix("knn_"): value(acc) for metric, acc in scores.accuracies.items()}


def _write_maps(vectors: StoredRows, texts: list[str], labels: list | None, folder: Path, title: str,
                seed: int) -> str | None:
    """Draw ``tsne.png`` and its interactive twin ``map.html`` (of a seeded sample above ``TSNE_MAX_POINTS``
    texts, the same in both); return the sample's note or None."""
    import matplotlib.pyplot as plt

    from .interactive_map import write_map_html
    from .plotting import set_style, tsne_scatter

    set_style()
    idx, note = tsne_sample(len(vectors), seed=seed)
    coords = tsne_map(vectors[idx], seed=seed)
    fig, ax = plt.subplots(figsize=(7, 6))
    shown = None if labels is None else [labels[i] or UNLABELLED for i in idx]
    tsne_scatter(coords, shown, ax=ax, title=title if note is None else f"{title}\n{note}")
    fig.savefig(folder / TSNE_FILE, dpi=150, bbox_inches="tight")
    plt.close(fig)
    write_map_html(folder / MAP_FILE, coords, [texts[i] for i in idx], shown, title,
                   note=note or f"All {len(idx):,} texts. Hover to read a text; drag to select; scroll to zoom.")
    return note


def finetune(request: FinetuneRequest, echo: Echo = _stderr) -> dict:
    """Run the whole pipeline and return the report (also written to ``out/report.json``).

    An interrupted run (Ctrl-C) keeps its last checkpoint beside ``out`` and
    resumes from it when called again with the same model, data and settings;
    the checkpoint is removed once the folder is published. Under ``torchrun``
    every rank runs the pipeline (training and embedding are data-parallel) and
    rank 0 alone publishes the folder; the other ranks return an empty report.
    """
    here = join_process_group()
    watch = Stopwatch()
    watch.seconds["read_corpus"] = round(request.read_seconds, 3)
    corpus, config, out = request.corpus, request.config, request.out
    sampler, eval_idx = _prepare(request, echo)
    labels = [corpus.labels[i] for i in eval_idx] if len(eval_idx) else None

    profile, run = request_profile(request), request_run(request)
    echo(f"Loading the model '{request.model}' ({request.start}) ...")
    with watch.stage("load_model"):
        encoder = fit(run.untrained(), profile).encoder.to(rank_device(resolve_device(config.device), here))
    before = None
    if labels is not None:
        echo(f"kNN accuracy before training, on {len(eval_idx):,} labelled texts ...")
        with watch.stage("evaluate_before"):
            vectors = encode(encoder, [corpus.texts[i] for i in eval_idx], batch_size=request.encode_batch_size,
                             progress=request.progress, desc="Encoding (before)", distributed=True)
            before = _knn_scores(vectors, labels)

    ckpt = checkpoint_folder(out, run_fingerprint(profile, START, run_config(profile, run), corpus))
    with watch.stage("train"):
        result = fit(run, profile, corpus, progress=request.progress, cache=False, checkpoint_dir=ckpt)
    encoder = result.encoder
    if result.resumed_from:
        echo(f"Resumed from the checkpoint at step {result.resumed_from}.")

    echo(f"Embedding all {len(corpus):,} texts ...")
    # Written slice by slice beside the checkpoint and read back as a memory map, so that no
    # step holds all the embeddings at once (a large corpus); moved into the folder when it is published.
    embedded = ckpt.parent / EMBEDDINGS_FILE
    embedded.parent.mkdir(parents=True, exist_ok=True)
    with watch.stage("embed_corpus"):
        encode_to_npy(encoder, corpus.texts, embedded, batch_size=request.encode_batch_size,
                      progress=request.progress, distributed=True)
    if not here.is_main:
        return {}
    embeddings = StoredRows(embedded)  # rows read when needed: the file may be far larger than memory
    after = None
    if labels is not None:
        with watch.stage("evaluate_after"):
            after = _knn_scores(embeddings[eval_idx], labels)

    with atomic_path(out) as staged:
        with watch.stage("save_outputs"):
            encoder.save(staged)
            shutil.move(embedded, staged / EMBEDDINGS_FILE)
        tsne_note = _tsne_stage(request, embeddings, staged, watch, echo)
        report = {
            "textembed_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": request.command,
            "corpus": corpus_statistics(corpus, sampler),
            "model": {
                "base": request.model,
                "init": request.start,
                "kind": encoder.kind,
                "pooling": encoder.pooling,
                "max_length": encoder.max_length,
                "hidden_size": encoder.hidden_size,
                "parameters": encoder.parameter_count(),
                "trainable_parameters": encoder.parameter_count(trainable_only=True),
            },
            "training": {
                "config": result.config,
                "total_steps": result.total_steps,
                "batches_per_epoch": result.batches_per_epoch,
                "epochs": round(result.total_steps / result.batches_per_epoch, 3),
                "device": result.device,
                "processes": here.record(config.batch_size),
                "precision": result.precision,
                "resumed_from_step": result.resumed_from,
                "seconds_per_step": round(result.seconds_per_step, 4),
                "loss_first": result.losses[0] if result.losses else None,
                "loss_last": result.losses[-1] if result.losses else None,
                "loss_curve": result.losses,
            },
            "evaluation": {
                "labelled_texts_used": len(eval_idx),
                "eval_size": request.eval_size,
                **EVAL.as_dict(),
                "test_texts": None if after is None else after.n_test,
                "interval": "95% Wilson score interval over the test texts",
                "note": "before: the untrained model; after: rows of embeddings.npy for the same texts"
                if labels is not None else "no labels: pass --label-column to measure kNN accuracy",
            },
            "knn_accuracy_before": _by_metric(before, lambda acc: acc.value),
            "knn_accuracy_after": _by_metric(after, lambda acc: acc.value),
            "knn_interval_95_before": _by_metric(before, lambda acc: [acc.low, acc.high]),
            "knn_interval_95_after": _by_metric(after, lambda acc: [acc.low, acc.high]),
            "outputs": {
                "model": "this folder (SentenceTransformer(folder) or load_encoder(folder))",
                "embeddings": {"file": EMBEDDINGS_FILE, "shape": list(embeddings.shape),
                               "rows": "one per text of the corpus, in its order (empty texts dropped)"},
                "tsne": tsne_note,
            },
            "timings_seconds": {**watch.seconds, "total": round(watch.total() + request.read_seconds, 3)},
        }
        embeddings.close()
        (staged / REPORT_FILE).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    shutil.rmtree(ckpt.parent, ignore_errors=True)
    return report


def _tsne_stage(request: FinetuneRequest, embeddings: StoredRows, staged: Path, watch: Stopwatch,
                echo: Echo) -> dict:
    """Draw ``tsne.png`` and ``map.html`` into ``staged`` when asked and possible; say what happened."""
    if not request.tsne:
        return {"file": None, "skipped": "--no-tsne"}
    if len(embeddings) < MIN_TSNE_TEXTS:
        return {"file": None, "skipped": f"fewer than {MIN_TSNE_TEXTS} texts"}
    echo(f"t-SNE map of {len(embeddings):,} texts ...")
    labels = request.corpus.labels if request.corpus.has_labels else None
    with watch.stage("tsne"):
        note = _write_maps(embeddings, request.corpus.texts, labels, staged,
                           f"{request.corpus.name}: {request.config.augmentation}, {request.model}",
                           request.config.seed)
    return {"file": TSNE_FILE, "map": MAP_FILE, "coloured_by": "label" if labels is not None else None,
            "sample": note}
