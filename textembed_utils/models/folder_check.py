"""Checks of a local model folder before anything in it is loaded: its files whole, no code of its own.

A model folder comes from anywhere (a copy cut short, a download interrupted, a
hand-edited config), and the libraries that read it fail with errors that name
no file (``SafetensorError: incomplete metadata``). ``check_model_folder`` reads
what can be checked cheaply, before loading: every JSON file parses (and holds
the kind of value its readers expect), every safetensors file has a whole
header that covers the file, and a tokenizer file is there. A failure names the
file. The loaders (``loading``) name the file of any failure that remains.

Security: a folder whose config maps classes to its own code (``auto_map``) or
whose ``modules.json`` names a module outside sentence-transformers is refused
(see ``loading``'s Security note).
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors import safe_open

from ..errors import TextembedError

SAFE_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")
# Files a Hugging Face tokenizer is built from; a folder holds at least one of them.
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model",
                   "tokenizer.model")
RESAVE = ("copy or save the model folder again (textembed finetune, SentenceTransformer.save() or "
          "save_pretrained() write it whole)")


def damaged_file(path: Path, why: str) -> TextembedError:
    """The one error of a damaged or unreadable file of a model folder, naming it."""
    return TextembedError(f"The model file {path} cannot be read: {why}.",
                          f"the file is damaged or incomplete (an interrupted copy or download?): {RESAVE}.")


def _check_json(path: Path) -> None:
    """``path`` parses as JSON: a list for ``modules.json``, an object for every other file."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise damaged_file(path, f"it is not valid JSON ({exc})") from exc
    kind = list if path.name == "modules.json" else dict
    if not isinstance(value, kind):
        raise damaged_file(path, f"it holds a JSON {type(value).__name__}, expected a JSON "
                                 f"{'list' if kind is list else 'object'}")


def _check_safetensors(path: Path) -> None:
    """``path`` has a whole safetensors header whose tensors exactly cover the file (a truncated copy does not)."""
    try:
        with safe_open(str(path), framework="pt"):
            pass
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own SafetensorError, not an OSError
        raise damaged_file(path, f"{str(exc).splitlines()[0]} (the file is {path.stat().st_size:,} bytes)") from exc


def check_files(folder: Path) -> None:
    """Every JSON and safetensors file under ``folder`` reads whole; the first that does not is named."""
    for path in sorted(folder.rglob("*.json")):
        _check_json(path)
    for path in sorted(folder.rglob("*.safetensors")):
        _check_safetensors(path)


def tokenizer_file(folder: Path) -> Path:
    """The main tokenizer file of a transformer folder; a folder without one is refused, naming those it could have."""
    found = next((folder / name for name in TOKENIZER_FILES if (folder / name).is_file()), None)
    if found is None:
        raise TextembedError(
            f"The model folder {folder} has no tokenizer: none of {', '.join(TOKENIZER_FILES)}.",
            f"{RESAVE}; a folder needs its tokenizer files next to config.json.",
        )
    return found


def _custom_code(folder: Path) -> list[str]:
    """What in ``folder`` would need the folder's own code to load: auto_map entries, custom modules."""
    found = []
    for name in ("config.json", "tokenizer_config.json"):
        path = folder / name
        auto_map = json.loads(path.read_text()).get("auto_map") if path.is_file() else None
        if auto_map:
            found.append(f"{name} maps {', '.join(sorted(auto_map))} to code in the folder (auto_map)")
    modules = folder / "modules.json"
    entries = json.loads(modules.read_text()) if modules.is_file() else []
    found += [f"modules.json names the custom module {entry.get('type')!r}" for entry in entries
              if isinstance(entry, dict) and not str(entry.get("type", "")).startswith("sentence_transformers.")]
    return found


def check_model_folder(folder: Path) -> None:
    """Refuse a local model folder with a damaged file or one that would run its own code when loaded."""
    check_files(folder)
    custom = _custom_code(folder)
    if custom:
        raise TextembedError(
            f"The model folder {folder} holds custom code: {'; '.join(custom)}. textembed never runs code "
            "from a model folder (no trust_remote_code, no custom modules).",
            "use a model of an architecture transformers knows (saved with save_pretrained or "
            "SentenceTransformer.save), or remove the auto_map entry / custom module if the standard "
            "class is what you mean.",
        )


def uses_pickle_weights(folder: Path) -> bool:
    """True when ``folder`` has pickle weights and no safetensors: they load through ``weights_only``."""
    return not any((folder / n).exists() for n in SAFE_WEIGHTS) and any((folder / n).exists() for n in PICKLE_WEIGHTS)


def weights_file(folder: Path) -> Path:
    """The weight file a pretrained load reads (safetensors first), or the one it would if none is there."""
    return next((folder / name for name in (*SAFE_WEIGHTS, *PICKLE_WEIGHTS) if (folder / name).exists()),
                folder / SAFE_WEIGHTS[0])
