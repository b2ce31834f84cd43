"""How far honest detection goes: attempts aimed at the forgery rather than the face, each built,
trained and predicted the same way in notebook 06 and in ``benchmarks/bench_honest_detection.py``.

Every model of the report shrinks the face to 128 px, where an edited eye is a few pixels. The
attempts (``ATTEMPTS``) keep more of the edit: Model 1 at the data's full resolution, fed the
image or its fixed SRM noise residual (:mod:`fakeface_lib.models.forensics`), and a patch network on
the four regions a fake's code names, cut at full resolution (:mod:`fakeface_lib.experiments.patches`).
An attempt's validation predictions make its choices (the epoch; for patches, the pooling and
the score it takes to call an image fake); its test predictions are made once, with them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from fakeface_lib.config import MODEL1_RECIPE, TrainConfig
from fakeface_lib.data.loaders import make_loaders
from fakeface_lib.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from fakeface_lib.evaluation.predictions import predict
from fakeface_lib.experiments.patches import (
    PatchNet,
    choose_pooling,
    image_predictions,
    make_patch_loaders,
    patch_probs,
    thresholds_from_half,
)
from fakeface_lib.models.cnn import Model1
from fakeface_lib.models.forensics import ResidualInput, residual_spread
from fakeface_lib.models.resnet import build_resnet18, resnet18_param_groups
from fakeface_lib.training.checkpoints import CHECKPOINT_NAME, CheckpointPlan, run_folder
from fakeface_lib.training.fit import fit
from fakeface_lib.training.history import History
from fakeface_lib.training.loop import make_optimizer
from fakeface_lib.utils import count_parameters, seed_everything

SPREAD_IMAGES = 256  # training images the residual's scale is measured on
PATCH_FRACTION = 0.3  # a patch's side against the full resolution: 48 px at 160, 96 at 320


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One attempt: an image model (Model 1 at ``image_size``: 128 or "full"), the region patch
    net ("patch"), on the image or on its ``residual`` ("srm"), or ResNet18 ("resnet18")."""

    title: str
    kind: str  # "image", "patch" or "resnet18"
    image_size: int | str | None = None
    residual: str | None = None
    recipe: TrainConfig = MODEL1_RECIPE


ATTEMPTS = {
    "model1_128": Attempt("Model 1 at 128 px (reference)", "image", 128),
    "model1_full": Attempt("Model 1 at full resolution", "image", "full"),
    "model1_residual": Attempt("Model 1 at full resolution on the SRM noise residual", "image",
                               "full", residual="srm"),
    "patches": Attempt("Region patch net, image score pooled on validation", "patch"),
    "patches_residual": Attempt("Region patch net on the SRM noise residual", "patch",
                                residual="srm"),
}

# Not among ATTEMPTS (the benchmark's runs): ImageNet's weights cannot be reached everywhere, so
# notebook 06 runs it only when asked. Fine-tuned as in notebook 04: the new head at the recipe's
# lr, the backbone 10x slower, mild augmentation, ImageNet's normalisation.
IMAGENET_ATTEMPT = Attempt("ResNet18 fine-tuned from ImageNet at full resolution", "resnet18",
                           "full", recipe=TrainConfig(num_epochs=10, lr=1e-3, optimizer="adam",
                                                      batch_size=32, amp=True))
BACKBONE_LR_FACTOR = 0.1


def attempt(name: str | Attempt) -> Attempt:
    """``ATTEMPTS[name]`` (an Attempt passes through), with an error that lists the names."""
    if isinstance(name, Attempt):
        return name
    if name not in ATTEMPTS:
        raise ValueError(f"Unknown attempt {name!r}; choose from {list(ATTEMPTS)}.")
    return ATTEMPTS[name]


def attempt_name(spec: Attempt) -> str:
    """The name an attempt is saved under: its key in ATTEMPTS, "resnet18_imagenet", or its kind."""
    known = {**ATTEMPTS, "resnet18_imagenet": IMAGENET_ATTEMPT}
    return next((name for name, other in known.items() if other == spec), spec.kind)


def full_resolution(frame: pd.DataFrame, max_size: int | None = None) -> int:
    """The side of the data's widest image (the index's "width" column), at most ``max_size``."""
    if "width" not in frame.columns or frame.empty:
        raise ValueError("full_resolution needs the index's 'width' column (index_dataset gives it).")
    side = int(frame["width"].max())
    return min(side, max_size) if max_size else side


