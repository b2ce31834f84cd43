"""Mixed precision: which dtype a run trains in on this hardware, autocast, and the GradScaler.

TrainConfig.amp None (the default) turns it on on CUDA only, True on CUDA and CPUs, False off.
amp_dtype "auto" picks bfloat16 where the hardware computes it natively (a GPU of compute
capability 8.0 or more, a CPU with AMX or AVX512-BF16) and float16 with a GradScaler on older
GPUs such as Colab's T4; fit() prints the choice and records it with the run.
"""

from __future__ import annotations

import contextlib
import dataclasses

import torch

from fakeface_lib.config import TrainConfig
from fakeface_lib.utils import cpu_bf16_features

BF16_NATIVE_CAPABILITY = (8, 0)  # Ampere (A100) on: tensor cores compute bfloat16 natively


def autocast_context(device: torch.device | str, amp: bool,
                     dtype: torch.dtype = torch.float16) -> contextlib.AbstractContextManager:
    """torch.autocast when amp is on: on CUDA in dtype, on a CPU in bfloat16 only.

    Elsewhere (and for float16 on a CPU, which is slow there) a context that does nothing.
    CPU bfloat16 pays off on CPUs with AMX or AVX512-BF16; on others it can be slower.
    """
    kind = torch.device(device).type
    if amp and kind == "cuda":
        return torch.autocast("cuda", dtype=dtype)
    if amp and kind == "cpu" and dtype == torch.bfloat16:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def amp_choice(cfg: TrainConfig, device: torch.device | str) -> tuple[str | None, str]:
    """The dtype mixed precision uses for cfg on device (None: off), and why, in words.

    cfg.amp None (the default) asks for it on CUDA only, True on CUDA and CPUs; False never.
    amp_dtype "auto" picks bfloat16 where the hardware computes it natively (a GPU of compute
    capability >= 8.0; a CPU with AMX or AVX512-BF16), float16 with a GradScaler on older GPUs
    (a T4 is 7.5: ``torch.cuda.is_bf16_supported()`` can say True there, as it only emulates
    it), and nothing on other CPUs. "float16" and "bfloat16" are used as asked, except float16
    on a CPU, which autocast_context never applies (it is slow there).
    """
    kind = torch.device(device).type
    if cfg.amp is False:
        return None, "off (TrainConfig.amp is False)"
    if kind == "cuda":
        return _cuda_amp_choice(cfg.amp_dtype, torch.device(device))
    if cfg.amp is None:
        return None, (f"off (TrainConfig.amp=None turns it on on CUDA only; amp=True asks for "
                      f"it on {kind})")
    if kind == "cpu":
        return _cpu_amp_choice(cfg.amp_dtype)
    return None, f"off (autocast is used on CUDA and CPUs, not on {kind})"


def resolve_amp_dtype(cfg: TrainConfig, device: torch.device | str) -> str | None:
    """The dtype fit() trains cfg in on device: "float16", "bfloat16", or None (amp off)."""
    return amp_choice(cfg, device)[0]


def _cuda_amp_choice(asked: str, device: torch.device) -> tuple[str, str]:
    major, minor = torch.cuda.get_device_capability(device)
    card = f"{torch.cuda.get_device_name(device)}, compute capability {major}.{minor}"
    native = (major, minor) >= BF16_NATIVE_CAPABILITY
    if asked == "float16":
        return "float16", f"float16 with a GradScaler (as amp_dtype asks; {card})"
    if asked == "bfloat16":
        slow = "" if native else " only emulates it: float16 is faster there"
        return "bfloat16", f"bfloat16 (as amp_dtype asks; {card}{slow})"
    if native:
        return "bfloat16", f"bfloat16 ({card} computes it natively; no GradScaler needed)"
    return "float16", f"float16 with a GradScaler ({card} has no native bfloat16)"


def _cpu_amp_choice(asked: str) -> tuple[str | None, str]:
    features = ", ".join(sorted(cpu_bf16_features()))
    if asked == "float16":
        return None, ("off (float16 autocast is slow on a CPU, so it is not used there; "
                      "amp_dtype='auto' uses bfloat16 where the CPU computes it natively)")
    if asked == "bfloat16":
        where = (f"native on this CPU: {features}" if features
                 else "no native bfloat16 on this CPU: it can be slower than float32")
        return "bfloat16", f"bfloat16 (as amp_dtype asks; {where})"
    if features:
        return "bfloat16", f"bfloat16 (native on this CPU: {features})"
    return None, ("off (no native bfloat16 on this CPU, no AMX or AVX512-BF16, so float32 is "
                  "faster; on a GPU amp=True picks float16 or bfloat16)")


def make_scaler(amp_dtype: str | None, device: torch.device | str) -> torch.amp.GradScaler | None:
    """A GradScaler for float16 training (small gradients underflow its narrow range), else None."""
    if amp_dtype != "float16":
        return None
    return torch.amp.GradScaler(torch.device(device).type)


def run_config(cfg: TrainConfig, amp_dtype: str | None) -> TrainConfig:
    """cfg as a run trains it: amp=True and amp_dtype resolved where it is on, amp=False where
    it is off (so amp=None, the default, leaves a CPU run's config as amp=False always did)."""
    if amp_dtype is None:
        return dataclasses.replace(cfg, amp=False) if cfg.amp is not False else cfg
    return dataclasses.replace(cfg, amp=True, amp_dtype=amp_dtype)
