"""High-pass residual input: fixed filters that remove flat and smooth images, and stay fixed."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from fakeface_lib.config import TrainConfig
from fakeface_lib.models.forensics import (
    KINDS, HighPass, ResidualInput, blur_residual_weight, residual_spread, srm_weight,
)
from fakeface_lib.models.cnn import Model1
from fakeface_lib.training.fit import fit
from fakeface_lib.training.loop import make_optimizer


def smooth_images(size: int = 32) -> torch.Tensor:
    """(2, 3, size, size): a constant image and one of linear ramps in x and y."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    ramp = torch.stack([0.5 * x + 0.2 * y, -0.3 * x + 0.1, 0.7 * y - 0.4 * x])
    return torch.stack([torch.full((3, size, size), 0.37), ramp])


@pytest.mark.parametrize("kind", KINDS)
def test_highpass_removes_constant_and_smooth_images(kind):
    images = smooth_images()
    out = HighPass(kind, scale=10.0)(images)
    assert out.shape == images.shape
    assert out[0].abs().max() < 1e-5  # constant: zero everywhere, borders included
    assert out[1, :, 3:-3, 3:-3].abs().max() < 1e-4  # linear ramps: zero away from the borders
    noise = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert HighPass(kind)(noise).std() > 0.3  # noise passes


def test_kernels_sum_to_zero_and_srm_reads_the_grey_image():
    assert torch.allclose(srm_weight().sum((1, 2, 3)), torch.zeros(3), atol=1e-6)
    assert torch.allclose(blur_residual_weight(1.5).sum((1, 2, 3)), torch.zeros(3), atol=1e-6)
    generator = torch.Generator().manual_seed(1)
    grey = torch.rand(1, 1, 16, 16, generator=generator).expand(1, 3, 16, 16)
    pattern = torch.rand(16, 16, generator=generator)
    swapped = grey.clone()
    swapped[:, 0] += pattern  # texture moved between colour channels: the same grey image
    swapped[:, 1] -= pattern
    srm = HighPass("srm")
    assert torch.allclose(srm(grey), srm(swapped), atol=1e-5)
    assert not torch.allclose(HighPass("blur")(grey), HighPass("blur")(swapped), atol=1e-3)


def test_scale_multiplies_the_residual_and_spread_measures_it():
    images = torch.randn(4, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(HighPass(scale=5.0)(images), 5 * HighPass()(images), atol=1e-5)
    spread = residual_spread(images)
    assert math.isclose(float(HighPass(scale=1 / spread)(images).std()), 1.0, rel_tol=1e-4)
    with pytest.raises(ValueError, match="srm"):
        HighPass("sobel")


def test_residual_input_filter_is_fixed_and_outside_the_optimizer(noise_loaders):
    torch.manual_seed(0)
    model = ResidualInput(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(2)),
                          kind="srm", scale=20.0)
    model(torch.zeros(1, 3, 8, 8))  # materialise the lazy layer
    before = model.highpass.weight.clone()
    names = [name for name, _ in model.named_parameters()]
    assert names and not any(name.startswith("highpass") for name in names)
    assert "highpass.weight" in model.state_dict() and not model.highpass.weight.requires_grad
    optimizer = make_optimizer(model, TrainConfig())
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert id(model.highpass.weight) not in in_optimizer
    history = fit(model, noise_loaders, TrainConfig(num_epochs=3, lr=1e-2), device="cpu",
                  progress=False)
    assert history[-1]["train_loss"] < history[0]["train_loss"] or history[-1]["train_acc"] == 1
    assert torch.equal(model.highpass.weight, before)
    assert model.highpass.weight.grad is None


def test_residual_input_wraps_model1_at_full_resolution():
    torch.manual_seed(0)
    model = ResidualInput(Model1(image_size=64), kind="blur", scale=20.0)
    images = torch.rand(2, 3, 64, 64)
    logits = model(images)
    assert logits.shape == (2, 2)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.cam_layer is model.model.features[3]
    assert "kind='blur', scale=20.0, sigma=1.0" in repr(model)  # part of the run identity
    # the network sees no content: a flat image and a brighter flat image score the same
    flat = torch.full((2, 3, 64, 64), 0.2)
    model.eval()
    assert torch.allclose(model(flat), model(flat + 0.5), atol=1e-5)
