"""ResNet18 for the task: torchvision's network with a new two-class head (ImageNet weights
or random ones), and its optimizer parameter groups. Whether the weights can be had is
:mod:`fakeface_lib.models.pretrained`'s question."""

from __future__ import annotations

from urllib.error import URLError

from torch import nn

from fakeface_lib.config import NUM_CLASSES


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be downloaded (offline, blocked, corrupt download)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Could not get the ResNet18 weights: {reason}. Connect and retry, or "
                         "continue without pretraining: build_resnet18(weights=None) "
                         "(or fakeface_lib.models.pretrained.load_resnet18_or_fallback()).")
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
    not probe the network: ``fakeface_lib.models.pretrained.load_resnet18_or_fallback`` checks first
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
