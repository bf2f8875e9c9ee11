"""MTEB evaluation: the paper's Table 1 tasks, offline tasks over a local corpus, block averages.

The paper ran mteb 1.19.9; this module targets today's mteb 2.x API
(``mteb.evaluate``), following the measured pitfalls of ``shared/paper/mteb-notes.md``:

- results are never cached (``cache=None``): a cached score of an older model or an
  older version of a local task would otherwise come back silently; nothing is written
  to ``./results``;
- local clustering embeds *every* text and clusters bootstrap samples of the whole
  corpus (mteb's defaults embed only 4 % of a small corpus);
- ``import mteb`` (≈ 4–12 s) happens lazily, with ``MTEB_CACHE`` pointed at the
  project's ``cache/mteb`` so it does not create ``~/.cache/mteb``;
- a paper task whose data cannot be fetched offline raises a ``TextembedError``
  that points to the paper profile.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TextembedError
from ..paths import cache_dir

# --- the paper's tasks ----------------------------------------------------------------

#: Table 1 of the paper, by block. These are the *v1* task names the paper ran (mteb
#: 1.19.9); all of them still resolve in mteb 2.26 (checked offline with
#: ``mteb.get_tasks``), several now marked superseded (see ``PAPER_TASK_NOTES``). We name
#: the v1 tasks explicitly so numbers stay comparable with the paper.
PAPER_TASKS: dict[str, tuple[str, ...]] = {
    "Clustering": (
        "ArxivClusteringP2P",
        "BiorxivClusteringP2P",
        "MedrxivClusteringP2P",
        "RedditClusteringP2P",
        "StackExchangeClusteringP2P",
    ),
    "Reranking": ("SciDocsRR", "MindSmallReranking"),
    "Retrieval": ("SCIDOCS", "ArguAna"),
    "STS": ("STS15", "STS16", "STSBenchmark"),
    "Classification": (
        "AmazonPolarityClassification",
        "Banking77Classification",
        "ImdbClassification",
        "MassiveIntentClassification",
        "MassiveScenarioClassification",
        "MTOPDomainClassification",
        "TweetSentimentExtractionClassification",
    ),
}

#: Dataset revisions mteb 2.26.24 pins for the paper's tasks (the paper pinned none).
PAPER_TASK_REVISIONS: dict[str, str] = {
    "ArxivClusteringP2P": "a122ad7f3f0291bf49cc6f4d32aa80929df69d5d",
    "BiorxivClusteringP2P": "65b79d1d13f80053f67aca9498d9402c2d9f1f40",
    "MedrxivClusteringP2P": "e7a26af6f3ae46b30dde8737f02c07b1505bcc73",
    "RedditClusteringP2P": "385e3cb46b4cfa89021f56c4380204149d0efe33",
    "StackExchangeClusteringP2P": "815ca46b2622cec33ccafc3735d572c266efdb44",
    "SciDocsRR": "39b8377811871075eed9de3b8a7e21aaa6acb3d8",
    "MindSmallReranking": "227478e3235572039f4f7661840e059f31ef6eb1",
    "SCIDOCS": "f8c2fcf00f625baaa80f62ec5bd9e1fff3b8ae88",
    "ArguAna": "c22ab2a51041ffd869aaddef7af8d8215647e41a",
    "STS15": "ae752c7c21bf194d8b67fd573edf7ae58183cbe3",
    "STS16": "4d8694f8f0e0100860b497b999b3dbed754a0513",
    "STSBenchmark": "b0fddb56ed78048fa8b90373c8a3cfc37b684831",
    "AmazonPolarityClassification": "e2d317d38cd51312af73b3d32a06d1a08b442046",
    "Banking77Classification": "0fd18e25b25c072e09e0d92ab615fda904d66300",
    "ImdbClassification": "3d86128a09e091d6018b6d26cad27f2739fc2db7",
    "MassiveIntentClassification": "4672e20407010da34463acc759c162ca9734bca6",
    "MassiveScenarioClassification": "fad2c6e8459f9e1c45d9315f4953d921437d70f8",
    "MTOPDomainClassification": "a76d16fae880597b9c73047b50159220a441cb54",
    "TweetSentimentExtractionClassification": "d604517c81ca91fe16a244d1248fc021f9ecee7a",
}

#: Where mteb 2.x differs from the paper's mteb 1.19.9 for these tasks.
PAPER_TASK_NOTES: dict[str, str] = {
    "ArxivClusteringP2P": "superseded by ArXivHierarchicalClusteringP2P; v1 task run (ClusteringLegacy).",
    "BiorxivClusteringP2P": "superseded by BiorxivClusteringP2P.v2; v1 task run (ClusteringLegacy).",
    "MedrxivClusteringP2P": "superseded by MedrxivClusteringP2P.v2; v1 task run (ClusteringLegacy).",
    "RedditClusteringP2P": "superseded by RedditClusteringP2P.v2; v1 task run (ClusteringLegacy).",
    "StackExchangeClusteringP2P": "superseded by StackExchangeClusteringP2P.v2; v1 task run.",
    "SciDocsRR": "now a retrieval-style reranking task; main score map_at_1000 (v1 reported 'map').",
    "MindSmallReranking": "main score max_over_subqueries_map_at_1000 (v1 reported 'map').",
    "STSBenchmark": "superseded by STSBenchmark.v2; v1 task run.",
    "AmazonPolarityClassification": "superseded by .v2; v1 task run.",
    "Banking77Classification": "superseded by .v2; v1 task run.",
    "TweetSentimentExtractionClassification": "superseded by .v2; v1 task run.",
    "MassiveIntentClassification": "multilingual: English subset 'en' only, test split (as the paper's English table).",
    "MassiveScenarioClassification": "multilingual: English subset 'en' only, test split.",
    "MTOPDomainClassification": "multilingual: English subset 'en' only, test split.",
}

#: The paper wrapped models as Transformer(max_seq_length=384) + mean pooling + Normalize.
EVAL_MAX_LENGTH = 384

PAPER_PROFILE_FIX = (
    "this task needs internet: use the paper profile (on a machine that can reach the "
    "Hugging Face hub), or evaluate offline with local_clustering_task / "
    "local_classification_task over a local corpus."
)


def paper_task_names() -> list[str]:
    """All of the paper's MTEB task names, block by block."""
    return [name for names in PAPER_TASKS.values() for name in names]


