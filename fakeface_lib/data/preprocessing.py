"""How an image file becomes a network input (decode, crop, resize, normalise), and
``Preprocessing``: those settings as one object, saved with a run and used again to classify.

The loaders' cache and ``explain.predict_image`` both decode through ``read_image_array``, so a
model sees at prediction time the pixels it was trained on.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2

from fakeface_lib.data.regions import FACE_CROP
from fakeface_lib.data.transforms import REPORT_MEAN, REPORT_STD, check_stats, eval_transform

MIN_IMAGE_SIZE = 8
Crop = tuple[float, float, float, float]


class ImageReadError(OSError):
    """An indexed image can no longer be read (deleted, truncated, replaced)."""


def check_int(name: str, value: object, minimum: int) -> int:
    """``value`` as an int, or a ValueError naming it unless it is an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}.")
    return int(value)


def check_crop(crop: Crop | str | None) -> Crop | None:
    """None, "face" (``FACE_CROP``) or a box (x0, y0, x1, y1) of fractions with 0 <= x0 < x1 <= 1
    and 0 <= y0 < y1 <= 1; returns the box (or None) or raises a ValueError naming the value."""
    if crop is None:
        return None
    if isinstance(crop, str):
        if crop != "face":
            raise ValueError(f"Unknown crop {crop!r}; use None, 'face' or a box (x0, y0, x1, y1) "
                             "of fractions of the image.")
        return FACE_CROP
    try:
        x0, y0, x1, y1 = (float(v) for v in crop)
    except (TypeError, ValueError):
        raise ValueError(f"crop must be None, 'face' or four fractions (x0, y0, x1, y1), "
                         f"got {crop!r}.") from None
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        raise ValueError(f"crop {crop!r} is not a box inside the image: it needs "
                         "0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, e.g. FACE_CROP = "
                         f"{FACE_CROP}.")
    return x0, y0, x1, y1


def image_to_array(image: Image.Image, image_size: int, crop: Crop | None = None) -> np.ndarray:
    """An RGB PIL image cut to ``crop`` (a checked box of fractions, see ``check_crop``; None:
    whole), resized bilinearly to S x S: uint8 array (3, S, S), as the cache holds it."""
    if crop is not None:
        w, h = image.size
        image = image.crop((round(crop[0] * w), round(crop[1] * h),
                            round(crop[2] * w), round(crop[3] * h)))
    image = image.resize((image_size, image_size), Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(image).transpose(2, 0, 1))


def read_image_array(path: str | os.PathLike, image_size: int,
                     crop: Crop | None = None) -> np.ndarray:
    """Decode an image, convert it to RGB, crop it and resize it: uint8 array (3, S, S).

    JPEGs are decoded in draft mode at the smallest DCT scale still >= S (a 600 px JPEG
    decodes at 150 px for S=128, several times faster); the final resize is bilinear with
    antialiasing, as torchvision's ``Resize`` does on PIL images. Non-square images are
    squashed to S x S (the official images are square). ``crop`` (a box of fractions, see
    ``check_crop``) is cut from the full image before the resize, so it keeps the detail of the
    original pixels. Pure PIL/NumPy: no torch threads.
    """
    x0, y0, x1, y1 = crop or (0.0, 0.0, 1.0, 1.0)
    try:
        with Image.open(path) as img:
            # decode at >= S pixels across the crop (the draft scale is relative to the whole image)
            img.draft("RGB", (int(np.ceil(image_size / (x1 - x0))), int(np.ceil(image_size / (y1 - y0)))))
            return image_to_array(img.convert("RGB"), image_size, crop)
    except Exception as error:
        raise ImageReadError(
            f"Cannot read image {path} ({type(error).__name__}: {error}). It was readable when "
            "the dataset was indexed: it has since been removed or damaged. Restore it, or "
            "re-run index_dataset(root) (which skips unreadable files) and split again.") from error


def load_image(path: str | os.PathLike, image_size: int, crop: Crop | None = None) -> torch.Tensor:
    """``read_image_array`` as a uint8 tensor (3, S, S)."""
    return torch.from_numpy(read_image_array(path, image_size, crop))


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """The preprocessing a model was trained with: decode at ``image_size``, ``crop``, normalise.

    ``crop`` takes None, "face" or a box (see ``check_crop``) and is stored as the checked box,
    ``mean``/``std`` as tuples of floats, so equal settings give equal objects and dicts.
    ``make_loaders(preprocessing=...)`` uses it and its datasets keep it
    (``loaders["train"].dataset.preprocessing``); save ``to_dict()`` with a run, and
    classify with ``Preprocessing.from_dict(saved)``. Augmentation is not part of it: it is
    applied to training batches only.
    """

    image_size: int = 128
    crop: Crop | str | None = None
    mean: tuple[float, float, float] = REPORT_MEAN
    std: tuple[float, float, float] = REPORT_STD

    def __post_init__(self) -> None:
        mean, std = check_stats(self.mean, self.std)
        object.__setattr__(self, "image_size", check_int("image_size", self.image_size,
                                                         MIN_IMAGE_SIZE))
        object.__setattr__(self, "crop", check_crop(self.crop))
        object.__setattr__(self, "mean", tuple(mean))
        object.__setattr__(self, "std", tuple(std))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values: {"image_size": int, "crop": [x0, y0, x1, y1] or None, "mean": [...],
        "std": [...]}, always these keys in this order."""
        return {"image_size": self.image_size,
                "crop": None if self.crop is None else [float(v) for v in self.crop],
                "mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preprocessing:
        """The Preprocessing of a ``to_dict()`` (missing keys take the defaults)."""
        fields = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"Unknown preprocessing key(s) {unknown}; expected {fields}.")
        return cls(**data)

    def load(self, image: str | os.PathLike | Image.Image) -> torch.Tensor:
        """The network's pixels before normalisation: uint8 tensor (3, S, S).

        A path is decoded exactly as the loaders' cache decodes it (``read_image_array``: JPEG
        draft mode, crop, bilinear resize). A PIL image is already decoded at full size, so it
        is converted to RGB, cropped and resized the same way, without draft mode: for a JPEG
        its pixels can differ from its file's by a few grey levels.
        """
        if isinstance(image, Image.Image):
            return torch.from_numpy(image_to_array(image.convert("RGB"), self.image_size,
                                                   self.crop))
        return load_image(image, self.image_size, self.crop)

    def transform(self) -> v2.Compose:
        """The evaluation transform: uint8 (3, S, S) or (N, 3, S, S) -> float, normalised."""
        return eval_transform(self.mean, self.std)

    def tensor(self, image: str | os.PathLike | Image.Image) -> torch.Tensor:
        """``transform()(load(image))``: the float (3, S, S) tensor the network takes."""
        return self.transform()(self.load(image))


def as_preprocessing(preprocessing: Preprocessing | None = None, **settings: Any) -> Preprocessing:
    """``preprocessing``, or one built from separate settings (image_size, crop, mean, std):
    one or the other, never both (a ValueError names the settings given beside it).

    Settings left None are not given.
    """
    given = {name: value for name, value in settings.items() if value is not None}
    if preprocessing is None:
        return Preprocessing(**given)
    if not isinstance(preprocessing, Preprocessing):
        raise TypeError(f"preprocessing must be a Preprocessing (Preprocessing.from_dict(saved) "
                        f"for a saved one), got {type(preprocessing).__name__}.")
    if given:
        raise ValueError(f"{sorted(given)} given beside preprocessing={preprocessing}: pass one or "
                         "the other (dataclasses.replace(preprocessing, ...) for a variant).")
    return preprocessing
