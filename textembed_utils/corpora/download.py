"""Verified downloads: fetch a file once, check its git blob id, cache it atomically.

Pinned data files are identified by the git blob id GitHub itself uses, so a file
can be checked against the id shown by ``git ls-tree`` of the pinned commit. A
download lands in a temporary file and is moved into place only after it
verified, so the cache never holds a truncated or wrong file under the real name.
"""

from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from ..atomic import atomic_path, file_lock
from ..errors import TextembedError

CHUNK = 1 << 20
# What an unreachable server, a dropped connection or an HTTP error status raise.
NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException)


def git_blob_id(data: bytes) -> str:
    """The id ``git hash-object`` gives ``data``: SHA-1 of ``b"blob <size>\\0" + data``."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def _matches(path: Path, blob_id: str) -> bool:
    """Whether ``path`` is a file whose git blob id is ``blob_id``."""
    return path.is_file() and git_blob_id(path.read_bytes()) == blob_id


def _download(url: str, staged: Path, timeout: float) -> None:
    """Stream ``url`` into ``staged`` with a progress bar."""
    with urllib.request.urlopen(url, timeout=timeout) as response, open(staged, "wb") as fh:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=staged.name, leave=False) as bar:
            while chunk := response.read(CHUNK):
                fh.write(chunk)
                bar.update(len(chunk))


def fetch_verified(url: str, dest: str | Path, blob_id: str, timeout: float = 60.0) -> Path:
    """Return ``dest`` holding the file at ``url`` whose git blob id is ``blob_id``.

    A cached ``dest`` with the right id is reused without any network access; one
    with a wrong id (truncated, corrupted, another version) is fetched again. A
    lock next to ``dest`` keeps two builds sharing one cache from fetching at once.
    """
    dest = Path(dest)
    with file_lock(dest.with_suffix(dest.suffix + ".lock")):
        if _matches(dest, blob_id):
            return dest
        dest.unlink(missing_ok=True)  # a stale or damaged copy must not outlive a failed fetch
        with atomic_path(dest) as staged:
            try:
                _download(url, staged, timeout)
            except NETWORK_ERRORS as exc:
                raise TextembedError(
                    f"Could not download {url} ({getattr(exc, 'reason', None) or exc}). "
                    "This data set needs internet.",
                    "run the `paper` profile on a machine with internet, or download the "
                    f"file by hand and place it at {dest}.",
                ) from exc
            got = git_blob_id(staged.read_bytes())
            if got != blob_id:
                raise TextembedError(
                    f"The file downloaded from {url} has git blob id {got}, "
                    f"expected {blob_id}: it is not the pinned version (or arrived damaged).",
                    "try again; if it persists, the source changed: place the pinned file "
                    f"by hand at {dest}.",
                )
    return dest
