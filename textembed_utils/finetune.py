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
import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__
from .atomic import atomic_path, ensure_writable_dir
from .augment import PairSampler
from .corpora import Corpus
from .errors import TextembedError
from .evaluation import encode, knn_accuracy, linear_probe_accuracy, split_indices, tsne_map
from .models import TextEncoder, load_encoder
from .models.pooling import ST_POOLING_MODES
from .training import TrainConfig, resolve_device, train

KNN_K = 10
TEST_SIZE = 0.1
SPLIT_SEED = 42
MIN_TSNE_TEXTS = 10
REPORT_FILE = "report.json"
EMBEDDINGS_FILE = "embeddings.npy"
TSNE_FILE = "tsne.png"
UNLABELLED = "(no label)"

Echo = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- evaluation helpers shared by `finetune` and `evaluate` ------------------------------


def labelled_sample(corpus: Corpus, size: int | None, seed: int = SPLIT_SEED) -> np.ndarray:
    """Indices (into ``corpus``) of up to ``size`` labelled texts, seeded; all when ``size`` is None.

    Bounding the labelled set bounds the cost of the before/after evaluation on
    a CPU; the indices stay sorted so the sample keeps the corpus order.
    """
    labelled = np.array([i for i, lab in enumerate(corpus.labels or []) if lab is not None], dtype=int)
    if size is not None and size < len(labelled):
        labelled = np.sort(np.random.default_rng(seed).choice(labelled, size=size, replace=False))
    return labelled


def check_labels(labels: Sequence[str], k: int = KNN_K) -> None:
    """Raise a clear error when ``labels`` cannot give a meaningful kNN accuracy."""
    train_idx, _ = split_indices(np.asarray(labels), TEST_SIZE, SPLIT_SEED)  # ≥ 2 classes or an error
    if len(train_idx) < k:
        raise TextembedError(
            f"Only {len(labels)} labelled texts, too few for kNN accuracy with k={k} "
            f"on a {1 - TEST_SIZE:.0%}/{TEST_SIZE:.0%} split.",
            f"label at least {int(np.ceil(k / (1 - TEST_SIZE))) + 1} texts, raise --eval-size, "
            "or leave out --label-column.",
        )


def knn_scores(vectors: np.ndarray, labels: Sequence[str], k: int = KNN_K) -> dict[str, float]:
    """kNN accuracy as in the paper (k=10, 90/10 split, seed 42), Euclidean and cosine."""
    labels = np.asarray(labels, dtype=object)
    return {
        metric: knn_accuracy(vectors, labels, k=k, metric=metric, test_size=TEST_SIZE, seed=SPLIT_SEED)
        for metric in ("euclidean", "cosine")
    }


def accuracy_scores(vectors: np.ndarray, labels: Sequence[str], k: int = KNN_K) -> dict[str, float]:
    """kNN accuracy (Euclidean, cosine) and linear-probe accuracy on the same split."""
    scores = {f"knn_{metric}": value for metric, value in knn_scores(vectors, labels, k).items()}
    scores["linear_probe"] = linear_probe_accuracy(
        vectors, np.asarray(labels, dtype=object), test_size=TEST_SIZE, seed=SPLIT_SEED
    )
    return scores


# --- the output folder ----------------------------------------------------------------------


def check_output_folder(out: Path, overwrite: bool) -> None:
    """Refuse an ``out`` that is a file, holds a previous run (without ``overwrite``), or is not writable.

    Run before any expensive work, so a bad ``--out`` fails in a second, not after training.
    """
    if out.exists() and not out.is_dir():
        raise TextembedError(f"--out {out} is a file, not a folder.", "choose a folder name for --out.")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise TextembedError(
            f"The output folder {out} already exists and is not empty.",
            "choose a new folder for --out, or pass --overwrite to replace it.",
        )
    ensure_writable_dir(out.parent)
    if out.is_dir():
        ensure_writable_dir(out)


def checkpoint_folder(out: Path, key: str) -> Path:
    """Where an interrupted run of ``out`` keeps its checkpoint: beside ``out``, per run ``key``."""
    return out.parent / f".{out.name}.ckpt" / key


def run_key(model: str, pooling: str | None, init: str, config: TrainConfig, corpus: Corpus) -> str:
    """Hash of everything that determines the trained weights (so a resume never mixes runs)."""
    payload = json.dumps([__version__, model, pooling, init, config.fingerprint(), corpus.fingerprint()])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


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
    encode_batch_size: int = 64
    tsne: bool = True
    overwrite: bool = False
    progress: bool = True
    command: str = ""
    read_seconds: float = 0.0  # time the caller spent reading the corpus, for the report


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
    check_output_folder(request.out, request.overwrite)
    if request.pooling not in (None, *ST_POOLING_MODES):
        raise TextembedError(
            f"--pooling {request.pooling} cannot be saved as a SentenceTransformer folder.",
            f"use one of {', '.join(ST_POOLING_MODES)} (the notebooks cover the other poolings).",
        )
    config = request.config
    sampler = PairSampler(request.corpus.texts, config.augmentation, config.n_sentences, config.seed,
                          config.splitter)
    if sampler.batches_per_epoch(config.batch_size) == 0:
        raise TextembedError(
            f"Only {len(sampler)} texts give a training pair, fewer than one batch of {config.batch_size}.",
            f"lower --batch-size to at most {len(sampler)} (≥ 2), lower --n-sentences, or add texts.",
        )
    eval_idx = labelled_sample(request.corpus, request.eval_size, SPLIT_SEED)
    if request.corpus.has_labels:
        check_labels([request.corpus.labels[i] for i in eval_idx])
    echo(sampler.stats.describe() if sampler.augmentation != "masking"
         else f"{len(sampler):,} texts train with masking.")
    return sampler, eval_idx


