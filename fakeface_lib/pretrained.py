"""Pretrained ResNet18 weights: can they be had (torch hub cache or a reachable host), and the
model with a fallback to random weights when they cannot. The network probe lives here so that
models.py only builds networks.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from fakeface_lib import download
from fakeface_lib.models import WeightsUnavailableError, build_resnet18


def check_weights_reachable(url: str) -> None:
    """Fail fast, before torch prints a download line, when the weights at ``url`` are neither
    in the torch hub cache nor reachable (WeightsUnavailableError)."""
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name
    host = urlparse(url).hostname or ""
    if not cached.is_file() and not download.is_online(host):
        raise WeightsUnavailableError(
            f"{host} cannot be reached and they are not in the torch hub cache ({cached.parent})")


def load_resnet18_or_fallback(weights: str | None = "DEFAULT", **kwargs) -> tuple[nn.Module, bool]:
    """build_resnet18, falling back to random weights when the pretrained ones cannot be had.

    Checks first (``check_weights_reachable``) that the weights are cached or their host answers,
    so offline it fails over in seconds. Returns (model, pretrained); prints one line when it
    falls back. ``kwargs`` go to build_resnet18.
    """
    try:
        if weights is not None:
            from torchvision.models import ResNet18_Weights

            check_weights_reachable(ResNet18_Weights.verify(weights).url)
        return build_resnet18(weights=weights, **kwargs), weights is not None
    except WeightsUnavailableError as err:
        print(f"No pretrained weights ({err.reason}): continuing with weights=None, "
              "random initial weights.")
        return build_resnet18(weights=None, **kwargs), False
