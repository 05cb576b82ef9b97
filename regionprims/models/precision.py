"""Numeric precision of a generator's tail on the GPU (docs/benchmarks.md, BigGAN GPU path: reduced precision where the
metrics show it changes nothing that matters; docs/benchmarks.md has the measured differences).

    fp32  exact float32 everywhere (TF32 switched off for the call) - the reference;
    tf32  float32 tensors, convolutions and matrix products on TF32 tensor cores (10-bit mantissa
          inputs, float32 accumulation) - the default on CUDA;
    bf16  bfloat16 autocast of the tail's convolutions and matrix products (8-bit mantissa), the
          output cast back to float32 - opt-in (REGIONPRIMS_PRECISION=bf16) until a GPU run shows
          its metric differences are within the tolerance (benchmarks/bench_biggan_gpu.py).

On a CPU the tail always runs in fp32 unless bf16 is asked for explicitly (for measurements).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import torch

from regionprims.errors import UserError

PRECISIONS = ("fp32", "tf32", "bf16")
CUDA_DEFAULT = "tf32"


def default_precision(device: torch.device | str) -> str:
    """REGIONPRIMS_PRECISION when set, else tf32 on CUDA and fp32 elsewhere."""
    asked = os.environ.get("REGIONPRIMS_PRECISION", "").strip().lower()
    if asked:
        if asked not in PRECISIONS:
            raise UserError(f"REGIONPRIMS_PRECISION must be one of {', '.join(PRECISIONS)}, got {asked!r}")
        return asked
    return CUDA_DEFAULT if torch.device(device).type == "cuda" else "fp32"


@contextmanager
def tail_precision(device: torch.device | str, precision: str) -> Iterator[None]:
    """Run the enclosed tail computation in `precision` on `device` (restores global flags)."""
    device = torch.device(device)
    if precision == "bf16":
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            yield
        return
    if device.type != "cuda":
        yield
        return
    tf32 = precision == "tf32"
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before
