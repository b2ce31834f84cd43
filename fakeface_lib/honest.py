"""How far honest detection goes: attempts aimed at the forgery rather than the face, each built,
trained and predicted the same way in notebook 06 and in ``benchmarks/bench_honest_detection.py``.

Every model of the report shrinks the face to 128 px, where an edited eye is a few pixels. The
attempts (``ATTEMPTS``) keep more of the edit: Model 1 at the data's full resolution, fed the
image or its fixed SRM noise residual (:mod:`fakeface_lib.forensics`), and a patch network on
the four regions a fake's code names, cut at full resolution (:mod:`fakeface_lib.patches`).
An attempt's validation predictions make its choices (the epoch; for patches, the pooling and
the score it takes to call an image fake); its test predictions are made once, with them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from fakeface_lib.checkpoints import CHECKPOINT_NAME, run_folder
from fakeface_lib.config import MODEL1_RECIPE, TrainConfig
from fakeface_lib.evaluation import predict
from fakeface_lib.forensics import ResidualInput, residual_spread
from fakeface_lib.loaders import make_loaders
from fakeface_lib.models import Model1
from fakeface_lib.patches import (PatchNet, choose_pooling, image_predictions,
                                  make_patch_loaders, patch_probs, thresholds_from_half)
from fakeface_lib.training import fit
from fakeface_lib.utils import seed_everything

SPREAD_IMAGES = 256  # training images the residual's scale is measured on
PATCH_FRACTION = 0.3  # a patch's side against the full resolution: 48 px at 160, 96 at 320


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One attempt: an image model (Model 1 at ``image_size``: 128 or "full") or the region
    patch net ("patch"), on the image or on its ``residual`` ("srm")."""

    title: str
    kind: str  # "image" or "patch"
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


def attempt(name: str) -> Attempt:
    """``ATTEMPTS[name]``, with an error that lists the names."""
    if name not in ATTEMPTS:
        raise ValueError(f"Unknown attempt {name!r}; choose from {list(ATTEMPTS)}.")
    return ATTEMPTS[name]


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
    if spec.kind != "image":
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
                  progress: bool | None = False) -> tuple[dict, nn.Module, float | None]:
    """(loaders, model, residual scale) of one attempt; the scale (None without a residual)
    gives the residual unit spread on training images only."""
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
    if kind == "image":
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
    """One trained attempt: its model (best epoch's weights), history, predictions and choices."""

    name: str
    spec: Attempt
    model: nn.Module
    history: Any  # training.History
    val: pd.DataFrame
    val_tta: pd.DataFrame
    test: pd.DataFrame
    test_tta: pd.DataFrame
    pooling: tuple | None  # (pooling, threshold, candidates) for patch attempts
    residual_scale: float | None
    resumed: bool


def run_attempt(name: str, split_df: pd.DataFrame, cfg: TrainConfig, *, full_size: int,
                patch_size: int | None = None, device: torch.device | str | None = None,
                checkpoint_dir=None, progress: bool = True, num_workers: int = 0,
                fit_progress: bool | None = None) -> AttemptRun:
    """Build, train (fit(), resumable under ``checkpoint_dir``), then predict validation, where
    the choices are made, and test once. ``cfg`` gives the epochs, seed, batch size and AMP."""
    spec = attempt(name)
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    seed_everything(cfg.seed)  # the same initial weights for a seed, here and in the benchmark
    loaders, model, scale = build_attempt(spec, split_df, seed=cfg.seed, full_size=full_size,
                                          patch_size=patch_size, batch_size=cfg.batch_size,
                                          num_workers=num_workers, progress=progress)
    before = set(checkpoint_dir.glob(f"*/{CHECKPOINT_NAME}")) if checkpoint_dir else set()
    history = fit(model, loaders, cfg, device=device,
                  progress=progress if fit_progress is None else fit_progress,
                  checkpoint_dir=checkpoint_dir, resume=checkpoint_dir is not None)
    resumed = bool(checkpoint_dir) and run_folder(checkpoint_dir, history.identity) / CHECKPOINT_NAME in before
    val, val_tta, pooling = predict_attempt(model, loaders, "val", spec.kind, device)
    test, test_tta, _ = predict_attempt(model, loaders, "test", spec.kind, device, pooling)
    return AttemptRun(name, spec, model, history, val, val_tta, test, test_tta, pooling, scale,
                      resumed)
