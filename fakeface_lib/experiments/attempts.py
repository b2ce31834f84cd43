"""How far honest detection goes: attempts aimed at the forgery rather than the face, each built,
trained and predicted the same way in notebook 06 and in ``benchmarks/bench_honest_detection.py``.

Every model of the report shrinks the face to 128 px, where an edited eye is a few pixels. The
attempts (``ATTEMPTS``) read the file's own pixels instead, never resampled: Model 1 on a window
around the face (the whole image when the files are that small), fed the image or its fixed SRM
noise residual (:mod:`fakeface_lib.models.forensics`), and a patch network on windows around the
four regions a fake's code names (:mod:`fakeface_lib.experiments.patches`). An attempt's
validation predictions make its choices (the epoch; for patches, the pooling and the score it
takes to call an image fake); its test predictions are made once, with them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from fakeface_lib.config import MODEL1_RECIPE, TrainConfig
from fakeface_lib.data.loaders import make_loaders
from fakeface_lib.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from fakeface_lib.evaluation.predictions import predict
from fakeface_lib.experiments.attempt_files import AttemptRun, attempt_key, load_attempt, save_attempt
from fakeface_lib.experiments.patches import (
    FACE,
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
from fakeface_lib.training.loop import make_optimizer
from fakeface_lib.utils import count_parameters, seed_everything

SPREAD_IMAGES = 256  # training images the residual's scale is measured on
PATCH_FRACTION = 0.3  # a patch's side against the images' own side: 48 px at 160, 180 at 600


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One attempt: an image model (Model 1 at ``image_size`` 128, resized as in the series, or
    on a "native" window of the file's pixels), the region patch net ("patch"), on the image or
    on its ``residual`` ("srm"), or ResNet18 on a native window ("resnet18")."""

    title: str
    kind: str  # "image", "patch" or "resnet18"
    image_size: int | str | None = None
    residual: str | None = None
    recipe: TrainConfig = MODEL1_RECIPE


ATTEMPTS = {
    "model1_128": Attempt("Model 1 at 128 px (reference)", "image", 128),
    "model1_native": Attempt("Model 1 on the files' own pixels", "image", "native"),
    "model1_residual": Attempt("Model 1 on the SRM noise residual of the files' own pixels",
                               "image", "native", residual="srm"),
    "patches": Attempt("Region patch net, image score pooled on validation", "patch"),
    "patches_residual": Attempt("Region patch net on the SRM noise residual", "patch",
                                residual="srm"),
}

