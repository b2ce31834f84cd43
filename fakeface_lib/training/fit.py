"""fit(): the loop of :mod:`fakeface_lib.training.loop` (``train_one_epoch -> evaluate ->
history -> one printed line``) plus best-weights tracking, early stopping, checkpoints and
resume (a :class:`CheckpointPlan`), and mixed precision in the dtype the hardware computes
natively (resolve_amp_dtype).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fakeface_lib.config import TrainConfig
from fakeface_lib.training.amp import (
    amp_choice,
    make_scaler,
    run_config,
)
from fakeface_lib.training.checkpoints import (
    CHECKPOINT_NAME,
    CheckpointPlan,
    cpu_state_dict,
    describe_other_runs,
    load_checkpoint,
    restore_training_state,
    run_folder,
    save_checkpoint,
    training_state,
)
from fakeface_lib.training.history import History
from fakeface_lib.training.identity import differences, run_identity
from fakeface_lib.training.loop import (
    evaluate,
    format_epoch_line,
    make_optimizer,
    make_scheduler,
    train_one_epoch,
)
from fakeface_lib.utils import get_device, seed_everything


def _check_loaders(loaders: Mapping[str, Any]) -> None:
    if not isinstance(loaders, Mapping) or not {"train", "val"} <= set(loaders):
        got = sorted(loaders) if isinstance(loaders, Mapping) else type(loaders).__name__
        raise ValueError(f"fit() needs loaders={{'train': ..., 'val': ...}} (what "
                         f"make_loaders() returns); got {got}.")
    for split in ("train", "val"):
        with contextlib.suppress(TypeError):  # loaders without len() are checked later
            if len(loaders[split]) == 0:
                raise ValueError(f"loaders[{split!r}] is empty (no batches): check the split "
                                 "and drop_last with fewer images than batch_size.")


def _run_epoch(model, loaders, loss_fn, optimizer, device, cfg, epoch, scaler, progress) -> dict:
    start = time.perf_counter()
    lr = optimizer.param_groups[0]["lr"]
    # cfg is fit()'s run config: amp_dtype resolved wherever amp is on
    amp_dtype = getattr(torch, cfg.amp_dtype) if cfg.amp else torch.float32
    try:
        train = train_one_epoch(model, loaders["train"], loss_fn, optimizer, device,
                                scaler=scaler, amp=cfg.amp, amp_dtype=amp_dtype,
                                grad_clip=cfg.grad_clip, progress=progress,
                                desc=f"Epoch {epoch}/{cfg.num_epochs}")
        val = evaluate(model, loaders["val"], loss_fn, device, amp=cfg.amp, amp_dtype=amp_dtype)
    except FloatingPointError as err:
        raise FloatingPointError(f"Epoch {epoch}: {err} (lr was {lr:g})") from err
    return {"epoch": epoch, "train_loss": train["loss"], "train_acc": train["acc"],
            "val_loss": val["loss"], "val_acc": val["acc"], "lr": lr,
            "seconds": time.perf_counter() - start}


def fit(model: nn.Module, loaders: Mapping[str, Any], cfg: TrainConfig, *,
        device: torch.device | str | None = None, checkpoints: CheckpointPlan | None = None,
        optimizer: torch.optim.Optimizer | None = None, loss_fn: nn.Module | None = None,
        progress: bool = True) -> History:
    """Train for cfg.num_epochs; return the history and leave the best weights in the model.

    Best epoch: highest val_acc, ties broken by lower val_loss (cfg.monitor="val_loss" for
    the reverse, see ``epoch_score``); early stopping after cfg.patience epochs without a
    better one. The optimizer defaults to make_optimizer(model, cfg), the learning-rate schedule
    to make_scheduler(optimizer, cfg), the loss to CrossEntropyLoss.

    ``checkpoints``: the plan ``checkpoint_plan`` returns (or ``CheckpointPlan(folder)``). Each
    run is filed in ``<plan.dir>/<key>/`` by its identity (model, training and validation
    images, preprocessing, optimizer, recipe: see :mod:`fakeface_lib.training.identity`), with
    ``last.pt`` (model, optimizer, scheduler, scaler, RNG states, history, best weights) written
    every ``plan.every`` epochs and after the last. With ``plan.resume`` the run of this very
    identity continues if the folder holds one (a larger num_epochs trains on); anything else
    (other data, model, preprocessing or recipe) starts afresh in a folder of its own and says
    how it differs from the runs already there. None, or a plan without a folder: no checkpoints.

    With cfg.amp (None, the default: on CUDA only; True: on CUDA and CPUs), mixed precision
    runs in the dtype resolve_amp_dtype picks for this device
    (one printed line says which and why); the checkpoint's config and the run identity hold
    that resolved dtype (amp=False where it is off), so an "auto" run made on a T4 (float16)
    never resumes as one made on an A100 (bfloat16), and ``history.amp_dtype`` records it.
    On CUDA, cuDNN benchmarks its convolution algorithms (the shapes here are fixed) unless
    deterministic kernels were asked for.
    """
    _check_loaders(loaders)
    device = torch.device(device) if device is not None else get_device()
    seed_everything(cfg.seed)
    run_cfg, objects, history = _prepare_run(model, loaders, cfg, device, optimizer)
    if loss_fn is None:
        loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    best_state = cpu_state_dict(model)
    plan = checkpoints if checkpoints is not None and checkpoints.dir is not None else None
    run_dir = run_folder(plan.dir, history.identity) if plan else None
    if plan and plan.resume:
        history, best_state = _resume(run_dir, cfg, objects, history, best_state)
    for epoch in range(len(history) + 1, cfg.num_epochs + 1):
        if history.stopped_early:
            break
        row = _run_epoch(model, loaders, loss_fn, objects["optimizer"], device, run_cfg, epoch,
                         objects["scaler"], progress)
        if objects["scheduler"] is not None:
            objects["scheduler"].step()
        improved = history.record(row, cfg.monitor, cfg.patience, cfg.num_epochs)
        if improved:
            best_state = cpu_state_dict(model)
        print(format_epoch_line(row, cfg.num_epochs) + ("  (best)" if improved else ""))
        if plan and (epoch % plan.every == 0 or epoch == cfg.num_epochs or history.stopped_early):
            _save(run_dir, epoch, history, run_cfg, best_state, objects)
        if history.stopped_early:
            print(f"Early stopping: no better {cfg.monitor} for {cfg.patience} epochs "
                  f"(best epoch {history.best_epoch}).")
    model.load_state_dict(best_state)
    return history


def _prepare_run(model: nn.Module, loaders: Mapping[str, Any], cfg: TrainConfig,
                 device: torch.device, optimizer: Any) -> tuple[TrainConfig, dict[str, Any], History]:
    """The run config (mixed precision resolved), the checkpointed objects, an empty history."""
    amp_dtype, why = amp_choice(cfg, device)
    if cfg.amp or amp_dtype is not None:  # amp=None: said where it turns on (CUDA)
        print(f"Mixed precision: {why}")
    run_cfg = run_config(cfg, amp_dtype)
    model.to(device)
    _use_cudnn_benchmark(device)
    objects = _training_objects(model, loaders, run_cfg, device, optimizer)
    history = History(amp_dtype=amp_dtype,
                      identity=run_identity(model, loaders, objects["optimizer"], run_cfg))
    return run_cfg, objects, history


def _use_cudnn_benchmark(device: torch.device) -> None:
    """On CUDA let cuDNN time its algorithms once per input shape and keep the fastest, unless
    deterministic kernels were asked for (the timed choice can differ from run to run)."""
    deterministic = torch.backends.cudnn.deterministic or torch.are_deterministic_algorithms_enabled()
    if device.type == "cuda" and not deterministic:
        torch.backends.cudnn.benchmark = True


def _save(run_dir: Path, epoch: int, history: History, run_cfg: TrainConfig,
          best_state: dict, objects: dict[str, Any]) -> None:
    save_checkpoint(training_state(
        epoch=epoch, history=history, config=run_cfg.to_dict(), best_epoch=history.best_epoch,
        best_state=best_state, stopped_early=history.stopped_early, identity=history.identity,
        **objects), run_dir / CHECKPOINT_NAME)


def _training_objects(model: nn.Module, loaders: Mapping[str, Any], run_cfg: TrainConfig,
                      device: torch.device, optimizer: Any) -> dict[str, Any]:
    """Optimizer, scheduler, scaler and the train loader's generator: what a checkpoint holds."""
    optimizer = optimizer if optimizer is not None else make_optimizer(model, run_cfg)
    scheduler = make_scheduler(optimizer, run_cfg)
    scaler = make_scaler(run_cfg.amp_dtype if run_cfg.amp else None, device)
    return {"model": model, "optimizer": optimizer, "scheduler": scheduler, "scaler": scaler,
            "generator": getattr(loaders["train"], "generator", None)}


def _resume(run_dir: Path, cfg: TrainConfig, objects: dict, history: History,
            best_state: dict) -> tuple[History, dict]:
    """Restore this run from run_dir if it was saved there (one printed line); else start afresh."""
    ckpt_path = run_dir / CHECKPOINT_NAME
    if not ckpt_path.is_file():
        print(f"No checkpoint of this run yet: starting from epoch 1 (saving to {run_dir})."
              + describe_other_runs(run_dir, history.identity))
        return history, best_state
    ckpt = load_checkpoint(ckpt_path)
    if ckpt.get("identity") != history.identity:
        raise ValueError(f"{ckpt_path} holds another run than its folder name says "
                         f"({'; '.join(differences(ckpt.get('identity') or {}, history.identity))}). "
                         "Delete that folder, or pass a plan with resume=False, to start afresh.")
    restored = History(ckpt["history"], best_epoch=ckpt["best_epoch"],
                       stopped_early=ckpt["stopped_early"], identity=history.identity,
                       amp_dtype=history.amp_dtype)
    best_state = restore_training_state(ckpt, **objects)
    print(f"Resuming from epoch {ckpt['epoch']} of {cfg.num_epochs} ({ckpt_path}).")
    return restored, best_state
