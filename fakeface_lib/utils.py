"""Seeds, device choice, what the CPU computes natively, and parameter counts: the small helpers
every notebook needs."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch
from torch import nn

CPU_BF16_FEATURES = ("amx_bf16", "avx512_bf16")  # x86 flags of native bfloat16 arithmetic


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every GPU) so a run can be repeated."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """The best device available: CUDA, then Apple's MPS, then the CPU.

    ``prefer`` ("cpu", "cuda", "mps") forces one and fails clearly if it is not there.
    """
    if prefer is not None:
        device = torch.device(prefer)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                "CUDA was asked for but no GPU is visible. On Colab: Runtime > "
                "Change runtime type > T4 GPU; elsewhere use prefer='cpu'."
            )
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError("MPS was asked for but is not available; use prefer='cpu'.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (only those with ``requires_grad`` when ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def cpu_bf16_features(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's native bfloat16 features among CPU_BF16_FEATURES (empty: none, or unknown).

    Read from the "flags" lines of /proc/cpuinfo (Linux, Colab included); where that file is
    missing, from what this torch detected at start-up (a private query, so any failure there
    means "none"). ``torch.backends.cpu.get_cpu_capability()`` names only the vector width
    ("AVX512"), not whether bfloat16 is among its instructions.
    """
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return _torch_cpu_bf16_features()
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return frozenset(flags & set(CPU_BF16_FEATURES))


def _torch_cpu_bf16_features() -> frozenset[str]:
    try:
        info = torch._C._cpu._get_cpu_capability()
        return frozenset(name for name in CPU_BF16_FEATURES if info.get(name))
    except Exception:  # noqa: BLE001  (absent or changed in this torch: treat as unknown)
        return frozenset()


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write text to a temporary file beside ``path``, then rename it: never half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
