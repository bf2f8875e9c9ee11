"""Where pyproject.toml and requirements.lock disagree; ``make lock`` mends every case.

They agree when:
- the packages the lock notes as pyproject.toml's own ("via textembed-utils (pyproject.toml)")
  are exactly pyproject.toml's requirements (``dependencies``, extras, dependency groups):
  a requirement added to, or dropped from, one file alone is a disagreement;
- every pin of such a package lies in pyproject.toml's range, and in the range of any
  ``[tool.uv] override-dependencies`` entry whose marker holds (torch's CPU build on Linux x86-64);
- every other pin is required by a package of the lock (none left behind, none added by hand);
- each environment of ``[tool.uv] environments`` gets exactly one pin of each requirement.
"""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from textembed_utils.environment_lock import LockedPackage, read_lock

# How uv notes, under a pin, that pyproject.toml itself or one of its overrides asks for it.
PROJECT_NOTE = "textembed-utils (pyproject.toml"
OVERRIDE_NOTE = "--override"
MARKER_TERM = re.compile(r"(\w+)\s*==\s*'([^']*)'")


def requirements(pyproject: dict) -> dict[str, Requirement]:
    """pyproject.toml's requirements (dependencies, every extra and dependency group) by canonical name."""
    extras = pyproject["project"].get("optional-dependencies", {}).values()
    groups = pyproject.get("dependency-groups", {}).values()
    lines = pyproject["project"]["dependencies"] + [line for part in (*extras, *groups) for line in part]
    return {canonicalize_name(req.name): req for req in map(Requirement, lines)}


def environments(pyproject: dict) -> dict[str, dict[str, str]]:
    """``[tool.uv] environments`` as marker variables, e.g. ``{"sys_platform": "linux", ...}``, by their text."""
    found = {}
    for text in pyproject["tool"]["uv"]["environments"]:
        variables = dict(MARKER_TERM.findall(text))
        if "python_version" in variables:
            variables["python_full_version"] = variables["python_version"] + ".0"
        found[text] = variables
    return found


def disagreements(pyproject_text: str, lock_text: str) -> list[str]:
    """Each way the lock fails to be ``make lock``'s resolution of pyproject.toml, one sentence each."""
    pyproject = tomllib.loads(pyproject_text)
    wanted, pins = requirements(pyproject), read_lock(lock_text)
    return (_requirements_differ(wanted, pins) + _pins_outside_ranges(pyproject, wanted, pins)
            + _pins_required_by_nothing(pins) + _environments_not_covered(pyproject, wanted, pins))


def _requirements_differ(wanted: dict[str, Requirement], pins: list[LockedPackage]) -> list[str]:
    direct = {pin.name for pin in pins if any(note.startswith(PROJECT_NOTE) for note in pin.required_by)}
    return ([f"{name}: required by pyproject.toml, not locked as its requirement" for name in sorted(wanted.keys() - direct)]
            + [f"{name}: locked as pyproject.toml's requirement, not in pyproject.toml" for name in sorted(direct - wanted.keys())])


def _pins_outside_ranges(pyproject: dict, wanted: dict[str, Requirement], pins: list[LockedPackage]) -> list[str]:
    problems = [f"{pin.name}=={pin.version}: outside pyproject.toml's range {wanted[pin.name].specifier}"
                for pin in pins if pin.name in wanted and not wanted[pin.name].specifier.contains(pin.version, True)]
    for override in map(Requirement, pyproject["tool"]["uv"].get("override-dependencies", [])):
        for where, variables in environments(pyproject).items():
            if override.marker is None or override.marker.evaluate(variables):
                problems += [f"{pin.name}=={pin.version}: outside the override {override} ({where})" for pin in pins
                             if pin.name == canonicalize_name(override.name) and pin.applies(variables)
                             and not override.specifier.contains(pin.version, True)]
    return problems


def _pins_required_by_nothing(pins: list[LockedPackage]) -> list[str]:
    locked = {pin.name for pin in pins}
    return [f"{pin.name}=={pin.version}: required by nothing in the lock" for pin in pins
            if not any(note.startswith((PROJECT_NOTE, OVERRIDE_NOTE)) or canonicalize_name(note) in locked
                       for note in pin.required_by)]


def _environments_not_covered(pyproject: dict, wanted: dict[str, Requirement], pins: list[LockedPackage]) -> list[str]:
    problems = []
    for where, variables in environments(pyproject).items():
        for name in sorted(wanted):
            count = sum(pin.name == name and pin.applies(variables) for pin in pins)
            if count != 1:
                problems.append(f"{name}: {count} pins for {where}")
    return problems
