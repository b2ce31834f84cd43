"""Checkpoints for fit(): atomic save, weights_only loading, RNG capture, and resume.

Everything saved is tensors, numbers, strings, lists and dicts, so every file loads with
``torch.load(path, weights_only=True)`` (no pickled code runs on load).
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fakeface_lib.utils import write_text_atomic

CHECKPOINT_NAME = "last.pt"
IDENTITY_NAME = "run.json"
FORMAT_VERSION = 2


def run_folder(checkpoint_dir: str | Path, run_identity: dict[str, Any]) -> Path:
    """``checkpoint_dir/<key>``, where one run's checkpoints go; writes its ``run.json`` once."""
    from fakeface_lib.training.identity import identity_key

    folder = Path(checkpoint_dir) / identity_key(run_identity)
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / IDENTITY_NAME
    if not record.is_file():
        write_text_atomic(record, json.dumps(run_identity, indent=1, sort_keys=True, default=str))
    return folder


def describe_other_runs(run_dir: Path, run_identity: dict[str, Any]) -> str:
    """A sentence on the other runs beside ``run_dir`` and how each differs from this one."""
    from fakeface_lib.training.identity import differences

    others = []
    for record in sorted(Path(run_dir).parent.glob(f"*/{IDENTITY_NAME}")):
        if record.parent != run_dir and (record.parent / CHECKPOINT_NAME).is_file():
            other = json.loads(record.read_text(encoding="utf-8"))
            others.append(f"{record.parent.name} differs in {', '.join(differences(other, run_identity))}")
    if not others:
        return ""
    return (" Other runs in that folder, kept as they are: " + "; ".join(others) + ". "
            "(A run resumes only with the same model, initial weights, data, preprocessing, optimizer "
            "and recipe.)")


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """torch.save to a temporary file, then rename: a crash never leaves half a file.

    A failed write (a full disk, most often) removes the temporary file, keeps the previous
    checkpoint and raises an OSError that says how much space is left and what to do.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(state, tmp)
    except (OSError, RuntimeError) as err:
        tmp.unlink(missing_ok=True)
        free = shutil.disk_usage(path.parent).free / 2**20
        raise OSError(f"Could not write the checkpoint {tmp} ({err}); {free:,.0f} MiB free "
                      "there. Free some space (`python -m fakeface_lib.runner prune --keep 1` deletes "
                      "old runs), or give fit() a plan with another folder, or checkpoints=None "
                      "to train without checkpoints. "
                      f"The previous checkpoint, if any, is kept at {path}.") from err
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint on the CPU with ``weights_only=True``.

    path: a file, or a checkpoint directory: its ``last.pt``, or the one run fit() filed in it.
    """
    path = Path(path)
    if path.is_dir():
        path = _only_checkpoint(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No checkpoint at {path}. fit(..., checkpoints=CheckpointPlan(DIR)) writes DIR/<run key>/{CHECKPOINT_NAME}."
        )
    return torch.load(path, map_location="cpu", weights_only=True)


def _only_checkpoint(folder: Path) -> Path:
    if (folder / CHECKPOINT_NAME).is_file():
        return folder / CHECKPOINT_NAME
    found = sorted(folder.glob(f"*/{CHECKPOINT_NAME}"))
    if len(found) > 1:
        raise ValueError(f"{folder} holds {len(found)} runs ({', '.join(p.parent.name for p in found)}): "
                         "name one of their folders.")
    return found[0] if found else folder / CHECKPOINT_NAME


def load_model_weights(model: nn.Module, path: str | Path, which: str = "best") -> nn.Module:
    """Load weights saved by fit() (``which`` = "best" or "last") or a bare state_dict.

    Returns the model, so ``model = load_model_weights(Model1(), "runs/model1")`` works.
    """
    if which not in ("best", "last"):
        raise ValueError(f"which must be 'best' or 'last', got {which!r}")
    ckpt = load_checkpoint(path)
    if "model" not in ckpt:  # a plain torch.save(model.state_dict(), path)
        state = ckpt
    elif which == "best" and ckpt.get("best_model") is not None:
        state = ckpt["best_model"]
    else:
        state = ckpt["model"]
    model.load_state_dict(state)
    return model


