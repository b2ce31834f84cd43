"""ResNet18 for the task: torchvision's network with a new two-class head, its optimizer
parameter groups, and the ImageNet weights when they can be had (else random weights).
"""

from __future__ import annotations

from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlparse

import torch
from torch import nn

from fakeface_lib.config import NUM_CLASSES
from fakeface_lib.data import download


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be downloaded (offline, blocked, corrupt download)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Could not get the ResNet18 weights: {reason}. Connect and retry, or "
                         "continue without pretraining: build_resnet18(weights=None) "
                         "(or fakeface_lib.models.resnet.load_resnet18_or_fallback()).")
        self.reason = reason


def build_resnet18(
    num_classes: int = NUM_CLASSES,
    weights: str | None = "DEFAULT",
    freeze_backbone: bool = False,
    progress: bool = True,
) -> nn.Module:
    """torchvision's ResNet18 with a new ``fc`` head of ``num_classes`` outputs.

    weights: "DEFAULT" (ImageNet, downloaded once to the torch hub cache), another
    ``ResNet18_Weights`` name or member, or None for random weights. Pretrained weights
    expect ImageNet normalisation (transforms.IMAGENET_MEAN / IMAGENET_STD).
    freeze_backbone: train only the head (feature extraction) instead of fine-tuning.
    Raises WeightsUnavailableError when the weights cannot be downloaded. This module does
    not probe the network: ``fakeface_lib.models.resnet.load_resnet18_or_fallback`` checks first
    that the weights can be had and falls back to random weights when they cannot.
    """
    from torchvision.models import ResNet18_Weights, resnet18

    model = resnet18(weights=None)
    if weights is not None:
        weights_enum = ResNet18_Weights.verify(weights)
        try:
            state = weights_enum.get_state_dict(progress=progress, check_hash=True)
        except (URLError, OSError, RuntimeError) as err:
            raise WeightsUnavailableError(f"downloading {weights_enum} failed ({err})") from err
        model.load_state_dict(state)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    if freeze_backbone:
        for name, param in model.named_parameters():
            param.requires_grad = name.startswith("fc.")
    return model


def resnet18_param_groups(
    model: nn.Module, head_lr: float, backbone_lr: float
) -> list[dict]:
    """Optimizer parameter groups: the new ``fc`` head at head_lr, the backbone lower.

    Frozen parameters are left out; an empty group is dropped.
    """
    head = [p for n, p in model.named_parameters() if n.startswith("fc.") and p.requires_grad]
    backbone = [
        p for n, p in model.named_parameters() if not n.startswith("fc.") and p.requires_grad
    ]
    groups = [{"params": backbone, "lr": backbone_lr}, {"params": head, "lr": head_lr}]
    return [g for g in groups if g["params"]]


FALLBACK_NOTE = "No pretrained weights ({reason}): continuing with weights=None, random initial weights."


def check_weights_reachable(url: str) -> None:
    """Fail fast, before torch prints a download line, when the weights at ``url`` are neither
    in the torch hub cache nor reachable (WeightsUnavailableError)."""
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name
    host = urlparse(url).hostname or ""
    if not cached.is_file() and not download.is_online(host):
        raise WeightsUnavailableError(
            f"{host} cannot be reached and they are not in the torch hub cache ({cached.parent})")


def resnet18_weights_or_none(weights: str | None = "DEFAULT") -> str | None:
    """``weights`` if torchvision can load them (cached, or their host answers), else None.

    What to pass to ``torchvision.models.resnet18(weights=...)``: offline it says why in one
    line, in seconds, and the network starts from random weights instead.
    """
    if weights is None:
        return None
    from torchvision.models import ResNet18_Weights

    try:
        check_weights_reachable(ResNet18_Weights.verify(weights).url)
    except WeightsUnavailableError as err:
        print(FALLBACK_NOTE.format(reason=err.reason))
        return None
    return weights


def load_resnet18_or_fallback(weights: str | None = "DEFAULT", **kwargs) -> tuple[nn.Module, bool]:
    """build_resnet18 with ``resnet18_weights_or_none(weights)``: random weights when the
    pretrained ones cannot be had. Returns (model, pretrained); ``kwargs`` go to build_resnet18.
    """
    usable = resnet18_weights_or_none(weights)
    try:
        return build_resnet18(weights=usable, **kwargs), usable is not None
    except WeightsUnavailableError as err:  # reachable, but the download failed on the way
        print(FALLBACK_NOTE.format(reason=err.reason))
        return build_resnet18(weights=None, **kwargs), False
