"""Region patches: square windows of the file's own pixels (no resampling) centred on the four
regions a fake's code names (eyes, nose, mouth), labelled by that code, a small network that
scores them, and the image's score pooled from its patches, as a prediction frame
(:mod:`fakeface_lib.evaluation.predictions`). The window "face", centred on the face crop, cuts
one window per image for the image models of notebook 06's attempts, labelled by the image.

Patch labels follow the image classes: 0 = edited (the fake's code names the region),
1 = unedited (every patch of a real face, and a fake's other regions), -1 = unknown (a fake
whose code does not parse; such patches are left out of training).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2
from tqdm.auto import tqdm

from fakeface_lib.config import REGIONS, SPLITS
from fakeface_lib.data.batches import StackedSamples, collate
from fakeface_lib.data.preprocessing import ImageReadError, check_int
from fakeface_lib.data.regions import FACE_CROP, REGION_BOXES
from fakeface_lib.data.transforms import REPORT_MEAN, REPORT_STD, check_stats, eval_transform
from fakeface_lib.evaluation.predictions import FAKE, REAL, predictions_from_probs, validation_key

PATCH_SIZE = 48  # px of the file: 30 % of the 160 px copy's side, an eye box's width there
POOLINGS = ("max", "mean")  # how an image's score comes from its patches' fake-probabilities
UNKNOWN = -1
FACE = "face"  # the window around the whole face (FACE_CROP's centre), labelled by the image
WINDOW_BOXES = {**REGION_BOXES, FACE: FACE_CROP}  # where each window is centred (fractions)


@dataclasses.dataclass(frozen=True)
class PatchPreprocessing:
    """How an image file becomes its patches: a ``patch_size`` square of the file's own pixels
    centred on each region's box (``WINDOW_BOXES``), never resized, then normalised."""

    patch_size: int = PATCH_SIZE
    regions: tuple[str, ...] = REGIONS
    mean: tuple[float, float, float] = REPORT_MEAN
    std: tuple[float, float, float] = REPORT_STD

    def __post_init__(self) -> None:
        check_int("patch_size", self.patch_size, 4)
        unknown = [r for r in self.regions if r not in WINDOW_BOXES]
        if unknown or not self.regions:
            raise ValueError(f"regions must be some of {tuple(WINDOW_BOXES)}, got {self.regions!r}.")
        mean, std = check_stats(self.mean, self.std)
        object.__setattr__(self, "regions", tuple(self.regions))
        object.__setattr__(self, "mean", tuple(mean))
        object.__setattr__(self, "std", tuple(std))

    def to_dict(self) -> dict[str, Any]:
        """JSON values, boxes included (part of a run's identity: other boxes, another run)."""
        return {"patch_size": self.patch_size, "regions": list(self.regions),
                "boxes": [list(WINDOW_BOXES[r]) for r in self.regions], "resampled": False,
                "mean": list(self.mean), "std": list(self.std)}

    def load(self, path: str | os.PathLike) -> torch.Tensor:
        """uint8 (R, 3, P, P): the regions' patches of one image file."""
        return torch.from_numpy(read_patches(path, self.patch_size, self.regions))

    def transform(self) -> v2.Compose:
        """uint8 (..., 3, P, P) -> float, normalised."""
        return eval_transform(self.mean, self.std)


def window_origin(box: Sequence[float], side: int, width: int, height: int) -> tuple[int, int]:
    """(left, top) in pixels of the ``side`` square centred on ``box`` (fractions x0, y0, x1, y1)
    of a ``width`` x ``height`` image, moved inside the image where it would cross an edge."""
    if side > min(width, height):
        raise ValueError(f"A {side} px window does not fit a {width}x{height} image: windows are "
                         "cut from the file's own pixels, never resized; choose a side of at most "
                         f"{min(width, height)} px.")
    x0, y0, x1, y1 = box
    left = round((x0 + x1) / 2 * width - side / 2)
    top = round((y0 + y1) / 2 * height - side / 2)
    return min(max(left, 0), width - side), min(max(top, 0), height - side)


def read_patches(path: str | os.PathLike, patch_size: int,
                 regions: Sequence[str] = REGIONS) -> np.ndarray:
    """Decode an image once, at its own resolution, and cut a ``patch_size`` square of its
    pixels around each region (``window_origin``): uint8 (R, 3, P, P), no pixel resampled."""
    try:
        with Image.open(path) as img:
            pixels = np.asarray(img.convert("RGB"))
    except Exception as error:
        raise ImageReadError(f"Cannot read image {path} ({type(error).__name__}: {error}).") from error
    height, width = pixels.shape[:2]
    patches = []
    for region in regions:
        left, top = window_origin(WINDOW_BOXES[region], patch_size, width, height)
        patches.append(pixels[top:top + patch_size, left:left + patch_size].transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(patches))


