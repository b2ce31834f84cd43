"""Pretrained ResNet18 weights: can they be had (torch hub cache or a reachable host), and the
model with a fallback to random weights when they cannot. The network probe lives here so that
building a network (cnn, resnet) never touches the network.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from fakeface_lib.data import download
from fakeface_lib.models.resnet import WeightsUnavailableError, build_resnet18

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
