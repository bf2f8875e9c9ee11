"""Validation of notebook parameters injected by papermill.

papermill passes ``-p name value`` into a cell after the one tagged
``parameters``; it only warns about unknown names and never checks types. Each
notebook therefore calls ``validate_parameters(globals(), SPEC)`` right after, so
a typo or a wrong type stops the run at once with a message naming the parameter.

Ranges are not repeated here: a parameter named like a ``TrainConfig`` field or
a setting of ``ranges.OTHER_RANGES`` (``batch_size``, ``seed``, ``size``, ...) is
checked against that one range (``ranges.range_for``), exactly as the Python API
and the command line check it; ``Param(range=...)`` gives a range to a parameter
of another name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import TextembedError
from .ranges import Range, outside_range, range_for

# Names IPython itself puts into a notebook's namespace.
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


@dataclass(frozen=True)
class Param:
    """One parameter: accepted type(s), whether None is allowed, its range, an optional check and its wording."""

    types: type | tuple[type, ...]
    optional: bool = False
    check: Callable[[Any], bool] | None = None
    expected: str = ""
    choices: tuple | None = None
    range: Range | None = None

    def problem(self, value: Any, name: str = "") -> str | None:
        """Why ``value`` is not acceptable, or None when it is.

        The range is ``range``, else that of the setting called ``name`` (``ranges.range_for``).
        """
        if value is None:
            return None if self.optional else "must not be None"
        types = self.types if isinstance(self.types, tuple) else (self.types,)
        if float in types and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in types:
            return f"has type bool, expected {'/'.join(t.__name__ for t in types)}"
        if not isinstance(value, types):
            return f"has type {type(value).__name__}, expected {'/'.join(t.__name__ for t in types)}"
        if self.choices is not None and value not in self.choices:
            return f"must be one of {', '.join(map(repr, self.choices))}"
        allowed = self.range or (range_for(name) or (None, None))[1]
        if allowed is not None and isinstance(value, (int, float)) and value not in allowed:
            return outside_range(value, allowed)
        if self.check is not None and not self.check(value):
            return f"is out of range: expected {self.expected}"
        return None


def validate_parameters(namespace: Mapping[str, Any], spec: Mapping[str, Param]) -> dict[str, Any]:
    """Check every parameter of ``spec`` in ``namespace``; reject unknown ones; return the values.

    Unknown names are those in the namespace that are neither in ``spec`` nor
    private, IPython's own, modules, or callables (imports).
    """
    import types as _types

    unknown = sorted(
        name for name, value in namespace.items()
        if name not in spec and not name.startswith("_") and name not in _IPYTHON_NAMES
        and not isinstance(value, _types.ModuleType) and not callable(value)
    )
    if unknown:
        raise TextembedError(
            f"Unknown parameter(s): {', '.join(unknown)}.",
            f"this notebook takes: {', '.join(sorted(spec))}.",
        )
    values = {}
    for name, param in spec.items():
        if name not in namespace:
            raise TextembedError(f"Parameter '{name}' is missing.", "keep it in the parameters cell.")
        value = namespace[name]
        problem = param.problem(value, name)
        if problem:
            raise TextembedError(
                f"Parameter {name}={value!r} {problem}.",
                f"pass e.g. `papermill ... -p {name} <value>` with a valid value.",
            )
        values[name] = float(value) if param.types is float and isinstance(value, int) else value
    return values
