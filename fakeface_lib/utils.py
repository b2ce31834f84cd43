"""Seeds, device choice and parameter counts: the small helpers every notebook needs."""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from torch import nn


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
