"""Training: optimizers, one epoch of training, evaluation, and fit() with checkpoints/resume.

The loop the notebooks show is ``train_one_epoch -> evaluate -> history -> one printed line``;
fit() is that loop plus best-weights tracking, early stopping, checkpoints, and mixed precision
in the dtype the hardware computes natively (resolve_amp_dtype).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from . import checkpoints, identity
from .config import TrainConfig
from .amp import (  # noqa: F401  (autocast_context, resolve_amp_dtype re-exported)
    amp_choice,
    autocast_context,
    make_scaler,
    resolve_amp_dtype,
    run_config,
)
from .utils import get_device, seed_everything

_CPU_HAS_FUSED_ADAM = torch.__version__ >= "2.4"  # a TorchVersion: compared as a version
POSTFIX_SECONDS = 0.5  # between progress-bar loss/acc updates (each one syncs the GPU)


class History(list):
    """fit()'s result: per-epoch dicts, plus ``best_epoch``, ``stopped_early``, ``identity``
    (the run's identity, which save_run records) and ``amp_dtype`` (the dtype mixed precision
    ran in: "float16", "bfloat16", or None when it was off)."""

    def __init__(self, rows: Iterable[dict] = (), best_epoch: int | None = None,
                 stopped_early: bool = False) -> None:
        super().__init__(rows)
        self.best_epoch = best_epoch
        self.stopped_early = stopped_early
        self.identity: dict | None = None
        self.amp_dtype: str | None = None


def make_optimizer(params_or_model: nn.Module | Iterable,
                   cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer cfg.optimizer names, over a model's trainable parameters or param groups."""
    if isinstance(params_or_model, nn.Module):
        params = [p for p in params_or_model.parameters() if p.requires_grad]
    else:  # tensors or param-group dicts; lists, because they are read twice below
        params = [_listed(group) if isinstance(group, dict) else group for group in params_or_model]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                **_fused_if_supported(params))
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                 **_fused_if_supported(params))
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adadelta":
        return torch.optim.Adadelta(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"Unknown optimizer {cfg.optimizer!r}; use 'adam', 'adamw', 'sgd' or 'adadelta'.")


def _listed(group: dict) -> dict:
    """A param group whose "params" is a list (torch also takes one tensor or a generator)."""
    params = group["params"]
    return {**group, "params": [params] if isinstance(params, torch.Tensor) else list(params)}


def _fused_if_supported(params: list) -> dict[str, bool]:
    """{"fused": True} when this torch has a fused Adam for the parameters' device, else {}.

    One kernel per step instead of one per tensor: on a CPU it cuts Model 2's Adam step
    (134 M parameters) from about 0.55 s to 0.1 s per batch. Same update, same state dict.
    """
    tensors = [p for group in params for p in (group["params"] if isinstance(group, dict) else [group])]
    devices = {t.device.type for t in tensors}
    fused_devices = {"cuda"} | ({"cpu"} if _CPU_HAS_FUSED_ADAM else set())
    if tensors and devices <= fused_devices and all(t.is_floating_point() for t in tensors):
        return {"fused": True}
    return {}


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> Any:
    """StepLR when cfg.scheduler == "step" (stepped once per epoch), else None."""
    if cfg.scheduler is None:
        return None
    if cfg.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    raise ValueError(f"Unknown scheduler {cfg.scheduler!r}; use None or 'step'.")


def _epoch_stats(losses: list[torch.Tensor], logits: list[torch.Tensor],
                 labels: list[torch.Tensor], what: str) -> dict[str, float]:
    """Mean loss per image and accuracy from the per-batch tensors (one GPU sync)."""
    if not labels:
        raise ValueError(f"The {what} loader yielded no images; check its dataset (and "
                         "drop_last with fewer images than batch_size).")
    all_labels = torch.cat(labels)
    sizes = torch.tensor([len(batch) for batch in labels], dtype=torch.float32,
                         device=all_labels.device)
    total_loss = (torch.stack(losses).float() * sizes).sum().item()
    correct = (torch.cat(logits).argmax(1) == all_labels).sum().item()
    loss = total_loss / len(all_labels)
    if not math.isfinite(loss):
        raise FloatingPointError(f"The {what} loss is {loss}: training diverged. "
                                 "Try a lower learning rate (cfg.lr) or grad_clip.")
    return {"loss": loss, "acc": correct / len(all_labels)}


