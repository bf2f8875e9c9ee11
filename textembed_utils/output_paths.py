"""Where a command may write, checked before it does any work: one check for every file and folder it writes.

A command must never write over one of its own inputs: not the corpus, not a
file of the model folder, and never replace a folder that holds one of them.
``check_output_file`` and ``check_output_folder`` refuse such a path (comparing
resolved paths, so a symlink or ``./`` does not hide it, and inodes, so a hard
link does not), refuse a folder where a file is wanted and a file where a folder
is wanted, and check that the parent folder can be written. Each command runs
them on every path it writes (``--out``, ``--json``, the checkpoint folder)
before reading the corpus, so a bad path fails in a second, not after training.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .atomic import ensure_writable_dir
from .errors import TextembedError

# What a command reads, by the words an error uses for it: {"the corpus": path, "the model folder": path}.
Inputs = Mapping[str, Path]


def command_inputs(corpus: str | Path | None, model: str | None) -> dict[str, Path]:
    """The local paths a command reads: the corpus file and the model folder, those that exist.

    ``corpus`` is a path (a named corpus passes None or its data file; what is not
    a file is no input); ``model`` a model name as the user gave it (a hub id or
    ``bare`` has no local folder). A local model folder's files are checked here
    (``check_model_folder``), so a damaged one is named before any work.
    """
    from .models.loading import local_model_folder

    inputs = {}
    if corpus is not None and Path(corpus).is_file():
        inputs["the corpus"] = Path(corpus)
    folder = local_model_folder(model) if model is not None else None
    if folder is not None:
        inputs["the model folder"] = folder
    return inputs


def _relation(target: Path, source: Path) -> str | None:
    """How writing ``target`` would touch the input ``source``: is it, is inside it, holds it; or None."""
    written, read = target.resolve(), source.resolve()
    if written == read or (target.exists() and target.samefile(source)):
        return "is"
    if read in written.parents:
        return "is inside"
    if written in read.parents:
        return "holds"
    return None


def _refuse_inputs(target: Path, option: str, inputs: Inputs) -> None:
    for role, source in inputs.items():
        relation = _relation(target, source)
        if relation is not None:
            raise TextembedError(
                f"{option} {target} {relation} {role} ({source}); "
                "a command never writes over or into what it reads.",
                f"choose a path for {option} outside the corpus and the model folder.",
            )


def check_output_file(target: Path, option: str, inputs: Inputs) -> None:
    """Refuse ``target`` (written by ``option``) when it is or touches an input, or is a folder; check its parent."""
    if target.is_dir():
        raise TextembedError(f"{option} {target} is a folder; a file is written there.",
                             f"name a file for {option}, e.g. a new file inside that folder.")
    _refuse_inputs(target, option, inputs)
    ensure_writable_dir(target.parent)


def check_output_folder(target: Path, option: str, inputs: Inputs, *, overwrite: bool = False,
                        keep_contents: bool = False) -> None:
    """Refuse the folder ``target`` when it is or touches an input, is a file, or (without ``overwrite``) is not empty.

    ``keep_contents``: a folder whose contents are meant to be there already (a
    checkpoint folder a rerun resumes from) may be non-empty.
    """
    if target.exists() and not target.is_dir():
        raise TextembedError(f"{option} {target} is a file; a folder is written there.",
                             f"choose a folder name for {option}.")
    _refuse_inputs(target, option, inputs)
    if target.is_dir() and any(target.iterdir()) and not (overwrite or keep_contents):
        raise TextembedError(
            f"The output folder {target} already exists and is not empty.",
            f"choose a new folder for {option}, or pass --overwrite to replace it.",
        )
    ensure_writable_dir(target.parent)
    if target.is_dir():
        ensure_writable_dir(target)