def patch_labels(frame: pd.DataFrame, regions: Sequence[str] = REGIONS) -> np.ndarray:
    """(N, R) int64: 0 where a fake's code names the region, 1 where it does not (all of a real
    face's regions), -1 where the code is unknown; the "face" window takes the image's label."""
    labels = np.full((len(frame), len(regions)), UNKNOWN, dtype=np.int64)
    for j, region in enumerate(regions):
        if region == FACE:
            labels[:, j] = frame["label"].to_numpy(int)
            continue
        flags = frame[region].astype("boolean").reset_index(drop=True)
        known = flags.notna().to_numpy()
        labels[known, j] = np.where(flags[known].astype(bool).to_numpy(), FAKE, REAL)
    real = frame["label"].to_numpy(int) == REAL
    labels[real] = REAL
    return labels


class PatchDataset(Dataset):
    """The region patches of the images of an index frame, decoded once into ``.images``
    (N, R, 3, P, P) uint8; one sample per patch with a known label: (transform(patch), label).

    ``.frame`` (index reset) and ``.preprocessing`` (a PatchPreprocessing) as FaceDataset has
    them; ``.patch_labels`` (N, R) and ``.index`` ((image, region) of each sample).
    """

    def __init__(self, frame: pd.DataFrame, preprocessing: PatchPreprocessing | None = None,
                 transform: Any = None, *, batched_transform: bool = False,
                 progress: bool | None = None, desc: str = "Cutting region patches") -> None:
        self.frame = frame.reset_index(drop=True)
        self.preprocessing = preprocessing or PatchPreprocessing()
        self.image_size, self.crop = self.preprocessing.patch_size, None  # for run identities
        self.transform = transform if transform is not None else self.preprocessing.transform()
        self.batched_transform = batched_transform
        self.patch_labels = patch_labels(self.frame, self.preprocessing.regions)
        self.index = np.argwhere(self.patch_labels != UNKNOWN)  # row-major: image, then region
        self.labels = self.patch_labels[self.patch_labels != UNKNOWN].tolist()
        show = len(self.frame) >= 300 if progress is None else progress
        paths = self.frame["path"].astype(str)
        self.images = torch.from_numpy(np.stack([
            read_patches(p, self.preprocessing.patch_size, self.preprocessing.regions)
            for p in tqdm(paths, desc=desc, unit="img", disable=not show, leave=False)]))

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, int]:
        i, j = self.index[k]
        return self.transform(self.images[i, j]), self.labels[k]

    def __getitems__(self, ks: list[int]) -> list[tuple[torch.Tensor, int]]:
        """A batch; with ``batched_transform`` the transform runs once on the stacked batch."""
        if not self.batched_transform:
            return [self[k] for k in ks]
        i, j = torch.as_tensor(self.index[ks]).T
        return StackedSamples(self.transform(self.images[i, j]), [self.labels[k] for k in ks])


def make_patch_loaders(split_df: pd.DataFrame, batch_size: int = 32,
                       patch_size: int = PATCH_SIZE, augment: str | None = None, seed: int = 0,
                       num_workers: int = 0, *, regions: Sequence[str] = REGIONS,
                       mean: Sequence[float] = REPORT_MEAN, std: Sequence[float] = REPORT_STD,
                       progress: bool | None = None) -> dict[str, DataLoader]:
    """DataLoaders {"train", "val", "test"} of patches (N, 3, P, P) and patch labels, for fit().

    ``regions=["face"]``: one window per image, labelled by the image (then ``predict`` takes
    the loaders as it takes make_loaders'). augment: None, or "flip" (random horizontal flips of
    the training patches: the noise of a splice survives a mirror, and no pixel is resampled).
    Train batches are shuffled by a generator seeded with seed.
    """
    if augment not in (None, "flip"):
        raise ValueError(f"Unknown patch augment {augment!r}; use None or 'flip'.")
    preprocessing = PatchPreprocessing(patch_size, tuple(regions), tuple(mean), tuple(std))
    loaders = {}
    for name in SPLITS:
        rows = split_df[(split_df["split"] == name).to_numpy(dtype=bool)]
        flip = name == "train" and augment == "flip"
        transform = (v2.Compose([v2.RandomHorizontalFlip(), preprocessing.transform()]) if flip
                     else preprocessing.transform())
        dataset = PatchDataset(rows, preprocessing, transform, batched_transform=not flip,
                               progress=progress, desc=f"Cutting {name} patches ({patch_size}px)")
        generator = torch.Generator().manual_seed(seed) if name == "train" else None
        loaders[name] = DataLoader(dataset, batch_size=batch_size, shuffle=name == "train",
                                   generator=generator, collate_fn=collate,
                                   num_workers=num_workers, pin_memory=torch.cuda.is_available())
    return loaders


