"""A model2vec distillation of a sentence transformer, cached, laid onto that model's own vocabulary.

model2vec (Tulkens & van Dongen, 2024) turns a transformer into a static model with
no data: every vocabulary token goes through the model alone (with [CLS]/[SEP]),
the mean-pooled outputs are reduced by PCA, and each row is scaled by a SIF weight
``a / (a + p(rank))`` with Zipf-law probabilities by vocabulary rank. We run its
``distill_from_model`` offline on a local model folder (all-MiniLM-L6-v2 by
default), once per (model2vec version, base model, settings), and keep the result
as a model2vec folder under ``cache/models/model2vec/``.

model2vec drops tokens from the vocabulary it keeps (``[unusedN]`` by its default
pattern, and the special tokens [CLS], [SEP], [MASK]) and renumbers the rest, so
:func:`vocabulary_weights` maps its rows back onto the original tokenizer's ids by
token string; the dropped tokens get zero rows (the bare model never emits [CLS]
or [SEP], and [MASK] only appears under the masking augmentation, where it is
learnt). The bare model then tokenises with the original tokenizer and, before
any training, gives model2vec's own unnormalised vectors (see tests/test_static.py).

What differs from model2vec's published models: their potion models distil
bge-base-en-v1.5 with a custom vocabulary and further train with tokenlearn; here
the base is the shipped all-MiniLM-L6-v2 (384-d), the vocabulary is its own
WordPiece vocabulary, the weights are kept in float32 (model2vec's default is
float16), and PCA dims (256) and the SIF coefficient (1e-4, Zipf weighting on)
are model2vec's defaults unless a profile says otherwise.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock

import torch
from transformers import PreTrainedTokenizerBase

from ..atomic import atomic_path, file_lock
from ..errors import TextembedError
from ..paths import cache_dir

if TYPE_CHECKING:
    from model2vec import StaticModel

DEFAULT_PCA_DIMS = 256  # model2vec's default
DEFAULT_SIF_COEFFICIENT = 1e-4  # model2vec's default (Zipf-law SIF weighting on)


@dataclass(frozen=True)
class DistillSettings:
    """The model2vec settings a distillation depends on (each part of its cache key)."""

    pca_dims: int = DEFAULT_PCA_DIMS
    sif_coefficient: float | None = DEFAULT_SIF_COEFFICIENT

    def key(self) -> str:
        sif = "none" if self.sif_coefficient is None else f"{self.sif_coefficient:g}"
        return f"pca{self.pca_dims}-sif{sif}"


def model2vec_version() -> str:
    try:
        from model2vec.version import __version__
    except ImportError as exc:
        raise TextembedError(
            "The model2vec package is not installed.", "run `make setup` (or `pip install model2vec==0.10.0`)."
        ) from exc
    return __version__


def distilled_folder(source: str, name: str, settings: DistillSettings = DistillSettings()) -> Path:
    """Cache folder of the model2vec distillation of ``source`` (a local folder or hub id, shown as ``name``)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "--", name).strip("-") or "model"
    if Path(source).is_dir():  # two local folders may share a name: tell them apart by their path
        slug += "-" + hashlib.sha256(str(Path(source).resolve()).encode()).hexdigest()[:8]
    return cache_dir() / "models" / "model2vec" / f"{slug}-m2v{model2vec_version()}-{settings.key()}"


def load_distilled(source: str, name: str, settings: DistillSettings = DistillSettings()) -> StaticModel:
    """model2vec's ``StaticModel`` distilled from ``source``: read from the cache, or distilled once and cached."""
    from model2vec import StaticModel

    folder = distilled_folder(source, name, settings)
    with file_lock(folder.parent / f".{folder.name}.lock"):
        if not (folder / "model.safetensors").is_file():
            with atomic_path(folder) as staged:
                distill(source, settings).save_pretrained(staged)
    return StaticModel.from_pretrained(folder)


def distill(source: str, settings: DistillSettings) -> StaticModel:
    """Run model2vec's distillation of ``source`` on the CPU (about half a minute for MiniLM on one core)."""
    from model2vec.distill import distill_from_model
    from transformers import AutoModel, AutoTokenizer

    try:
        model = AutoModel.from_pretrained(source, use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(source, use_fast=True)
    except (OSError, ValueError) as exc:
        raise TextembedError(
            f"Could not load '{source}' to distil it with model2vec ({type(exc).__name__}).",
            "distil from a local transformer folder such as the embedded all-MiniLM-L6-v2.",
        ) from exc
    # model2vec draws a tqdm bar over the vocabulary with no switch to turn it off; in a notebook it
    # lands in the book as a stderr block, so the bar is disabled for this call only.
    from model2vec.distill import inference
    from tqdm import tqdm

    with mock.patch.object(inference, "tqdm", functools.partial(tqdm, disable=True)):
        return distill_from_model(model, tokenizer, device="cpu", pca_dims=settings.pca_dims,
                                  sif_coefficient=settings.sif_coefficient, quantize_to="float32")


def vocabulary_weights(static: StaticModel, tokenizer: PreTrainedTokenizerBase) -> tuple[torch.Tensor, list[str]]:
    """model2vec's rows at ``tokenizer``'s ids (len(tokenizer) × dim), and the tokens it has no row for (zeros).

    Raises if model2vec knows a token the tokenizer does not: then the two vocabularies do not line up.
    """
    ours = tokenizer.get_vocab()
    theirs = static.tokenizer.get_vocab()
    unknown = [token for token in theirs if token not in ours]
    if unknown:
        raise TextembedError(
            f"The model2vec vocabulary has {len(unknown)} tokens the tokenizer lacks (e.g. {unknown[:3]}).",
            "distil from the model whose tokenizer the bare model uses (tokenizer_from).",
        )
    vectors = torch.as_tensor(static.embedding, dtype=torch.float32)
    weight = torch.zeros(len(tokenizer), vectors.shape[1])
    ids = torch.tensor([ours[token] for token in theirs])
    weight[ids] = vectors[torch.tensor(list(theirs.values()))]
    missing = sorted(set(ours) - set(theirs), key=ours.get)
    return weight, missing
