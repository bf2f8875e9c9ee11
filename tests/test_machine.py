"""The machine description: /proc/cpuinfo parsing on hand-made files, torch's bf16 check, and the records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from textembed_utils import machine
from textembed_utils.machine import CpuInfo, cpu_description
from textembed_utils.results import write_record
from textembed_utils.training import precision

CPUINFO = """processor\t: {i}
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx2 avx512f {extra}
"""


def fake_cpuinfo(tmp_path: Path, extra: str, cpus: int = 2) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text("\n".join(CPUINFO.format(i=i, extra=extra) for i in range(cpus)))
    return path


def test_native_bf16_cpu(tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "cpu_has_native_bf16", lambda: True)
    cpu = cpu_description(fake_cpuinfo(tmp_path, "avx512_bf16 amx_bf16 amx_tile"))
    assert (cpu.model, cpu.native_bf16, cpu.flags_found) == ("AMD EPYC 9R14", True, ("avx512_bf16", "amx_bf16"))
    assert str(cpu) == f"AMD EPYC 9R14, {cpu.cores} cores, native bf16 (avx512_bf16, amx_bf16)"


def test_avx2_only_cpu_says_bf16_is_emulated(tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "cpu_has_native_bf16", lambda: False)
    cpu = cpu_description(fake_cpuinfo(tmp_path, "avx512_vnni"))
    assert (cpu.native_bf16, cpu.flags_found) == (False, ())
    assert str(cpu).endswith("bf16 emulated (no AVX512-BF16 or AMX)")


def test_without_cpuinfo_the_model_comes_from_platform(tmp_path):
    cpu = cpu_description(tmp_path / "absent")
    assert cpu.model and cpu.flags_found == () and cpu.cores >= 1


def test_the_description_format():
    assert str(CpuInfo("AMD EPYC", 2, True, ("avx512_bf16",))) == "AMD EPYC, 2 cores, native bf16 (avx512_bf16)"
    assert str(CpuInfo("Apple M2", 1, True, ())) == "Apple M2, 1 core, native bf16"


def test_this_machine_agrees_with_torch_and_cpuinfo():
    cpu = cpu_description()
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert cpu.native_bf16 == native
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    assert ("avx512_bf16" in cpu.flags_found) == ("avx512_bf16" in flags)


def test_training_precision_decides_by_the_same_check():
    assert precision.cpu_has_native_bf16 is machine.cpu_has_native_bf16
    want = "bf16" if cpu_description().native_bf16 else "fp32"
    assert precision.resolve_precision("auto", torch.device("cpu")) == want


@pytest.mark.usefixtures("fresh_storage")
def test_records_store_the_machine():
    record = json.loads(write_record("tiny", "exp", config={"seed": 1}, metrics={}).read_text())
    cpu = cpu_description()
    assert record["machine"]["description"] == str(cpu)
    assert (record["machine"]["cores"], record["machine"]["native_bf16"]) == (cpu.cores, cpu.native_bf16)
    assert record["machine"]["platform"]
