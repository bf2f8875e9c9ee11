"""requirements.lock is ``make lock``'s resolution of pyproject.toml, and the checks catch a lock that is not.

The rule itself is written once, in ``lock_consistency``; here it is applied to the repository's
two files and to copies edited the ways a lock goes stale: a requirement added to or dropped from
one file only, a range the locked version leaves, a pin added by hand, an environment left
without a pin, torch's CUDA build where the CPU wheel is locked.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lock_consistency import disagreements

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = (ROOT / "pyproject.toml").read_text()
LOCK = (ROOT / "requirements.lock").read_text()
LINUX_TORCH = re.compile(r"^torch==2\.13\.0\+cpu ; .*$", re.MULTILINE)


def test_the_lock_is_the_resolution_of_pyproject():
    assert disagreements(PYPROJECT, LOCK) == []


def test_the_lock_is_written_by_make_lock_with_hashes():
    assert "#    make lock" in LOCK.splitlines()[1]
    pins = [line for line in LOCK.splitlines() if line and not line[0].isspace() and not line.startswith("#")]
    assert all(line.endswith("\\") for line in pins), "a pin without --hash lines"


def test_linux_x86_64_gets_torchs_cpu_wheel():
    assert "platform_machine == 'x86_64' and sys_platform == 'linux'" in LINUX_TORCH.search(LOCK).group()


def with_requirement(pyproject: str, old: str, new: str) -> str:
    assert old in pyproject, old
    return pyproject.replace(old, new, 1)


@pytest.mark.parametrize("edit, expected", [
    (lambda p: with_requirement(p, '"seaborn>=0.13",', '"seaborn>=0.13",\n    "rich>=13",'),
     "rich: required by pyproject.toml, not locked"),
    (lambda p: with_requirement(p, '    "seaborn>=0.13",\n', ""), "seaborn: locked as pyproject.toml's requirement, not in"),
    (lambda p: with_requirement(p, '"transformers>=4.45"', '"transformers>=6"'), "transformers==5.25.0: outside"),
    (lambda p: with_requirement(p, '"playwright>=1.50"]', '"playwright>=1.50", "hypothesis"]'), "hypothesis"),
])
def test_an_edited_pyproject_disagrees(edit, expected):
    problems = disagreements(edit(PYPROJECT), LOCK)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize("edit, expected", [
    (lambda lock: lock.replace("\nscikit-learn==1.9.1 ", "\nscikit-learn==1.4.0 ", 1), "scikit-learn==1.4.0: outside"),
    (lambda lock: lock + "rich==13.0.0 \\\n    --hash=sha256:" + "0" * 64 + "\n", "rich==13.0.0: required by nothing"),
    (lambda lock: LINUX_TORCH.sub("", lock), "torch: 0 pins for sys_platform == 'linux'"),
    (lambda lock: LINUX_TORCH.sub(lambda m: m.group().replace("+cpu", ""), lock), "torch==2.13.0: outside the override"),
])
def test_an_edited_lock_disagrees(edit, expected):
    problems = disagreements(PYPROJECT, edit(LOCK))
    assert any(expected in problem for problem in problems), problems