# Not among ATTEMPTS (the benchmark's runs): ImageNet's weights cannot be reached everywhere, so
# notebook 06 runs it only when asked. Fine-tuned as in notebook 04 (the new head at the recipe's
# lr, the backbone 10x slower, ImageNet's normalisation), on a native window: flips are its only
# augmentation, as they resample no pixel.
IMAGENET_ATTEMPT = Attempt("ResNet18 fine-tuned from ImageNet on the files' own pixels",
                           "resnet18", "native",
                           recipe=TrainConfig(num_epochs=10, lr=1e-3, optimizer="adam",
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


def native_side(frame: pd.DataFrame) -> int:
    """The smallest side of the images (the index's "width" and "height"): the largest square
    window every file holds at its own resolution."""
    if not {"width", "height"} <= set(frame.columns) or frame.empty:
        raise ValueError("native_side needs the index's 'width' and 'height' columns "
                         "(index_dataset gives them).")
    return int(min(frame["width"].min(), frame["height"].min()))


def window_side(frame: pd.DataFrame, max_size: int | None = None) -> int:
    """The side of the window Model 1 reads: ``native_side``, at most ``max_size``."""
    side = native_side(frame)
    return min(side, max_size) if max_size else side


def patch_side(native: int) -> int:
    """The default patch side for images of ``native`` px (PATCH_FRACTION of it, at least 16)."""
    return max(16, round(PATCH_FRACTION * native))


def model_size(spec: Attempt, window: int) -> int | None:
    """The side an image attempt's model takes (None for patch attempts)."""
    if spec.kind == "patch":
        return None
    return window if spec.image_size == "native" else spec.image_size


def attempt_title(spec: Attempt, window: int, native: int, patch_size: int | None = None) -> str:
    """The attempt's title with its sizes in pixels of the files: what was resized, what not."""
    residual = " on the SRM noise residual" if spec.residual else ""
    if spec.kind == "patch":
        side = patch_size or patch_side(native)
        return f"Region patch net{residual}, {side} px windows of the {native} px files"
    if spec.image_size != "native":
        resized = f", the {native} px files resized" if native != spec.image_size else ""
        return f"{spec.title}{resized}"
    where = (f"the whole {native} px image" if window >= native
             else f"a {window} px window of the {native} px files")
    model = "ResNet18 fine-tuned from ImageNet" if spec.kind == "resnet18" else "Model 1"
    return f"{model}{residual}, {where}, no resampling"


def _training_inputs(loaders: dict) -> torch.Tensor:
    """Up to SPREAD_IMAGES normalised training images (or their patches), fakes and reals."""
    dataset = loaders["train"].dataset
    images = dataset.images[::max(1, len(dataset.images) // SPREAD_IMAGES)]
    if images.dim() == 5:  # windows: (N, R, 3, P, P)
        images = images.flatten(0, 1)
    return dataset.preprocessing.transform()(images)


def residual_scale(loaders: dict, residual: str = "srm") -> float:
    """1 / the spread of the residual on training images (rounded): ``ResidualInput``'s scale
    that gives the residual unit spread, measured on the training split only."""
    return round(1 / residual_spread(_training_inputs(loaders), residual), 3)


def _attempt_loaders(spec: Attempt, split_df: pd.DataFrame, window: int | None,
                     patch_size: int | None, **options) -> dict:
    """The loaders of one attempt: the series' resized images for the reference, else windows
    of the files' own pixels (``options``: batch_size, seed, num_workers, progress)."""
    native = native_side(split_df)
    if spec.kind == "patch":
        return make_patch_loaders(split_df, patch_size=patch_size or patch_side(native), **options)
    if spec.image_size != "native":  # the reference: resized, as every model of the series
        return make_loaders(split_df, image_size=spec.image_size, **options)
    if spec.kind == "resnet18":
        return make_patch_loaders(split_df, patch_size=window or native, regions=[FACE],
                                  augment="flip", mean=IMAGENET_MEAN, std=IMAGENET_STD, **options)
    return make_patch_loaders(split_df, patch_size=window or native, regions=[FACE], **options)


def build_attempt(spec: Attempt, split_df: pd.DataFrame, *, seed: int, window: int | None = None,
                  patch_size: int | None = None, batch_size: int = 32, num_workers: int = 0,
                  progress: bool | None = False, weights: str | None = None,
                  ) -> tuple[dict, nn.Module, float | None]:
    """(loaders, model, residual scale) of one attempt; the scale (None without a residual)
    gives the residual unit spread on training images only. ``window``: the side of the native
    window the image models read (default ``native_side``); ``patch_size``: the patches'
    (default ``patch_side(native_side)``). ``weights``: ResNet18's."""
    loaders = _attempt_loaders(spec, split_df, window, patch_size, batch_size=batch_size,
                               seed=seed, num_workers=num_workers, progress=progress)
    if spec.kind == "resnet18":
        return loaders, build_resnet18(weights=weights, progress=bool(progress)), None
    side = model_size(spec, window or native_side(split_df))
    model = PatchNet() if spec.kind == "patch" else Model1(image_size=side)
    scale = None
    if spec.residual:
        scale = residual_scale(loaders, spec.residual)
        model = ResidualInput(model, spec.residual, scale=scale)
    return loaders, model, scale


def predict_attempt(model: nn.Module, loaders: dict, split: str, pooled: bool,
                    device: torch.device | str | None = None, pooling: tuple | None = None):
    """(plain, flip-TTA) predictions frames of one split, and for pooled patches the (pooling,
    threshold, candidates) chosen on this split, unless ``pooling`` gives the first two (pass
    validation's when predicting test)."""
    if not pooled:
        return (predict(model, loaders[split], device),
                predict(model, loaders[split], device, tta=True), None)
    dataset = loaders[split].dataset
    probs = patch_probs(model, dataset, device)
    tta = patch_probs(model, dataset, device, tta=True)
    pooling = pooling or choose_pooling(probs, dataset.frame, thresholds=thresholds_from_half())
    return (image_predictions(probs, dataset.frame, *pooling[:2]),
            image_predictions(tta, dataset.frame, *pooling[:2]), pooling)


def train_attempt(name: str, model: nn.Module, loaders: dict, cfg: TrainConfig, *,
                  pooled: bool = False, title: str | None = None,
                  device: torch.device | str | None = None, optimizer=None,
                  checkpoint_dir=None, results_dir=None, progress: bool = True) -> AttemptRun:
    """Train ``model`` with ``fit``, then predict validation, where the choices are made (the
    epoch; with ``pooled`` patches, the pooling and threshold), and test once, with them.

    ``checkpoint_dir``: a checkpoint every epoch there, resumed when rerun. ``results_dir``: the
    finished attempt's predictions are saved there (a few kB), and a rerun of the same model,
    initial weights, images, preprocessing and recipe loads them instead of training again.
    """
    key = attempt_key(model, loaders, cfg, pooled)
    title = title or name
    if results_dir is not None:
        saved = load_attempt(name, title, results_dir, key)
        if saved is not None:
            if progress:
                print(f"{name}: finished before with these settings; its results loaded from "
                      f"{Path(results_dir)}")
            return saved
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    before = set(checkpoint_dir.glob(f"*/{CHECKPOINT_NAME}")) if checkpoint_dir else set()
    history = fit(model, loaders, cfg, device=device, progress=progress, optimizer=optimizer,
                  checkpoints=CheckpointPlan(checkpoint_dir, resume=True) if checkpoint_dir else None)
    resumed = bool(checkpoint_dir) and run_folder(checkpoint_dir, history.identity) / CHECKPOINT_NAME in before
    val, val_tta, pooling = predict_attempt(model, loaders, "val", pooled, device)
    test, test_tta, _ = predict_attempt(model, loaders, "test", pooled, device, pooling)
    scale = getattr(getattr(model, "highpass", None), "scale", None)
    run = AttemptRun(name, title, model, history, val, val_tta, test, test_tta, pooling, scale,
                     resumed, count_parameters(model))
    if results_dir is not None:
        save_attempt(run, results_dir, key)
    return run


def run_attempt(name: str | Attempt, split_df: pd.DataFrame, cfg: TrainConfig, *,
                window: int | None = None, patch_size: int | None = None,
                device: torch.device | str | None = None, checkpoint_dir=None,
                progress: bool = True, num_workers: int = 0, weights: str | None = None,
                results_dir=None) -> AttemptRun:
    """Build an attempt of ``ATTEMPTS`` (``build_attempt``), seeded by ``cfg.seed``, and
    ``train_attempt`` it: ``cfg`` gives the epochs, seed, batch size and AMP."""
    spec = attempt(name)
    label = name if isinstance(name, str) else attempt_name(spec)
    seed_everything(cfg.seed)  # the same initial weights for a seed, here and in the benchmark
    loaders, model, _ = build_attempt(spec, split_df, seed=cfg.seed, window=window,
                                      patch_size=patch_size, batch_size=cfg.batch_size,
                                      num_workers=num_workers, progress=progress, weights=weights)
    optimizer = None
    if spec.kind == "resnet18":
        optimizer = make_optimizer(resnet18_param_groups(
            model, head_lr=cfg.lr, backbone_lr=cfg.lr * BACKBONE_LR_FACTOR), cfg)
    native = native_side(split_df)
    title = attempt_title(spec, window or native, native, patch_size)
    return train_attempt(label, model, loaders, cfg, pooled=spec.kind == "patch", title=title,
                         device=device, optimizer=optimizer, checkpoint_dir=checkpoint_dir,
                         results_dir=results_dir, progress=progress)
