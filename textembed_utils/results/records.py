"""JSON results records: everything needed to trust, compare and redo a run.

Each experiment writes ``results/<profile>/<experiment>.json`` holding its config (and seed),
metrics, curves, package versions (and the lock's digest), git commit, device, wall time, the machine (CPU model,
cores, native bf16 or not: ``machine.cpu_description``) and the fingerprint of the data it
ran on. The book's tables read only these files.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from ..atomic import write_json
from ..environment_lock import lock_status
from ..errors import TextembedError
from ..machine import cpu_description
from ..paths import PROJECT_ROOT, results_dir
from ..training.distributed import launched_rank

TRACKED_PACKAGES = (
    "textembed-utils", "torch", "transformers", "sentence-transformers", "mteb",
    "scikit-learn", "numpy", "openTSNE",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a result depends on."""
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(root: Path = PROJECT_ROOT) -> str:
    """The project's commit (with ``-dirty`` if the tree has changes), or "unknown"."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def record_path(profile: str, experiment: str) -> Path:
    return results_dir(profile) / f"{experiment}.json"


def write_record(
    profile: str,
    experiment: str,
    *,
    config: dict[str, Any],
    metrics: dict[str, Any] | None = None,
    rows: list[dict] | None = None,
    findings: list[dict] | None = None,
    curves: dict[str, Any] | None = None,
    device: str = "cpu",
    wall_time_s: float | None = None,
    data_fingerprint: str | None = None,
    notes: str = "",
) -> Path:
    """Write one experiment's record atomically and return its path.

    ``rows`` is the tidy table of accuracies (one row per run × metric, with
    interval and test size, see ``results.tables.tidy_rows``); ``findings`` the
    chapter's comparisons with their verdicts (``results.findings.Finding.to_dict``);
    ``metrics`` holds any other measured values by name. Under ``torchrun`` only
    rank 0 writes; the other ranks, running the same notebook, get the same path.
    """
    if launched_rank() != 0:
        return record_path(profile, experiment)
    record = {
        "experiment": experiment,
        "profile": profile,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "config": config,
        "metrics": metrics or {},
        "rows": rows or [],
        "findings": findings or [],
        "curves": curves or {},
        "device": device,
        "wall_time_s": wall_time_s,
        "data_fingerprint": data_fingerprint,
        "seed": config.get("seed"),
        "versions": package_versions(),
        "environment_lock": lock_status(),  # the lock's digest, and whether these versions are its pins
        "git_commit": git_commit(),
        "machine": {**cpu_description().to_dict(), "platform": platform.platform()},
        "notes": notes,
    }
    return write_json(record_path(profile, experiment), record)


def read_record(profile: str, experiment: str) -> dict:
    """Read one record; a clear error says which notebook writes it when it is missing."""
    path = record_path(profile, experiment)
    if not path.exists():
        raise TextembedError(
            f"No results record '{experiment}' for profile '{profile}' (looked in {path}).",
            "run the notebook that writes it first (`make book` runs them all).",
        )
    return json.loads(path.read_text())


def read_records(profile: str) -> dict[str, dict]:
    """Every record of a profile, keyed by experiment name."""
    folder = results_dir(profile)
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def record_written(path: Path, seconds: float) -> str:
    """The line a chapter ends with: its record, its wall time and the CPU it ran on (a measured runtime)."""
    from ..machine import cpu_description

    return f"results record: {path.name}; this chapter ran {seconds:.0f} s on {cpu_description()}"