def train_one_epoch(model: nn.Module, loader: Iterable, loss_fn: nn.Module,
                    optimizer: torch.optim.Optimizer, device: torch.device | str, *,
                    scaler: torch.amp.GradScaler | None = None, amp: bool = False,
                    amp_dtype: torch.dtype = torch.float16, grad_clip: float | None = None,
                    progress: bool = True, desc: str = "train") -> dict[str, float]:
    """One pass over loader with weight updates. Returns mean loss per image and accuracy."""
    model.train()
    # Per-batch results stay on the device and are reduced once at the end: no GPU sync
    # and no extra kernels per batch (the progress bar syncs about twice a second).
    losses, outputs, targets = [], [], []
    bar = tqdm(_batches(loader), total=_length(loader), desc=desc, leave=False,
               disable=not progress)
    shown = time.monotonic()
    for images, labels in bar:
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        with autocast_context(device, amp, amp_dtype):
            logits = model(images)
            loss = loss_fn(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            if grad_clip is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
        losses.append(loss.detach())
        outputs.append(logits.detach())
        targets.append(labels)
        if progress and time.monotonic() - shown > POSTFIX_SECONDS:
            stats = _epoch_stats(losses, outputs, targets, "training")
            bar.set_postfix(loss=f"{stats['loss']:.4f}", acc=f"{stats['acc']:.2%}", refresh=False)
            shown = time.monotonic()
    return _epoch_stats(losses, outputs, targets, "training")


def _batches(loader: Iterable) -> Iterable:
    """What train_one_epoch's progress bar wraps: one iterator over the loader.

    tqdm calls iter() on what it wraps once more than it iterates it, and every iterator a
    DataLoader starts draws a number from its generator (with workers, it also starts them).
    Handing tqdm an iterator keeps to one per epoch, as a plain ``for batch in loader`` does,
    so fit() sees the same batches, in the same order, as the loop written out by hand.
    """
    return iter(loader)


def _length(loader: Iterable) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None


def evaluate(model: nn.Module, loader: Iterable, loss_fn: nn.Module,
             device: torch.device | str, *, amp: bool = False,
             amp_dtype: torch.dtype = torch.float16) -> dict[str, float]:
    """Mean loss per image and accuracy on loader, in eval mode under inference_mode."""
    model.eval()
    losses, outputs, targets = [], [], []
    with torch.inference_mode():
        for images, labels in loader:
            images = images.to(device, non_blocking=True)
            labels = labels.to(device, non_blocking=True)
            with autocast_context(device, amp, amp_dtype):
                logits = model(images)
                losses.append(loss_fn(logits, labels))
            outputs.append(logits)
            targets.append(labels)
        return _epoch_stats(losses, outputs, targets, "validation")


def format_epoch_line(row: Mapping[str, Any], num_epochs: int) -> str:
    """The report's per-epoch line, with lr and time appended."""
    return (f"Epoch [{row['epoch']}/{num_epochs}], Train Loss: {row['train_loss']:.4f}, "
            f"Train Acc: {row['train_acc']:.2%}, Valid Loss: {row['val_loss']:.4f}, "
            f"Valid Acc: {row['val_acc']:.2%}, LR: {row['lr']:.2e}, Time: {row['seconds']:.1f}s")


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


def _score(row: Mapping[str, float], monitor: str) -> tuple[float, float]:
    """Higher is better: val_acc with lower val_loss breaking ties, or the reverse."""
    if monitor == "val_acc":
        return (row["val_acc"], -row["val_loss"])
    return (-row["val_loss"], row["val_acc"])


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
        checkpoint_dir: str | Path | None = None, resume: bool = False,
        device: torch.device | str | None = None, optimizer: torch.optim.Optimizer | None = None,
        scheduler: Any = None, loss_fn: nn.Module | None = None,
        progress: bool = True, checkpoint_every: int = 1, channels_last: bool = False) -> History:
    """Train for cfg.num_epochs; return the history and leave the best weights in the model.

    Best epoch: highest val_acc, ties broken by lower val_loss (cfg.monitor="val_loss" for
    the reverse); early stopping after cfg.patience epochs without a better one.
    checkpoint_dir: the run's folder. Each run is filed in ``DIR/<key>/`` by its identity
    (model, training and validation images, preprocessing, optimizer, recipe: see
    :mod:`fakeface_lib.identity`), with ``last.pt`` (model, optimizer, scheduler, scaler, RNG
    states, history, best weights) written every ``checkpoint_every`` epochs and after the last.
    resume=True continues the run of this very identity if DIR holds one (a larger num_epochs
    trains on); anything else (other data, model, preprocessing or recipe) starts afresh in a
    folder of its own and says how it differs from the runs already there.
    With cfg.amp, mixed precision runs in the dtype resolve_amp_dtype picks for this device
    (one printed line says which and why); the checkpoint's config and the run identity hold
    that resolved dtype (amp=False where it is off), so an "auto" run made on a T4 (float16)
    never resumes as one made on an A100 (bfloat16), and ``history.amp_dtype`` records it.
    On CUDA, cuDNN benchmarks its convolution algorithms (the shapes here are fixed) unless
    deterministic kernels were asked for. channels_last=True moves the weights to NHWC layout,
    which tensor cores prefer for convolutions under float16/bfloat16 (unmeasured here: off).
    The optimizer defaults to make_optimizer(model, cfg), the loss to CrossEntropyLoss.
    """
    _check_fit_arguments(loaders, checkpoint_dir, resume, checkpoint_every)
    device = torch.device(device) if device is not None else get_device()
    seed_everything(cfg.seed)
    run_cfg, objects, history = _prepare_run(model, loaders, cfg, device, optimizer, scheduler,
                                             channels_last)
    if loss_fn is None:
        loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    best_state = checkpoints.cpu_state_dict(model)
    run_dir = checkpoints.run_folder(checkpoint_dir, history.identity) if checkpoint_dir else None
    if resume:
        history, best_state = _resume(run_dir, cfg, objects, history, best_state)
    for epoch in range(len(history) + 1, cfg.num_epochs + 1):
        if history.stopped_early:
            break
        row = _run_epoch(model, loaders, loss_fn, objects["optimizer"], device, run_cfg, epoch,
                         objects["scaler"], progress)
        if objects["scheduler"] is not None:
            objects["scheduler"].step()
        best_state, improved = _record_epoch(history, row, model, cfg, best_state)
        print(format_epoch_line(row, cfg.num_epochs) + ("  (best)" if improved else ""))
        due = epoch % checkpoint_every == 0 or epoch == cfg.num_epochs or history.stopped_early
        if run_dir is not None and due:
            _save(run_dir, epoch, history, run_cfg, best_state, objects)
        if history.stopped_early:
            print(f"Early stopping: no better {cfg.monitor} for {cfg.patience} epochs "
                  f"(best epoch {history.best_epoch}).")
    model.load_state_dict(best_state)
    return history


