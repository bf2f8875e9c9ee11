"""Run the notebooks with papermill and build the Jupyter Book from their executed copies.

    python -m textembed_utils.book run --profile embedded     # execute notebooks/NN_*.ipynb
    python -m textembed_utils.book build --profile embedded   # render them into _build/html

``run`` executes every ``notebooks/[0-9][0-9]_*.ipynb`` in sorted order, passing
only ``-p profile <name>``, into ``executed/<profile>/`` (the clean notebooks in
``notebooks/`` are never written). A notebook is skipped when its source, its
parameters and the package (version and source files) are unchanged since its
last successful run; a notebook whose metadata sets ``textembed.reads_records``
(the reproduction-status page) runs after the chapters and also reruns when another chapter's record changed.

``build`` stages the book's sources (``_config.yml``, ``_toc.yml``, ``book/``,
``references.bib`` and the executed notebooks as ``notebooks/``) into
``<output>/_build/source`` and runs jupyter-book there with warnings as errors.
Staging keeps jupyter-book away from ``notebooks/``, ``.venv/`` and ``tests/``
and lets the tests build the tiny profile's book in a temporary folder.

Faults: an executed copy, its stamp and every cache entry or results record are
written whole or not at all (``atomic``), and a stamp is written only after its
executed copy, so a run interrupted at any point (Ctrl-C, SIGKILL, a full disk)
leaves the previous good state: started again, it skips the notebooks that
finished and executes the rest, whose trained models and checkpoints in the
cache are reused. A write that fails says which file and keeps the old one.
Two runs or builds on one checkout take turns on a lock (the second says it is
waiting); a killed holder releases it.

Under ``torchrun`` (``torchrun --nproc_per_node N -m textembed_utils.book run --only
01_augmentations``) every rank executes the notebooks asked for, stamps or not (the
ranks must run the same cells to train together); each kernel joins the process
group when it first trains. Rank 0 alone takes the lock and writes the executed
copies, stamps, results records and cached models; the other ranks' executed
copies go to a scratch folder that is removed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from . import __version__
from .atomic import file_lock, write_json
from .errors import TextembedError
from .paths import PROJECT_ROOT, results_dir
from .profiles import DEFAULT_PROFILE, profile_names
from .training.distributed import launched_by_torchrun, launched_rank

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
PACKAGE_DIR = Path(__file__).resolve().parent
BOOK_SOURCES = ("_config.yml", "_toc.yml", "references.bib", "book", "_static")
STAGED_CHAPTERS = "notebooks"  # the clean notebooks live at the same path in the repo, so launch buttons open them
# Threads per notebook kernel: the book must share a 2-core machine politely.
DEFAULT_THREADS = "2"


def executed_dir(profile: str) -> Path:
    """Where ``run`` writes the executed notebooks of ``profile``."""
    return Path(os.environ.get("TEXTEMBED_EXECUTED", PROJECT_ROOT / "executed")) / profile


def notebook_paths(folder: Path | None = None) -> list[Path]:
    """The book's notebooks (in ``folder``, default ``NOTEBOOK_DIR``), in chapter order."""
    return sorted((folder or NOTEBOOK_DIR).glob("[0-9][0-9]_*.ipynb"))


@contextlib.contextmanager
def one_at_a_time(profile: str) -> Iterator[None]:
    """Hold the checkout's book lock for a run or build; a second one waits, saying so."""
    lock = executed_dir(profile).parent / ".book.lock"

    def say_waiting() -> None:
        print(f"[book] another run or build on this checkout holds {lock}; waiting for it to finish "
              "(Ctrl-C to stop) ...", flush=True)

    with file_lock(lock, on_wait=say_waiting):
        yield


def _digest(parts: Iterable[bytes]) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(hashlib.sha256(part).digest())
    return sha.hexdigest()


def package_fingerprint() -> str:
    """The package version and the content of its source and profile files."""
    files = sorted(p for p in PACKAGE_DIR.rglob("*") if p.suffix in (".py", ".json") and "__pycache__" not in p.parts)
    return _digest([__version__.encode()] + [str(p.relative_to(PACKAGE_DIR)).encode() + p.read_bytes() for p in files])


