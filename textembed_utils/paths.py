"""Where the package reads and writes: one place for every path.

Defaults live under the project folder (``cache/``, ``results/``); the
environment variables ``TEXTEMBED_CACHE`` and ``TEXTEMBED_RESULTS`` move them.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """Folder for downloads, trained models shared across notebooks and embeddings."""
    return Path(os.environ.get("TEXTEMBED_CACHE", PROJECT_ROOT / "cache"))


def benchmark_record(name: str) -> Path:
    """A benchmark's committed results record, ``benchmarks/results/<name>.json``."""
    return PROJECT_ROOT / "benchmarks" / "results" / f"{name}.json"


def results_dir(profile: str | None = None) -> Path:
    """Folder for JSON results records, ``results/<profile>/`` when a profile is given."""
    root = Path(os.environ.get("TEXTEMBED_RESULTS", PROJECT_ROOT / "results"))
    return root / profile if profile else root
