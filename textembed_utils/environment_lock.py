"""Which environment a result came from: the lock's digest, and the installed packages compared with it.

``make setup`` installs exactly ``requirements.lock``, which ``make lock`` resolves from
pyproject.toml's ranges with ``uv pip compile`` (exact versions, hashes, one marker per pin for
Linux x86-64 or macOS arm64 on Python 3.11). The book's numbers depend on those versions, so
every results record carries ``lock_status()`` and the reproduction page says, with
``describe``, whether they came from the locked environment or from another one.
"""

from __future__ import annotations

import hashlib
import platform
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from .paths import PROJECT_ROOT

LOCK_PATH = PROJECT_ROOT / "requirements.lock"
# Installed beside the lock on purpose: this project (editable, from its folder) and the installers.
NOT_LOCKED = frozenset({"textembed-utils", "pip", "uv"})
# The reproduction page names this many differences of an environment, then counts the rest.
SHOWN_DIFFERENCES = 5
# A "# via" note of the lock: "    # via mteb", or "    #   mteb" under a bare "    # via".
VIA_NOTE = re.compile(r"\s+#\s*(?:via\b)?\s*(?P<source>.*)")


@dataclass(frozen=True)
class LockedPackage:
    """One pin of the lock, ``name==version ; marker``, and what the lock says requires it."""

    name: str
    version: str
    marker: Marker | None
    required_by: tuple[str, ...]

    def applies(self, environment: Mapping[str, str] | None = None) -> bool:
        """Whether the pin is for ``environment`` (marker variables; by default the running interpreter)."""
        return self.marker is None or self.marker.evaluate(dict(environment) if environment else None)


def read_lock(text: str) -> list[LockedPackage]:
    """The pins of a lock written by ``uv pip compile``: requirement lines, ``--hash`` lines, ``# via`` notes."""
    pins: list[tuple[Requirement, list[str]]] = []
    for line in text.splitlines():
        if line and not line[0].isspace() and not line.startswith(("#", "-")):
            pins.append((Requirement(line.rstrip(" \\")), []))
        elif pins and (note := VIA_NOTE.fullmatch(line)) and note["source"]:
            pins[-1][1].append(note["source"])
    return [LockedPackage(canonicalize_name(req.name), next(iter(req.specifier)).version, req.marker, tuple(via))
            for req, via in pins]


def lock_digest(path: Path = LOCK_PATH) -> str | None:
    """``sha256:<hex>`` of the lock file, which names the exact environment; None when there is no lock."""
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def differences(pins: list[LockedPackage], installed: Mapping[str, str]) -> list[str]:
    """How ``installed`` (canonical name → version) differs from ``pins``: versions, missing and extra packages."""
    locked = {pin.name: pin.version for pin in pins}
    found = [f"{name} {installed[name]} (locked: {version})" for name, version in locked.items()
             if name in installed and Version(installed[name]) != Version(version)]
    missing = [f"{name} not installed (locked: {version})" for name, version in locked.items() if name not in installed]
    extra = [f"{name} {version} (not in the lock)" for name, version in sorted(installed.items())
             if name not in locked and name not in NOT_LOCKED]
    return found + missing + extra


def installed_packages() -> dict[str, str]:
    """Every distribution the running interpreter can import, by canonical name."""
    return {canonicalize_name(dist.metadata["Name"]): dist.version
            for dist in metadata.distributions() if dist.metadata["Name"]}


def lock_status(path: Path = LOCK_PATH) -> dict[str, Any]:
    """A record's ``environment_lock``: the lock's digest and whether this interpreter has exactly its pins."""
    digest = lock_digest(path)
    if digest is None:
        return {"lock": None, "locked": False, "differences": [f"no {path.name} beside the package"]}
    pins = [pin for pin in read_lock(path.read_text()) if pin.applies()]
    if not pins:
        here = f"Python {platform.python_version()} on {sys.platform} {platform.machine()}"
        return {"lock": digest, "locked": False, "differences": [f"{path.name} pins nothing for {here}"]}
    found = differences(pins, installed_packages())
    return {"lock": digest, "locked": not found, "differences": found}


def describe(status: Mapping[str, Any] | None, current: str | None = None) -> str:
    """One line for the reproduction page: the locked environment, or how a record's environment differed.

    ``current`` is the digest of the lock in the repository now (default: read it), so a record
    made on an earlier lock is named as such.
    """
    current = current or lock_digest()
    if not status:
        return "not recorded (the record predates the lock)"
    if not status["locked"]:
        shown = status["differences"][:SHOWN_DIFFERENCES]
        more = len(status["differences"]) - len(shown)
        return ("a DIFFERENT environment from the lock, so these numbers may not be the locked build's: "
                + "; ".join(shown) + (f"; and {more} more" if more > 0 else ""))
    if status["lock"] != current:
        return f"the environment of another lock ({short(status['lock'])}; {LOCK_PATH.name} is now {short(current)})"
    return f"the locked environment ({LOCK_PATH.name}, {short(status['lock'])})"


def short(digest: str | None) -> str:
    """A digest as people compare it by eye: ``sha256:`` and its first 12 hex digits."""
    return f"{digest[:19]}…" if digest else "missing"
