"""Notebook 00 writes a Dataset out (``__init__``, ``__len__``, ``__getitem__``); its cell, run
here, gives the same tensors and labels as the library's ``FaceDataset`` for the same rows."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import torch
from torch.utils.data import Dataset

from fakeface_lib.data.index import index_dataset
from fakeface_lib.data.loaders import FaceDataset
from fakeface_lib.data.preprocessing import load_image
from fakeface_lib.data.splitting import canonical_split
from fakeface_lib.data.transforms import eval_transform

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "00_preprocessing.ipynb"
TAG = "dataset-class"


def _class_cell() -> str:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c for c in nb.cells if TAG in c.metadata.get("tags", [])]
    assert len(cells) == 1 and cells[0].cell_type == "code", f"one code cell tagged {TAG!r}"
    return cells[0].source


@pytest.fixture(scope="module")
def notebook_class() -> type:
    namespace = {"Dataset": Dataset, "pd": pd, "load_image": load_image}
    exec(_class_cell(), namespace)
    classes = [v for v in namespace.values()
               if inspect.isclass(v) and issubclass(v, Dataset) and v is not Dataset]
    assert len(classes) == 1, "the cell defines one Dataset class"
    return classes[0]


def test_the_class_is_written_out_not_borrowed():
    source = _class_cell()
    lines = [ln for ln in source.splitlines() if ln.strip()]
    assert 12 <= len(lines) <= 25, f"{len(lines)} lines: a small class a student can read"
    for method in ("def __init__", "def __len__", "def __getitem__"):
        assert method in source
    assert not re.search(r"\bFaceDataset\b|make_loaders|_build_cache", source), "no library dataset"


@pytest.mark.parametrize("transform", [None, eval_transform()], ids=["uint8", "normalised"])
def test_same_tensors_and_labels_as_the_librarys(notebook_class, demo_root, transform):
    frame = canonical_split(index_dataset(demo_root))
    rows = frame.groupby(["split", "label"]).head(3)  # both classes of every split
    mine = notebook_class(rows, transform=transform)
    library = FaceDataset(rows, transform=transform, cache=False)
    assert len(mine) == len(library) == len(rows)
    for i in range(len(rows)):
        (image, label), (expected, expected_label) = mine[i], library[i]
        assert label == expected_label == int(rows["label"].iloc[i])
        assert image.dtype == expected.dtype and torch.equal(image, expected), rows["path"].iloc[i]
    cached = FaceDataset(rows, transform=transform, cache=True)  # the cache changes nothing
    assert all(torch.equal(mine[i][0], cached[i][0]) for i in range(len(rows)))
