"""A second real domain available offline: docstrings of installed scientific packages.

The paper asks whether fine-tuning adapts a model to *sentences* or to a *domain*;
that needs a domain far from Wikipedia. API documentation is one, and every
environment of this book already holds plenty of it. Each text is the docstring
of a public module, class or function; its label is the top-level package.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import io
import json
import os
import pkgutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

from ..errors import TextembedError
from .base import Corpus

DEFAULT_PACKAGES = (
    "numpy", "scipy", "sklearn", "pandas", "matplotlib", "seaborn",
    "sympy", "networkx", "torch", "transformers", "datasets",
)  # fmt: skip
# Module name parts whose modules hold tests or scripts rather than documented API.
SKIPPED_PARTS = frozenset(
    {"tests", "test", "testing", "conftest", "benchmarks", "setup", "__main__"}
)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the warnings and prints that importing arbitrary modules produces."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):  # fmt: skip
        warnings.simplefilter("ignore")
        yield


def _public_modules(package: str, max_modules: int) -> Iterator[ModuleType]:
    """Import ``package`` and its public submodules breadth-first, in name order.

    ``pkgutil.iter_modules`` lists a package's children without importing them, so
    private (``_x``) and test subtrees are never imported (``pkgutil.walk_packages``
    would import every subpackage to recurse). Modules that fail to import are
    skipped. ``max_modules`` caps the work on huge packages (torch, transformers)
    while keeping the result deterministic, unlike a time limit.
    """
    queue, tried = [package], 0
    while queue and tried < max_modules:
        name = queue.pop(0)
        tried += 1
        try:
            with _quiet():
                module = importlib.import_module(name)
        except (Exception, SystemExit):  # a broken optional module must not stop the walk
            continue
        yield module
        for child in pkgutil.iter_modules(getattr(module, "__path__", None) or [], f"{name}."):
            leaf = child.name.rpartition(".")[2]
            if not leaf.startswith("_") and leaf not in SKIPPED_PARTS:
                queue.append(child.name)


def _own_doc(obj: object) -> str | None:
    """``obj.__doc__`` cleaned of indentation, or None.

    Not ``inspect.getdoc``: that inherits a class's docstring from its bases, which
    may live in another package and would then carry the wrong label.
    """
    try:
        doc = obj.__doc__
    except Exception:  # lazy or broken objects may raise on attribute access
        return None
    return inspect.cleandoc(doc) if isinstance(doc, str) else None


def _defined_here(owner: str, module: ModuleType, package: str) -> bool:
    """Whether an object whose ``__module__`` is ``owner`` belongs to ``module``'s docs.

    Objects defined in the module itself count, and so do objects re-exported from
    a private implementation module of the same package (scipy's ``_basic`` and
    the like). Public re-exports do not: they are found in their own module, and
    lazy packages (transformers) would otherwise list whatever was touched before.
    """
    if owner == module.__name__:
        return True
    parts = owner.split(".")
    return parts[0] == package and any(part.startswith("_") for part in parts)


def _module_docstrings(module: ModuleType, package: str) -> list[str]:
    """Docstrings of the module and of the public callables it defines."""
    docs = [_own_doc(module)]
    with _quiet():
        for attr, obj in sorted(vars(module).items()):
            owner = getattr(obj, "__module__", None)
            if (
                not attr.startswith("_")
                and callable(obj)
                and isinstance(owner, str)
                and _defined_here(owner, module, package)
            ):
                docs.append(_own_doc(obj))
    return [doc for doc in docs if doc]


def _normalise(doc: str) -> str:
    """Drop example output lines marked ``# may vary``: scipy fills them at import with
    unseeded random draws, which would make the corpus differ from run to run."""
    return "\n".join(line for line in doc.splitlines() if not line.rstrip().endswith("# may vary"))


def _package_docstrings(
    package: str, min_chars: int, max_modules: int, seen: set[str]
) -> tuple[list[str], int]:
    """Sorted new docstrings (≥ ``min_chars``, not in ``seen``) of ``package``; modules read."""
    found, n_modules = [], 0
    for module in _public_modules(package, max_modules):
        n_modules += 1
        for doc in map(_normalise, _module_docstrings(module, package)):
            if len(doc) >= min_chars and doc not in seen:
                seen.add(doc)
                found.append(doc)
    return sorted(found), n_modules


def _collect(packages: Sequence[str], min_chars: int, max_modules: int) -> dict:
    """Docstrings per package (sorted), modules read, skipped packages and versions."""
    seen: set[str] = set()
    result: dict = {"per_package": {}, "modules": {}, "skipped": {}, "versions": {}}
    for package in packages:
        if importlib.util.find_spec(package) is None:
            result["skipped"][package] = "not installed"
            continue
        found, result["modules"][package] = _package_docstrings(
            package, min_chars, max_modules, seen
        )
        if not found:
            result["skipped"][package] = f"no importable docstring of {min_chars}+ characters"
            continue
        result["per_package"][package] = found
        result["versions"][package] = str(getattr(sys.modules[package], "__version__", "?"))
    return result


def _child_main() -> None:
    """Entry point of the fresh process: arguments as JSON in argv[1], result to argv[2]."""
    args = json.loads(sys.argv[1])
    Path(sys.argv[2]).write_text(json.dumps(_collect(**args)), encoding="utf-8")


def _collect_in_fresh_process(packages: Sequence[str], min_chars: int, max_modules: int) -> dict:
    """Run ``_collect`` in a new interpreter with a fixed hash seed.

    What a docstring says can depend on what was imported before (scipy appends
    notes to numpy functions' docstrings), so a fresh process makes the corpus
    independent of the caller's imports; it also keeps the hundreds of modules
    walked out of the caller's memory.
    """
    args = {"packages": list(packages), "min_chars": min_chars, "max_modules": max_modules}
    root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        # Some docstrings print sets of strings (scipy's deprecation notes): fix their order.
        "PYTHONHASHSEED": "0",
    }
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "docstrings.json"
        code = "from textembed_utils.corpora.docstrings import _child_main; _child_main()"
        proc = subprocess.run(
            [sys.executable, "-c", code, json.dumps(args), str(out)],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0 or not out.is_file():
            raise TextembedError(
                "Collecting docstrings failed in its helper process:\n"
                + proc.stderr[-2000:],
                "check that the listed packages import in this environment, or pass a "
                "shorter list, e.g. packages=('numpy', 'scipy').",
            )
        return json.loads(out.read_text(encoding="utf-8"))


def load_docstrings(
    packages: Sequence[str] = DEFAULT_PACKAGES,
    min_chars: int = 200,
    max_per_package: int | None = None,
    seed: int = 42,
    max_modules: int = 400,
) -> Corpus:
    """Docstrings with at least ``min_chars`` characters, labelled by their package.

    Missing packages are skipped, with the reason in ``info["skipped"]``. A docstring
    found in several packages is kept once, under the first package in
    ``packages``. Texts are sorted within each package, and ``max_per_package``
    draws a seeded subset, so the corpus is the same on every run.
    """
    collected = _collect_in_fresh_process(packages, min_chars, max_modules)
    per_package: dict[str, list[str]] = collected["per_package"]
    if max_per_package is not None:
        for package, found in per_package.items():
            if len(found) > max_per_package:
                rng = np.random.default_rng(seed)
                picked = np.sort(rng.choice(len(found), max_per_package, replace=False))
                per_package[package] = [found[i] for i in picked]
    if not per_package:
        raise TextembedError(
            f"No docstrings found in {', '.join(packages)} ({collected['skipped']}).",
            "install some of the packages, or lower min_chars.",
        )
    texts = [doc for docs in per_package.values() for doc in docs]
    labels = [package for package, docs in per_package.items() for _ in docs]
    return Corpus(
        name="docstrings",
        texts=texts,
        labels=labels,
        source="installed packages: " + ", ".join(per_package),
        info={
            "per_package": {package: len(docs) for package, docs in per_package.items()},
            "modules": collected["modules"],
            "skipped": collected["skipped"],
            "versions": collected["versions"],
            "min_chars": min_chars,
            "max_modules": max_modules,
        },
    )
