"""Transform presets (torchvision.transforms.v2) for the cached uint8 (3, S, S) images:
the report's evaluation and augmentation recipes, a stronger and a milder blur, ImageNet statistics.

Every preset checks that its input is uint8 and ends with ``ToDtype(float32, scale=True)``
and ``Normalize(mean, std)``.
The report augmented its 600x600 photographs *before* ``Resize(128)``; the library augments the
cached 128 px image. Flip and colour jitter behave the same at any size, but a blur of fixed
pixel size does not, and its rotation's nearest-neighbour edges were smoothed by its resize.
``report_augmentation`` redoes the report's pipeline on the network's input: the rotation
interpolates (``ROTATION_INTERPOLATION``), and the blur is the report's measured at the image's
own size (``ReportBlur``, sigma from ``report_blur_sigma``: about 0.42 px across and 0.75 px
down at 128 px). torchvision cuts the Gaussian off at the kernel's edge, so the report's 7 x 13
taps with sigma 6-7 were nearly a box filter, with a spread (``blur_spread``) of about 2 px across
and 3.5 px down at 600 px. ``strong_blur_augmentation`` applies the report's kernel and sigma as
written to the 128 px image: about 4.7x stronger, relative to the face, than the report's blur.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torchvision.transforms import InterpolationMode, v2

REPORT_MEAN = (0.5, 0.5, 0.5)
REPORT_STD = (0.5, 0.5, 0.5)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PRESETS = ("eval", "report", "strong_blur", "mild")

# The report's augmentation. GaussianBlur's kernel_size (7, 13) is one fixed 7-wide,
# 13-tall kernel (both odd, as torchvision requires), not a range; sigma is drawn in (6, 7).
# RandomApply uses torchvision's default p=0.5, as the report's code did.
REPORT_BLUR_KERNEL = (7, 13)
REPORT_BLUR_SIGMA = (6.0, 7.0)
REPORT_ORIGINAL_SIZE = 600  # the report augmented the 600x600 photographs, then resized to 128
# The report rotated at 600 px (nearest neighbour, torchvision's default) and then shrank the
# image 4.7x, which smooths the rotation's jagged edges; at 128 px bilinear comes closest to that.
ROTATION_INTERPOLATION = InterpolationMode.BILINEAR
MILD_BLUR_KERNEL = 3
MILD_BLUR_SIGMA = (0.1, 1.0)
BLUR_P = 0.5


def blur_spread(kernel_size: int | Sequence[int], sigma: float) -> tuple[float, float]:
    """The standard deviation, in pixels across and down, of the kernel v2.GaussianBlur builds.

    torchvision samples the Gaussian at the kernel's taps only and renormalises, so once sigma
    exceeds about a sixth of the kernel the weights flatten towards a box filter: the spread is
    then set by the kernel size, not by sigma (7 taps: at most 2 px; 13 taps: at most 3.7 px).
    """
    sizes = [kernel_size, kernel_size] if isinstance(kernel_size, int) else list(kernel_size)
    spreads = []
    for size in sizes:  # kernel_size is (width, height), as v2.GaussianBlur takes it
        x = torch.linspace(-(size // 2), size // 2, size, dtype=torch.float64)
        weights = torch.exp(-0.5 * (x / sigma) ** 2)
        weights /= weights.sum()
        spreads.append(float((weights * x**2).sum().sqrt()))
    return spreads[0], spreads[1]


def report_blur_sigma(sigma: float, width: int = 128,
                      height: int | None = None) -> tuple[float, float]:
    """The Gaussian sigma (across, down), in pixels of a ``width`` x ``height`` image, of the
    report's blur (``REPORT_BLUR_KERNEL`` at ``sigma``), which ran on the 600 px photographs.

    Its spread there (``blur_spread``) times the shrink factor, size / 600: at 128 px and
    sigma 6-7, about 0.42 px across and 0.74-0.75 px down.
    """
    across, down = blur_spread(REPORT_BLUR_KERNEL, sigma)
    height = width if height is None else height
    return across * width / REPORT_ORIGINAL_SIZE, down * height / REPORT_ORIGINAL_SIZE


class ReportBlur(v2.Transform):
    """The report's ``GaussianBlur((7, 13), sigma=(6, 7))``, done on the image it gets as the
    report's pipeline did it on the photograph before shrinking it to this size.

    Each call draws sigma in ``REPORT_BLUR_SIGMA`` (as GaussianBlur does) and blurs with the
    sigma per axis of ``report_blur_sigma`` for the image's width and height, over a kernel of
    about six sigmas. Assumes the image shows the whole photograph (no crop).
    """

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"sigma": torch.empty(1).uniform_(*REPORT_BLUR_SIGMA).item()}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        height, width = inpt.shape[-2:]
        sigmas = report_blur_sigma(params["sigma"], width, height)
        kernel = [2 * math.ceil(3 * sigma) + 1 for sigma in sigmas]
        return v2.functional.gaussian_blur(inpt, kernel_size=kernel, sigma=list(sigmas))


def check_stats(mean: Sequence[float], std: Sequence[float]) -> tuple[list[float], list[float]]:
    """``mean`` and ``std`` as lists of floats, after checking: three each, every std > 0."""
    mean, std = [float(m) for m in mean], [float(s) for s in std]
    if len(mean) != 3 or len(std) != 3:
        raise ValueError(f"mean and std need one value per RGB channel (3 each), "
                         f"got {mean}, {std}.")
    if min(std) <= 0:
        raise ValueError(f"std values must be > 0, got {std}.")
    return mean, std


class RequireUint8:
    """The presets' first step: only uint8 images (as the cache holds) may go in.

    ``ToDtype(scale=True)`` then always makes a new float tensor, so the in-place
    ``Normalize`` after it (one 4-byte-per-value buffer less per batch) never alters the input.
    """

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if not isinstance(image, torch.Tensor) or image.dtype != torch.uint8:
            kind = image.dtype if isinstance(image, torch.Tensor) else type(image).__name__
            raise TypeError(f"The transform presets take uint8 tensors (3, S, S) or (N, 3, S, S), "
                            f"as FaceDataset's cache holds, got {kind}. Convert a PIL image "
                            "with torchvision.transforms.v2.functional.pil_to_tensor first.")
        return image

    def __repr__(self) -> str:
        return "RequireUint8()"


def _finish(steps: list[Callable], mean: Sequence[float], std: Sequence[float],
            image_size: int | None) -> v2.Compose:
    mean, std = check_stats(mean, std)
    resize = [] if image_size is None else [v2.Resize((image_size, image_size), antialias=True)]
    return v2.Compose([RequireUint8()] + resize + steps + [
        v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=mean, std=std, inplace=True)])


def _geometry_and_colour(
        interpolation: InterpolationMode = InterpolationMode.NEAREST) -> list[Callable]:
    return [v2.RandomRotation(15, interpolation=interpolation), v2.RandomHorizontalFlip(),
            v2.ColorJitter(brightness=0.2, contrast=0.2)]


def eval_transform(mean: Sequence[float] = REPORT_MEAN, std: Sequence[float] = REPORT_STD,
                   *, image_size: int | None = None) -> v2.Compose:
    """uint8 (3, S, S) -> float normalised: ``ToDtype(float32, scale=True)`` + ``Normalize``.

    With the defaults this is the report's evaluation recipe (its ``Resize(128)`` is done
    once by the loaders' cache). ``image_size`` adds a ``Resize((S, S))`` first, for images
    that do not come from the cache (a no-op when the size already matches).
    """
    return _finish([], mean, std, image_size)


def report_augmentation(mean: Sequence[float] = REPORT_MEAN, std: Sequence[float] = REPORT_STD,
                        *, image_size: int | None = None) -> v2.Compose:
    """The report's training augmentation (Model 2.2) as its pipeline applied it, on the
    network's input, then float + Normalize.

    RandomRotation(15) (bilinear: see ``ROTATION_INTERPOLATION``), RandomHorizontalFlip,
    ColorJitter(brightness 0.2, contrast 0.2), RandomApply([ReportBlur()], p=0.5): the report's
    blur at the strength it had once its 600 px photographs were resized (``report_blur_sigma``).
    """
    blur = v2.RandomApply([ReportBlur()], p=BLUR_P)
    return _finish(_geometry_and_colour(ROTATION_INTERPOLATION) + [blur], mean, std, image_size)


def strong_blur_augmentation(mean: Sequence[float] = REPORT_MEAN,
                             std: Sequence[float] = REPORT_STD, *,
                             image_size: int | None = None) -> v2.Compose:
    """The report's augmentation with its numbers applied as written to the 128 px image.

    RandomRotation(15) (nearest neighbour), RandomHorizontalFlip, ColorJitter(0.2, 0.2),
    RandomApply([GaussianBlur((7, 13), sigma=(6, 7))], p=0.5): a near-box blur with a spread
    of about 2 x 3.5 px (``blur_spread``), about 4.7x stronger, relative to the face, than the
    report's blur was on its 600 px photographs.
    """
    blur = v2.RandomApply([v2.GaussianBlur(REPORT_BLUR_KERNEL, sigma=REPORT_BLUR_SIGMA)], p=BLUR_P)
    return _finish(_geometry_and_colour() + [blur], mean, std, image_size)


def mild_augmentation(mean: Sequence[float] = REPORT_MEAN, std: Sequence[float] = REPORT_STD,
                      *, image_size: int | None = None) -> v2.Compose:
    """The report's geometry and colour jitter with a light blur (kernel 3, sigma 0.1-1.0: a
    spread of at most 0.74 px, ``blur_spread``).

    Of the order of the report's own blur at 128 px (``report_augmentation``), but round: one
    sigma for both directions.
    """
    blur = v2.RandomApply([v2.GaussianBlur(MILD_BLUR_KERNEL, sigma=MILD_BLUR_SIGMA)], p=BLUR_P)
    return _finish(_geometry_and_colour() + [blur], mean, std, image_size)


def get_transform(name: str, mean: Sequence[float] = REPORT_MEAN,
                  std: Sequence[float] = REPORT_STD, *,
                  image_size: int | None = None) -> v2.Compose:
    """A preset by name: "eval", "report", "strong_blur" or "mild".

    For an ImageNet-pretrained model (ResNet18 at 224 px):
    ``get_transform("mild", IMAGENET_MEAN, IMAGENET_STD)`` with ``make_loaders(image_size=224)``.
    """
    factories = {"eval": eval_transform, "report": report_augmentation,
                 "strong_blur": strong_blur_augmentation, "mild": mild_augmentation}
    if name not in factories:
        raise ValueError(f"Unknown transform preset {name!r}; choose one of {PRESETS}, or pass "
                         "a callable transform.")
    return factories[name](mean, std, image_size=image_size)


def denormalize(images: torch.Tensor, mean: Sequence[float] = REPORT_MEAN,
                std: Sequence[float] = REPORT_STD) -> torch.Tensor:
    """Undo ``Normalize`` for display: (N, 3, H, W) or (3, H, W) -> floats clamped to [0, 1]."""
    if images.ndim not in (3, 4) or images.shape[-3] != 3:
        raise ValueError(f"denormalize expects images of shape (N, 3, H, W) or (3, H, W), "
                         f"got {tuple(images.shape)}.")
    mean, std = check_stats(mean, std)
    shape = (3, 1, 1)
    mean_t = torch.tensor(mean, dtype=images.dtype, device=images.device).view(shape)
    std_t = torch.tensor(std, dtype=images.dtype, device=images.device).view(shape)
    return (images * std_t + mean_t).clamp(0.0, 1.0)
