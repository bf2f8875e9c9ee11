"""Which arithmetic a training run uses: fp32, or bf16 autocast where the hardware does it natively.

bf16 autocast runs matrix products in bfloat16 and keeps reductions such as
layer norm and softmax in float32. Where the hardware multiplies bf16 natively
(CUDA GPUs; CPUs with AVX512-BF16 or AMX) it is the faster choice: on a 2-core
AVX512-BF16 CPU a bf16 matrix product ran 4x the fp32 rate and a MiniLM training
step 2.3x faster (benchmarks/bench_train.py). Without native support the CPU
emulates bf16 and is many times slower, so ``auto`` picks fp32 there.
"""

from __future__ import annotations

import contextlib

import torch

from ..machine import cpu_has_native_bf16

PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` → ``bf16`` on CUDA and on CPUs with native bf16, else ``fp32``; the others as given."""
    if precision != "auto":
        return precision
    native = device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())
    return "bf16" if native else "fp32"


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The autocast context of a resolved ``precision`` on ``device`` (a no-op for fp32)."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
