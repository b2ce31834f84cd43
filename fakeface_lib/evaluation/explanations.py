"""Where does the network look? Grad-CAM maps, their overlap with the edited regions against
fair baselines (the same face's unedited regions, the same boxes on real faces), and the
classification of one image (a path or a PIL image, preprocessed as in training) with its map.
The region boxes themselves live in ``fakeface_lib.data.regions``.

Grad-CAM comes from the maintained ``grad-cam`` package (pytorch_grad_cam).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch import nn

from fakeface_lib.config import CLASS_NAMES, REGIONS
from fakeface_lib.data.preprocessing import (
    ImageReadError,
    Preprocessing,
    as_preprocessing,
)
from fakeface_lib.evaluation.predictions import FAKE


def default_cam_layer(model: nn.Module) -> nn.Module:
    """The layer Grad-CAM reads: ``model.cam_layer`` if defined, else the last Conv2d."""
    layer = getattr(model, "cam_layer", None)
    if layer is not None:
        return layer
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer for Grad-CAM; pass target_layer=")
    return convs[-1]


def gradcam_maps(model: nn.Module, images: torch.Tensor, *, target_class: int = FAKE,  # "what makes this look edited?"
                 target_layer: nn.Module | None = None) -> np.ndarray:
    """Grad-CAM heat maps in [0, 1] for a batch: images (N, 3, H, W) -> maps (N, H, W)."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    if images.ndim != 4:
        raise ValueError(f"images must be a batch (N, 3, H, W), got shape {tuple(images.shape)}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    layer = target_layer or default_cam_layer(model)
    try:
        with GradCAM(model=model, target_layers=[layer]) as cam:
            targets = [ClassifierOutputTarget(target_class)] * len(images)
            return cam(input_tensor=images.to(device), targets=targets)
    finally:
        model.train(was_training)


def box_mask(boxes: list[tuple[int, int, int, int]], size: tuple[int, int]) -> np.ndarray:
    """Boolean (H, W) mask covering the given (x0, y0, x1, y1) boxes."""
    mask = np.zeros(size, dtype=bool)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1, x0:x1] = True
    return mask


