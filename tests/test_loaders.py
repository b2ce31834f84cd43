"""Tests for fakeface_lib.data.loaders: the uint8 cache, FaceDataset and make_loaders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch.utils.data import default_collate

from fakeface_lib.config import SPLITS, TrainConfig
from fakeface_lib.data import loaders as loaders_module
from fakeface_lib.data.batches import StackedSamples, collate
from fakeface_lib.data.index import index_dataset
from fakeface_lib.data.loaders import FaceDataset, default_num_workers, make_loaders
from fakeface_lib.data.preprocessing import ImageReadError, Preprocessing, load_image
from fakeface_lib.data.regions import FACE_CROP
from fakeface_lib.data.splitting import split_dataset
from fakeface_lib.data.transforms import IMAGENET_MEAN, IMAGENET_STD, denormalize, get_transform

SIZE = 32
N_REAL, N_FAKE = 14, 12


def scene(seed: int, size: int = 48) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.BICUBIC)


@pytest.fixture
def dataset_root(tmp_path: Path) -> Path:
    root = tmp_path / "faces"
    (root / "training_real").mkdir(parents=True)
    (root / "training_fake").mkdir()
    for i in range(1, N_REAL + 1):
        scene(i).save(root / "training_real" / f"real_{i:05d}.jpg")
    for i in range(1, N_FAKE + 1):
        difficulty = ("easy", "mid", "hard")[i % 3]
        scene(100 + i).save(root / "training_fake" / f"{difficulty}_{i}_1010.jpg")
    return root


@pytest.fixture
def split_df(dataset_root: Path) -> pd.DataFrame:
    return split_dataset(index_dataset(dataset_root), fractions=(0.5, 0.25, 0.25), seed=0)


def batches(loader) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(images.clone(), labels.clone()) for images, labels in loader]


def same_batches(a, b) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) and torch.equal(u, v)
                                    for (x, u), (y, v) in zip(a, b))


def test_batches_shapes_dtypes_and_range(split_df):
    loaders = make_loaders(split_df, batch_size=4, image_size=SIZE)
    assert set(loaders) == {"train", "val", "test"}
    for name, loader in loaders.items():
        n = 0
        for images, labels in loader:
            assert images.dtype == torch.float32 and labels.dtype == torch.int64
            assert images.shape[1:] == (3, SIZE, SIZE) and images.shape[0] == labels.shape[0] <= 4
            assert images.min() >= -1 and images.max() <= 1 and images.min() < -0.5
            assert set(labels.tolist()) <= {0, 1}
            n += len(labels)
        assert n == (split_df["split"] == name).sum()


def test_cache_holds_uint8_at_s_s_3_bytes_per_image(split_df):
    loaders = make_loaders(split_df, batch_size=4, image_size=SIZE)
    total = 0
    for loader in loaders.values():
        dataset = loader.dataset
        assert dataset.images.dtype == torch.uint8 and dataset.images.is_contiguous()
        assert dataset.images.shape == (len(dataset), 3, SIZE, SIZE)
        assert dataset.cache_nbytes == len(dataset) * SIZE * SIZE * 3
        total += dataset.cache_nbytes
    assert total == len(split_df) * SIZE * SIZE * 3


def test_cached_epochs_never_touch_the_disk(split_df):
    loaders = make_loaders(split_df, batch_size=4, image_size=SIZE)
    before = batches(loaders["val"])
    for path in split_df["path"]:
        Path(path).unlink()
    assert same_batches(batches(loaders["val"]), before)
    n_train = sum(len(labels) for _, labels in loaders["train"])
    assert n_train == (split_df["split"] == "train").sum()


def test_same_seed_same_order_other_seed_other_order(split_df):
    first = batches(make_loaders(split_df, batch_size=4, image_size=SIZE, seed=5)["train"])
    again = batches(make_loaders(split_df, batch_size=4, image_size=SIZE, seed=5)["train"])
    other = batches(make_loaders(split_df, batch_size=4, image_size=SIZE, seed=6)["train"])
    assert same_batches(first, again)
    assert not same_batches(first, other)
    loaders = make_loaders(split_df, batch_size=4, image_size=SIZE, seed=5)
    assert not same_batches(batches(loaders["train"]), batches(loaders["train"]))  # reshuffled


def test_eval_loaders_are_deterministic_and_in_frame_order(split_df):
    loaders = make_loaders(split_df, batch_size=4, image_size=SIZE)
    val = loaders["val"]
    assert same_batches(batches(val), batches(val))
    frame = val.dataset.frame
    assert frame.index.tolist() == list(range(len(frame)))
    expected = split_df[split_df["split"] == "val"]["filename"].tolist()
    assert frame["filename"].tolist() == expected
    labels = torch.cat([labels for _, labels in val])
    assert labels.tolist() == frame["label"].tolist()
    first = load_image(frame["path"].iloc[0], SIZE)
    assert torch.allclose(next(iter(val))[0][0], first.float() / 255 * 2 - 1, atol=1e-6)


def test_augment_applies_to_train_only(split_df):
    plain = make_loaders(split_df, batch_size=4, image_size=SIZE, seed=1)
    marked = make_loaders(split_df, batch_size=4, image_size=SIZE, seed=1,
                          augment=lambda image: torch.full((3, SIZE, SIZE), 7.0))
    assert all((images == 7).all() for images, _ in marked["train"])
    for name in ("val", "test"):
        assert same_batches(batches(marked[name]), batches(plain[name]))
    torch.manual_seed(0)
    report = make_loaders(split_df, batch_size=4, image_size=SIZE, seed=1, augment="report")
    augmented = torch.cat([images for images, _ in report["train"]])
    unaugmented = torch.cat([images for images, _ in plain["train"]])
    assert augmented.shape == unaugmented.shape and not torch.allclose(augmented, unaugmented)
    assert same_batches(batches(report["val"]), batches(plain["val"]))


def test_imagenet_statistics_and_denormalize(split_df):
    loaders = make_loaders(split_df, batch_size=4, image_size=SIZE,
                           mean=IMAGENET_MEAN, std=IMAGENET_STD, augment="mild")
    images, _ = next(iter(loaders["val"]))
    raw = loaders["val"].dataset.images[: len(images)].float() / 255
    assert torch.allclose(denormalize(images, IMAGENET_MEAN, IMAGENET_STD), raw, atol=1e-5)


def test_uncached_matches_cached(split_df):
    cached = make_loaders(split_df, batch_size=4, image_size=SIZE)
    uncached = make_loaders(split_df, batch_size=4, image_size=SIZE, cache=False)
    assert uncached["test"].dataset.images is None and uncached["test"].dataset.cache_nbytes == 0
    assert same_batches(batches(cached["test"]), batches(uncached["test"]))
    assert same_batches(batches(cached["train"]), batches(uncached["train"]))


def test_worker_processes_give_the_same_batches(split_df):
    single = batches(make_loaders(split_df, batch_size=4, image_size=SIZE, seed=3)["train"])
    workers = make_loaders(split_df, batch_size=4, image_size=SIZE, seed=3, num_workers=1)
    assert same_batches(batches(workers["train"]), single)


def test_default_workers_only_where_a_gpu_waits_for_per_image_work(monkeypatch):
    assert default_num_workers("train", augmented=True, cuda=False) == 0
    assert default_num_workers("train", augmented=False, cached=False, cuda=False) == 0
    monkeypatch.setattr(loaders_module.os, "cpu_count", lambda: 16)
    assert default_num_workers("train", augmented=True, cuda=True) == 2
    assert default_num_workers("train", augmented=False, cuda=True) == 0
    assert default_num_workers("val", augmented=True, cuda=True) == 0
    assert default_num_workers("test", augmented=False, cached=False, cuda=True) == 2
    monkeypatch.setattr(loaders_module.os, "cpu_count", lambda: 1)
    assert default_num_workers("train", augmented=True, cuda=True) == 1


def workers_of(loaders) -> dict[str, tuple[int, bool, bool]]:
    return {name: (loader.num_workers, loader.pin_memory, loader.persistent_workers)
            for name, loader in loaders.items()}


def test_loaders_on_a_cpu_have_no_workers_and_no_pinned_memory(split_df, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for augment in (None, "mild"):
        loaders = make_loaders(split_df, batch_size=4, image_size=SIZE, augment=augment)
        assert set(workers_of(loaders).values()) == {(0, False, False)}


def test_loaders_on_cuda_feed_the_gpu(split_df, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # built, never iterated here
    monkeypatch.setattr(loaders_module.os, "cpu_count", lambda: 2)
    on_gpu = make_loaders(split_df, batch_size=4, image_size=SIZE, augment="mild")
    assert {(type(loader).__name__, loader.device.type) for loader in on_gpu.values()} == {
        ("DeviceBatches", "cuda")}  # the default on CUDA (tests/test_device_batches.py)
    mild = get_transform("mild")
    own = make_loaders(split_df, batch_size=4, image_size=SIZE, augment=lambda x: mild(x))
    assert workers_of(own) == {"train": (2, True, False), "val": (0, True, False),
                               "test": (0, True, False)}
    uncached = make_loaders(split_df, batch_size=4, image_size=SIZE, cache=False)
    assert {n for n, _, _ in workers_of(uncached).values()} == {2}
    explicit = make_loaders(split_df, batch_size=4, image_size=SIZE, augment="mild", num_workers=0)
    assert {n for n, _, _ in workers_of(explicit).values()} == {0}
    kept = make_loaders(split_df, batch_size=4, image_size=SIZE, augment="mild", num_workers=1,
                        persistent_workers=True)
    assert workers_of(kept) == {"train": (1, True, True), "val": (1, True, False),
                                "test": (1, True, False)}


def augmented_epochs(split_df, num_workers: int, epochs: int = 2):
    torch.manual_seed(0)
    loaders = make_loaders(split_df, batch_size=4, image_size=SIZE, seed=3, augment="mild",
                           num_workers=num_workers)
    return [batches(loaders["train"]) for _ in range(epochs)]


def test_augmented_batches_from_workers_repeat_exactly(split_df):
    first, again = augmented_epochs(split_df, 2), augmented_epochs(split_df, 2)
    assert all(same_batches(a, b) for a, b in zip(first, again))
    assert not same_batches(first[0], first[1])  # another shuffle and other draws each epoch


@pytest.mark.parametrize("source", [{"num_workers": 2}, {"device": "cpu"}],
                         ids=["augmenting workers", "device batches"])
def test_fit_resumes_exactly(split_df, tmp_path, capsys, source):
    """DataLoaders with augmenting workers, and the device path (DeviceBatches) run on a CPU."""
    from fakeface_lib.training.checkpoints import CheckpointPlan, load_checkpoint
    from fakeface_lib.training.fit import fit

    def run(num_epochs: int, resume: bool = False, folder: str = "cut") -> list[dict]:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=4), torch.nn.ReLU(),
                                    torch.nn.Flatten(), torch.nn.Dropout(0.3),
                                    torch.nn.Linear(4 * 8 * 8, 2))
        loaders = make_loaders(split_df, batch_size=4, image_size=SIZE, seed=1, augment="mild",
                               **source)
        history = fit(model, loaders, TrainConfig(num_epochs=num_epochs, lr=0.05, seed=3),
                      device="cpu", progress=False,
        checkpoints=CheckpointPlan(tmp_path / folder, resume=resume))
        return [{k: v for k, v in row.items() if k != "seconds"} for row in history]

    straight = run(3, folder="straight")
    run(2)
    resumed = run(3, resume=True)
    assert "Resuming from epoch 2 of 3" in capsys.readouterr().out
    assert resumed == straight
    last, last_straight = load_checkpoint(tmp_path / "cut"), load_checkpoint(tmp_path / "straight")
    for name, tensor in last_straight["model"].items():  # the last weights, not the best
        assert torch.equal(tensor, last["model"][name]), name


def test_file_broken_after_indexing_is_named(split_df):
    broken = Path(split_df["path"].iloc[3])
    broken.write_bytes(broken.read_bytes()[:40])
    with pytest.raises(ImageReadError, match=broken.name) as error:
        make_loaders(split_df, batch_size=4, image_size=SIZE)
    assert "index_dataset" in str(error.value)
    loaders = make_loaders(split_df, batch_size=4, image_size=SIZE, cache=False)
    name = split_df["split"].iloc[3]
    with pytest.raises(ImageReadError, match=broken.name):
        batches(loaders[name])


def test_face_crop_reaches_every_split_and_the_uncached_path(split_df):
    loaders = make_loaders(split_df, batch_size=4, image_size=SIZE, crop="face")
    plain = FaceDataset(split_df, image_size=SIZE)
    for name in ("train", "val", "test"):
        assert loaders[name].dataset.crop == FACE_CROP
    cropped = FaceDataset(split_df, image_size=SIZE, crop="face")
    assert not torch.equal(cropped.images, plain.images)
    uncached = FaceDataset(split_df, image_size=SIZE, crop="face", cache=False)
    assert torch.equal(uncached[3][0], cropped[3][0])


def test_loaders_keep_the_preprocessing_they_used(split_df):
    p = Preprocessing(image_size=SIZE, crop="face", mean=IMAGENET_MEAN, std=IMAGENET_STD)
    loaders = make_loaders(split_df, batch_size=4, preprocessing=p)
    assert all(loaders[name].dataset.preprocessing == p for name in SPLITS)
    assert make_loaders(split_df, batch_size=4)["val"].dataset.preprocessing == Preprocessing()
    separate = make_loaders(split_df, batch_size=4, image_size=SIZE, crop="face",
                            mean=IMAGENET_MEAN, std=IMAGENET_STD)
    assert separate["train"].dataset.preprocessing == p
    assert all(same_batches(batches(separate[name]), batches(loaders[name])) for name in SPLITS)
    images, _ = next(iter(loaders["test"]))
    paths = loaders["test"].dataset.frame["path"]
    assert all(torch.equal(images[i], p.tensor(paths.iloc[i])) for i in range(len(images)))


def test_a_preprocessing_or_separate_settings_never_both(split_df):
    p = Preprocessing(image_size=SIZE)
    assert make_loaders(split_df, preprocessing=p)["val"].dataset.preprocessing == p
    with pytest.raises(ValueError, match=r"\['image_size'\] given beside preprocessing"):
        make_loaders(split_df, image_size=SIZE, preprocessing=p)  # even when they agree
    with pytest.raises(ValueError, match=r"\['crop'\] given beside"):
        FaceDataset(split_df, crop="face", preprocessing=p)
    assert FaceDataset(split_df, SIZE, cache=False).preprocessing == p


def test_stacked_batches_collate_like_default_collate():
    images = torch.randn(4, 3, 8, 8)
    samples = StackedSamples(images, [1, 0, 1, 1])
    fast, reference = collate(samples), default_collate(list(samples))
    assert fast[0] is images and torch.equal(fast[0], reference[0])
    assert torch.equal(fast[1], reference[1]) and fast[1].dtype == torch.int64
    plain = collate([(images[0], 1), (images[1], 0)])
    assert plain[0].shape == (2, 3, 8, 8) and plain[1].tolist() == [1, 0]


def test_dataset_without_transform_returns_uint8(split_df):
    dataset = FaceDataset(split_df, image_size=SIZE)
    image, label = dataset[0]
    assert image.dtype == torch.uint8 and image.shape == (3, SIZE, SIZE)
    assert label == int(split_df["label"].iloc[0])


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": 0}, "batch_size must be an int >= 1"),
    ({"image_size": 4}, "image_size must be an int >= 8"),
    ({"num_workers": -1}, "num_workers"),
    ({"augment": "strong"}, "'report', 'mild'"),
    ({"augment": 3}, "callable"),
    ({"mean": (0.5,)}, "3 each"),
    ({"crop": "eyes"}, "Unknown crop 'eyes'"),
    ({"crop": (0.5, 0.2, 0.4, 0.9)}, "not a box inside the image"),
    ({"crop": (0.1, 0.2, 0.9)}, "four fractions"),
])
def test_bad_arguments_are_explained(split_df, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make_loaders(split_df, **{"image_size": SIZE, **kwargs})


def test_bad_split_frames_are_explained(split_df):
    with pytest.raises(KeyError, match="split_dataset"):
        make_loaders(split_df.drop(columns="split"))
    no_test = split_df.assign(split=split_df["split"].replace("test", "val"))
    with pytest.raises(ValueError, match=r"\['test'\].*fractions"):
        make_loaders(no_test)
    odd = split_df.assign(split="holdout")
    with pytest.raises(ValueError, match="holdout"):
        make_loaders(odd)
