"""Tests for fakeface_lib.data.duplicates: exact and perceptual duplicates, groups, leak reports."""

from __future__ import annotations

import os
import shutil
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageEnhance

from fakeface_lib.data.index import index_dataset
from fakeface_lib.data.duplicates import (
    add_duplicate_groups, duplicate_groups, find_duplicates, hamming_pairs, leak_report,
)
from fakeface_lib.data.splitting import CANONICAL_MAX_DISTANCE, canonical_split, split_dataset

REAL_DATA = Path(os.environ.get("FAKEFACE_REAL_DATA")
                 or Path(__file__).resolve().parents[2] / "shared/data/real_and_fake_face_160")
needs_real_data = pytest.mark.skipif(not (REAL_DATA / "training_real").is_dir(),
                                     reason=f"real dataset copy not found at {REAL_DATA}")


def scene(seed: int, size: int = 64) -> Image.Image:
    """A smooth random picture: distinct seeds give perceptually distinct images."""
    small = np.random.default_rng(seed).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.BICUBIC)


@pytest.fixture
def dup_dataset(tmp_path: Path) -> pd.DataFrame:
    """12 distinct images, plus: a byte copy, a re-encoded brighter copy, a half-size copy."""
    real, fake = tmp_path / "training_real", tmp_path / "training_fake"
    real.mkdir()
    fake.mkdir()
    for i in range(1, 9):
        scene(i).save(real / f"real_{i:05d}.jpg", quality=95)
    for i in range(1, 5):
        scene(100 + i).save(fake / f"easy_{i}_1010.jpg", quality=95)
    shutil.copyfile(real / "real_00001.jpg", real / "real_00009.jpg")  # exact
    # Near copies (pHash 0-2 bits away; distinct scenes here are >= 14 bits apart).
    brighter = ImageEnhance.Brightness(scene(6)).enhance(1.02)
    brighter.save(fake / "mid_7_1111.jpg", quality=85)  # across classes
    scene(5).resize((48, 48)).save(real / "real_00010.jpg", quality=90)
    return index_dataset(tmp_path)


def pair_set(pairs: pd.DataFrame) -> set[frozenset[str]]:
    return {frozenset(p) for p in zip(pairs["filename_a"], pairs["filename_b"])}


def test_finds_exact_and_near_duplicates_only(dup_dataset):
    pairs = find_duplicates(dup_dataset, max_distance=4)
    assert pair_set(pairs) == {frozenset({"real_00001.jpg", "real_00009.jpg"}),
                               frozenset({"real_00006.jpg", "mid_7_1111.jpg"}),
                               frozenset({"real_00005.jpg", "real_00010.jpg"})}
    kinds = dict(zip(map(frozenset, zip(pairs["filename_a"], pairs["filename_b"])), pairs["kind"]))
    assert kinds[frozenset({"real_00001.jpg", "real_00009.jpg"})] == "exact"
    assert (pairs.loc[pairs["kind"] == "near", "distance"] <= 4).all()
    assert pairs["distance"].is_monotonic_increasing and str(pairs["distance"].dtype) == "int64"
    assert list(pairs.columns) == ["filename_a", "filename_b", "class_a", "class_b", "kind",
                                   "distance", "path_a", "path_b"]


def test_max_distance_zero_and_validation(dup_dataset):
    exact_only = find_duplicates(dup_dataset, max_distance=0)
    assert frozenset({"real_00001.jpg", "real_00009.jpg"}) in pair_set(exact_only)
    assert (exact_only["distance"] == 0).all()
    for bad in (-1, 65, 2.5, True):
        with pytest.raises(ValueError, match="max_distance"):
            find_duplicates(dup_dataset, max_distance=bad)
    empty = find_duplicates(dup_dataset.iloc[:0])
    assert empty.empty and list(empty.columns)[0] == "filename_a"


def test_hamming_pairs_match_brute_force():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 256, (300, 8), dtype=np.uint8)
    bits[150] = bits[10] ^ np.array([1, 0, 0, 2, 0, 0, 0, 0], np.uint8)  # 2 bits apart
    bits[299] = bits[0]
    i, j, d = hamming_pairs(bits, max_distance=14, chunk=64)
    found = {(a, b): c for a, b, c in zip(i.tolist(), j.tolist(), d.tolist())}
    expected = {}
    for a, b in combinations(range(len(bits)), 2):
        distance = int(np.unpackbits(bits[a] ^ bits[b]).sum())
        if distance <= 14:
            expected[(a, b)] = distance
    assert found == expected and found[(10, 150)] == 2 and found[(0, 299)] == 0


def test_hamming_pairs_is_vectorised():
    bits = np.random.default_rng(1).integers(0, 256, (3000, 8), dtype=np.uint8)
    start = time.perf_counter()
    hamming_pairs(bits, max_distance=4)  # 4.5 million pairs; a Python loop takes far longer
    assert time.perf_counter() - start < 5


def test_groups_are_connected_components():
    df = pd.DataFrame({"path": [f"/x/{c}.jpg" for c in "abcde"]})
    pairs = pd.DataFrame({"path_a": ["/x/a.jpg", "/x/b.jpg"], "path_b": ["/x/b.jpg", "/x/c.jpg"]})
    groups = duplicate_groups(df, pairs)
    assert str(groups.dtype) == "Int64"
    assert groups.iloc[0] == groups.iloc[1] == groups.iloc[2]
    assert len(set(groups.tolist())) == 3


def test_duplicate_aware_split_has_no_leaks(dup_dataset):
    pairs = find_duplicates(dup_dataset)
    grouped = add_duplicate_groups(dup_dataset, pairs=pairs)
    leaky_seeds = 0
    for seed in range(10):
        naive = split_dataset(grouped, fractions=(0.5, 0.25, 0.25), seed=seed)
        leaky_seeds += not leak_report(naive, pairs).empty
        aware = split_dataset(grouped, fractions=(0.5, 0.25, 0.25), seed=seed,
                              group_col="duplicate_group")
        assert leak_report(aware, pairs).empty
    assert leaky_seeds > 0  # without groups some split does separate a pair


def test_leak_report_lists_straddling_pairs(dup_dataset):
    split = dup_dataset.assign(split="train")
    split.loc[split["filename"] == "real_00009.jpg", "split"] = "test"
    report = leak_report(split)
    assert pair_set(report) == {frozenset({"real_00001.jpg", "real_00009.jpg"})}
    assert set(zip(report["split_a"], report["split_b"])) == {("train", "test")}
    with pytest.raises(KeyError, match="split_dataset"):
        leak_report(dup_dataset)


@needs_real_data
def test_real_copy_has_no_exact_duplicates_and_canonical_split_no_leaks():
    df = index_dataset(REAL_DATA, progress=False)
    pairs = find_duplicates(df, max_distance=CANONICAL_MAX_DISTANCE, progress=False)
    assert (pairs["kind"] == "exact").sum() == 0
    assert (pairs["distance"] <= 4).sum() >= 1  # fakes edited from a real photo in the set
    assert leak_report(canonical_split(df), pairs).empty