def notebook_source(path: Path) -> dict:
    """The notebook's content that determines its outputs: cells' type, source and tags, its metadata."""
    notebook = json.loads(path.read_text())
    cells = [
        {"type": c["cell_type"], "source": "".join(c["source"]), "tags": c.get("metadata", {}).get("tags", [])}
        for c in notebook["cells"]
    ]
    return {"cells": cells, "textembed": notebook.get("metadata", {}).get("textembed", {})}


def run_stamp(path: Path, profile: str) -> str:
    """The hash that decides whether ``path`` must run again for ``profile``."""
    source = notebook_source(path)
    payload = {"notebook": source, "parameters": {"profile": profile}, "package": package_fingerprint()}
    if source["textembed"].get("reads_records"):
        records = sorted(p for p in results_dir(profile).glob("*.json") if p.stem != path.stem)
        payload["records"] = _digest(p.name.encode() + p.read_bytes() for p in records)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _stamp_path(profile: str, path: Path) -> Path:
    return executed_dir(profile) / ".stamps" / f"{path.stem}.json"


def is_up_to_date(path: Path, profile: str) -> bool:
    """True when the executed copy exists and was made from the same source, parameters and package."""
    stamp_file = _stamp_path(profile, path)
    if not (executed_dir(profile) / path.name).exists() or not stamp_file.exists():
        return False
    return json.loads(stamp_file.read_text()).get("stamp") == run_stamp(path, profile)


def _kernel_environment() -> None:
    """Offline hub access, at most two threads and inline figures for every kernel papermill starts.

    ``MPLBACKEND=Agg`` (exported for headless runs) would make ``plt.show()`` draw
    nothing into the executed notebooks, so the kernels get the inline backend.
    """
    for name, value in {
        "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": DEFAULT_THREADS, "MKL_NUM_THREADS": DEFAULT_THREADS,
    }.items():
        os.environ.setdefault(name, value)
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"


def execute_notebook(path: Path, profile: str) -> float:
    """Execute one notebook with papermill into ``executed/<profile>/``; return its wall time.

    The executed copy replaces the previous one only on success; a failed run is
    kept as ``<name>.failed.ipynb`` next to it, with the error in its outputs. A
    failure, a write that fails or an interruption leaves the previous executed copy
    and stamp as they were, and every error says what failed.
    """
    import papermill

    out_dir = executed_dir(profile)
    out_dir.mkdir(parents=True, exist_ok=True)
    target, failed = out_dir / path.name, out_dir / f"{path.stem}.failed.ipynb"
    partial = out_dir / f".{path.stem}.running.ipynb"
    stamp = run_stamp(path, profile)
    began = time.perf_counter()
    kept = "the previous executed copy, its stamp and the results records are unchanged"
    try:
        _papermill(path, partial, profile)
        seconds = time.perf_counter() - began
        os.replace(partial, target)
    except papermill.PapermillExecutionError as exc:
        os.replace(partial, failed)
        raise TextembedError(
            f"{path.name} failed in cell {exc.exec_count}: {exc.ename}: {str(exc.evalue).splitlines()[0][:300]}",
            f"read the error in {failed} (its outputs); {kept}. Fix the cause and run again.",
        ) from exc
    except OSError as exc:  # papermill could not write the executed copy, or it could not be renamed
        partial.unlink(missing_ok=True)
        raise TextembedError(
            f"Could not write the executed copy of {path.name} into {out_dir} ({exc.strerror or exc}); {kept}.",
            f"free disk space or fix the permissions of {out_dir}, then run again.",
        ) from exc
    except BaseException:  # Ctrl-C or a kill of the kernel: nothing half-written stays behind
        partial.unlink(missing_ok=True)
        raise
    failed.unlink(missing_ok=True)
    try:
        write_json(_stamp_path(profile, path), {"stamp": stamp, "seconds": round(seconds, 1), "version": __version__})
    except TextembedError as err:
        raise TextembedError(
            f"{path.name} ran and {target} is saved, but its stamp could not be written: {err.problem}",
            f"{err.fix} (the next run executes {path.name} again).",
        ) from err
    return seconds


