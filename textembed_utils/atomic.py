"""Atomic file writes, a simple inter-process lock and content digests of cache entries.

Every file the package writes (caches, results records, models, downloads) goes
through here: data lands in a temporary file in the same folder and is renamed
into place, so a crash never leaves a file that looks valid but is truncated.
``tree_digest`` catches what renames cannot: a cache entry damaged afterwards.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import TextembedError


def ensure_writable_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` if needed and check that files can be written into it."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise TextembedError(
            f"Cannot write into the folder {folder}: {_blocked_by(folder)} ({exc.strerror or exc}).",
            "choose an output folder you can write to (e.g. under your home folder) "
            "or fix its permissions.",
        ) from exc
    return folder


def _blocked_by(folder: Path) -> str:
    """What stops ``folder`` being written: the nearest existing path at or above it, and why."""
    existing = next(path for path in (folder, *folder.absolute().parents) if path.exists())
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if existing == folder:
        return f"{folder} does not accept new files"
    return f"{existing} does not accept new folders"


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success.

    Works for files and folders alike: whatever the caller creates at the yielded
    path replaces ``target`` in one rename once the block finishes without error.
    An ``OSError`` of writing (disk full, permissions, ...) while writing or renaming
    leaves the previous ``target`` as it was and becomes a ``TextembedError`` naming it.
    """
    target = Path(target)
    ensure_writable_dir(target.parent)
    try:
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    except OSError as exc:
        raise _write_error(target, exc) from exc
    staged = tmp / target.name
    try:
        yield staged
        if target.is_dir() and staged.is_dir():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(old)
            try:
                staged.rename(target)
            except OSError:
                old.rename(target)  # put the previous folder back
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staged, target)
    except OSError as exc:
        if exc.errno not in _WRITE_ERRNOS:
            raise
        raise _write_error(target, exc) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Errors of writing itself (disk full, quota, read-only, permissions, I/O); others (a missing
# source file, a network error) are the caller's to explain and pass through unchanged.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.EFBIG}


def _write_error(target: Path, exc: OSError) -> TextembedError:
    previous = "the previous version is unchanged" if target.exists() else "nothing was written"
    return TextembedError(
        f"Could not write {target} ({exc.strerror or exc}); {previous}.",
        f"free disk space or fix the permissions of {target.parent}, then run again.",
    )


def write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically (fsync before the rename)."""
    with atomic_path(target) as staged:
        with open(staged, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(target)


def write_text(target: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    return write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``target`` atomically."""
    return write_text(target, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


@contextlib.contextmanager
def file_lock(
    path: str | os.PathLike, *, wait: bool = True, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` for the block.

    Two builds sharing one cache serialise on this lock instead of corrupting each
    other's files. With ``wait=False`` a held lock raises a clear error at once;
    with ``wait=True``, ``on_wait`` is called once before waiting for a held lock
    (to say why nothing happens). The kernel drops the lock when its holder dies,
    even by SIGKILL, so a killed run never blocks the next one.
    """
    path = Path(path)
    ensure_writable_dir(path.parent)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            if not wait:
                raise TextembedError(
                    f"Another process holds the lock {path} (a second build on the same cache?).",
                    "wait for the other run to finish, or give this run its own cache with "
                    "TEXTEMBED_CACHE=/some/other/folder.",
                ) from exc
            if on_wait is not None:
                on_wait()
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def tree_digest(folder: str | os.PathLike, exclude: tuple[str, ...] = ()) -> str:
    """SHA-256 over the relative path and bytes of every file under ``folder``.

    Stored next to a cache entry when it is written and compared when it is read,
    it detects a truncated or altered file (``exclude`` names top-level files that
    legitimately change, e.g. the summary that holds the digest itself).
    """
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder)
        if relative.parts[0] in exclude:
            continue
        digest.update(str(relative).encode() + b"\0")
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\1")
    return digest.hexdigest()