class PatchNet(nn.Module):
    """A small CNN for one region patch (N, C, P, P) -> logits (N, 2); any P >= 4.

    Three conv blocks with batch norm (width, 2 x width, 4 x width channels), global average
    pooling, so it counts evidence anywhere in the patch whatever its size, and one linear
    layer. ``cam_layer`` is the last convolution.
    """

    def __init__(self, in_channels: int = 3, width: int = 32, dropout: float = 0.3) -> None:
        super().__init__()
        c1, c2, c3 = width, 2 * width, 4 * width
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, padding=1), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c2, c3, 3, padding=1), nn.BatchNorm2d(c3), nn.ReLU(),
        )
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                        nn.Linear(c3, 2))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))

    @property
    def cam_layer(self) -> nn.Conv2d:
        return [m for m in self.features if isinstance(m, nn.Conv2d)][-1]


@torch.inference_mode()
def patch_probs(model: nn.Module, dataset: PatchDataset, device: torch.device | str | None = None,
                *, tta: bool = False, batch_size: int = 64) -> np.ndarray:
    """Fake-probability of every patch of every image of the dataset (unknown codes too):
    (N, R). ``tta`` averages each patch with its mirror image."""
    if device is not None:
        model.to(device)
    device = next(model.parameters()).device
    model.eval()
    transform = dataset.preprocessing.transform()
    n, r = dataset.images.shape[:2]
    out = []
    for start in range(0, n, batch_size):
        patches = transform(dataset.images[start:start + batch_size].flatten(0, 1)).to(device)
        probs = torch.softmax(model(patches).float(), dim=1)[:, FAKE]
        if tta:
            probs = (probs + torch.softmax(model(patches.flip(-1)).float(), dim=1)[:, FAKE]) / 2
        out.append(probs.cpu().view(-1, r))
    return torch.cat(out).numpy()


def pool_patch_probs(probs: np.ndarray, pooling: str = "max") -> np.ndarray:
    """(N, R) patch fake-probabilities -> (N,) image fake-probabilities.

    "max": the image is as fake as its most suspicious region (one edited eye is enough);
    "mean": the average, which needs most regions to look edited.
    """
    if pooling == "max":
        return probs.max(axis=1)
    if pooling == "mean":
        return probs.mean(axis=1)
    raise ValueError(f"Unknown pooling {pooling!r}; use one of {POOLINGS}.")


def image_predictions(probs: np.ndarray, frame: pd.DataFrame, pooling: str = "max",
                      threshold: float = 0.5) -> pd.DataFrame:
    """The images' predictions frame (as ``predict``'s) from their patch probs.

    An image is called fake when its pooled score reaches ``threshold``. Its prob_fake is that
    score moved in logit space so that the threshold sits at 0.5, as for every other model
    (ensembles average such probabilities); the ranking, and so ROC AUC, is the pooled score's.
    """
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must lie strictly between 0 and 1, got {threshold!r}.")
    frame = frame.reset_index(drop=True)
    score = pool_patch_probs(probs, pooling)
    if threshold != 0.5:
        clipped = np.clip(score, 1e-7, 1 - 1e-7)
        shifted = 1 / (1 + np.exp(_logit(threshold) - _logit(clipped)))
        # exactly the threshold's side, whatever the rounding
        score = np.where(clipped >= threshold, np.maximum(shifted, 0.5),
                         np.minimum(shifted, np.nextafter(0.5, 0)))
    return predictions_from_probs(score, frame["label"], frame)


def _logit(p: np.ndarray | float) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def predict_images(model: nn.Module, dataset: PatchDataset, pooling: str = "max",
                   device: torch.device | str | None = None, *, tta: bool = False,
                   threshold: float = 0.5) -> pd.DataFrame:
    """One row per image of the dataset, its score pooled from its patches; compute_metrics,
    by_difficulty and by_region take it as they take ``predict``'s."""
    return image_predictions(patch_probs(model, dataset, device, tta=tta), dataset.frame,
                             pooling, threshold)


def thresholds_from_half(step: float = 0.05) -> tuple[float, ...]:
    """0.5, 0.45, 0.55, 0.4, 0.6 ... (0, 1 excluded): nearest 0.5 first, so ties keep 0.5."""
    n = int(round(0.5 / step))
    return (0.5,) + tuple(round(0.5 + sign * k * step, 6) for k in range(1, n)
                          for sign in (-1, 1))


def choose_pooling(val_probs: np.ndarray, val_frame: pd.DataFrame,
                   poolings: Sequence[str] = POOLINGS,
                   thresholds: Sequence[float] = (0.5,)) -> tuple[str, float, dict[str, tuple]]:
    """The pooling (and threshold) with the best validation accuracy, then ROC AUC; on a tie
    the first listed. Returns it and each candidate's (accuracy, roc_auc) on validation, keyed
    "pooling@threshold". Never look at the test set here.

    Max pooling scores an image by its most suspicious patch, so it runs higher than the mean:
    ``thresholds=thresholds_from_half()`` lets validation place the cut for each pooling.
    """
    scores = {(p, t): validation_key(image_predictions(val_probs, val_frame, p, t))
              for p in poolings for t in thresholds}
    best = max(scores, key=lambda k: scores[k])  # max keeps the first of equal keys
    return best[0], best[1], {f"{p}@{t:g}": v for (p, t), v in scores.items()}
