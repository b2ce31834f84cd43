"""FaceDataset (decode and resize every image once into a uint8 RAM cache) and make_loaders,
which turns a split DataFrame into seeded train/val/test DataLoaders.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, default_collate
from tqdm.auto import tqdm

from fakeface_lib.splitting import SPLITS
from fakeface_lib.transforms import (  # noqa: F401  (denormalize re-exported for notebooks)
    PRESETS,
    REPORT_MEAN,
    REPORT_STD,
    denormalize,
    eval_transform,
    get_transform,
)

MIN_IMAGE_SIZE = 8
PROGRESS_MIN_IMAGES = 300
# The square around the four regions a fake's code can name (demo.REGION_BOXES: eyes, nose,
# mouth), with a margin: (x0, y0, x1, y1) as fractions of the width and height. Cropping to it
# drops hair, ears and background and spends the pixels of a small input on the edited parts.
FACE_CROP = (0.14, 0.26, 0.86, 0.98)
Crop = tuple[float, float, float, float]


class ImageReadError(OSError):
    """An indexed image can no longer be read (deleted, truncated, replaced)."""


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


class FaceDataset(Dataset):
    """Images and labels of the rows of an index DataFrame.

    ``frame`` needs "path" and "label" columns; it is kept (index reset) as ``.frame`` so
    predictions can be joined back to filename, difficulty and regions. With ``cache`` every
    image is decoded and resized once, eagerly, in ``__init__`` (with a progress bar from
    300 images on), into one contiguous uint8 tensor ``.images`` (N, 3, S, S): S*S*3 bytes
    per image, and no later epoch touches the disk. Without ``cache`` images are read on
    every access. ``__getitem__`` returns (transform(uint8 image), int label); without a
    ``transform`` the uint8 tensor itself. Set ``batched_transform`` only for a deterministic
    transform that accepts batches (like ``eval_transform``): the loader then applies it to
    whole batches, which is faster. ``crop`` (None, "face" or a box, see ``check_crop``) cuts
    every image to that box before the resize.
    """

    def __init__(self, frame: pd.DataFrame, image_size: int = 128,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 cache: bool = True, *, batched_transform: bool = False,
                 progress: bool | None = None, desc: str = "Caching images",
                 crop: Crop | str | None = None):
        missing = [c for c in ("path", "label") if c not in frame.columns]
        if missing:
            raise KeyError(f"FaceDataset needs column(s) {missing}; build the frame with "
                           "fakeface_lib.data.index_dataset(root).")
        _check_int("image_size", image_size, MIN_IMAGE_SIZE)
        self.frame = frame.reset_index(drop=True)
        self.image_size = image_size
        self.crop = check_crop(crop)
        self.transform = transform
        self.batched_transform = batched_transform
        self.paths = self.frame["path"].astype(str).tolist()
        self.labels = [int(label) for label in self.frame["label"]]
        self.images = self._build_cache(progress, desc) if cache else None

    def _build_cache(self, progress: bool | None, desc: str) -> torch.Tensor:
        size = self.image_size
        # Filled with NumPy, wrapped once: no per-image torch op (and no thread hand-offs).
        images = np.empty((len(self.paths), 3, size, size), dtype=np.uint8)
        show = len(self.paths) >= PROGRESS_MIN_IMAGES if progress is None else progress
        for i, path in enumerate(tqdm(self.paths, desc=desc, unit="img", disable=not show,
                                      leave=False)):
            images[i] = read_image_array(path, size, self.crop)
        return torch.from_numpy(images)

    @property
    def cache_nbytes(self) -> int:
        """Bytes held by the image cache (0 without cache)."""
        return 0 if self.images is None else self.images.numel() * self.images.element_size()

    def __len__(self) -> int:
        return len(self.paths)

    def _image(self, index: int) -> torch.Tensor:
        if self.images is not None:
            return self.images[index]
        return load_image(self.paths[index], self.image_size, self.crop)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self._image(index)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.labels[index]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, int]]:
        """A batch of samples (the DataLoader calls this instead of ``__getitem__``).

        With ``batched_transform`` the transform runs once on the stacked (B, 3, S, S)
        batch: one tensor op per batch instead of one per image.
        """
        if not self.batched_transform or self.transform is None:
            return [self[index] for index in indices]
        if self.images is not None:
            images = self.images[torch.as_tensor(indices, dtype=torch.long)]
        else:
            images = torch.stack([self._image(index) for index in indices])
        labels = [self.labels[i] for i in indices]
        return StackedSamples(self.transform(images), labels)


class StackedSamples(list):
    """(image, label) samples that also keep their stacked batch, so ``collate`` skips a copy.

    It is a plain list of samples (views into the batch), so any collate function works.
    """

    def __init__(self, images: torch.Tensor, labels: list[int]):
        super().__init__(zip(images.unbind(0), labels))
        self.images, self.labels = images, torch.tensor(labels, dtype=torch.int64)


def collate(samples: list) -> tuple[torch.Tensor, torch.Tensor]:
    """``default_collate``, except that an already stacked batch is passed through as it is."""
    if isinstance(samples, StackedSamples):
        return samples.images, samples.labels
    return default_collate(samples)


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}.")


def _check_split_frame(split_df: pd.DataFrame) -> None:
    if not isinstance(split_df, pd.DataFrame):
        raise TypeError(f"make_loaders expects a DataFrame, got {type(split_df).__name__}.")
    if "split" not in split_df.columns:
        raise KeyError("make_loaders needs a 'split' column: pass split_dataset(df) or "
                       "canonical_split(df), not the plain index.")
    values = split_df["split"].astype("string")
    unknown = sorted(set(values.dropna()) - set(SPLITS))
    if unknown or values.isna().any():
        raise ValueError(f"The 'split' column holds {unknown or ['<missing>']}; allowed: {SPLITS}.")
    empty = [name for name in SPLITS if not (values == name).any()]
    if empty:
        raise ValueError(f"No rows in split(s) {empty}; make_loaders needs train, val and test "
                         "rows: use split_dataset(df, fractions=(0.8, 0.1, 0.1)).")


def _train_transform(augment: str | Callable | None, mean: Sequence[float],
                     std: Sequence[float]) -> Callable:
    if augment is None:
        return eval_transform(mean, std)
    if isinstance(augment, str):
        if augment not in PRESETS:
            raise ValueError(f"Unknown augment preset {augment!r}; use None, 'report', 'mild' "
                             "or a transform taking a uint8 (3, S, S) tensor.")
        return get_transform(augment, mean, std)
    if not callable(augment):
        raise TypeError(f"augment must be None, a preset name or a callable, got {augment!r}.")
    return augment


def make_loaders(split_df: pd.DataFrame, batch_size: int = 32, image_size: int = 128,
                 augment: str | Callable | None = None, cache: bool = True, num_workers: int = 0,
                 seed: int = 0, mean: Sequence[float] = REPORT_MEAN,
                 std: Sequence[float] = REPORT_STD, *,
                 progress: bool | None = None,
                 crop: Crop | str | None = None) -> dict[str, DataLoader]:
    """DataLoaders {"train", "val", "test"} of (images (N, 3, S, S) float32, labels (N,) int64).

    ``augment`` (None, "report", "mild" or a transform of uint8 (3, S, S) images that ends
    normalised) applies to the train loader only; val/test use ``eval_transform(mean, std)``
    and keep frame order. Train batches are shuffled with ``torch.Generator().manual_seed(seed)``;
    the random augmentations draw from torch's global RNG (seed it with seed_everything), and
    with ``num_workers > 0`` each worker is seeded from the loader's generator. With ``cache``
    every image is decoded once, eagerly, here (see FaceDataset). ``crop="face"`` cuts every
    image of the three splits to ``FACE_CROP``, the square around the editable regions.
    """
    _check_split_frame(split_df)
    _check_int("batch_size", batch_size, 1)
    _check_int("image_size", image_size, MIN_IMAGE_SIZE)
    _check_int("num_workers", num_workers, 0)
    _check_int("seed", seed, 0)
    crop = check_crop(crop)
    train_transform = _train_transform(augment, mean, std)
    transforms = {"train": train_transform, "val": eval_transform(mean, std),
                  "test": eval_transform(mean, std)}
    loaders = {}
    for name in SPLITS:
        rows = split_df[(split_df["split"] == name).to_numpy(dtype=bool)]
        batched = name != "train" or augment is None  # eval_transform is deterministic
        dataset = FaceDataset(rows, image_size, transforms[name], cache, batched_transform=batched,
                              progress=progress, desc=f"Caching {name} images ({image_size}px)",
                              crop=crop)
        generator = torch.Generator().manual_seed(seed) if name == "train" else None
        loaders[name] = DataLoader(
            dataset, batch_size=batch_size, shuffle=name == "train", generator=generator,
            collate_fn=collate, num_workers=num_workers, persistent_workers=num_workers > 0,
            pin_memory=torch.cuda.is_available())
    return loaders
