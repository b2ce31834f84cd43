"""The report's networks (Model 1, Model 2), ``build_model`` by name (ResNet18 included), and
torchsummary's per-layer table. No network probing here: ``fakeface_lib.models.pretrained``
decides whether pretrained weights can be had.

Both custom CNNs take (N, 3, 128, 128) images and return logits (N, 2); class 0 is
``training_fake``, class 1 ``training_real``. ``Model1(image_size=S)`` and ``Model2(image_size=S)``
take (N, 3, S, S) instead (their first linear layer grows with S): the data's full resolution,
or a smoke run's small images.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

import torch
from torch import nn

from fakeface_lib.config import NUM_CLASSES
from fakeface_lib.models.resnet import build_resnet18

INPUT_SIZE = 128  # the side the report trained at (its summaries were printed at 256 by mistake)


class _ReportCNN(nn.Module):
    """Shared plumbing: input check, ``flatten(1)``, and the Grad-CAM layer."""

    features: nn.Sequential
    classifier: nn.Sequential
    image_size: int = INPUT_SIZE  # the side the first linear layer was built for

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: (N, 3, S, S), S = image_size (128) -> logits: (N, 2)."""
        check_input(images, self.__class__.__name__, self.image_size)
        return self.classifier(self.features(images).flatten(1))

    @property
    def cam_layer(self) -> nn.Conv2d:
        """The last convolution, the usual target layer for Grad-CAM."""
        return [m for m in self.features if isinstance(m, nn.Conv2d)][-1]


def check_image_size(image_size: int) -> int:
    """``image_size`` if it is an int a network with two 2x2 poolings can take (>= 4), else a clear error."""
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 4:
        raise ValueError(f"image_size must be an int >= 4, got {image_size!r}")
    return image_size


def check_input(images: torch.Tensor, name: str = "model", size: int = INPUT_SIZE) -> None:
    """Fail clearly unless ``images`` is (N, 3, size, size).

    The report flattened with ``view(-1, ...)``, which silently turned a 256x256 batch into
    a four times bigger batch of wrong rows; a clear error is better.
    """
    if images.ndim != 4 or tuple(images.shape[1:]) != (3, size, size):
        raise ValueError(
            f"{name} expects images of shape (N, 3, {size}, {size}), got "
            f"{tuple(images.shape)}. Resize the images to {size}x{size}, "
            f"e.g. make_loaders(..., image_size={size})."
        )


class Model1(_ReportCNN):
    """The report's first CNN: two conv blocks and two linear layers (8,408,386 parameters).

    features[3] (``cam_layer``) is the last convolution. ``image_size`` (default the report's
    128) is the side of the images it takes: the two poolings leave (S // 4)^2 positions for
    the first linear layer, so S = 160 gives 13,126,978 parameters and S = 600 about 184 M.
    """

    def __init__(self, dropout: float = 0.5, image_size: int = INPUT_SIZE) -> None:
        super().__init__()
        self.image_size = check_image_size(image_size)
        side = image_size // 4  # after the two 2x2 poolings
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, kernel_size=3, padding=1),  # 896
            nn.ReLU(),
            nn.MaxPool2d(2),  # 128 -> 64
            nn.Conv2d(32, 64, kernel_size=3, padding=1),  # 18,496
            nn.ReLU(),
            nn.MaxPool2d(2),  # 64 -> 32
        )
        self.classifier = nn.Sequential(
            nn.Linear(64 * side * side, 128),  # 8,388,736 at 128 px
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(128, NUM_CLASSES),  # 258
        )


class Model2(_ReportCNN):
    """The report's Model 2.1 (and 2.2): four convs with batch norm (134,608,002 parameters).

    Follows the report's torchsummary table (flaw 3 in the notes: its prose disagrees).
    Almost all parameters sit in the first linear layer (256*32*32 -> 512). features[9]
    (``cam_layer``) is the last convolution. ``image_size`` (default the report's 128) is the
    side of the images it takes: the first linear layer gets 256 * (S // 4)^2 inputs, so S = 64
    (a smoke run's) gives 33,944,706 parameters, about a quarter of the memory.
    """

    def __init__(self, dropout: float = 0.5, image_size: int = INPUT_SIZE) -> None:
        super().__init__()
        self.image_size = check_image_size(image_size)
        side = image_size // 4  # after the two 2x2 poolings
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, kernel_size=3, padding=1),  # 896
            nn.BatchNorm2d(32),  # 64
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=3, padding=1),  # 18,496
            nn.ReLU(),
            nn.MaxPool2d(2),  # 128 -> 64
            nn.Conv2d(64, 128, kernel_size=3, padding=1),  # 73,856
            nn.BatchNorm2d(128),  # 256
            nn.ReLU(),
            nn.Conv2d(128, 256, kernel_size=3, padding=1),  # 295,168
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.MaxPool2d(2),  # 64 -> 32
        )
        self.classifier = nn.Sequential(
            nn.Linear(256 * side * side, 512),  # 134,218,240 at 128 px
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(512, NUM_CLASSES),  # 1,026
        )


MODEL_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "model1": Model1,
    "model2": Model2,
    "resnet18": build_resnet18,
}


def build_model(name: str, **kwargs) -> nn.Module:
    """Build a model by name ("model1", "model2", "resnet18"); kwargs go to its builder."""
    key = name.lower().replace("_", "").replace(".", "")
    aliases = {"model21": "model2", "model22": "model2"}
    key = aliases.get(key, key)
    if key not in MODEL_BUILDERS:
        raise ValueError(f"Unknown model {name!r}; choose one of {sorted(MODEL_BUILDERS)}.")
    return MODEL_BUILDERS[key](**kwargs)


def summary_table(
    model: nn.Module,
    input_size: tuple[int, int, int] = (3, INPUT_SIZE, INPUT_SIZE),
    device: str | torch.device | None = None,
) -> str:
    """torchsummary's per-layer table (output shapes, parameters) as a string.

    Runs one forward pass of 2 random images on ``device`` (default: the model's own
    device; torchsummary only knows "cpu" and "cuda"), in eval mode and without
    gradients; the model's training mode is restored. nn.ReLU modules get rows of
    their own (the report used F.relu, so its tables have none).
    """
    from torchsummary import summary

    if device is None:
        device = next(model.parameters()).device
    device_type = torch.device(device).type
    if device_type not in ("cpu", "cuda"):
        raise ValueError(
            f"summary_table runs on 'cpu' or 'cuda' only, got {device!r}; "
            "move the model first: model.to('cpu')."
        )
    was_training = model.training
    buffer = io.StringIO()
    try:
        model.eval()
        with torch.no_grad(), contextlib.redirect_stdout(buffer):
            summary(model, tuple(input_size), device=device_type)
    finally:
        model.train(was_training)
    return buffer.getvalue()
