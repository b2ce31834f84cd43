"""The report's leaky protocol: copies, split sizes, leaked fraction, deterministic copies, loaders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import fakeface_lib.loaders as loaders_module
from fakeface_lib.data import index_dataset, split_dataset
from fakeface_lib.leaky import (AugmentedCopies, cache_sources, copy_seed, leaked_fraction,
                                make_leaky_loaders, report_leaky_split)
from fakeface_lib.transforms import report_augmentation


def fake_index(n: int) -> pd.DataFrame:
    """An index-like frame without images (for the split logic only)."""
    return pd.DataFrame({"path": [f"/x/{i}.jpg" for i in range(n)],
                         "filename": [f"{i}.jpg" for i in range(n)],
                         "label": np.arange(n) % 2, "difficulty": ["real"] * n})


@pytest.fixture(scope="module")
def demo_sources(demo_root) -> pd.DataFrame:
    """40 demo images (both classes) with an honest split."""
    df = index_dataset(demo_root)
    small = pd.concat([df[df.label == 0].head(20), df[df.label == 1].head(20)])
    return split_dataset(small, seed=0)


def test_every_source_repeated_copies_times():
    frame = report_leaky_split(fake_index(10), copies=4)
    assert len(frame) == 40
    assert frame.groupby("source")["copy"].apply(sorted).tolist() == [[0, 1, 2, 3]] * 10
    assert (frame.groupby("source")["filename"].nunique() == 1).all()
    assert frame.loc[frame.source == 3, "filename"].iloc[0] == "3.jpg"


def test_report_protocol_sizes_match_the_reports_random_split():
    frame = report_leaky_split(fake_index(2041), copies=4, seed=0)
    counts = frame["split"].value_counts()
    assert (counts["train"], counts["val"], counts["test"]) == (6531, 816, 817)


def test_report_protocol_leaks_almost_every_test_item():
    frame = report_leaky_split(fake_index(300), copies=4, seed=1)
    # Each test item's 3 other copies miss train with probability 0.2**3 = 0.008.
    assert leaked_fraction(frame) > 0.95


@pytest.mark.parametrize("with_split", [False, True])
def test_split_by_source_does_not_leak(with_split):
    index = fake_index(300)
    if with_split:
        index = split_dataset(index, seed=3)
    frame = report_leaky_split(index, copies=4, group_by_source=True)
    assert leaked_fraction(frame) == 0.0
    assert (frame.groupby("source")["split"].nunique() == 1).all()
    if with_split:  # copies inherit the honest split of their source
        assert (frame["split"].to_numpy() == np.repeat(index["split"].to_numpy(), 4)).all()
    else:
        assert 0.75 < (frame["split"] == "train").mean() < 0.85


def test_split_is_seeded():
    a, b, c = (report_leaky_split(fake_index(50), seed=s)["split"] for s in (5, 5, 6))
    assert a.equals(b) and not a.equals(c)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="copies"):
        report_leaky_split(fake_index(5), copies=0)
    with pytest.raises(ValueError, match="fractions"):
        report_leaky_split(fake_index(5), fractions=(0.5, 0.1, 0.1))
    with pytest.raises(KeyError, match="source"):
        leaked_fraction(fake_index(5).assign(split="test"))


def test_each_source_is_decoded_once(demo_sources, monkeypatch):
    calls = []
    real_read = loaders_module.read_image_array
    monkeypatch.setattr(loaders_module, "read_image_array",
                        lambda p, s: calls.append(p) or real_read(p, s))
    frame = report_leaky_split(demo_sources, copies=4)
    images = cache_sources(frame, image_size=32)
    assert images.shape == (len(demo_sources), 3, 32, 32) and images.dtype == torch.uint8
    assert len(calls) == len(demo_sources)


def test_copies_are_fixed_and_distinct(demo_sources):
    frame = report_leaky_split(demo_sources, copies=4)
    images = cache_sources(frame, image_size=32)
    first = AugmentedCopies(frame, images, report_augmentation(), seed=7)
    again = AugmentedCopies(frame.sample(frac=1, random_state=0), images, report_augmentation(), seed=7)
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    x0, label = first[0]
    assert torch.rand(1) == before, "making a copy must not disturb torch's global RNG"
    assert torch.equal(x0, first[0][0])  # same copy, same picture, every time
    k = int(np.flatnonzero((again.frame["source"] == 0) & (again.frame["copy"] == 0))[0])
    assert torch.equal(x0, again[k][0])  # whatever the row order or the dataset
    assert label == int(frame.label.iloc[0])
    assert not torch.equal(first[0][0], first[1][0])  # copy 1 of the same image differs
    assert copy_seed(7, 0, 0) != copy_seed(7, 0, 1) and copy_seed(7, 0, 0) == copy_seed(7, 0, 0)


def test_leaky_loaders_shapes_and_order(demo_sources):
    frame = report_leaky_split(demo_sources, copies=2, seed=0)
    loaders = make_leaky_loaders(frame, batch_size=8, image_size=32, seed=0)
    images, labels = next(iter(loaders["train"]))
    assert images.shape == (8, 3, 32, 32) and images.dtype == torch.float32
    assert labels.dtype == torch.int64
    assert sum(len(loader.dataset) for loader in loaders.values()) == 2 * len(demo_sources)
    test = loaders["test"].dataset
    assert test.frame["split"].eq("test").all() and len(test.frame) == (frame.split == "test").sum()
    order = lambda: torch.cat([y for _, y in make_leaky_loaders(frame, batch_size=8, image_size=32,
                                                                seed=0)["train"]])
    assert torch.equal(order(), order())
    with pytest.raises(ValueError, match="image_size"):
        make_leaky_loaders(frame, images=cache_sources(frame, 32), image_size=64)