def _check_fit_arguments(loaders: Mapping[str, Any], checkpoint_dir: str | Path | None,
                         resume: bool, checkpoint_every: int) -> None:
    _check_loaders(loaders)
    if not isinstance(checkpoint_every, int) or checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be a positive int, got {checkpoint_every!r}")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs the checkpoint_dir of the run to continue.")


def _prepare_run(model: nn.Module, loaders: Mapping[str, Any], cfg: TrainConfig,
                 device: torch.device, optimizer: Any, scheduler: Any,
                 channels_last: bool) -> tuple[TrainConfig, dict[str, Any], History]:
    """The run config (mixed precision resolved), the checkpointed objects, an empty history."""
    amp_dtype, why = amp_choice(cfg, device)
    if cfg.amp:
        print(f"Mixed precision: {why}")
    run_cfg = run_config(cfg, amp_dtype)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    _use_cudnn_benchmark(device)
    objects = _training_objects(model, loaders, run_cfg, device, optimizer, scheduler)
    history = History()
    history.amp_dtype = amp_dtype
    history.identity = identity.run_identity(model, loaders, objects["optimizer"],
                                             run_cfg)
    return run_cfg, objects, history


def _use_cudnn_benchmark(device: torch.device) -> None:
    """On CUDA let cuDNN time its algorithms once per input shape and keep the fastest, unless
    deterministic kernels were asked for (the timed choice can differ from run to run)."""
    deterministic = torch.backends.cudnn.deterministic or torch.are_deterministic_algorithms_enabled()
    if device.type == "cuda" and not deterministic:
        torch.backends.cudnn.benchmark = True


