"""Tests for fakeface_lib.data.transforms: the v2 presets on cached uint8 (3, S, S) images."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2

from fakeface_lib.data.transforms import (
    IMAGENET_MEAN, IMAGENET_STD, denormalize, eval_transform, get_transform, mild_augmentation,
    report_augmentation,
)

SIZE = 32


@pytest.fixture
def face() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (3, SIZE, SIZE), dtype=torch.uint8, generator=generator)


def steps(preset: v2.Compose, kind: type) -> list:
    found = []
    for step in preset.transforms:
        found += [step] if isinstance(step, kind) else []
        if isinstance(step, v2.RandomApply):
            found += [inner for inner in step.transforms if isinstance(inner, kind)]
    return found


def test_eval_maps_uint8_to_minus_one_plus_one(face):
    out = eval_transform()(face)
    assert out.shape == (3, SIZE, SIZE) and out.dtype == torch.float32
    expected = face.float() / 255 * 2 - 1
    assert torch.allclose(out, expected, atol=1e-6)
    black_white = torch.tensor([0, 255], dtype=torch.uint8).view(1, 1, 2).expand(3, 1, 2)
    extremes = eval_transform()(black_white)
    assert extremes[:, 0, 0].eq(-1).all() and extremes[:, 0, 1].eq(1).all()
    assert torch.equal(eval_transform()(face), out)  # deterministic


def test_imagenet_statistics(face):
    out = eval_transform(IMAGENET_MEAN, IMAGENET_STD)(face)
    for channel in range(3):
        expected = (face[channel].float() / 255 - IMAGENET_MEAN[channel]) / IMAGENET_STD[channel]
        assert torch.allclose(out[channel], expected, atol=1e-5)


def test_eval_works_on_batches(face):
    batch = torch.stack([face, face.flip(-1)])
    out = eval_transform()(batch)
    assert out.shape == (2, 3, SIZE, SIZE)
    assert torch.equal(out[1], eval_transform()(face.flip(-1)))


def test_image_size_adds_a_resize(face):
    out = get_transform("mild", IMAGENET_MEAN, IMAGENET_STD, image_size=24)(face)
    assert out.shape == (3, 24, 24) and out.dtype == torch.float32
    assert torch.equal(eval_transform(image_size=SIZE)(face), eval_transform()(face))


@pytest.mark.parametrize("factory", [report_augmentation, mild_augmentation])
def test_augmentations_shape_range_and_randomness(face, factory):
    preset = factory()
    torch.manual_seed(1)
    first = preset(face)
    assert first.shape == (3, SIZE, SIZE) and first.dtype == torch.float32
    assert first.min() >= -1 and first.max() <= 1
    torch.manual_seed(1)
    assert torch.equal(preset(face), first)  # reproducible from torch's seed
    outputs = [preset(face) for _ in range(5)]
    assert not all(torch.equal(out, first) for out in outputs)
    assert all(not torch.allclose(out, eval_transform()(face)) for out in outputs)


def test_report_preset_matches_the_report():
    preset = report_augmentation()
    rotation, = steps(preset, v2.RandomRotation)
    assert list(rotation.degrees) == [-15.0, 15.0]
    flip, = steps(preset, v2.RandomHorizontalFlip)
    assert flip.p == 0.5
    jitter, = steps(preset, v2.ColorJitter)
    assert tuple(jitter.brightness) == (0.8, 1.2) and tuple(jitter.contrast) == (0.8, 1.2)
    assert jitter.saturation is None and jitter.hue is None
    wrapper, = [s for s in preset.transforms if isinstance(s, v2.RandomApply)]
    assert wrapper.p == 0.5  # torchvision's default, as the report used it
    blur, = steps(preset, v2.GaussianBlur)
    assert list(blur.kernel_size) == [7, 13] and list(blur.sigma) == [6.0, 7.0]
    assert isinstance(preset.transforms[-2], v2.ToDtype)
    assert isinstance(preset.transforms[-1], v2.Normalize)
    assert list(preset.transforms[-1].mean) == [0.5] * 3


def test_mild_blur_is_light_and_report_blur_is_heavy(face):
    mild_blur, = steps(mild_augmentation(), v2.GaussianBlur)
    report_blur, = steps(report_augmentation(), v2.GaussianBlur)
    assert list(mild_blur.kernel_size) == [3, 3] and list(mild_blur.sigma) == [0.1, 1.0]
    detail = lambda image: image.float().diff(dim=-1).abs().mean()  # noqa: E731
    torch.manual_seed(0)
    assert detail(report_blur(face)) < 0.5 * detail(mild_blur(face)) < detail(face)


def test_blur_applies_about_half_the_time(face):
    wrapper, = [s for s in report_augmentation().transforms if isinstance(s, v2.RandomApply)]
    torch.manual_seed(0)
    changed = sum(not torch.equal(wrapper(face), face) for _ in range(200))
    assert 70 < changed < 130


def test_presets_take_uint8_only_and_never_alter_their_input(face):
    kept = face.clone()
    for preset in (eval_transform(), report_augmentation(), mild_augmentation()):
        preset(face)
        with pytest.raises(TypeError, match="uint8"):
            preset(face.float() / 255)
    assert torch.equal(face, kept)


def test_bad_names_and_statistics():
    with pytest.raises(ValueError, match="'eval', 'report', 'mild'"):
        get_transform("strong")
    with pytest.raises(ValueError, match="3 each"):
        eval_transform(mean=(0.5,), std=(0.5,))
    with pytest.raises(ValueError, match="> 0"):
        eval_transform(std=(0.5, 0.0, 0.5))


def test_denormalize_inverts_normalize(face):
    batch = torch.stack([face, face])
    for mean, std in (((0.5,) * 3, (0.5,) * 3), (IMAGENET_MEAN, IMAGENET_STD)):
        restored = denormalize(eval_transform(mean, std)(batch), mean, std)
        assert restored.shape == batch.shape
        assert torch.allclose(restored, batch.float() / 255, atol=1e-5)
    assert denormalize(torch.full((3, 2, 2), 5.0)).max() == 1.0  # clamped for display
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        denormalize(torch.zeros(2, 1, 4, 4))


@pytest.mark.parametrize("kernel, sigma", [((7, 13), 6.0), ((7, 13), 7.0), (3, 1.0), (9, 1.5)])
def test_blur_spread_is_the_spread_torchvision_applies(kernel, sigma):
    """Blurring a single bright pixel spreads it as the kernel does: its std across and down."""
    from torchvision.transforms.v2 import functional as F

    from fakeface_lib.data.transforms import blur_spread

    impulse = torch.zeros(1, 41, 41, dtype=torch.float64)
    impulse[0, 20, 20] = 1.0
    out = F.gaussian_blur(impulse, kernel_size=list(kernel) if isinstance(kernel, tuple) else [kernel] * 2,
                          sigma=[sigma])[0]
    coords = torch.arange(41, dtype=torch.float64) - 20
    across = float((out.sum(0) * coords**2).sum().sqrt())
    down = float((out.sum(1) * coords**2).sum().sqrt())
    assert blur_spread(kernel, sigma) == pytest.approx((across, down), rel=1e-6)


def test_the_reports_blur_is_nearly_a_box_filter_far_below_its_sigma():
    from fakeface_lib.data.transforms import REPORT_BLUR_KERNEL, blur_spread

    across, down = blur_spread(REPORT_BLUR_KERNEL, 6.0)
    assert 1.9 < across < 2.0 and 3.4 < down < 3.5  # a 7 x 13 box: 2.0 and 3.74
    assert blur_spread(101, 2.0) == pytest.approx((2.0, 2.0), abs=1e-6)  # wide kernel: sigma