# --- lazy mteb -------------------------------------------------------------------------

def _mteb():
    """``import mteb`` on first use, with its cache folder moved under the project's cache."""
    os.environ.setdefault("MTEB_CACHE", str(cache_dir() / "mteb"))
    import mteb

    return mteb


def get_paper_tasks(names: Iterable[str] | None = None) -> list:
    """mteb task objects (metadata only, no download) for ``names`` (default: all of Table 1).

    English subsets and the ``test`` split only, as in the paper's tables.
    """
    names = list(names) if names is not None else paper_task_names()
    mteb = _mteb()
    try:
        tasks = list(mteb.get_tasks(tasks=names, languages=["eng"], eval_splits=["test"]))
    except (KeyError, ValueError) as exc:
        raise TextembedError(
            f"Unknown MTEB task among {names}: {exc}",
            f"use task names known to mteb {mteb.__version__}, e.g. {paper_task_names()[:3]}.",
        ) from exc
    found = {t.metadata.name for t in tasks}
    missing = [n for n in names if n not in found]
    if missing:
        raise TextembedError(
            f"These MTEB tasks do not resolve in mteb {mteb.__version__}: {missing}.",
            "check the spelling, or pick the renamed/newer version of the task.",
        )
    return tasks


# --- the model adapter -----------------------------------------------------------------
#
# Choice: we implement mteb's encoder protocol (subclassing ``mteb.models.AbsEncoder``)
# directly over our own ``encode()``, rather than saving the TextEncoder to a folder and
# reloading it as a SentenceTransformer:
# - every pooling works (cls, sep, k-th token, the bare layer), also those that have no
#   SentenceTransformer equivalent and cannot be saved;
# - no disk round-trip of the weights at every evaluation (the learning curves evaluate
#   every 10 batches);
# - one encoding path (length-sorted batches, per-batch padding, bf16 on CUDA) for kNN
#   accuracy and MTEB alike;
# - the ModelMeta name and revision are ours to set, so no two local models can ever
#   share an identity (pitfall 2), even if a cache were used.
# Embeddings are L2-normalised and truncated at 384 tokens, as the paper's
# Transformer(max_seq_length=384) + mean pooling + Normalize wrapper did.


