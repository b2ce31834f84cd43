"""Where does the network look? Grad-CAM maps, their overlap with the edited regions,
and the classification of one image (a path or a PIL image, preprocessed as in training) with
its map. The region boxes themselves live in ``fakeface_lib.data.regions``.

Grad-CAM comes from the maintained ``grad-cam`` package (pytorch_grad_cam).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from fakeface_lib.config import CLASS_NAMES
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