def _papermill(path: Path, output: Path, profile: str) -> None:
    import papermill

    papermill.execute_notebook(str(path), str(output), parameters={"profile": profile}, kernel_name="python3",
                               cwd=str(path.parent), progress_bar=False)


def execute_as_other_rank(path: Path, profile: str) -> float:
    """A torchrun rank other than 0: run the notebook to take its part in training, keep nothing it wrote."""
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"textembed-rank{launched_rank()}-") as scratch:
        _papermill(path, Path(scratch) / path.name, profile)
    return time.perf_counter() - began


def run(profile: str, only: list[str] | None = None, force: bool = False) -> dict[str, float | None]:
    """Execute the notebooks of ``profile`` that changed (or ``only`` these stems); return seconds per notebook.

    ``None`` marks a notebook skipped because it was up to date.
    """
    if profile not in profile_names():
        raise TextembedError(f"Unknown profile '{profile}'.", f"use one of: {', '.join(profile_names())}.")
    paths = notebook_paths()
    if only:
        unknown = sorted(set(only) - {p.stem for p in paths})
        if unknown:
            raise TextembedError(f"No notebook(s) {unknown}.", f"use some of: {', '.join(p.stem for p in paths)}.")
        paths = [p for p in paths if p.stem in only]
    # Pages that read the chapters' records (the reproduction status) run after every chapter, whatever their number.
    paths = sorted(paths, key=lambda p: bool(notebook_source(p)["textembed"].get("reads_records")))
    _kernel_environment()
    if launched_rank() != 0:
        return {path.stem: execute_as_other_rank(path, profile) for path in paths}
    timings: dict[str, float | None] = {}
    with one_at_a_time(profile):
        for path in paths:
            if not force and not launched_by_torchrun() and is_up_to_date(path, profile):
                print(f"[book] {path.stem}: up to date, skipped", flush=True)
                timings[path.stem] = None
                continue
            print(f"[book] {path.stem}: executing with profile={profile} ...", flush=True)
            try:
                timings[path.stem] = execute_notebook(path, profile)
            except KeyboardInterrupt:
                print(f"[book] {path.stem}: interrupted", flush=True)
                raise
            print(f"[book] {path.stem}: done in {timings[path.stem]:.0f} s", flush=True)
    return timings


INJECTED_PROMPT = "Show the parameters papermill passed to this build"


def _sync_file(source: Path, target: Path, content: bytes | None = None) -> None:
    """Write ``content`` (default: ``source``'s) to ``target`` only when it differs, so Sphinx's incremental
    build sees unchanged files as unchanged."""
    content = source.read_bytes() if content is None else content
    if target.exists() and target.read_bytes() == content:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)


def staged_notebook(executed: Path) -> bytes:
    """``executed`` as the book shows it: papermill's injected-parameters cell collapsed like the
    parameters cell above it (papermill adds that cell at run time, so no clean notebook can tag it)."""
    notebook = json.loads(executed.read_text())
    for cell in notebook["cells"]:
        metadata = cell.get("metadata", {})
        if "injected-parameters" in metadata.get("tags", []):
            metadata["tags"] = [*metadata["tags"], "hide-input"]
            metadata["mystnb"] = {"code_prompt_show": INJECTED_PROMPT}
    return (json.dumps(notebook, indent=1, ensure_ascii=False) + "\n").encode()


