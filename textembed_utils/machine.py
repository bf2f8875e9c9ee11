"""The CPU a result was measured on: its model, its cores and whether it multiplies bf16 natively.

Runtimes only mean something with the machine beside them: on a 2-core CPU with
AVX512-BF16 or AMX, bf16 training runs about twice as fast as on a plain AVX2
CPU of the same size, where bf16 is emulated and ``precision="auto"`` falls back
to fp32. Results records and benchmarks store ``cpu_description()`` and the book
prints its ``str()``, e.g. "AMD EPYC, 2 cores, native bf16 (avx512_bf16)".
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# The /proc/cpuinfo flags of native bf16 arithmetic: AVX512-BF16 dot products and AMX bf16 tiles.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_native_bf16() -> bool:
    """True when this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX tiles), as torch's CPU kernels see it.

    torch is imported here, not at the top, so that writing a results record does not load it.
    """
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private: absent → assume no
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


@dataclass(frozen=True)
class CpuInfo:
    """What a runtime depends on: CPU model, usable cores, native bf16 or not, and the bf16 flags seen."""

    model: str
    cores: int
    native_bf16: bool
    flags_found: tuple[str, ...]

    def __str__(self) -> str:
        if self.native_bf16:
            bf16 = f"native bf16 ({', '.join(self.flags_found)})" if self.flags_found else "native bf16"
        else:
            bf16 = "bf16 emulated (no AVX512-BF16 or AMX)"
        return f"{self.model}, {self.cores} {'core' if self.cores == 1 else 'cores'}, {bf16}"

    def to_dict(self) -> dict:
        """The fields for a JSON record, with the one-line description."""
        return {"model": self.model, "cores": self.cores, "native_bf16": self.native_bf16,
                "bf16_flags": list(self.flags_found), "description": str(self)}


def _usable_cores() -> int:
    """Cores this process may run on (a container's or taskset's limit), else all the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _read_cpuinfo(path: Path) -> tuple[str | None, set[str]]:
    """The first ``model name`` and the union of ``flags`` in a /proc/cpuinfo text; (None, {}) when unreadable."""
    try:
        text = path.read_text()
    except OSError:
        return None, set()
    model, flags = None, set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model is None:
            model = value.strip()
        elif key == "flags":
            flags.update(value.split())
    return model, flags


def cpu_description(cpuinfo: Path = CPUINFO) -> CpuInfo:
    """This machine's CPU. Linux reads ``cpuinfo``; elsewhere the model comes from ``platform``.

    ``native_bf16`` is torch's own check (``cpu_has_native_bf16``), the one
    ``precision="auto"`` decides by, so a record's machine and its precision agree;
    ``flags_found`` are the bf16 flags /proc/cpuinfo lists (empty off Linux).
    """
    model, flags = _read_cpuinfo(cpuinfo)
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    found = tuple(flag for flag in BF16_FLAGS if flag in flags)
    return CpuInfo(model, _usable_cores(), cpu_has_native_bf16(), found)