def patch_side(full_size: int) -> int:
    """The default patch side for images of ``full_size`` px (PATCH_FRACTION of it, at least 16)."""
    return max(16, round(PATCH_FRACTION * full_size))


def model_size(spec: Attempt, full_size: int) -> int | None:
    """The side an image attempt's model takes (None for patch attempts)."""
    if spec.kind == "patch":
        return None
    return full_size if spec.image_size == "full" else spec.image_size


def _training_inputs(loaders: dict, kind: str) -> torch.Tensor:
    """Up to SPREAD_IMAGES normalised training images (or their patches), fakes and reals."""
    dataset = loaders["train"].dataset
    images = dataset.images[::max(1, len(dataset.images) // SPREAD_IMAGES)]
    if kind == "patch":
        images = images.flatten(0, 1)
    return dataset.preprocessing.transform()(images)


def build_attempt(spec: Attempt, split_df: pd.DataFrame, *, seed: int, full_size: int,
                  patch_size: int | None = None, batch_size: int = 32, num_workers: int = 0,
                  progress: bool | None = False, weights: str | None = None,
                  ) -> tuple[dict, nn.Module, float | None]:
    """(loaders, model, residual scale) of one attempt; the scale (None without a residual)
    gives the residual unit spread on training images only. ``weights``: ResNet18's
    (``resnet18_weights_or_none`` gives what can be had)."""
    if spec.kind == "resnet18":
        size = model_size(spec, full_size)
        loaders = make_loaders(split_df, batch_size=batch_size, image_size=size, augment="mild",
                               mean=IMAGENET_MEAN, std=IMAGENET_STD, num_workers=num_workers,
                               seed=seed, progress=progress)
        return loaders, build_resnet18(weights=weights, progress=bool(progress)), None
    if spec.kind == "image":
        size = model_size(spec, full_size)
        loaders = make_loaders(split_df, batch_size=batch_size, image_size=size,
                               num_workers=num_workers, seed=seed, progress=progress)
        model = Model1(image_size=size)
    else:
        loaders = make_patch_loaders(split_df, batch_size=batch_size,
                                     patch_size=patch_size or patch_side(full_size), seed=seed,
                                     num_workers=num_workers, progress=progress)
        model = PatchNet()
    scale = None
    if spec.residual:
        scale = round(1 / residual_spread(_training_inputs(loaders, spec.kind), spec.residual), 3)
        model = ResidualInput(model, spec.residual, scale=scale)
    return loaders, model, scale


def predict_attempt(model: nn.Module, loaders: dict, split: str, kind: str,
                    device: torch.device | str | None = None, pooling: tuple | None = None):
    """(plain, flip-TTA) predictions frames of one split, and for patches the (pooling,
    threshold, candidates) chosen on this split, unless ``pooling`` gives the first two (pass
    validation's when predicting test)."""
    if kind != "patch":
        return (predict(model, loaders[split], device),
                predict(model, loaders[split], device, tta=True), None)
    dataset = loaders[split].dataset
    probs = patch_probs(model, dataset, device)
    tta = patch_probs(model, dataset, device, tta=True)
    pooling = pooling or choose_pooling(probs, dataset.frame, thresholds=thresholds_from_half())
    return (image_predictions(probs, dataset.frame, *pooling[:2]),
            image_predictions(tta, dataset.frame, *pooling[:2]), pooling)


@dataclasses.dataclass
class AttemptRun:
    """One trained attempt: its model (best epoch's weights; None when reloaded from its saved
    results), history, predictions and choices."""

    name: str
    spec: Attempt
    model: nn.Module | None
    history: Any  # training.History
    val: pd.DataFrame
    val_tta: pd.DataFrame
    test: pd.DataFrame
    test_tta: pd.DataFrame
    pooling: tuple | None  # (pooling, threshold, candidates) for patch attempts
    residual_scale: float | None
    resumed: bool
    params: int = 0


def run_attempt(name: str | Attempt, split_df: pd.DataFrame, cfg: TrainConfig, *,
                full_size: int, patch_size: int | None = None,
                device: torch.device | str | None = None, checkpoint_dir=None,
                progress: bool = True, num_workers: int = 0, weights: str | None = None,
                results_dir=None) -> AttemptRun:
    """Build, train, then predict validation, where the choices are made, and test once.

    ``cfg`` gives the epochs, seed, batch size and AMP. ``checkpoint_dir``: a checkpoint every
    epoch there, resumed when rerun (the benchmark's long runs). ``results_dir``: a finished
    attempt's predictions are saved there (a few kB), and a rerun with the same attempt,
    recipe, sizes and images loads them instead of training again.
    """
    spec = attempt(name)
    label = name if isinstance(name, str) else attempt_name(spec)
    key = attempt_key(spec, split_df, cfg, full_size, patch_size)
    if results_dir is not None:
        saved = load_attempt(label, spec, results_dir, key)
        if saved is not None:
            if progress:
                print(f"{label}: finished before with these settings; its results loaded from "
                      f"{Path(results_dir)}")
            return saved
    seed_everything(cfg.seed)  # the same initial weights for a seed, here and in the benchmark
    loaders, model, scale = build_attempt(spec, split_df, seed=cfg.seed, full_size=full_size,
                                          patch_size=patch_size, batch_size=cfg.batch_size,
                                          num_workers=num_workers, progress=progress,
                                          weights=weights)
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    optimizer = None
    if spec.kind == "resnet18":
        optimizer = make_optimizer(resnet18_param_groups(
            model, head_lr=cfg.lr, backbone_lr=cfg.lr * BACKBONE_LR_FACTOR), cfg)
    before = set(checkpoint_dir.glob(f"*/{CHECKPOINT_NAME}")) if checkpoint_dir else set()
    history = fit(model, loaders, cfg, device=device, progress=progress, optimizer=optimizer,
                  checkpoints=CheckpointPlan(checkpoint_dir, resume=True) if checkpoint_dir else None)
    resumed = bool(checkpoint_dir) and run_folder(checkpoint_dir, history.identity) / CHECKPOINT_NAME in before
    val, val_tta, pooling = predict_attempt(model, loaders, "val", spec.kind, device)
    test, test_tta, _ = predict_attempt(model, loaders, "test", spec.kind, device, pooling)
    run = AttemptRun(label, spec, model, history, val, val_tta, test, test_tta, pooling, scale,
                     resumed, count_parameters(model))
    if results_dir is not None:
        save_attempt(run, results_dir, key)
    return run


FRAMES = ("val", "val_tta", "test", "test_tta")


def attempt_key(spec: Attempt, split_df: pd.DataFrame, cfg: TrainConfig, full_size: int,
                patch_size: int | None) -> dict:
    """What a saved attempt must match to be reused: the attempt, the recipe, the sizes, and the
    images of every split (a digest of their file names)."""
    images = "\n".join(sorted(f"{s}:{f}" for s, f in zip(split_df["split"], split_df["filename"])))
    key = {"attempt": {**dataclasses.asdict(spec), "recipe": spec.recipe.to_dict()},
           "cfg": cfg.to_dict(), "full_size": full_size,
           "patch_size": (patch_size or patch_side(full_size)) if spec.kind == "patch" else None,
           "images": hashlib.sha256(images.encode()).hexdigest()[:16]}
    return json.loads(json.dumps(key))  # as it reads back from the file


def save_attempt(run: AttemptRun, folder, key: dict) -> Path:
    """The attempt's four predictions frames (CSV) and its record (JSON, written last, so a
    record on disk always has its frames)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for frame in FRAMES:
        getattr(run, frame).to_csv(folder / f"{run.name}_{frame}.csv", index=False)
    pooling = run.pooling and [run.pooling[0], run.pooling[1],
                               {k: list(v) for k, v in run.pooling[2].items()}]
    record = {"key": key, "name": run.name, "history": list(run.history),
              "best_epoch": run.history.best_epoch, "stopped_early": run.history.stopped_early,
              "pooling": pooling, "residual_scale": run.residual_scale, "params": run.params}
    path = folder / f"{run.name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, default=float), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_attempt(name: str, spec: Attempt, folder, key: dict) -> AttemptRun | None:
    """The attempt saved in ``folder`` by save_attempt, or None (none saved, or other settings)."""
    path = Path(folder) / f"{name}.json"
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    if record.get("key") != key or not all((path.parent / f"{name}_{f}.csv").is_file() for f in FRAMES):
        return None
    history = History(record["history"], best_epoch=record["best_epoch"],
                      stopped_early=record["stopped_early"])
    frames = {f: pd.read_csv(path.parent / f"{name}_{f}.csv") for f in FRAMES}
    pooling = record["pooling"] and (record["pooling"][0], record["pooling"][1],
                                     {k: tuple(v) for k, v in record["pooling"][2].items()})
    return AttemptRun(name, spec, None, history, frames["val"], frames["val_tta"], frames["test"],
                      frames["test_tta"], pooling, record["residual_scale"], True, record["params"])
