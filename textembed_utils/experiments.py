"""The experiment layer: a run is a value, ``fit`` trains it (cached), ``score`` measures it.

A ``Run`` names one model of an experiment: a profile *start* (the model and its
training settings), an augmentation (or ``untrained``), the corpus it is trained
on and any overridden settings. ``fit(run, profile)`` returns a ``RunResult``:
the encoder plus everything the training produced (losses, learning curve, crop
statistics, timings, the config actually used). Trained models are cached by
everything that determines them (the start, the training config, the corpus,
the package version), so the crops model that chapter 1 trains is reused by
chapters 3 and 6 instead of being trained again. ``textembed finetune`` calls the
same ``fit`` with its own one-start profile and without the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .atomic import file_lock, tree_digest, write_json
from .augment import AUGMENTATIONS
from .corpora import Corpus, load_corpus
from .errors import TextembedError
from .evaluation.encode import encode
from .evaluation.scoring import EvalSpec, Scores, eval_sample, score
from .models import TextEncoder, load_encoder
from .paths import cache_dir
from .training import DEFAULT_CHECKPOINT_EVERY, TrainConfig, train
from .training.distributed import broadcast_from_main, join_process_group
from .training.precision import resolve_precision

STARTS = ("pretrained", "scratch", "bare")
UNTRAINED = "untrained"
_TRAIN_KEYS = ("lr", "batch_size", "steps", "epochs", "max_length", "eval_every", "freeze_layers")


# --- runs as values -------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One model of an experiment: ``start`` trained with ``augmentation`` on ``trained_on``.

    ``augmentation`` is one of ``AUGMENTATIONS`` or ``UNTRAINED``; ``trained_on``
    None means the profile's own corpus; ``overrides`` are training settings that
    differ from the start's (e.g. ``(("temperature", 0.2),)``), kept sorted so two
    equal runs compare and hash equal.
    """

    start: str
    augmentation: str = UNTRAINED
    trained_on: str | None = None
    overrides: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.augmentation not in (*AUGMENTATIONS, UNTRAINED):
            raise TextembedError(
                f"Unknown augmentation '{self.augmentation}' for the start '{self.start}'.",
                f"use one of {', '.join((*AUGMENTATIONS, UNTRAINED))}.",
            )
        object.__setattr__(self, "overrides", tuple(sorted(self.overrides)))

    @classmethod
    def of(cls, start: str, augmentation: str = UNTRAINED, trained_on: str | None = None, **overrides: Any) -> "Run":
        """A run with keyword overrides; overrides set to None are left out (None = the start's value)."""
        return cls(start, augmentation, trained_on, tuple((k, v) for k, v in overrides.items() if v is not None))

    @property
    def trained(self) -> bool:
        return self.augmentation != UNTRAINED

    def untrained(self) -> "Run":
        """The untrained model this run starts from."""
        return Run(self.start)

    def with_overrides(self, **overrides: Any) -> "Run":
        return Run.of(self.start, self.augmentation, self.trained_on, **{**dict(self.overrides), **overrides})

    @property
    def name(self) -> str:
        """A label for tables and plots, e.g. ``bare/crops on docstrings (temperature=0.2)``; never parsed."""
        label = f"{self.start}/{self.augmentation}"
        if self.trained_on:
            label += f" on {self.trained_on}"
        if self.overrides:
            label += " (" + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in self.overrides) + ")"
        return label

    def fields(self) -> dict[str, Any]:
        """The run as columns of a tidy table (results records)."""
        return {"run": self.name, "start": self.start, "augmentation": self.augmentation,
                "trained_on": self.trained_on, "overrides": dict(self.overrides), "reference": None}


def parse_runs(text: str | list[str], profile: Mapping) -> list[Run]:
    """``"bare:crops,pretrained:untrained"`` (a notebook parameter) or a profile's list → runs, each checked.

    This is the one place where typed text becomes runs; the rest of the code
    passes ``Run`` values around.
    """
    items = text.split(",") if isinstance(text, str) else text
    runs = []
    for item in filter(None, (part.strip() for part in items)):
        start, _, augmentation = item.partition(":")
        start_spec(profile, start)
        runs.append(Run(start, augmentation))
    if not runs:
        raise TextembedError("No runs given.", "list runs as start:augmentation, e.g. 'bare:crops,bare:dropout'.")
    return runs


