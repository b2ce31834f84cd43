"""The presets' random augmentation done to a whole batch at once, on the batch's device:
``BatchAugment`` reads a preset's v2.Compose, draws each image's parameters as that Compose
would (same order, same distributions, from torch's global RNG) and redoes torchvision's
arithmetic batched, so the same draws give the same pixels (on a CPU, to the bit).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.nn.functional import conv2d, grid_sample, pad
from torchvision.transforms import InterpolationMode, v2

from fakeface_lib.data.transforms import ReportBlur, RequireUint8, report_blur_sigma

# Steps that act on every image alike: applied to the batch as they are.
BATCHED_STEPS = (RequireUint8, v2.ToDtype, v2.Normalize, v2.Resize)
JITTER_ORDER = ("brightness", "contrast", "saturation", "hue")  # ColorJitter's fn_idx numbering


def _step_kind(step: Callable) -> str:
    """What a step of the Compose is, for drawing and applying it batched ("" if unsupported)."""
    if isinstance(step, v2.RandomRotation):
        plain = step.center is None and not step.expand and step.fill == 0
        return "rotate" if plain and step.interpolation.value in ("nearest", "bilinear") else ""
    if isinstance(step, v2.RandomHorizontalFlip):
        return "flip"
    if isinstance(step, v2.ColorJitter):
        return "jitter" if step.saturation is None and step.hue is None else ""
    if isinstance(step, v2.RandomApply) and len(step.transforms) == 1:
        return "blur" if isinstance(step.transforms[0], (ReportBlur, v2.GaussianBlur)) else ""
    if isinstance(step, BATCHED_STEPS):
        return "batched"
    return ""


def _uniform(low: float, high: float) -> float:
    return torch.empty(1).uniform_(low, high).item()  # as torchvision draws each value


class BatchAugment:
    """A v2.Compose of the presets' steps (rotation, flip, colour jitter, a randomly applied
    blur; the rest batched as is) applied to uint8 batches (B, 3, S, S) on any device.

    ``supports(compose)`` says whether it can; custom transforms of other steps cannot.
    """

    def __init__(self, compose: v2.Compose):
        if not self.supports(compose):
            raise ValueError(f"BatchAugment cannot batch {compose!r}: it handles the presets' "
                             "RandomRotation, RandomHorizontalFlip, ColorJitter(brightness, "
                             "contrast), RandomApply([blur]), ToDtype and Normalize.")
        self.steps = [(_step_kind(step), step) for step in compose.transforms]

    @staticmethod
    def supports(transform: Any) -> bool:
        steps = getattr(transform, "transforms", None)
        return isinstance(transform, v2.Compose) and all(_step_kind(s) for s in steps)

    def draw(self, n: int) -> list[list[Any]]:
        """Each image's parameters, image by image in the Compose's order: the draws the
        per-image Compose makes from torch's global RNG."""
        return [[self._draw_step(kind, step) for kind, step in self.steps] for _ in range(n)]

    @staticmethod
    def _draw_step(kind: str, step: Any) -> Any:
        if kind == "rotate":
            return _uniform(*step.degrees)
        if kind == "flip":
            return bool(torch.rand(1) < step.p)
        if kind == "jitter":
            order = torch.randperm(4).tolist()
            factors = {name: _uniform(*getattr(step, name)) for name in JITTER_ORDER[:2]
                       if getattr(step, name) is not None}
            return [(JITTER_ORDER[i], factors[JITTER_ORDER[i]]) for i in order
                    if JITTER_ORDER[i] in factors]
        if kind == "blur":
            if torch.rand(1) >= step.p:
                return None
            blur = step.transforms[0]
            if isinstance(blur, ReportBlur):
                return blur.make_params([])["sigma"]
            return _uniform(*blur.sigma)
        return None

    def __call__(self, images: torch.Tensor,
                 params: list[list[Any]] | None = None) -> torch.Tensor:
        """The batch augmented, each image with its own parameters (drawn now unless given)."""
        params = self.draw(len(images)) if params is None else params
        for i, (kind, step) in enumerate(self.steps):
            column = [p[i] for p in params]
            if kind == "batched":
                images = step(images)
            elif kind == "rotate":
                images = rotate(images, column, step.interpolation.value)
            elif kind == "flip":
                images = select(images, images.flip(-1), column)
            elif kind == "jitter":
                images = jitter(images, column)
            elif kind == "blur":
                images = blur(images, column, step.transforms[0])
        return images


