"""Faults in the book runner (issue 14): interrupted runs, failed writes, two runs at once.

The runner is exercised on three small synthetic notebooks (real papermill and
kernels, no model): each logs when it starts and finishes and writes a results
record; one can be held at a gate so that a signal arrives mid-notebook. The
package fingerprint is pinned, so that stamps do not depend on files other
people edit while the tests run.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from textembed_utils import book
from textembed_utils.errors import TextembedError

CHAPTERS = ("01_first", "02_second", "03_third")
WORK = """
import os, pathlib, time
from textembed_utils.atomic import write_json
from textembed_utils.paths import results_dir
NAME = {name!r}
log = pathlib.Path(os.environ["BOOK_FAULT_LOG"])
with open(log, "a") as fh:
    fh.write(f"{{NAME}} start\\n")
if os.environ.get("BOOK_FAULT_HOLD") == NAME:
    gate = pathlib.Path(os.environ["BOOK_FAULT_GATE"])
    while not gate.exists():
        time.sleep(0.05)
write_json(results_dir(profile) / f"{{NAME}}.json", {{"chapter": NAME, "value": sum(i * i for i in range(1000))}})
with open(log, "a") as fh:
    fh.write(f"{{NAME}} done\\n")
"""
RUNNER = """
import sys
from pathlib import Path
from textembed_utils import book
book.NOTEBOOK_DIR = Path(sys.argv[1])
book.package_fingerprint = lambda: "pinned"
sys.exit(book.main(["run", "--profile", "tiny"]))
"""


def write_notebooks(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in CHAPTERS:
        parameters = nbformat.v4.new_code_cell('profile = "embedded"', metadata={"tags": ["parameters"]})
        notebook = nbformat.v4.new_notebook(cells=[parameters, nbformat.v4.new_code_cell(WORK.format(name=name))])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(notebook, folder / f"{name}.ipynb")
    return folder


class Checkout:
    """One checkout's notebooks, executed copies, results and log, and runs of the book runner on them."""

    def __init__(self, root: Path):
        self.root = root
        self.notebooks = write_notebooks(root / "notebooks")
        self.log = root / "log.txt"
        self.gate = root / "gate"
        self.env = {**os.environ, "TEXTEMBED_EXECUTED": str(root / "executed"),
                    "TEXTEMBED_RESULTS": str(root / "results"), "TEXTEMBED_CACHE": str(root / "cache"),
                    "BOOK_FAULT_LOG": str(self.log), "BOOK_FAULT_GATE": str(self.gate)}

    def start(self, hold: str | None = None) -> subprocess.Popen:
        env = {**self.env, **({"BOOK_FAULT_HOLD": hold} if hold else {})}
        # Its own session, so that a signal reaches the runner and its kernels, as Ctrl-C in a terminal does.
        return subprocess.Popen([sys.executable, "-c", RUNNER, str(self.notebooks)], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)

    def run(self) -> subprocess.CompletedProcess:
        proc = self.start()
        out, err = proc.communicate(timeout=300)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def events(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def wait_for(self, event: str, proc: subprocess.Popen, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while event not in self.events():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, f"no '{event}' in {self.events()}"
            time.sleep(0.05)

    def records(self) -> dict[str, dict]:
        return {p.stem: json.loads(p.read_text()) for p in sorted((self.root / "results" / "tiny").glob("*.json"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, dict]:
    """The records of an uninterrupted build."""
    checkout = Checkout(tmp_path_factory.mktemp("reference"))
    done = checkout.run()
    assert done.returncode == 0, done.stderr
    assert checkout.events() == [f"{n} {e}" for n in CHAPTERS for e in ("start", "done")]
    return checkout.records()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_mid_notebook_then_rerun_gives_the_same_records_recomputing_only_the_rest(
        tmp_path, reference, sig):
    checkout = Checkout(tmp_path)
    proc = checkout.start(hold="02_second")
    checkout.wait_for("02_second start", proc)
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    if sig == signal.SIGINT:
        # The runner's own last word (the kernel, in the same session, may print its KeyboardInterrupt above it).
        assert proc.returncode == 130 and "run the same command again" in err.strip().splitlines()[-1]
    else:
        assert proc.returncode == -signal.SIGKILL
    executed = tmp_path / "executed" / "tiny"
    assert sorted(p.name for p in executed.glob("[0-9]*.ipynb")) == ["01_first.ipynb"]
    assert list(checkout.records()) == ["01_first"]

    again = checkout.run()
    assert again.returncode == 0, again.stderr
    assert "01_first: up to date, skipped" in again.stdout
    assert checkout.events().count("01_first start") == 1  # finished work is not redone
    assert checkout.events().count("03_third start") == 1
    assert checkout.records() == reference
    assert sorted(p.name for p in executed.iterdir() if p.suffix == ".ipynb") == [f"{n}.ipynb" for n in CHAPTERS]


def test_two_runs_at_once_take_turns_and_the_second_says_it_waits(tmp_path, reference):
    checkout = Checkout(tmp_path)
    first = checkout.start(hold="01_first")
    checkout.wait_for("01_first start", first)
    second = checkout.start()
    time.sleep(3)  # long enough for the second to start a kernel, were it not waiting
    assert second.poll() is None and checkout.events() == ["01_first start"]
    checkout.gate.touch()
    out_first, _ = first.communicate(timeout=300)
    out_second, err_second = second.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 0, err_second
    assert "waiting for it to finish" in out_second
    assert all(f"{n}: up to date, skipped" in out_second for n in CHAPTERS)  # the first one's work is used
    assert [e for e in checkout.events() if e.endswith("start")] == [f"{n} start" for n in CHAPTERS]
    assert checkout.records() == reference


# --- failed writes, in-process (papermill replaced by a fake that writes the executed copy) ------------


@pytest.fixture
def one_notebook(tmp_path, monkeypatch):
    """One notebook already executed once (executed copy + stamp), and papermill replaced by a fake."""
    import papermill

    monkeypatch.setenv("TEXTEMBED_EXECUTED", str(tmp_path / "executed"))
    monkeypatch.setattr(book, "NOTEBOOK_DIR", write_notebooks(tmp_path / "notebooks"))
    monkeypatch.setattr(book, "package_fingerprint", lambda: "pinned")
    behaviour = {"version": "v1", "fail": None}

    def fake_execute(source, output, **kwargs):
        Path(output).write_text(behaviour["version"])
        if behaviour["fail"] is not None:
            raise behaviour["fail"]

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    path = book.notebook_paths()[0]
    book.execute_notebook(path, "tiny")
    out = tmp_path / "executed" / "tiny"
    stamp = (out / ".stamps" / f"{path.stem}.json").read_text()
    behaviour["version"] = "v2"
    return path, out, stamp, behaviour


def _unchanged(path: Path, out: Path, stamp: str) -> bool:
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(f".{path.stem}")]
    return ((out / path.name).read_text() == "v1" and (out / ".stamps" / f"{path.stem}.json").read_text() == stamp
            and leftovers == [])


def test_disk_full_while_writing_the_executed_copy(one_notebook):
    path, out, stamp, behaviour = one_notebook
    behaviour["fail"] = OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(TextembedError) as err:
        book.execute_notebook(path, "tiny")
    assert f"Could not write the executed copy of {path.name}" in err.value.problem
    assert "No space left on device" in err.value.problem and "unchanged" in err.value.problem
    assert _unchanged(path, out, stamp)


def test_permission_error_when_the_executed_copy_replaces_the_old_one(one_notebook, monkeypatch):
    path, out, stamp, _ = one_notebook
    real_replace = os.replace

    def refuse_target(src, dst):
        if Path(dst) == out / path.name:
            raise PermissionError(errno.EACCES, "Permission denied", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", refuse_target)
    with pytest.raises(TextembedError, match="Permission denied"):
        book.execute_notebook(path, "tiny")
    assert _unchanged(path, out, stamp)


def test_disk_full_while_writing_the_stamp_says_the_notebook_reruns(one_notebook, monkeypatch):
    path, out, stamp, _ = one_notebook

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)  # only the stamp is fsynced (via atomic.write_json)
    with pytest.raises(TextembedError) as err:
        book.execute_notebook(path, "tiny")
    assert "its stamp could not be written" in err.value.problem and "executes" in err.value.fix
    assert (out / ".stamps" / f"{path.stem}.json").read_text() == stamp  # the old stamp, which does not match


def test_a_failing_cell_keeps_the_previous_copy_and_names_the_cell(one_notebook):
    import papermill

    path, out, stamp, behaviour = one_notebook
    behaviour["fail"] = papermill.PapermillExecutionError(
        1, 2, "write_json(...)", "TextembedError", "Could not write /x/results/tiny/01_first.json (No space left "
        "on device); the previous version is unchanged.", [])
    with pytest.raises(TextembedError) as err:
        book.execute_notebook(path, "tiny")
    assert "01_first.ipynb failed in cell 2: TextembedError: Could not write" in err.value.problem
    assert (out / f"{path.stem}.failed.ipynb").read_text() == "v2"
    assert (out / path.name).read_text() == "v1" and (out / ".stamps" / f"{path.stem}.json").read_text() == stamp