def _slug(text: str) -> str:
    base = os.path.basename(str(text).rstrip("/")) or "model"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-") or "model"


def weights_fingerprint(encoder) -> str:
    """A cheap identity of an encoder's current weights (12 hex digits).

    Hashes each parameter's name, shape and float64 sum and sum of squares; changes
    whenever training changes the weights, without hashing hundreds of MB.
    """
    import torch

    h = hashlib.sha256()
    h.update(f"{encoder.kind}|{encoder.pooling}|{encoder.name}".encode())
    with torch.no_grad():
        for name, p in encoder.named_parameters():
            d = p.detach().double()
            h.update(f"{name}{tuple(p.shape)}{d.sum().item():.12e}{(d * d).sum().item():.12e}".encode())
    return h.hexdigest()[:12]


def _effective_max_length(encoder, max_length: int) -> int:
    config = getattr(getattr(encoder, "backbone", None), "config", None)
    limit = getattr(config, "max_position_embeddings", None)
    if encoder.kind == "transformer" and limit:
        # RoBERTa/MPNet reserve two positions for the padding offset.
        max_length = min(max_length, int(limit) - 2 if limit > 512 else int(limit))
    return max_length


@functools.cache
def _adapter_class():
    from mteb.models.abs_encoder import AbsEncoder

    from .encode import encode as _encode

    class MtebTextEncoder(AbsEncoder):
        """A ``TextEncoder`` seen through mteb's encoder protocol."""

        def __init__(self, encoder, *, name: str, revision: str, max_length: int, batch_size: int):
            from mteb.models import ModelMeta

            self.model = encoder
            self.max_length = max_length
            self.batch_size = batch_size
            self.mteb_model_meta = ModelMeta.create_empty(
                overwrites=dict(
                    name=name,
                    revision=revision,
                    embed_dim=encoder.hidden_size,
                    max_tokens=max_length,
                    n_parameters=encoder.parameter_count(),
                    similarity_fn_name="cosine",
                    framework=["PyTorch"],
                    modalities=["text"],
                )
            )

        def encode(self, inputs, *, task_metadata, hf_split, hf_subset, prompt_type=None, **kwargs):
            texts = [text for batch in inputs for text in batch["text"]]
            return _encode(
                self.model, texts, batch_size=int(kwargs.get("batch_size") or self.batch_size),
                max_length=self.max_length, normalize=True, progress=False,
            ).astype(np.float32, copy=False)

        def similarity(self, embeddings1, embeddings2):
            from mteb.similarity_functions import cos_sim

            return cos_sim(embeddings1, embeddings2)

        def similarity_pairwise(self, embeddings1, embeddings2):
            from mteb.similarity_functions import pairwise_cos_sim

            return pairwise_cos_sim(embeddings1, embeddings2)

    return MtebTextEncoder


def mteb_model(encoder, *, name: str | None = None, revision: str | None = None,
               max_length: int = EVAL_MAX_LENGTH, batch_size: int = 32):
    """Wrap a ``TextEncoder`` for ``mteb.evaluate``: normalised embeddings, 384 tokens.

    ``name`` defaults to ``textembed/<encoder name>``, ``revision`` to a fingerprint of
    the current weights, so two different models never look alike to mteb.
    """
    _mteb()
    name = name or f"textembed/{_slug(encoder.name or 'encoder')}"
    if "/" not in name:
        name = f"textembed/{name}"
    return _adapter_class()(
        encoder,
        name=name,
        revision=revision or weights_fingerprint(encoder),
        max_length=_effective_max_length(encoder, max_length),
        batch_size=batch_size,
    )


# --- offline tasks over a local corpus -------------------------------------------------

