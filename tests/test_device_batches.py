"""Batches made on the device (DeviceBatches, BatchAugment), run here on the CPU against the
DataLoader path: the same images, order and augmentation bit for bit, the presets' parameter
distributions, exact resume, and when make_loaders picks which path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torchvision.transforms import InterpolationMode, v2

from fakeface_lib.data.batch_augment import BatchAugment, rotate
from fakeface_lib.data.device_batches import DeviceBatches
from fakeface_lib.data.index import index_dataset
from fakeface_lib.data.loaders import FaceDataset, make_loaders
from fakeface_lib.data.splitting import split_dataset
from fakeface_lib.data.transforms import (
    MILD_BLUR_SIGMA,
    REPORT_BLUR_SIGMA,
    eval_transform,
    get_transform,
)
from fakeface_lib.evaluation.predictions import predict
from fakeface_lib.training.identity import data_identity, preprocessing_identity

SIZE = 32
PRESETS = ("report", "strong_blur", "mild")


@pytest.fixture
def split_df(tmp_path: Path) -> pd.DataFrame:
    """26 small JPEGs of smooth random colour fields, split 13/6/7."""
    root = tmp_path / "faces"
    for folder, count, offset in (("training_real", 14, 0), ("training_fake", 12, 100)):
        (root / folder).mkdir(parents=True)
        for i in range(1, count + 1):
            small = np.random.default_rng(offset + i).integers(0, 256, (6, 6, 3), dtype=np.uint8)
            name = (f"real_{i:05d}.jpg" if offset == 0
                    else f"{('easy', 'mid', 'hard')[i % 3]}_{i}_1010.jpg")
            Image.fromarray(small).resize((48, 48), Image.BICUBIC).save(root / folder / name)
    return split_dataset(index_dataset(root), fractions=(0.5, 0.25, 0.25), seed=0)


def fit_like_epochs(loaders: dict, epochs: int = 2) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every batch of ``epochs`` rounds of train then val, as fit() draws them."""
    batches = []
    for _ in range(epochs):
        for split in ("train", "val"):
            batches += [(images.clone(), labels.clone()) for images, labels in loaders[split]]
    return batches


def same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) and torch.equal(u, v)
                                    for (x, u), (y, v) in zip(a, b))


def both_paths(split_df: pd.DataFrame, **options) -> tuple[dict, dict]:
    """make_loaders' DataLoaders (this CPU's default) and DeviceBatches on the CPU."""
    return (make_loaders(split_df, batch_size=4, image_size=SIZE, seed=3, **options),
            make_loaders(split_df, batch_size=4, image_size=SIZE, seed=3, device="cpu", **options))


def test_device_batches_have_a_loaders_interface(split_df):
    cpu, device = both_paths(split_df)
    for split in ("train", "val", "test"):
        assert isinstance(device[split], DeviceBatches) and device[split].device.type == "cpu"
        assert isinstance(device[split].dataset, FaceDataset)
        assert len(device[split]) == len(cpu[split]) and device[split].batch_size == 4
        pd.testing.assert_frame_equal(device[split].dataset.frame, cpu[split].dataset.frame)
    assert isinstance(device["train"].generator, torch.Generator)
    assert device["val"].generator is None
    assert data_identity(device) == data_identity(cpu)  # one run, whichever path feeds it
    assert preprocessing_identity(device) == preprocessing_identity(cpu)


def test_eval_splits_are_the_dataloaders_bit_for_bit(split_df):
    cpu, device = both_paths(split_df, augment="report")
    for split in ("val", "test"):
        batches = list(device[split])
        assert same(batches, list(cpu[split]))
        assert batches[0][0].dtype == torch.float32 and batches[0][1].dtype == torch.int64


def test_training_batches_are_a_permutation_of_the_split(split_df):
    _, device = both_paths(split_df)
    loader = device["train"]
    expected = loader.dataset.transform(loader.dataset.images)  # every image, normalised
    batches = list(loader)
    images, labels = torch.cat([b for b, _ in batches]), torch.cat([b for _, b in batches])
    matches = (images[:, None] == expected[None]).flatten(2).all(-1)  # (drawn, cached)
    assert matches.sum(1).tolist() == [1] * len(expected)  # each drawn image is one cached image
    assert matches.sum(0).tolist() == [1] * len(expected)  # and each cached image drawn once
    order = matches.float().argmax(1)
    assert order.tolist() != list(range(len(expected)))  # shuffled
    assert labels.tolist() == [loader.dataset.labels[i] for i in order.tolist()]