def attention_on_regions(cam: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> dict[str, float]:
    """How much of one map falls on the edited regions, against what chance would give.

    ``mass``: share of the map's total inside the boxes; ``area``: share of the frame the
    boxes cover (the mass a uniform map would put there); ``peak_inside``: 1.0 when the
    hottest pixel lies in a box.
    """
    mask = box_mask(boxes, cam.shape)
    total = float(cam.sum())
    mass = float(cam[mask].sum()) / total if total > 0 else float("nan")
    peak = np.unravel_index(int(np.argmax(cam)), cam.shape)
    return {"mass": mass, "area": float(mask.mean()), "peak_inside": float(mask[peak])}


def region_shares(cams: np.ndarray, boxes: dict[str, tuple[int, int, int, int]]) -> pd.DataFrame:
    """Share of each map's total inside each region's box: maps (N, H, W) -> (N, regions).

    NaN for a map with no evidence at all (all zero). Boxes may overlap (the nose's reaches
    the eyes' and the mouth's): a pixel in two boxes counts in both.
    """
    cams = np.asarray(cams, dtype=float)
    totals = cams.sum(axis=(1, 2))
    inside = {name: cams[:, y0:y1, x0:x1].sum(axis=(1, 2)) for name, (x0, y0, x1, y1) in boxes.items()}
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({name: np.where(totals > 0, mass / totals, np.nan)
                             for name, mass in inside.items()})


def _lifts(shares: np.ndarray, edited: np.ndarray, real: np.ndarray) -> np.ndarray:
    """[edited share, real share of those boxes, unedited share, real share of those boxes,
    lift_edited, lift_unedited, edited_vs_unedited] of (face, region) pairs."""
    expected = np.broadcast_to(np.nanmean(real, axis=0), shares.shape)  # each box on real faces
    means = [a[m].mean() if m.any() else np.nan
             for a, m in ((shares, edited), (expected, edited), (shares, ~edited), (expected, ~edited))]
    lift_e, lift_u = means[0] / means[1], means[2] / means[3]
    return np.array([*means, lift_e, lift_u, lift_e / lift_u])


LIFTS = ("edited", "real_edited", "unedited", "real_unedited", "lift_edited", "lift_unedited",
         "edited_vs_unedited")


def attention_baselines(fake_shares: pd.DataFrame, edited: pd.DataFrame, real_shares: pd.DataFrame,
                        *, n_boot: int = 1000, seed: int = 0, min_faces: int = 5) -> dict[str, float]:
    """The edited regions' share of the map against two fair baselines, with 95 % intervals.

    fake_shares: region_shares of edited fakes; edited: same rows and columns, True where the
    file name says that region was edited; real_shares: region_shares of real faces. Shares are
    means over (face, region) pairs. ``lift_edited``: the edited boxes' share over the share
    real faces' maps put in the same boxes (1: as on faces where nothing was edited);
    ``lift_unedited``: the same for the unedited boxes of the same fakes; ``edited_vs_unedited``:
    their ratio, which no box wins by its place on the face. ``<lift>_low``/``_high``: percentile
    bootstrap over fakes and real faces (``n_boot`` draws; a draw whose boxes got no evidence on
    real faces has no lift and is skipped), NaN with fewer than ``min_faces`` of either. Maps with no evidence are left out (counted in
    ``no_evidence`` and ``real_no_evidence``); with nothing left to measure, every figure is NaN.
    """
    keep = fake_shares.notna().all(axis=1)
    shares = fake_shares[keep].to_numpy(float)
    mask = edited[keep].reindex(columns=fake_shares.columns).fillna(False).to_numpy(bool)
    real = real_shares.dropna().to_numpy(float)
    out = {"fakes": int(len(shares)), "real_faces": int(len(real)), "no_evidence": int((~keep).sum()),
           "real_no_evidence": int(real_shares.isna().any(axis=1).sum())}
    if not len(real) or not mask.any():  # nothing to measure: every figure NaN, the counts say why
        return out | {name: float("nan") for name in (*LIFTS, *(f"{n}_{e}" for n in LIFTS[4:]
                                                                for e in ("low", "high")))}
    rng = np.random.default_rng(seed)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a draw without unedited pairs: NaN
        draws = np.array([_lifts(shares[f], mask[f], real[r]) for f, r in (
            (rng.integers(0, len(shares), len(shares)), rng.integers(0, len(real), len(real)))
            for _ in range(n_boot))])
        draws[~np.isfinite(draws)] = np.nan  # a draw whose boxes got nothing on real faces
        if min(len(shares), len(real)) < min_faces:  # a bootstrap of a face or two says nothing
            draws[:] = np.nan
        low, high = np.nanpercentile(draws, [2.5, 97.5], axis=0)
        out |= dict(zip(LIFTS, map(float, _lifts(shares, mask, real))))
    for i, name in enumerate(LIFTS[4:], start=4):
        out |= {f"{name}_low": float(low[i]), f"{name}_high": float(high[i])}
    return out


def lift_reading(result: dict[str, float], name: str = "edited_vs_unedited") -> str:
    """One lift of attention_baselines in words: its value, 95 % interval and where 1 falls."""
    value, low, high = result[name], result[f"{name}_low"], result[f"{name}_high"]
    if value != value or not np.isfinite(value):
        return "not measurable (too few maps held evidence in these boxes)"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{value:.2f}x (no interval: too few faces, or too few maps with evidence in these boxes)"
    side = "above 1" if low > 1 else "below 1" if high < 1 else "not distinguishable from 1"
    return f"{value:.2f}x (95% interval {low:.2f} to {high:.2f}: {side})"


def map_similarity(cams_a: np.ndarray, cams_b: np.ndarray) -> float:
    """Mean Spearman rank correlation between paired maps (N, H, W): Adebayo et al.'s (2018)
    check of a map against the map of a randomly initialised network (near 1: the map shows
    the image and the architecture, not what training learnt). Maps with no evidence skipped."""
    from scipy.stats import spearmanr

    pairs = [(a.ravel(), b.ravel()) for a, b in zip(cams_a, cams_b) if a.any() and b.any()]
    return float(np.mean([spearmanr(a, b)[0] for a, b in pairs])) if pairs else float("nan")


def edited_regions(frame: pd.DataFrame) -> pd.DataFrame:
    """One bool column per region: True where a fake's file name says it was edited."""
    return frame[list(REGIONS)].astype("boolean").fillna(False).astype(bool)


def _pixels(image: str | os.PathLike | Image.Image, preprocessing: Preprocessing) -> torch.Tensor:
    """``preprocessing.load(image)``, with errors that name a bad path or a file that is no image."""
    if isinstance(image, Image.Image):
        return preprocessing.load(image)
    path = Path(image)
    if not path.is_file():
        raise FileNotFoundError(f"no image at {path}: check the path (upload it to Colab first)")
    try:
        return preprocessing.load(path)
    except ImageReadError as err:
        raise ValueError(f"{path} is not a readable image ({err.__cause__}); try a JPEG or "
                         "PNG") from None


def predict_image(model: nn.Module, image: str | os.PathLike | Image.Image, *,
                  preprocessing: Preprocessing | None = None, image_size: int | None = None,
                  mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None,
                  with_cam: bool = True, crop: tuple[float, ...] | str | None = None) -> dict:
    """Classify one face: probabilities, predicted class name, the pixels seen, its Grad-CAM map.

    ``preprocessing`` is the one the model was trained with (``loaders["train"].dataset.
    preprocessing``, or ``Preprocessing.from_dict`` of a saved run); without it one is built
    from ``image_size``, ``crop``, ``mean`` and ``std`` (defaults: ``Preprocessing()``). A path
    goes through exactly the cache's decoding (JPEG draft mode, crop, resize), so the network
    sees the pixels training gave it. A PIL image, already decoded at full size, is cropped
    and resized alike without draft mode (see ``Preprocessing.load``); pass the file's path
    when the exact training pixels matter. "image" is the uint8 (S, S, 3) input.
    """
    preprocessing = as_preprocessing(preprocessing, image_size=image_size, crop=crop,
                                     mean=mean, std=std)
    pixels = _pixels(image, preprocessing)
    x = preprocessing.transform()(pixels).unsqueeze(0)
    model.eval()
    device = next(model.parameters()).device
    with torch.inference_mode():
        probs = torch.softmax(model(x.to(device)), dim=1)[0].cpu()
    result = {"prob_fake": float(probs[0]), "prob_real": float(probs[1]),
              "pred": CLASS_NAMES[int(probs.argmax())], "image": pixels.permute(1, 2, 0).numpy()}
    if with_cam:
        result["cam"] = gradcam_maps(model, x)[0]
    return result