def stage_sources(profile: str, stage: Path) -> Path:
    """Copy the book's sources and ``profile``'s executed notebooks into ``stage``; drop stale files."""
    wanted: dict[Path, Path] = {}
    for name in BOOK_SOURCES:
        source = PROJECT_ROOT / name
        files = [p for p in source.rglob("*") if p.is_file()] if source.is_dir() else [source]
        wanted.update({stage / p.relative_to(PROJECT_ROOT): p for p in files})
    executed = sorted(executed_dir(profile).glob("[0-9][0-9]_*.ipynb"))
    executed = [p for p in executed if not p.name.endswith(".failed.ipynb")]
    expected = {p.stem for p in notebook_paths()}
    missing = sorted(expected - {p.stem for p in executed})
    if missing:
        raise TextembedError(
            f"Profile '{profile}' has no executed notebook(s) {missing} in {executed_dir(profile)}.",
            f"run `python -m textembed_utils.book run --profile {profile}` first (`make book` does both).",
        )
    wanted.update({stage / STAGED_CHAPTERS / p.name: p for p in executed if p.stem in expected})
    for target, source in wanted.items():
        _sync_file(source, target, staged_notebook(source) if target.parent.name == STAGED_CHAPTERS else None)
    if stage.exists():
        for stale in [p for p in stage.rglob("*") if p.is_file() and p not in wanted]:
            stale.unlink()
    return stage


def static_out_of_date(html: Path) -> bool:
    """Whether the built book at ``html`` lacks or holds an older copy of a file of ``_static/``.

    Sphinx copies ``_static/`` only when it rewrites some page, so a changed stylesheet alone would
    never reach an incrementally built book.
    """
    static = PROJECT_ROOT / "_static"
    return any(not (built := html / "_static" / p.relative_to(static)).exists() or built.read_bytes() != p.read_bytes()
               for p in static.rglob("*") if p.is_file())


def remove_stale_pages(html: Path, stage: Path) -> list[Path]:
    """Delete the built pages of ``html`` whose source is no longer staged (a renamed or removed chapter).

    Sphinx's incremental build never deletes a page, so an old chapter would stay in the built book,
    reachable by its address and its search entries, with its old numbers.
    """
    sources = {p.relative_to(stage).with_suffix("") for p in stage.rglob("*") if p.suffix in (".md", ".ipynb")}
    stale = [page for folder in (STAGED_CHAPTERS, "book") for page in (html / folder).glob("*.html")
             if page.relative_to(html).with_suffix("") not in sources]
    for page in stale:
        page.unlink()
    return stale


def build(profile: str = DEFAULT_PROFILE, output: Path = PROJECT_ROOT) -> Path:
    """Build the HTML book of ``profile``'s executed notebooks into ``output/_build/html``; return index.html."""
    env = {**os.environ, "TEXTEMBED_BOOK_PROFILE": profile}
    with one_at_a_time(profile):
        stage = stage_sources(profile, Path(output) / "_build" / "source")
        command = [
            str(Path(sys.executable).with_name("jupyter-book")), "build", str(stage),
            "--path-output", str(output), "-W", "--keep-going",
        ]
        if static_out_of_date(Path(output) / "_build" / "html"):
            command.append("--all")
        completed = subprocess.run(command, env=env)
        remove_stale_pages(Path(output) / "_build" / "html", stage)
    if completed.returncode != 0:
        raise TextembedError(
            f"jupyter-book failed (exit {completed.returncode}); warnings count as errors.",
            "read the warnings printed above and fix the page or notebook they name.",
        )
    return Path(output) / "_build" / "html" / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m textembed_utils.book", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", help="execute the notebooks with papermill")
    run_cmd.add_argument("--profile", default=DEFAULT_PROFILE, choices=profile_names())
    run_cmd.add_argument("--only", nargs="*", help="notebook stems to run (default: all)")
    run_cmd.add_argument("--force", action="store_true", help="rerun even when up to date")
    build_cmd = commands.add_parser("build", help="build the HTML book from the executed notebooks")
    build_cmd.add_argument("--profile", default=DEFAULT_PROFILE, choices=profile_names())
    build_cmd.add_argument("--output", type=Path, default=PROJECT_ROOT, help="folder that receives _build/")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            run(args.profile, args.only, args.force)
        else:
            print(f"[book] built {build(args.profile, args.output)}")
    except TextembedError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\n[book] interrupted: the notebooks that finished are kept with their stamps; run the same "
              "command again to execute the rest (trained models and checkpoints in the cache are reused).",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