def _task_metadata(corpus, name: str, task_type: str, main_score: str, description: str):
    from mteb.abstasks.task_metadata import TaskMetadata

    return TaskMetadata(
        name=name,
        description=description,
        reference=None,
        dataset={"path": f"local/{_slug(corpus.name)}", "revision": corpus.fingerprint()[:12]},
        type=task_type,
        category="t2t",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=["eng-Latn"],
        main_score=main_score,
        date=None,
        domains=None,
        task_subtypes=None,
        license=None,
        annotations_creators=None,
        dialect=None,
        sample_creation=None,
        bibtex_citation="",
    )


def _label_ids(labels: Sequence[str]) -> tuple[list[int], list[str]]:
    classes = sorted(set(labels))
    index = {c: i for i, c in enumerate(classes)}
    return [index[lab] for lab in labels], classes


def local_clustering_task(corpus, *, name: str | None = None, n_clusters: int = 10, seed: int = 42):
    """An MTEB clustering task (v-measure, k-means) over the labelled texts of ``corpus``.

    Every labelled text is embedded once (``max_fraction_of_documents_to_embed=None``) and
    each of ``n_clusters`` k-means runs clusters a bootstrap sample the size of the corpus
    (mteb's defaults would embed 4 % of a small corpus: pitfall 1).
    """
    mteb = _mteb()

    texts, labels = corpus.labelled()
    label_ids, classes = _label_ids(list(labels))
    if len(classes) < 2:
        raise TextembedError(
            f"The corpus '{corpus.name}' has {len(classes)} class among its labelled texts; "
            "clustering needs at least two.",
            "use a corpus with at least two labelled classes.",
        )
    name = name or f"LocalClustering-{_slug(corpus.name)}"
    metadata = _task_metadata(
        corpus, name, "Clustering", "v_measure",
        f"Offline k-means clustering of {len(texts)} labelled texts of '{corpus.name}' "
        f"into {len(classes)} classes.",
    )

    return _local_task(
        mteb.abstasks.AbsTaskClustering, metadata, {"test": {"sentences": list(texts), "labels": label_ids}},
        {"max_fraction_of_documents_to_embed": None, "max_document_to_embed": None,
         "max_documents_per_cluster": len(texts), "n_clusters": n_clusters, "class_names": classes},
        seed,
    )


def local_classification_task(
    corpus, *, name: str | None = None, seed: int = 42, test_size: float = 0.5,
    samples_per_label: int | None = None, n_experiments: int | None = None,
):
    """An MTEB classification task (logistic regression, accuracy) over ``corpus``'s labels.

    The labelled texts are split once, stratified by class, with ``seed``; classes with
    fewer than two labelled texts are dropped (they cannot be in both splits).
    ``samples_per_label=None`` trains on every training text (one experiment); an integer
    gives mteb's few-shot protocol (``n_experiments`` resamples, default 10).
    """
    mteb = _mteb()
    from sklearn.model_selection import train_test_split

    texts, labels = corpus.labelled()
    counts: dict[str, int] = {}
    for lab in labels:
        counts[lab] = counts.get(lab, 0) + 1
    keep = [i for i, lab in enumerate(labels) if counts[lab] >= 2]
    texts = [texts[i] for i in keep]
    label_ids, classes = _label_ids([labels[i] for i in keep])
    if len(classes) < 2:
        raise TextembedError(
            f"The corpus '{corpus.name}' has fewer than two classes with at least two "
            "labelled texts; classification needs two.",
            "use a corpus with at least two labelled classes of two texts or more.",
        )
    n_test = max(int(round(test_size * len(texts))), len(classes))
    if len(texts) - n_test < len(classes):
        raise TextembedError(
            f"The corpus '{corpus.name}' has too few labelled texts ({len(texts)}) for a "
            f"stratified split over {len(classes)} classes.",
            "use more labelled texts or fewer classes.",
        )
    train_idx, test_idx = train_test_split(
        np.arange(len(texts)), test_size=n_test, random_state=seed, stratify=label_ids
    )
    train = {"text": [texts[i] for i in train_idx], "label": [label_ids[i] for i in train_idx]}
    test = {"text": [texts[i] for i in test_idx], "label": [label_ids[i] for i in test_idx]}
    if samples_per_label is None:
        samples_per_label = max(np.bincount(train["label"]))
        n_experiments = n_experiments or 1
    name = name or f"LocalClassification-{_slug(corpus.name)}"
    metadata = _task_metadata(
        corpus, name, "Classification", "accuracy",
        f"Offline logistic-regression classification of '{corpus.name}': "
        f"{len(train_idx)} train / {len(test_idx)} test texts, {len(classes)} classes, "
        f"stratified split seed {seed}.",
    )

    return _local_task(
        mteb.abstasks.AbsTaskClassification, metadata, {"train": train, "test": test},
        {"samples_per_label": int(samples_per_label), "n_experiments": int(n_experiments or 10),
         "class_names": classes},
        seed,
    )


