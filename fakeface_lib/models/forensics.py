"""Fixed high-pass filters that hand a network the noise residual of an image instead of its
content, and ``ResidualInput``, which puts one in front of any model (Model 1, the patch net).

A splice leaves its traces in the noise: a pasted eye was resampled, recompressed or blurred,
so its fine-grained noise differs from the face around it, while its colours and shapes can
look right. Feed them the file's own pixels: a resize before the filter averages that noise
away (notebook 06 cuts its windows without resampling, ``experiments.patches.read_patches``).
The filters are buffers, not parameters: no optimizer sees them, training leaves them as they
are, and they are saved with the model's state_dict.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# The three SRM kernels of Zhou et al., "Learning Rich Features for Image Manipulation
# Detection" (CVPR 2018), from Fridrich and Kodovsky's spatial rich models for steganalysis.
# Each sums to zero and is symmetric, so it removes flat areas and linear gradients.
SRM_KERNELS = (
    [[0, 0, 0, 0, 0], [0, -1, 2, -1, 0], [0, 2, -4, 2, 0], [0, -1, 2, -1, 0], [0, 0, 0, 0, 0]],
    [[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2], [2, -6, 8, -6, 2],
     [-1, 2, -2, 2, -1]],
    [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, -2, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
)
SRM_DIVISORS = (4.0, 12.0, 2.0)
KINDS = ("srm", "blur")


def srm_weight() -> torch.Tensor:
    """(3, 3, 5, 5): output channel k is SRM kernel k applied to the mean of the RGB channels."""
    kernels = torch.tensor(SRM_KERNELS, dtype=torch.float32)
    kernels = kernels / torch.tensor(SRM_DIVISORS).view(3, 1, 1)
    return kernels[:, None].expand(3, 3, 5, 5) / 3


def blur_residual_weight(sigma: float = 1.0, size: int = 5) -> torch.Tensor:
    """(3, 1, size, size): per colour channel, the identity minus a Gaussian blur of ``sigma``."""
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    gauss = torch.exp(-x**2 / (2 * sigma**2))
    blur = torch.outer(gauss, gauss)
    identity = torch.zeros(size, size)
    identity[size // 2, size // 2] = 1.0
    return (identity - blur / blur.sum()).expand(3, 1, size, size).clone()


class HighPass(nn.Module):
    """A fixed high-pass filter: images (N, 3, H, W) -> residuals (N, 3, H, W).

    kind "srm": the three SRM kernels on the grey image (three noise views of one channel);
    "blur": each colour channel minus its Gaussian blur (``sigma``). Borders are reflected, so a
    constant image gives exactly zero everywhere. ``scale`` multiplies the residual, which is
    small (a few grey levels) next to the normalised image, so the layers after it start with
    inputs of about unit spread. Nothing here trains.
    """

    def __init__(self, kind: str = "srm", scale: float = 1.0, sigma: float = 1.0) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"Unknown high-pass kind {kind!r}; use one of {KINDS}.")
        self.kind, self.scale, self.sigma = kind, float(scale), float(sigma)
        weight = srm_weight() if kind == "srm" else blur_residual_weight(sigma)
        self.register_buffer("weight", weight * self.scale)
        self.groups = 1 if kind == "srm" else 3

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pad = self.weight.shape[-1] // 2
        padded = F.pad(images, (pad, pad, pad, pad), mode="reflect")
        return F.conv2d(padded, self.weight.to(images.dtype), groups=self.groups)

    def extra_repr(self) -> str:  # in the repr, so in the run identity too
        sigma = f", sigma={self.sigma}" if self.kind == "blur" else ""
        return f"kind={self.kind!r}, scale={self.scale}{sigma}"


class ResidualInput(nn.Module):
    """``model`` fed the fixed high-pass residual of the images instead of the images.

    The residual keeps 3 channels and the image size, so any model that takes (N, 3, S, S)
    works unchanged: ``ResidualInput(Model1(image_size=160))``. ``cam_layer`` is the model's
    (for Grad-CAM); ``highpass`` and ``model`` are the two parts.
    """

    def __init__(self, model: nn.Module, kind: str = "srm", scale: float = 1.0,
                 sigma: float = 1.0) -> None:
        super().__init__()
        self.highpass = HighPass(kind, scale=scale, sigma=sigma)
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: (N, 3, S, S) -> logits of the wrapped model."""
        return self.model(self.highpass(images))

    @property
    def cam_layer(self) -> nn.Module:
        return self.model.cam_layer


@torch.inference_mode()
def residual_spread(images: torch.Tensor, kind: str = "srm", sigma: float = 1.0) -> float:
    """Standard deviation of the unscaled residual of a batch (N, 3, H, W): 1 / this is the
    ``scale`` that gives the residual unit spread on such images."""
    return float(HighPass(kind, sigma=sigma)(images.float()).std())