def to_device(values: list, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A tensor of Python values on ``device``, copied without waiting for the GPU's queue."""
    return torch.tensor(values, dtype=dtype).to(device, non_blocking=True)


def select(images: torch.Tensor, other: torch.Tensor, chosen: list[bool]) -> torch.Tensor:
    """``other`` where ``chosen``, else ``images``, image by image."""
    mask = to_device(chosen, torch.bool, images.device).view(-1, 1, 1, 1)
    return torch.where(mask, other, images)


def _rotation_matrix(angle: float) -> list[float]:
    """torchvision's inverse affine matrix for rotate(angle) about the centre, term by term."""
    rot = math.radians(-(angle % 360))
    a, c = math.cos(rot), math.sin(rot)
    b = -(a * 0.0 + c)  # torchvision's shear terms, zero here, kept for its rounding
    d = math.cos(rot) - c * 0.0
    matrix = [d, -b, 0.0, -c, a, 0.0]
    matrix[2] += 0.0 - matrix[0] * 0.0 - matrix[1] * 0.0
    matrix[5] += 0.0 - matrix[3] * 0.0 - matrix[4] * 0.0
    return matrix


def rotate(images: torch.Tensor, angles: list[float], mode: str) -> torch.Tensor:
    """``v2.functional.rotate`` (fill 0) of each uint8 image by its own angle: one grid_sample."""
    n, _, h, w = images.shape
    device = images.device
    theta = to_device([_rotation_matrix(a) for a in angles], torch.float32, device).view(n, 2, 3)
    base = torch.empty(1, h, w, 3, dtype=torch.float32, device=device)
    base[..., 0].copy_(torch.linspace((1.0 - w) * 0.5, (w - 1.0) * 0.5, steps=w, device=device))
    base[..., 1].copy_(torch.linspace((1.0 - h) * 0.5, (h - 1.0) * 0.5, steps=h,
                                      device=device).unsqueeze_(-1))
    base[..., 2].fill_(1)
    scaled = theta.transpose(1, 2).div_(to_device([0.5 * w, 0.5 * h], torch.float32, device))
    grid = base.view(1, h * w, 3).expand(n, -1, -1).bmm(scaled).view(n, h, w, 2)
    mask = torch.ones((n, 1, h, w), dtype=torch.float32, device=device)
    out = grid_sample(torch.cat((images.float(), mask), dim=1), grid, mode=mode,
                      padding_mode="zeros", align_corners=False)
    out, mask = torch.tensor_split(out, indices=(-1,), dim=-3)
    mask = mask.expand_as(out)
    out = torch.where(mask < 0.5, 0.0, out) if mode == "nearest" else out.mul_(mask)
    out = out.round_().to(images.dtype)
    exact = [i for i, a in enumerate(angles) if a % 90 == 0]  # torchvision's fast paths
    for i in exact:
        out[i] = v2.functional.rotate(images[i], angles[i], interpolation=InterpolationMode(mode),
                                      fill=0)
    return out


def _blend(images: torch.Tensor, other: torch.Tensor, ratios: list[float]) -> torch.Tensor:
    """torchvision's ``_blend`` with a ratio per image: image * r + other * (1 - r), clamped.

    torchvision adds other * (1 - r) with one rounding (a fused multiply-add); float64, exact for
    these products, reproduces it.
    """
    ratio = to_device(ratios, torch.float32, images.device).view(-1, 1, 1, 1)
    # 1 - r in double, then float32: as torchvision passes it (a Python float) to add_
    alpha = torch.tensor([1.0 - r for r in ratios], dtype=torch.float32).double()
    alpha = alpha.to(images.device, non_blocking=True).view(-1, 1, 1, 1)
    out = images.mul(ratio).double().add_(other.double() * alpha).float()
    return out.clamp_(0, 255).to(images.dtype)


def _brightness(images: torch.Tensor, factors: list[float]) -> torch.Tensor:
    factor = to_device(factors, torch.float32, images.device).view(-1, 1, 1, 1)
    return images.mul(factor).clamp_(0, 255).to(images.dtype)


def _contrast(images: torch.Tensor, factors: list[float]) -> torch.Tensor:
    r, g, b = images.unbind(dim=-3)
    gray = r.mul(0.2989).add_(g, alpha=0.587).add_(b, alpha=0.114).unsqueeze(-3).floor_()
    return _blend(images, gray.mean(dim=(-3, -2, -1), keepdim=True), factors)


def jitter(images: torch.Tensor, orders: list[list[tuple[str, float]]]) -> torch.Tensor:
    """``v2.ColorJitter`` (brightness, contrast) with each image's own order and factors: at
    each position of the orders, each adjustment on the images whose order has it there."""
    images = images.clone()
    for position in range(max(len(o) for o in orders)):
        for name, adjust in (("brightness", _brightness), ("contrast", _contrast)):
            chosen = [i for i, order in enumerate(orders)
                      if position < len(order) and order[position][0] == name]
            if chosen:
                index = to_device(chosen, torch.long, images.device)
                images[index] = adjust(images[index], [orders[i][position][1] for i in chosen])
    return images


def _kernels(sigmas: torch.Tensor, size: int) -> torch.Tensor:
    """torchvision's 1-D Gaussian kernels, one row per sigma: (n, size)."""
    lim = (size - 1) / (2.0 * math.sqrt(2.0))
    x = torch.linspace(-lim, lim, steps=size, dtype=torch.float32, device=sigmas.device)
    return torch.softmax(x.div(sigmas.view(-1, 1)).pow(2).neg(), dim=-1)


def _blur_group(images: torch.Tensor, sigmas: list[tuple[float, float]],
                kernel: tuple[int, int]) -> torch.Tensor:
    """``v2.functional.gaussian_blur`` of each image with its own sigmas and one kernel size."""
    n, c, h, w = images.shape
    sig = to_device(sigmas, torch.float32, images.device)
    k2d = _kernels(sig[:, 1], kernel[1]).unsqueeze(-1) * _kernels(sig[:, 0], kernel[0]).unsqueeze(1)
    weight = k2d.repeat_interleave(c, dim=0).unsqueeze(1)  # (n * c, 1, kh, kw)
    padding = [kernel[0] // 2, kernel[0] // 2, kernel[1] // 2, kernel[1] // 2]
    out = pad(images.float(), padding, mode="reflect")
    out = conv2d(out.reshape(1, n * c, *out.shape[-2:]), weight, groups=n * c)
    return out.reshape(n, c, h, w).round_().to(images.dtype)


def blur(images: torch.Tensor, drawn: list[float | None], step: Any) -> torch.Tensor:
    """The RandomApply'd blur, on the images whose draw applied it (a sigma, else None)."""
    groups: dict[tuple[int, int], list[tuple[int, tuple[float, float]]]] = {}
    h, w = images.shape[-2:]
    for i, sigma in enumerate(drawn):
        if sigma is None:
            continue
        if isinstance(step, ReportBlur):
            sigmas = report_blur_sigma(sigma, w, h)
            kernel = tuple(2 * math.ceil(3 * s) + 1 for s in sigmas)
        else:
            sigmas, kernel = (sigma, sigma), tuple(step.kernel_size)
        groups.setdefault(kernel, []).append((i, sigmas))
    out = images.clone() if groups else images
    for kernel, members in groups.items():
        index = to_device([i for i, _ in members], torch.long, images.device)
        out[index] = _blur_group(images[index], [s for _, s in members], kernel)
    return out