def _load(request: FinetuneRequest) -> TextEncoder:
    encoder = load_encoder(request.model, init=request.init, pooling=request.pooling,
                           max_length=request.config.max_length, seed=request.config.seed)
    return encoder.to(resolve_device(request.config.device))


def _write_tsne(vectors: np.ndarray, labels: list | None, path: Path, title: str, seed: int) -> None:
    import matplotlib.pyplot as plt

    from .plotting import set_style, tsne_scatter

    set_style()
    coords = tsne_map(vectors, seed=seed)
    fig, ax = plt.subplots(figsize=(7, 6))
    tsne_scatter(coords, None if labels is None else [lab or UNLABELLED for lab in labels], ax=ax, title=title)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def finetune(request: FinetuneRequest, echo: Echo = _stderr) -> dict:
    """Run the whole pipeline and return the report (also written to ``out/report.json``).

    An interrupted run (Ctrl-C) keeps its last checkpoint beside ``out`` and
    resumes from it when called again with the same model, data and settings;
    the checkpoint is removed once the folder is published.
    """
    watch = Stopwatch()
    watch.seconds["read_corpus"] = round(request.read_seconds, 3)
    corpus, config, out = request.corpus, request.config, request.out
    sampler, eval_idx = _prepare(request, echo)
    labels = [corpus.labels[i] for i in eval_idx] if corpus.has_labels else None

    echo(f"Loading the model '{request.model}' ({request.init}) ...")
    with watch.stage("load_model"):
        encoder = _load(request)
    before = None
    if labels is not None:
        echo(f"kNN accuracy before training, on {len(eval_idx):,} labelled texts ...")
        with watch.stage("evaluate_before"):
            vectors = encode(encoder, [corpus.texts[i] for i in eval_idx], batch_size=request.encode_batch_size,
                             progress=request.progress, desc="Encoding (before)")
            before = knn_scores(vectors, labels)

    ckpt = checkpoint_folder(out, run_key(request.model, request.pooling, request.init, config, corpus))
    with watch.stage("train"):
        result = train(encoder, corpus.texts, config, checkpoint_dir=ckpt, progress=request.progress)
    if result.resumed_from:
        echo(f"Resumed from the checkpoint at step {result.resumed_from}.")

    echo(f"Embedding all {len(corpus):,} texts ...")
    with watch.stage("embed_corpus"):
        embeddings = encode(encoder, corpus.texts, batch_size=request.encode_batch_size,
                            progress=request.progress, desc="Encoding (corpus)").astype(np.float32)
    after = None
    if labels is not None:
        with watch.stage("evaluate_after"):
            after = knn_scores(embeddings[eval_idx], labels)

    with atomic_path(out) as staged:
        with watch.stage("save_outputs"):
            encoder.save(staged)
            with open(staged / EMBEDDINGS_FILE, "wb") as fh:
                np.save(fh, embeddings)
        tsne_note = _tsne_stage(request, embeddings, staged, watch, echo)
        report = {
            "textembed_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": request.command,
            "corpus": corpus_statistics(corpus, sampler),
            "model": {
                "base": request.model,
                "init": "random" if encoder.kind == "bare" else request.init,
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
                "k": KNN_K,
                "test_size": TEST_SIZE,
                "split_seed": SPLIT_SEED,
                "note": "before: the untrained model; after: rows of embeddings.npy for the same texts"
                if labels is not None else "no labels: pass --label-column to measure kNN accuracy",
            },
            "knn_accuracy_before": before,
            "knn_accuracy_after": after,
            "outputs": {
                "model": "this folder (SentenceTransformer(folder) or load_encoder(folder))",
                "embeddings": {"file": EMBEDDINGS_FILE, "shape": list(embeddings.shape),
                               "rows": "one per text of the corpus, in its order (empty texts dropped)"},
                "tsne": tsne_note,
            },
            "timings_seconds": {**watch.seconds, "total": round(watch.total() + request.read_seconds, 3)},
        }
        (staged / REPORT_FILE).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    shutil.rmtree(ckpt.parent, ignore_errors=True)
    return report


def _tsne_stage(request: FinetuneRequest, embeddings: np.ndarray, staged: Path, watch: Stopwatch,
                echo: Echo) -> dict:
    """Draw ``tsne.png`` into ``staged`` when asked and possible; say what happened."""
    if not request.tsne:
        return {"file": None, "skipped": "--no-tsne"}
    if len(embeddings) < MIN_TSNE_TEXTS:
        return {"file": None, "skipped": f"fewer than {MIN_TSNE_TEXTS} texts"}
    echo(f"t-SNE map of {len(embeddings):,} texts ...")
    labels = request.corpus.labels if request.corpus.has_labels else None
    with watch.stage("tsne"):
        _write_tsne(embeddings, labels, staged / TSNE_FILE,
                    f"{request.corpus.name}: {request.config.augmentation}, {request.model}", request.config.seed)
    return {"file": TSNE_FILE, "coloured_by": "label" if labels is not None else None}