def with_untrained(runs: list[Run]) -> list[Run]:
    """Each start's untrained model, then its runs, start by start: every comparison has its baseline."""
    starts = dict.fromkeys(run.start for run in runs)
    return list(dict.fromkeys(r for start in starts for r in (Run(start), *(r for r in runs if r.start == start))))


def find_run(runs, start: str, augmentation: str) -> Run | None:
    """The first of ``runs`` with this start and augmentation, whatever its overrides; None if there is none."""
    return next((run for run in runs if (run.start, run.augmentation) == (start, augmentation)), None)


# --- what a profile defines -----------------------------------------------------------------


@dataclass
class EvalSet:
    """Labelled texts on which accuracy is measured (croppable or not), and the name a table gives them."""

    texts: list[str]
    labels: np.ndarray
    name: str = ""

    def evaluation(self, max_length: int) -> str:
        """The evaluation these texts make at ``max_length`` tokens: what a measurement is keyed by."""
        return f"{self.name}, {max_length} tokens"


def profile_corpus(profile: Mapping, name: str | None = None, size: int | None = None) -> Corpus:
    """The profile's corpus (or ``name``), subsampled to ``size`` / the profile's ``corpus_size``."""
    corpus = load_corpus(name or profile["corpus"])
    return corpus.subset(size if size is not None else profile.get("corpus_size"), seed=profile["seed"])


def eval_set(profile: Mapping, corpus: Corpus, size: int | None = None) -> EvalSet:
    """The labelled texts of ``corpus``, subsampled to ``size`` / ``eval.eval_size`` (seeded) to fit the budget."""
    size = size if size is not None else profile["eval"].get("eval_size")
    idx = eval_sample(corpus.labels or [None] * len(corpus), size, profile["seed"])
    if not len(idx):
        corpus.labelled()  # raises the clear "no labels" error
    labelled = sum(label is not None for label in corpus.labels)
    name = f"{corpus.name}: {'all ' if len(idx) == labelled else 'a seeded '}{len(idx):,} labelled texts"
    return EvalSet([corpus.texts[i] for i in idx], np.array([corpus.labels[i] for i in idx], dtype=object), name)


def curve_subset(profile: Mapping, data: EvalSet) -> EvalSet:
    """The texts of ``data`` that each learning-curve point scores: a seeded ``eval.curve_size`` of them.

    A curve shows how accuracy moves during training; its points need fewer texts
    than the final score, which is always computed on all of ``data``. Scoring each
    point on every text multiplied the encoding work by the number of points (on the
    embedded profile, most of chapter 4's time went to curve points of 9,033 texts).
    """
    idx = eval_sample(data.labels, profile["eval"].get("curve_size"), profile["seed"])
    if len(idx) == len(data.texts):
        return data
    return EvalSet([data.texts[i] for i in idx], data.labels[idx], f"{data.name}, a seeded {len(idx):,} of them")


def curves_caption(profile: Mapping, corpus: Corpus, starts: Iterable[str]) -> str:
    """Which texts the learning-curve points of ``starts`` were scored on, for a figure's caption.

    Each start's points score ``curve_subset`` of its eval set. Fewer texts give fewer
    neighbours, so a curve can end below the table's final score of the same model.
    """
    where = "; ".join(f"{start} on {curve_subset(profile, start_eval_set(profile, corpus, start)).evaluation(profile['eval']['max_length'])}"
                      for start in dict.fromkeys(starts))
    return f"Curve points: {where} (the tables score all of each start's texts)"


def start_spec(profile: Mapping, start: str) -> dict:
    if start not in profile["starts"]:
        raise TextembedError(f"Unknown start '{start}'.", f"use one of: {', '.join(profile['starts'])}.")
    return profile["starts"][start]


def start_eval_set(profile: Mapping, corpus: Corpus, start: str) -> EvalSet:
    """The eval set for ``start``: its own ``eval_size`` (slow encoders evaluate on fewer texts) or the profile's."""
    return eval_set(profile, corpus, start_spec(profile, start).get("eval_size"))


def make_encoder(profile: Mapping, start: str, pooling: str | None = None, seed: int | None = None) -> TextEncoder:
    """A fresh (untrained) encoder for one of the profile's starts; random weights drawn with ``seed`` (the profile's)."""
    spec = start_spec(profile, start)
    options = {key: spec[key] for key in ("init", "max_length", "config_overrides", "tokenizer_from")
               if spec.get(key) is not None}
    return load_encoder(spec["model"], pooling=pooling or spec.get("pooling"),
                        seed=profile["seed"] if seed is None else seed, **options)


