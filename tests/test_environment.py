"""environment.yml (conda) is a looser alternative to the lock, and keeps no package list of its own.

The rule, stated once:
- requirements.lock, installed by ``make setup``, is the book's environment. environment.yml says
  plainly that it is not: conda brings Python and a CUDA build of PyTorch, and pip installs this
  project (``-e .[test]``), resolving everything else from pyproject.toml's ranges on the day.
- So it names no package but conda's plumbing (``python``, ``pip``, ``pytorch``, ``pytorch-cuda``):
  pyproject.toml stays the one list, and nothing is maintained twice by hand.
- Its Python is the one the lock is made for (``[tool.uv] environments`` of pyproject.toml).
- The wiki corpus goes in with ``--no-deps``, which a conda pip section cannot say for one package,
  so environment.yml names it in a comment, with the pin of pyproject.toml's ``corpus`` group.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

from lock_consistency import environments

ROOT = Path(__file__).resolve().parent.parent
CONDA_PLUMBING = {"python", "pip", "pytorch", "pytorch-cuda"}
ENVIRONMENT_TEXT = (ROOT / "environment.yml").read_text()
ENVIRONMENT = yaml.safe_load(ENVIRONMENT_TEXT)
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def conda_packages() -> dict[str, str]:
    """The conda section's packages, name → version (empty when unversioned)."""
    entries = [entry.split("=", 1) for entry in ENVIRONMENT["dependencies"] if isinstance(entry, str)]
    return {entry[0]: entry[1] if len(entry) > 1 else "" for entry in entries}


def test_environment_names_only_conda_plumbing_and_this_project():
    assert set(conda_packages()) == CONDA_PLUMBING
    pip_section = next(entry["pip"] for entry in ENVIRONMENT["dependencies"] if isinstance(entry, dict))
    assert pip_section == ["-e .[test]"]


def test_environment_says_it_is_looser_than_the_lock():
    header = ENVIRONMENT_TEXT.split("name:")[0]
    assert "LOOSER alternative" in header and "requirements.lock" in header and "make setup" in header


def test_environment_python_is_the_one_the_lock_is_made_for():
    locked_pythons = {variables["python_version"] for variables in environments(PYPROJECT).values()}
    assert locked_pythons == {conda_packages()["python"]}


def test_wiki_corpus_is_named_in_a_comment_with_the_locked_pin():
    (pin,) = PYPROJECT["dependency-groups"]["corpus"]
    comments = [line for line in ENVIRONMENT_TEXT.splitlines() if line.strip().startswith("#")]
    assert any(f"--no-deps {pin}" in line for line in comments)
