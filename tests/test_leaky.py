"""The report's leaky protocol: copies, split sizes, leaked fraction, fixed and fresh copies,
loaders, the experiment's network; and notebook 03b's plain PyTorch lines, which split exactly as
the library does."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import ConcatDataset, random_split

import fakeface_lib.data.loaders as loaders_module
from fakeface_lib.config import MODEL1_RECIPE, MODEL2_2_RECIPE
from fakeface_lib.data.index import index_dataset
from fakeface_lib.data.splitting import split_dataset
from fakeface_lib.experiments.leak import (
    AugmentedCopies, FreshCopies, cache_sources, copy_seed, leak_network, leaked_fraction,
    make_copies, make_leaky_loaders, report_leaky_split, report_split_sizes,
)

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03b_the_leak.ipynb"


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


def test_rows_are_the_items_of_the_concatenated_dataset():
    frame = report_leaky_split(fake_index(10), copies=4)
    assert frame["source"].tolist() == list(range(10)) * 4  # item j: photograph j % n
    assert frame["copy"].tolist() == [k for k in range(4) for _ in range(10)]  # copy j // n


@pytest.mark.parametrize("seed", [0, 42])
def test_report_protocol_is_torchs_random_split_of_four_copies(seed):
    n = 2041
    frame = report_leaky_split(fake_index(n), copies=4, seed=seed)
    parts = random_split(ConcatDataset([list(range(n))] * 4), report_split_sizes(4 * n),
                         generator=torch.Generator().manual_seed(seed))
    for name, part in zip(("train", "val", "test"), parts):
        assert sorted(part.indices) == frame.index[frame["split"] == name].tolist(), name
    assert report_split_sizes(4 * n) == [6531, 816, 817]


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
        assert (frame["split"].to_numpy() == np.tile(index["split"].to_numpy(), 4)).all()
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
                        lambda p, *args: calls.append(p) or real_read(p, *args))
    frame = report_leaky_split(demo_sources, copies=4)
    images = cache_sources(frame, image_size=32)
    assert images.shape == (len(demo_sources), 3, 32, 32) and images.dtype == torch.uint8
    assert len(calls) == len(demo_sources)


def test_copies_are_fixed_and_distinct(demo_sources):
    sources = cache_sources(report_leaky_split(demo_sources, copies=3), image_size=32)
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    copies = make_copies(sources, copies=3, augment="report", seed=7)
    assert torch.rand(1) == before, "making copies must not disturb torch's global RNG"
    assert copies.shape == (len(sources), 3, 3, 32, 32) and copies.dtype == torch.uint8
    assert torch.equal(copies, make_copies(sources, copies=3, augment="report", seed=7))
    assert torch.equal(copies[:5], make_copies(sources[:5], copies=3, augment="report", seed=7))
    assert not torch.equal(copies[0, 0], copies[0, 1]), "copy 1 of an image differs from copy 0"
    assert not torch.equal(copies, make_copies(sources, copies=3, augment="report", seed=8))
    assert copy_seed(7, 0, 0) != copy_seed(7, 0, 1) and copy_seed(7, 0, 0) == copy_seed(7, 0, 0)


def test_dataset_serves_each_copy_normalised(demo_sources):
    frame = report_leaky_split(demo_sources, copies=2, seed=0)
    copies = make_copies(cache_sources(frame, image_size=32), copies=2)
    shuffled = frame.sample(frac=1, random_state=0)
    dataset = AugmentedCopies(shuffled, copies)
    image, label = dataset[0]
    row = shuffled.iloc[0]
    assert torch.allclose(image, copies[row["source"], row["copy"]].float() / 127.5 - 1, atol=1e-6)
    assert label == row["label"]
    with pytest.raises(ValueError, match="lacks"):
        AugmentedCopies(report_leaky_split(demo_sources, copies=3), copies)


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
        make_leaky_loaders(frame, copies=make_copies(cache_sources(frame, 32), 2), image_size=64)


def test_fresh_copies_draw_anew_at_every_access_and_fixed_ones_do_not(demo_sources):
    frame = report_leaky_split(demo_sources, copies=2, seed=0)
    fresh = make_leaky_loaders(frame, batch_size=8, image_size=32, seed=0, draws="fresh")
    fixed = make_leaky_loaders(frame, batch_size=8, image_size=32, seed=0, draws="fixed")
    for loaders in (fresh, fixed):
        assert all(type(loader.dataset) is type(loaders["train"].dataset) for loader in loaders.values())
        assert sum(len(loader.dataset) for loader in loaders.values()) == len(frame)
    assert isinstance(fresh["test"].dataset, FreshCopies)
    assert isinstance(fixed["test"].dataset, AugmentedCopies)
    first, again = fresh["test"].dataset[0][0], fresh["test"].dataset[0][0]
    assert first.shape == (3, 32, 32) and first.dtype == torch.float32
    assert not torch.equal(first, again), "a fresh copy is a new draw at every access"
    assert torch.equal(fixed["test"].dataset[0][0], fixed["test"].dataset[0][0])
    images, labels = next(iter(fresh["train"]))
    assert images.shape == (8, 3, 32, 32) and labels.dtype == torch.int64


def test_draws_are_checked(demo_sources):
    frame = report_leaky_split(demo_sources, copies=2, seed=0)
    sources = cache_sources(frame, image_size=32)
    with pytest.raises(ValueError, match="draws"):
        make_leaky_loaders(frame, image_size=32, draws="once")
    with pytest.raises(ValueError, match="sources"):
        make_leaky_loaders(frame, copies=make_copies(sources, 2), image_size=32, draws="fresh")
    with pytest.raises(ValueError, match="copies"):
        make_leaky_loaders(frame, image_size=32, draws="fixed", sources=sources)
    with pytest.raises(ValueError, match="lack"):
        FreshCopies(frame, sources[:3])


def _runnable(source: str) -> str:
    """A cell's source with IPython's magics (``%pip ...``) made plain Python."""
    return re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.M)


def test_notebook_03b_writes_out_the_split_the_library_makes(demo_sources):
    """Notebook 03b's plain PyTorch lines (ConcatDataset of the augmented photographs, then
    random_split) put every item where report_leaky_split does, and serve the same pictures
    as the library's fresh reading for the same seed."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code" and "pip install" in c.source)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    by_hand = next(c for c in nb.cells if c.get("id") == "leak-by-hand").source
    assert "ConcatDataset(" in by_hand and "random_split(" in by_hand
    assert "report_leaky_split" not in by_hand and "make_leaky_loaders" not in by_hand
    namespace: dict = {}
    exec(_runnable(setup.source), namespace)
    exec(params.source, namespace)
    namespace["split_frame"] = demo_sources
    exec(by_hand, namespace)
    frame = report_leaky_split(demo_sources, copies=namespace["COPIES"], seed=namespace["SEED"])
    parts = {"train": namespace["train_set"], "val": namespace["valid_set"],
             "test": namespace["test_set"]}
    for name, part in parts.items():
        assert sorted(part.indices) == frame.index[frame["split"] == name].tolist(), name
    test_set, sources = namespace["test_set"], cache_sources(frame, image_size=128)
    for k in range(3):
        item = test_set.indices[k]
        library = FreshCopies(frame.loc[[item]], sources)
        torch.manual_seed(k)
        expected = library[0]
        torch.manual_seed(k)
        image, label = test_set[k]
        assert torch.equal(image, expected[0]) and label == expected[1]


def test_the_leak_network_is_model2_with_model1_standing_in_for_smoke_runs(capsys):
    full = leak_network("model2")
    assert (full.model, full.recipe, full.name, full.suffix) == ("model2", MODEL2_2_RECIPE, "Model 2", "")
    assert capsys.readouterr().out == ""
    stand_in = leak_network("model2", smoke=True)
    assert (stand_in.model, stand_in.recipe) == ("model1", MODEL1_RECIPE)
    assert stand_in.suffix == " (Model 1 stand-in)" and "standing in" in stand_in.name
    assert "Model 1 stands in for Model 2" in capsys.readouterr().out
    assert leak_network("model1").recipe == MODEL1_RECIPE  # make demo's choice, said by its title
    with pytest.raises(ValueError, match="model2"):
        leak_network("resnet18")