def train_config(profile: Mapping, start: str, augmentation: str, **overrides: Any) -> TrainConfig:
    """The profile's training settings for ``start`` with ``augmentation`` and any overrides."""
    spec = start_spec(profile, start)
    settings = {k: spec[k] for k in _TRAIN_KEYS if spec.get(k) is not None}
    settings.update(
        augmentation=augmentation, n_sentences=profile["crops"]["n_sentences"],
        splitter=profile["crops"]["splitter"], seed=profile["seed"], device=profile["device"],
        precision=profile.get("precision", "auto"),
        checkpoint_every=DEFAULT_CHECKPOINT_EVERY,  # an interrupted run resumes where it stopped
    )
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(**settings)


def run_config(profile: Mapping, run: Run) -> TrainConfig:
    """The ``TrainConfig`` that ``fit`` uses for a trained ``run``."""
    return train_config(profile, run.start, run.augmentation, **dict(run.overrides))


def records_curve(profile: Mapping, run: Run) -> bool:
    """Whether ``run`` records a learning curve: trained, with an ``eval_every`` in its config."""
    return run.trained and run_config(profile, run).eval_every is not None


def run_fingerprint(profile: Mapping, start: str, config: TrainConfig, corpus: Corpus) -> str:
    """The one cache key of trained weights: the start's spec, the training config, the data, the package.

    ``textembed finetune`` uses it too, for the checkpoint of an interrupted run, so
    that a resume never mixes two runs.
    """
    payload = json.dumps(
        [__version__, start_spec(profile, start), profile["seed"], config.fingerprint(), corpus.fingerprint()],
        sort_keys=True, default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def base_model_key(profile: Mapping, start: str, seed: int | None = None) -> str:
    """A cache key for the untrained encoder of ``start`` (its spec and the seed determine its weights)."""
    payload = json.dumps([start_spec(profile, start), profile["seed"] if seed is None else seed], sort_keys=True)
    return f"{start}-untrained-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"


# --- fit --------------------------------------------------------------------------------------


@dataclass
class RunResult:
    """What ``fit`` returns: the encoder and what its training produced (empty for an untrained run)."""

    run: Run
    encoder: TextEncoder = field(repr=False)
    model_key: str  # identifies the weights: cache folder name, or the untrained start's key
    config: dict | None = None
    losses: list[float] = field(default_factory=list)
    curve: list[dict] = field(default_factory=list)
    crop_stats: dict = field(default_factory=dict)
    total_steps: int = 0
    batches_per_epoch: int = 0
    train_seconds: float = 0.0
    seconds_per_step: float = 0.0
    wall_seconds: float = 0.0
    device: str | None = None
    precision: str | None = None
    resumed_from: int = 0
    cached: bool = False

    _STORED = ("config", "losses", "curve", "crop_stats", "total_steps", "batches_per_epoch", "train_seconds",
               "seconds_per_step", "wall_seconds", "device", "precision", "resumed_from")

    def summary(self) -> dict:
        """The stored part (everything but the encoder and the run), as written beside cached weights."""
        return {key: getattr(self, key) for key in self._STORED}

    def how(self) -> str:
        """How this model came to be, for a progress line: untrained, loaded from the cache, or trained (seconds)."""
        if not self.run.trained:
            return "untrained"
        return "cached" if self.cached else f"trained, {self.train_seconds:.0f} s"

    @property
    def warmup_steps(self) -> int:
        """Batches of linear learning-rate warm-up this run had (0 when untrained)."""
        if not self.config:
            return 0
        return TrainConfig(**self.config).warmup_steps(self.batches_per_epoch, self.total_steps)


_SUMMARY_FILE = "training.json"


def _intact_cache_entry(folder: Path) -> dict | None:
    """The stored summary of a trained model, or None when it is missing or damaged.

    A damaged entry (unreadable summary, or weights whose digest differs from the
    one recorded when they were written, e.g. a truncated model file) is reported
    with a warning and then trained again, never loaded.
    """
    summary_path = folder / _SUMMARY_FILE
    if not summary_path.exists():
        return None
    try:
        summary = json.loads(summary_path.read_text())
        intact = summary.get("weights_sha256") == tree_digest(folder, exclude=(_SUMMARY_FILE,))
    except (OSError, ValueError):
        intact = False
    if not intact:
        warnings.warn(f"The cached model {folder} is damaged (its files do not match their recorded "
                      "digest); training it again.", stacklevel=3)
        return None
    return summary


def fit(
    run: Run,
    profile: Mapping,
    corpus: Corpus | None = None,
    *,
    curve_data: EvalSet | None = None,
    progress: bool = False,
    cache: bool = True,
    checkpoint_dir: Path | None = None,
) -> RunResult:
    """Train ``run`` (or load it from the cache); an untrained run is the start's fresh encoder.

    ``corpus`` is the training corpus (default: ``run.trained_on`` or the profile's).
    ``curve_data`` records kNN accuracy every ``eval_every`` batches (a learning
    curve), on its ``curve_subset``. With ``cache=False`` nothing is stored or looked up; ``checkpoint_dir``
    then says where an interrupted run keeps its checkpoint.
    """
    if not run.trained:
        seed = dict(run.overrides).get("seed")
        return RunResult(run, make_encoder(profile, run.start, seed=seed), base_model_key(profile, run.start, seed))
    corpus = corpus if corpus is not None else profile_corpus(profile, run.trained_on)
    config = run_config(profile, run)
    key = run_fingerprint(profile, run.start, config, corpus)
    folder = cache_dir() / "models" / profile["name"] / f"{run.start}-{run.augmentation}-{key}" if cache else None
    # Under torchrun (the book runner's distributed mode) rank 0 alone looks in the cache
    # and holds its lock; it tells the others what it found, so all load or all train together.
    here = join_process_group()
    owns_cache = folder is not None and here.is_main
    with file_lock(folder.with_suffix(".lock")) if owns_cache else contextlib.nullcontext():
        cached = _intact_cache_entry(folder) if owns_cache else None
        if here.distributed:
            cached = broadcast_from_main(cached)
        if cached is not None:
            # A rank on another node may not see rank 0's cache; its notebook is discarded, so a fresh encoder does.
            encoder = (load_encoder(str(folder), max_length=config.max_length) if folder.exists()
                       else make_encoder(profile, run.start, seed=config.seed))
            stored = {k: cached[k] for k in RunResult._STORED if k in cached}
            return RunResult(run, encoder, folder.name, **stored, cached=True)
        if folder is not None:
            key, checkpoint_dir = folder.name, folder.with_name(folder.name + ".ckpt")
        encoder = make_encoder(profile, run.start, seed=config.seed)  # a training seed draws the initial weights too
        curve_texts = curve_subset(profile, curve_data) if curve_data is not None else None
        eval_fn = (lambda enc, step: knn_metrics(enc, curve_texts, profile)) if curve_texts is not None else None
        began = time.perf_counter()
        trained = train(encoder, corpus.texts, config, eval_fn=eval_fn, checkpoint_dir=checkpoint_dir,
                        progress=progress)
        stats = trained.crop_stats
        result = RunResult(
            run, encoder, key, config=trained.config, losses=trained.losses, curve=trained.curve,
            crop_stats={"texts": stats.texts, "usable": stats.croppable, "dropped": stats.dropped},
            total_steps=trained.total_steps, batches_per_epoch=trained.batches_per_epoch,
            train_seconds=trained.train_seconds, seconds_per_step=trained.seconds_per_step,
            wall_seconds=time.perf_counter() - began, device=trained.device, precision=trained.precision,
            resumed_from=trained.resumed_from or 0,
        )
        if owns_cache:
            encoder.save(folder)
            summary = {**result.summary(), "run": run.fields(), "model": encoder.name,
                       "parameters": encoder.parameter_count(),
                       "weights_sha256": tree_digest(folder, exclude=(_SUMMARY_FILE,))}
            write_json(folder / _SUMMARY_FILE, summary)
            shutil.rmtree(checkpoint_dir, ignore_errors=True)  # the run is complete
        return result


# --- embeddings and scores --------------------------------------------------------------------


def embed(profile: Mapping, encoder: TextEncoder, texts: list[str], max_length: int | None = None,
          progress: bool = False) -> np.ndarray:
    """Embeddings of ``texts`` at the profile's evaluation batch size, length and precision."""
    ev = profile["eval"]
    return encode(encoder, texts, batch_size=ev["batch_size"], max_length=max_length or ev["max_length"],
                  progress=progress, precision=profile.get("precision", "auto"))


def _intact_embeddings(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    """Cached embeddings at ``path`` if readable and of ``shape``; else None (with a warning if present).

    A wrong width means the key named another model than the encoder at hand (e.g. a
    different hidden size): the vectors are recomputed rather than mixed with others.
    """
    if not path.exists():
        return None
    try:
        vectors = np.load(path)
    except (OSError, ValueError) as exc:
        problem = f"cannot be read ({exc})"
    else:
        if vectors.shape == shape:
            return vectors
        problem = f"has shape {vectors.shape}, expected {shape} (texts × hidden size of this encoder)"
    warnings.warn(f"The cached embeddings {path} {problem}; computing them again.", stacklevel=3)
    return None


def cached_embeddings(
    profile: Mapping, encoder: TextEncoder, texts: list[str], model_key: str, max_length: int | None = None
) -> np.ndarray:
    """Embeddings of ``texts`` by ``encoder``, cached on disk under ``model_key`` and the texts' hash.

    ``model_key`` must identify the weights (a ``RunResult.model_key``), so two
    chapters that embed the same texts with the same model encode only once.
    """
    max_length = max_length or profile["eval"]["max_length"]
    precision = resolve_precision(profile.get("precision", "auto"), encoder.device)
    digest = hashlib.sha256(json.dumps([__version__, model_key, max_length, precision, texts]).encode()).hexdigest()[:16]
    path = cache_dir() / "embeddings" / profile["name"] / f"{model_key}-{digest}.npy"
    with file_lock(path.with_suffix(".lock")):
        cached = _intact_embeddings(path, (len(texts), encoder.hidden_size))
        if cached is not None:
            return cached
        vectors = embed(profile, encoder, texts, max_length)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)
        return vectors


CURVE_OUTCOMES = "knn_euclidean_correct"  # a curve point's per-text Euclidean kNN outcomes, as a '0'/'1' string


def knn_metrics(encoder: TextEncoder, data: EvalSet, profile: Mapping) -> dict[str, float | str]:
    """kNN accuracy, Euclidean on raw embeddings and cosine, of ``encoder`` on ``data`` (a learning-curve point).

    The point keeps its per-text Euclidean outcomes too (``CURVE_OUTCOMES``), so a
    share of a gain read off the curve can carry an interval (``intervals.paired_share``).
    """
    vectors = embed(profile, encoder, data.texts)
    scores = score(vectors, data.labels, EvalSpec.from_profile(profile), probe=False)
    return {**scores.values(), CURVE_OUTCOMES: "".join("1" if hit else "0" for hit in scores.correct["knn_euclidean"])}


@dataclass(frozen=True)
class Reference:
    """A model scored beside the runs without being trained here: an off-the-shelf encoder or TF-IDF."""

    model: str
    texts: int | None = None  # set when the same reference is scored on eval sets of several sizes

    @property
    def name(self) -> str:
        return f"reference/{self.model}" + (f" ({self.texts:,} texts)" if self.texts else "")

    def fields(self) -> dict[str, Any]:
        return {"run": self.name, "start": None, "augmentation": None, "trained_on": None,
                "overrides": {}, "reference": self.model}


@dataclass
class Evaluated:
    """A run (or reference) scored on one eval set: what the chapters tabulate, compare and plot.

    ``evaluation`` names that set and the encoding length (``EvalSet.evaluation``): one
    model has one number per evaluation and metric, whichever chapter measured it.
    """

    run: Run | Reference
    scores: Scores
    vectors: np.ndarray | None = field(default=None, repr=False)
    result: RunResult | None = None
    evaluation: str = ""


def evaluate(fitted: RunResult, profile: Mapping, data: EvalSet, spec: EvalSpec | None = None, *,
             max_length: int | None = None, probe: bool = True) -> Evaluated:
    """``fitted``'s model scored on ``data``: embedded through the shared cache, at ``max_length`` tokens
    (the profile's evaluation length unless given), by ``score`` under ``spec`` (the profile's unless given)."""
    max_length = max_length or profile["eval"]["max_length"]
    vectors = cached_embeddings(profile, fitted.encoder, data.texts, fitted.model_key, max_length)
    scores = score(vectors, data.labels, spec or EvalSpec.from_profile(profile), probe=probe)
    return Evaluated(fitted.run, scores, vectors, fitted, data.evaluation(max_length))


def notebook_settings(namespace: dict, spec: dict) -> dict:
    """Validate a notebook's parameters against ``spec`` and attach the loaded profile.

    Returns the parameter values plus ``"profile_settings"``: the profile as a dict.
    Parameters left at None mean "the profile's value"; chapters fill them in.
    """
    from .params import validate_parameters
    from .profiles import load_profile

    values = validate_parameters(namespace, spec)
    return {**values, "profile_settings": load_profile(values["profile"])}
