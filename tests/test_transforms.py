"""Tests for fakeface_lib.data.transforms: the v2 presets on cached uint8 (3, S, S) images."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2

from fakeface_lib.data.transforms import (
    IMAGENET_MEAN, IMAGENET_STD, PRESETS, REPORT_BLUR_KERNEL, REPORT_BLUR_SIGMA,
    REPORT_ORIGINAL_SIZE, ReportBlur, blur_spread, denormalize, eval_transform, get_transform,
    mild_augmentation, report_augmentation, report_blur_sigma, strong_blur_augmentation,
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


@pytest.mark.parametrize("factory", [report_augmentation, strong_blur_augmentation,
                                     mild_augmentation])
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


def _check_the_reports_steps(preset: v2.Compose, interpolation: v2.InterpolationMode) -> None:
    rotation, = steps(preset, v2.RandomRotation)
    assert list(rotation.degrees) == [-15.0, 15.0] and rotation.interpolation == interpolation
    flip, = steps(preset, v2.RandomHorizontalFlip)
    assert flip.p == 0.5
    jitter, = steps(preset, v2.ColorJitter)
    assert tuple(jitter.brightness) == (0.8, 1.2) and tuple(jitter.contrast) == (0.8, 1.2)
    assert jitter.saturation is None and jitter.hue is None
    wrapper, = [s for s in preset.transforms if isinstance(s, v2.RandomApply)]
    assert wrapper.p == 0.5  # torchvision's default, as the report used it
    assert isinstance(preset.transforms[-2], v2.ToDtype)
    assert isinstance(preset.transforms[-1], v2.Normalize)
    assert list(preset.transforms[-1].mean) == [0.5] * 3


def test_report_preset_is_the_reports_pipeline_at_128_px():
    preset = report_augmentation()
    _check_the_reports_steps(preset, v2.InterpolationMode.BILINEAR)
    assert len(steps(preset, ReportBlur)) == 1 and not steps(preset, v2.GaussianBlur)


def test_strong_blur_keeps_the_reports_numbers_at_128_px():
    preset = strong_blur_augmentation()
    _check_the_reports_steps(preset, v2.InterpolationMode.NEAREST)
    blur, = steps(preset, v2.GaussianBlur)
    assert list(blur.kernel_size) == [7, 13] and list(blur.sigma) == [6.0, 7.0]


def test_report_blur_sigma_is_the_reports_spread_scaled_to_the_image():
    for sigma in REPORT_BLUR_SIGMA:
        across, down = blur_spread(REPORT_BLUR_KERNEL, sigma)
        assert report_blur_sigma(sigma, REPORT_ORIGINAL_SIZE) == pytest.approx((across, down))
        small = report_blur_sigma(sigma, 128)
        assert small == pytest.approx((across * 128 / 600, down * 128 / 600))
        assert 0.4 < small[0] < 0.45 and 0.7 < small[1] < 0.8  # a fraction of a pixel at 128 px
        assert report_blur_sigma(sigma, 224, 112) == pytest.approx((across * 224 / 600, down * 112 / 600))


def _photograph(size: int = REPORT_ORIGINAL_SIZE) -> torch.Tensor:
    """A (3, size, size) float image in [0, 255] with detail down to the 128 px grid's scale."""
    generator = torch.Generator().manual_seed(0)
    coarse = torch.rand((3, 128, 128), generator=generator, dtype=torch.float64) * 255
    return v2.functional.resize(coarse.float(), [size, size], antialias=True)


def _shrink(image: torch.Tensor) -> torch.Tensor:
    return v2.functional.resize(image, [128, 128], antialias=True)


def test_report_blur_at_128_px_is_the_reports_blur_at_600_px_then_resized():
    """Blurring the 600 px photograph and then resizing it (the report) is close to what
    ReportBlur does to the resized image (the library): it reproduces about three quarters of
    the blur's effect (a Gaussian of the same spread, not the report's near-box shape); the
    report's numbers copied onto 128 px (strong_blur) land further off than no blur at all."""
    photo, sigma = _photograph(), 6.5
    report = _shrink(v2.functional.gaussian_blur(photo, list(REPORT_BLUR_KERNEL), [sigma]))
    small = _shrink(photo)
    ours = ReportBlur().transform(small, {"sigma": sigma})
    strong = v2.functional.gaussian_blur(small, list(REPORT_BLUR_KERNEL), [sigma])
    error = lambda image: (image - report).abs().mean().item()  # noqa: E731
    assert error(ours) < 0.35 * error(small) and error(small) < error(strong)
    assert error(ours) < 0.3 * error(strong)


def test_bilinear_rotation_at_128_px_is_closer_to_the_reports_rotation_then_resize():
    photo, angle = _photograph(), 10.0
    report = _shrink(v2.functional.rotate(photo, angle))  # nearest neighbour, as the report's
    small = _shrink(photo)
    error = lambda mode: (v2.functional.rotate(small, angle, interpolation=mode)  # noqa: E731
                          - report).abs().mean().item()
    assert error(v2.InterpolationMode.BILINEAR) < 0.8 * error(v2.InterpolationMode.NEAREST)


def test_strong_blur_is_heavy_and_the_reports_is_light(face):
    mild_blur, = steps(mild_augmentation(), v2.GaussianBlur)
    strong_blur, = steps(strong_blur_augmentation(), v2.GaussianBlur)
    assert list(mild_blur.kernel_size) == [3, 3] and list(mild_blur.sigma) == [0.1, 1.0]
    big = v2.functional.resize(face, [128, 128], antialias=True)
    detail = lambda image: image.float().diff(dim=-1).abs().mean()  # noqa: E731
    torch.manual_seed(0)
    assert detail(strong_blur(big)) < 0.5 * detail(mild_blur(big)) < detail(big)
    report = ReportBlur().transform(big, {"sigma": REPORT_BLUR_SIGMA[1]})
    assert detail(strong_blur(big)) < 0.5 * detail(report) < detail(big)


@pytest.mark.parametrize("factory", [report_augmentation, strong_blur_augmentation])
def test_blur_applies_about_half_the_time(face, factory):
    wrapper, = [s for s in factory().transforms if isinstance(s, v2.RandomApply)]
    big = v2.functional.resize(face, [128, 128], antialias=True)  # the report's blur is scaled to it
    torch.manual_seed(0)
    changed = sum(not torch.equal(wrapper(big), big) for _ in range(200))
    assert 70 < changed < 130


def test_presets_take_uint8_only_and_never_alter_their_input(face):
    kept = face.clone()
    for preset in (get_transform(name) for name in PRESETS):
        preset(face)
        with pytest.raises(TypeError, match="uint8"):
            preset(face.float() / 255)
    assert torch.equal(face, kept)


def test_bad_names_and_statistics():
    with pytest.raises(ValueError, match="'eval', 'report', 'strong_blur', 'mild'"):
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