def _local_task(base: type, metadata, splits: dict[str, dict], settings: dict, seed: int):
    """An instance of a one-off subclass of mteb's ``base`` task that serves ``splits`` (split → columns)
    from memory instead of downloading, with ``settings`` as class attributes."""
    from datasets import Dataset, DatasetDict

    def load_data(self, num_proc=None, **kwargs):
        if self.data_loaded:
            return
        self.dataset = DatasetDict({split: Dataset.from_dict(columns) for split, columns in splits.items()})
        self.data_loaded = True

    cls = type(f"Local{base.__name__}_{abs(hash(metadata.name))}", (base,),
               {"metadata": metadata, "load_data": load_data, **settings})
    return cls(seed=seed)


# --- running ---------------------------------------------------------------------------

def _offline_error_types() -> tuple[type[BaseException], ...]:
    """What datasets / huggingface_hub raise when the hub cannot be reached.

    ``OfflineModeIsEnabled`` is a ``ConnectionError``; ``DatasetNotFoundError`` and
    ``LocalEntryNotFoundError`` are ``FileNotFoundError``s (all ``OSError``); without the
    offline flags, huggingface_hub 1.x surfaces ``httpx`` transport errors.
    """
    types: list[type[BaseException]] = [OSError, TimeoutError]
    try:
        import httpx

        types.append(httpx.HTTPError)
    except ImportError:  # pragma: no cover
        pass
    try:
        import requests

        types.append(requests.exceptions.RequestException)
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


def _load_task_data(task) -> None:
    if task.data_loaded:
        return
    try:
        task.load_data()
    except _offline_error_types() as exc:
        dataset = task.metadata.dataset
        raise TextembedError(
            f"The MTEB task {task.metadata.name} could not load its data "
            f"({dataset.get('path')} @ {dataset.get('revision')}): "
            f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
            PAPER_PROFILE_FIX,
        ) from exc


def _main_score(task_result, split: str = "test") -> float:
    scores = task_result.scores
    split = split if split in scores else next(iter(scores))
    values = [float(s["main_score"]) for s in scores[split]]
    return float(np.mean(values))