def cpu_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the model's state_dict (for the best weights)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def capture_rng_state(generator: torch.Generator | None = None) -> dict[str, Any]:
    """Every RNG a training epoch draws from, in a weights_only-loadable form.

    generator: the train DataLoader's own shuffling generator, if it has one.
    """
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "name": str(np_name),
            "keys": torch.from_numpy(np_keys.astype(np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "cached_gaussian": float(np_gauss),
        },
        "python": {"version": py_version, "state": list(py_state), "gauss_next": py_gauss},
        "loader_generator": generator.get_state() if generator is not None else None,
    }


def restore_rng_state(state: dict[str, Any], generator: torch.Generator | None = None) -> None:
    """Inverse of capture_rng_state."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        if len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])
    np_state = state["numpy"]
    np.random.set_state((
        np_state["name"],
        np_state["keys"].numpy().astype(np.uint32),
        np_state["pos"],
        np_state["has_gauss"],
        np_state["cached_gaussian"],
    ))
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss_next"]))
    if generator is not None and state["loader_generator"] is not None:
        generator.set_state(state["loader_generator"])


def training_state(
    *,
    epoch: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    history: list[dict],
    config: dict[str, Any],
    best_epoch: int,
    best_state: dict[str, torch.Tensor],
    stopped_early: bool,
    generator: torch.Generator | None,
    identity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What fit() saves after each epoch. ``best_model`` is None when it equals ``model``."""
    return {
        "format": FORMAT_VERSION,
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": capture_rng_state(generator),
        "history": [dict(row) for row in history],
        "config": config,
        "best_epoch": best_epoch,
        "best_model": None if best_epoch == epoch else best_state,
        "stopped_early": stopped_early,
        "identity": identity,
    }


def restore_training_state(
    ckpt: dict[str, Any],
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    generator: torch.Generator | None,
) -> dict[str, torch.Tensor]:
    """Load a training_state() into the live objects; returns the best weights (CPU)."""
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None and ckpt["scheduler"] is not None:
        scheduler.load_state_dict(ckpt["scheduler"])
    if scaler is not None and ckpt["scaler"] is not None:
        scaler.load_state_dict(ckpt["scaler"])
    restore_rng_state(ckpt["rng"], generator)
    best = ckpt["best_model"] if ckpt["best_model"] is not None else ckpt["model"]
    return {k: v.detach().to("cpu", copy=True) for k, v in best.items()}


MiB = 2**20


@dataclass(frozen=True)
class CheckpointPlan:
    """What fit(checkpoints=...) does with a run's resumable state: the folder it is kept in
    (``dir``; None: nowhere), every how many epochs it is written (and after the last), and
    whether a run saved there is continued (``resume``); ``where`` and ``size`` say why, for
    ``print`` (``fakeface_lib.colab.checkpoint_plan`` decides them by the checkpoint's size)."""

    dir: Path | None
    every: int = 1
    resume: bool = False
    where: str = "local"  # "drive" | "runtime disk" | "local" | "off" | "skipped" (large, under the runner)
    size: int | None = None  # bytes of one checkpoint, estimated

    def __post_init__(self) -> None:
        if not isinstance(self.every, int) or isinstance(self.every, bool) or self.every < 1:
            raise ValueError(f"CheckpointPlan.every must be a positive int, got {self.every!r}")

    def __str__(self) -> str:
        size = "" if self.size is None else f"about {self.size / MiB:,.0f} MiB "
        if self.where == "skipped":
            return (f"Checkpoints skipped: {size}each, and the series runner deletes its scratch "
                    "folder when the job ends, before anything could resume from them.")
        if self.dir is None:
            return "Checkpoints off: an interrupted run starts again from epoch 1."
        return f"Checkpoints: {size}every {self.every} epoch(s) in {self.dir} ({self.where})."