@pytest.mark.parametrize("augment", [None, *PRESETS])
def test_epochs_equal_the_dataloaders_draw_for_draw(split_df, augment):
    """Same shuffles (the loader's generator) and the same augmentation draws (torch's global
    RNG, val loaders' draws included) give the same batches and leave the same RNG states."""
    results = []
    for loaders in both_paths(split_df, augment=augment):
        torch.manual_seed(11)
        results.append((fit_like_epochs(loaders), torch.get_rng_state(),
                        loaders["train"].generator.get_state()))
    (cpu, cpu_rng, cpu_gen), (device, device_rng, device_gen) = results
    assert same(cpu, device)
    assert torch.equal(cpu_rng, device_rng) and torch.equal(cpu_gen, device_gen)


@pytest.mark.parametrize("preset", PRESETS)
def test_batch_augment_is_the_preset_image_by_image(preset):
    images = torch.randint(0, 256, (12, 3, 20, 20), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(2))
    transform = get_transform(preset)
    torch.manual_seed(5)
    one_by_one = torch.stack([transform(image) for image in images])
    torch.manual_seed(5)
    assert torch.equal(BatchAugment(transform)(images), one_by_one)


@pytest.mark.parametrize("angle", [0.0, 90.0, -90.0, 180.0, 7.5])
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_rotation_takes_torchvisions_exact_paths_too(angle, mode):
    images = torch.randint(0, 256, (2, 3, 9, 12), dtype=torch.uint8)  # not square: no 90° shortcut
    expected = v2.functional.rotate(images, angle, interpolation=InterpolationMode(mode), fill=0)
    assert torch.equal(rotate(images, [angle, angle], mode), expected)


def test_drawn_parameters_follow_the_presets_distributions():
    """Each image draws its own rotation, flip, jitter order and factors, and blur."""
    torch.manual_seed(0)
    n = 2000
    for preset, sigma in (("report", REPORT_BLUR_SIGMA), ("mild", MILD_BLUR_SIGMA)):
        drawn = BatchAugment(get_transform(preset)).draw(n)
        angles, flips, jitters, blurs = zip(*[row[1:5] for row in drawn])  # the random steps
        angles = torch.tensor(angles)
        # uniform on (-15, 15): mean 0, std 8.66
        assert angles.abs().max() <= 15 and abs(angles.mean()) < 0.6 and 8.0 < angles.std() < 9.3
        assert 0.46 < np.mean(flips) < 0.54
        brightness_first = np.mean([order[0][0] == "brightness" for order in jitters])
        assert 0.46 < brightness_first < 0.54
        factors = torch.tensor([f for order in jitters for _, f in order])
        assert factors.min() >= 0.8 and factors.max() <= 1.2 and abs(factors.mean() - 1) < 0.01
        applied = torch.tensor([s for s in blurs if s is not None])
        assert 0.46 < len(applied) / n < 0.54
        assert sigma[0] <= applied.min() and applied.max() <= sigma[1]
        assert len({round(a, 6) for a in angles.tolist()}) > n * 0.99  # one draw per image


def test_a_restored_generator_and_rng_repeat_the_next_epoch(split_df):
    _, device = both_paths(split_df, augment="report")
    torch.manual_seed(0)
    list(device["train"])
    saved = device["train"].generator.get_state(), torch.get_rng_state()
    second = [(x.clone(), y.clone()) for x, y in device["train"]]
    device["train"].generator.set_state(saved[0])
    torch.set_rng_state(saved[1])
    assert same(second, list(device["train"]))


def test_predict_takes_the_eval_batches_and_refuses_shuffled_ones(split_df):
    cpu, device = both_paths(split_df)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * SIZE * SIZE, 2))
    pd.testing.assert_frame_equal(predict(model, device["test"]), predict(model, cpu["test"]))
    with pytest.raises(ValueError, match="unshuffled"):
        predict(model, device["train"])


def test_make_loaders_picks_device_batches_on_cuda_only_where_they_serve(split_df, monkeypatch):
    kinds = lambda loaders: {type(loader).__name__ for loader in loaders.values()}  # noqa: E731
    assert kinds(make_loaders(split_df, batch_size=4, image_size=SIZE)) == {"DataLoader"}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # built, never iterated here
    assert kinds(make_loaders(split_df, batch_size=4, image_size=SIZE, augment="report")) == {
        "DeviceBatches"}
    own = eval_transform()
    for options in ({"num_workers": 0}, {"cache": False}, {"augment": lambda x: own(x)}):
        assert kinds(make_loaders(split_df, batch_size=4, image_size=SIZE, **options)) == {
            "DataLoader"}, options


@pytest.mark.parametrize("options, message", [
    ({"num_workers": 2}, "worker processes"),
    ({"cache": False}, "cache=True"),
    ({"augment": lambda x: x}, "preset augmentation"),
])
def test_a_named_device_says_what_it_cannot_do(split_df, options, message):
    with pytest.raises(ValueError, match=message):
        make_loaders(split_df, batch_size=4, image_size=SIZE, device="cpu", **options)