def _save(run_dir: Path, epoch: int, history: History, run_cfg: TrainConfig,
          best_state: dict, objects: dict[str, Any]) -> None:
    checkpoints.save_checkpoint(checkpoints.training_state(
        epoch=epoch, history=history, config=run_cfg.to_dict(), best_epoch=history.best_epoch,
        best_state=best_state, stopped_early=history.stopped_early, identity=history.identity,
        **objects), run_dir / checkpoints.CHECKPOINT_NAME)


def _training_objects(model: nn.Module, loaders: Mapping[str, Any], run_cfg: TrainConfig,
                      device: torch.device, optimizer: Any, scheduler: Any) -> dict[str, Any]:
    """Optimizer, scheduler, scaler and the train loader's generator: what a checkpoint holds."""
    optimizer = optimizer if optimizer is not None else make_optimizer(model, run_cfg)
    scheduler = scheduler if scheduler is not None else make_scheduler(optimizer, run_cfg)
    scaler = make_scaler(run_cfg.amp_dtype if run_cfg.amp else None, device)
    return {"model": model, "optimizer": optimizer, "scheduler": scheduler, "scaler": scaler,
            "generator": getattr(loaders["train"], "generator", None)}


def _record_epoch(history: History, row: dict, model: nn.Module, cfg: TrainConfig,
                  best_state: dict) -> tuple[dict, bool]:
    """Append row; keep a copy of the weights if it is the best so far; flag early stopping."""
    history.append(row)
    best_row = history[history.best_epoch - 1] if history.best_epoch else None
    improved = best_row is None or _score(row, cfg.monitor) > _score(best_row, cfg.monitor)
    if improved:
        history.best_epoch, best_state = row["epoch"], checkpoints.cpu_state_dict(model)
    history.stopped_early = (cfg.patience is not None and row["epoch"] < cfg.num_epochs
                             and row["epoch"] - history.best_epoch >= cfg.patience)
    return best_state, improved


def _resume(run_dir: Path, cfg: TrainConfig, objects: dict, history: History,
            best_state: dict) -> tuple[History, dict]:
    """Restore this run from run_dir if it was saved there (one printed line); else start afresh."""
    ckpt_path = run_dir / checkpoints.CHECKPOINT_NAME
    if not ckpt_path.is_file():
        print(f"No checkpoint of this run yet: starting from epoch 1 (saving to {run_dir})."
              + checkpoints.describe_other_runs(run_dir, history.identity))
        return history, best_state
    ckpt = checkpoints.load_checkpoint(ckpt_path)
    if ckpt.get("identity") != history.identity:
        raise ValueError(f"{ckpt_path} holds another run than its folder name says "
                         f"({'; '.join(identity.differences(ckpt.get('identity') or {}, history.identity))}). "
                         "Delete that folder, or pass resume=False, to start afresh.")
    restored = History(ckpt["history"], best_epoch=ckpt["best_epoch"],
                       stopped_early=ckpt["stopped_early"])
    restored.identity, restored.amp_dtype = history.identity, history.amp_dtype
    best_state = checkpoints.restore_training_state(ckpt, **objects)
    print(f"Resuming from epoch {ckpt['epoch']} of {cfg.num_epochs} ({ckpt_path}).")
    return restored, best_state