def run_mteb(
    encoder,
    tasks: Sequence[Any] | Any,
    *,
    batch_size: int = 32,
    max_length: int = EVAL_MAX_LENGTH,
    name: str | None = None,
    progress: bool = False,
    prediction_folder: str | Path | None = None,
) -> dict[str, float]:
    """Evaluate ``encoder`` on MTEB ``tasks``; main score per task name, in percent.

    ``tasks``: task objects (e.g. from ``local_clustering_task``) and/or names of mteb
    tasks (e.g. ``PAPER_TASKS["STS"]``). Results are never cached nor written to disk;
    with ``prediction_folder``, mteb writes each task's predictions there (read them
    with ``classification_correct``). A task whose data needs the hub raises
    ``TextembedError`` when offline.
    """
    mteb = _mteb()
    if isinstance(tasks, (str, mteb.abstasks.AbsTask)):
        tasks = [tasks]
    names = [t for t in tasks if isinstance(t, str)]
    resolved = iter(get_paper_tasks(names)) if names else iter(())
    task_objects = [next(resolved) if isinstance(t, str) else t for t in tasks]
    seen = [t.metadata.name for t in task_objects]
    if len(set(seen)) != len(seen):
        raise TextembedError(
            f"Two tasks share a name in {seen}: their scores would overwrite each other.",
            "give each local task its own name=...",
        )
    for task in task_objects:
        _load_task_data(task)
        # mteb seeds a task's RNGs once, at construction, and its bootstrap draws consume
        # them: evaluating the same task object twice (two checkpoints of a learning curve)
        # would compare different bootstrap samples. Re-seed (locally: global RNGs, which
        # training relies on, are left alone) so every run of a task draws the same samples.
        task.rng_state = random.Random(task.seed)
        task.np_rng = np.random.default_rng(task.seed)

    model = mteb_model(encoder, name=name, max_length=max_length, batch_size=batch_size)
    with warnings.catch_warnings():
        # mteb reports per-class precision too; a class never predicted is expected noise.
        from sklearn.exceptions import UndefinedMetricWarning

        warnings.simplefilter("ignore", UndefinedMetricWarning)
        result = mteb.evaluate(
            model,
            task_objects,
            cache=None,  # pitfall 2: never reuse (or write) cached results
            encode_kwargs={"batch_size": batch_size, "show_progress_bar": progress},
            show_progress_bar=progress,
            raise_error=True,
            prediction_folder=prediction_folder,
        )
    scores = {tr.task_name: 100.0 * _main_score(tr) for tr in result.task_results}
    missing = [n for n in seen if n not in scores]
    if missing:  # pragma: no cover - raise_error=True should have raised already
        raise TextembedError(f"MTEB returned no score for {missing}.", "rerun with progress=True to see why.")
    return {n: scores[n] for n in seen}


def classification_correct(task, prediction_folder: str | Path) -> np.ndarray:
    """Per test text of a local classification ``task``, whether mteb's classifier labelled it right.

    Reads the predictions ``run_mteb(..., prediction_folder=...)`` wrote; they
    follow the order of the task's test split. One outcome per text needs one
    experiment, which ``local_classification_task`` runs by default. These per-text
    outcomes let two models be compared on the same test texts (a paired interval).
    """
    path = Path(prediction_folder) / f"{task.metadata.name}_predictions.json"
    if not path.exists():
        raise TextembedError(f"No predictions of the MTEB task {task.metadata.name} in {prediction_folder}.",
                             "run run_mteb(..., prediction_folder=<that folder>) on the task first.")
    experiments = json.loads(path.read_text())["default"]["test"]
    if len(experiments) != 1:
        raise TextembedError(
            f"The MTEB task {task.metadata.name} ran {len(experiments)} experiments: no single outcome per text.",
            "use local_classification_task with samples_per_label=None (one experiment on every training text).",
        )
    return np.asarray(experiments[0]) == np.asarray(task.dataset["test"]["label"])


def block_averages(
    scores: Mapping[str, float], blocks: Mapping[str, Sequence[str]] | None = None
) -> dict[str, float]:
    """Mean score per block, and ``"Block average"``: the mean of the block means.

    The paper's aggregation: blocks weigh equally whatever their number of tasks. Tasks
    without a score are left out of their block's mean; a block without any is left out.
    """
    blocks = PAPER_TASKS if blocks is None else blocks
    out: dict[str, float] = {}
    for block, names in blocks.items():
        values = [float(scores[n]) for n in names if n in scores]
        if values:
            out[block] = float(np.mean(values))
    if not out:
        raise TextembedError(
            "None of the scored tasks belongs to a block.",
            f"pass blocks=... that name the tasks scored ({sorted(scores)[:5]}).",
        )
    out["Block average"] = float(np.mean(list(out.values())))
    return out


__all__ = [
    "EVAL_MAX_LENGTH",
    "PAPER_TASKS",
    "PAPER_TASK_NOTES",
    "PAPER_TASK_REVISIONS",
    "block_averages",
    "classification_correct",
    "get_paper_tasks",
    "local_classification_task",
    "local_clustering_task",
    "mteb_model",
    "paper_task_names",
    "run_mteb",
    "weights_fingerprint",
]
