"""Stratified, seeded train/val/test splits; ``canonical_split`` applies the manifest shipped
with the package (:mod:`fakeface_lib.data.split_files`), and keeps near-duplicates together for
the files it does not cover.

The canonical manifest (package data: fakeface_lib/data/manifests/real_and_fake_face.csv) was built with ``build_canonical_manifest(<dataset>, seed=42,
max_distance=8)``; rebuild it with ``python -m fakeface_lib.data.splitting ROOT DEST``.
"""

from __future__ import annotations

import math
import os
import warnings
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from fakeface_lib.config import SPLITS
from fakeface_lib.data.duplicates import add_duplicate_groups, duplicate_groups, find_duplicates
from fakeface_lib.data.index import index_dataset
from fakeface_lib.data.split_files import apply_split, load_canonical_manifest, require_columns, save_split

CANONICAL_SEED = 42
# pHash distance used to group the canonical manifest's near-duplicates. On the official data
# dozens of fakes are edits of a real photo that is in the set too; up to 8 bits the groups stay
# small (at most 4 images), from 10 on unrelated faces chain into one large group.
CANONICAL_MAX_DISTANCE = 8
# canonical_split uses the shipped manifest when the data covers at least this share of it.
CANONICAL_MIN_COVERAGE = 0.9


def check_fractions(fractions: Sequence[float]) -> np.ndarray:
    """``fractions`` as a float array, after checking: three numbers >= 0 summing to 1."""
    hint = "give (train, val, test) fractions summing to 1, e.g. (0.8, 0.1, 0.1)"
    try:
        values = np.array([float(f) for f in fractions], dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"fractions must be numbers: {hint}; got {fractions!r}.") from None
    if isinstance(fractions, str) or values.shape != (3,):
        raise ValueError(f"fractions must have 3 entries: {hint}; got {fractions!r}.")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"fractions must be finite and non-negative: {hint}; got {fractions!r}.")
    if not math.isclose(values.sum(), 1.0, abs_tol=1e-6):
        raise ValueError(f"fractions sum to {values.sum():g}, not 1: {hint}.")
    if values[0] == 0:
        raise ValueError(f"The train fraction must be above 0: {hint}; got {fractions!r}.")
    return values


def allocate(n: int, fractions: np.ndarray) -> np.ndarray:
    """Split ``n`` into integer counts proportional to ``fractions`` (largest remainders)."""
    raw = np.round(n * fractions, 9)
    counts = np.floor(raw).astype(int)
    extra = np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]
    counts[extra] += 1
    return counts


def _group_codes(df: pd.DataFrame, order: list[int], group_col: str | None) -> np.ndarray:
    """An integer group per row (in ``order``); rows without a group are groups of one."""
    if group_col is None:
        return np.arange(len(order))
    require_columns(df, [group_col], "split_dataset")
    codes = pd.factorize(df[group_col].iloc[order], use_na_sentinel=True)[0]
    lonely = codes < 0
    codes[lonely] = codes.max(initial=-1) + 1 + np.arange(lonely.sum())
    return codes


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}.")


def _cut(sizes: list[int], fractions: np.ndarray, bit_generator: np.random.PCG64) -> list[int]:
    """Split index (0 train, 1 val, 2 test) for groups of the given sizes, in that order.

    The groups are shuffled, laid end to end and cut at the target counts; a group goes where
    its middle falls, so single images give exact counts and groups land without bias.
    """
    bounds = np.cumsum(allocate(sum(sizes), fractions))
    order = np.argsort(bit_generator.random_raw(len(sizes)), kind="stable")
    laid = np.asarray(sizes)[order]
    where = np.searchsorted(bounds, np.cumsum(laid) - laid / 2, side="right")
    result = np.empty(len(sizes), dtype=int)
    result[order] = where
    return result.tolist()


def split_dataset(df: pd.DataFrame, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 42,
                  group_col: str | None = None) -> pd.DataFrame:
    """A copy of ``df`` with a "split" column in {"train", "val", "test"}.

    Stratified by (label, difficulty): each stratum is divided by largest remainders, so
    2041 official images give 1633/204/204. The result depends only on the file names and
    the seed, never on the row order or the machine: rows are sorted by file name, and the
    shuffle keys are raw 64-bit draws of numpy's PCG64 bit generator (whose stream numpy
    keeps stable across versions). With ``group_col`` (e.g. duplicate groups) every group
    lands in one split; a group counts in the stratum most of its members belong to.
    """
    require_columns(df, ["filename", "label", "difficulty"], "split_dataset")
    wanted = check_fractions(fractions)
    _check_seed(seed)
    if df.empty:
        raise ValueError("split_dataset got an empty DataFrame; did index_dataset(root) find "
                         "no images?")
    names = df["filename"].astype(str).tolist()
    paths = df["path"].astype(str).tolist() if "path" in df.columns else names
    rows = sorted(range(len(df)), key=lambda i: (names[i], paths[i]))
    codes = _group_codes(df, rows, group_col)
    strata = (df["label"].astype(str) + "/" + df["difficulty"].astype(str)).iloc[rows].tolist()
    members: dict[int, list[str]] = {}
    for code, stratum in zip(codes, strata):
        members.setdefault(int(code), []).append(stratum)
    home = {code: Counter(s).most_common(1)[0][0] for code, s in members.items()}
    bit_generator = np.random.PCG64(seed)
    chosen: dict[int, int] = {}
    for stratum in sorted(set(home.values())):
        groups = [code for code, h in home.items() if h == stratum]
        sizes = [len(members[code]) for code in groups]
        for code, where in zip(groups, _cut(sizes, wanted, bit_generator)):
            chosen[code] = where
    split = np.empty(len(df), dtype=object)
    split[rows] = [SPLITS[chosen[int(code)]] for code in codes]
    out = df.copy()
    out["split"] = pd.array(split, dtype="string")
    return out


def canonical_split(df: pd.DataFrame, *, pairs: pd.DataFrame | None = None) -> pd.DataFrame:
    """``df`` + "split": the shipped manifest for the official data, else a duplicate-aware split.

    The manifest applies as it is when every file of ``df`` is in it and ``df`` holds at least
    90 % of it (a few unreadable files may be missing). Otherwise near-duplicates are grouped
    (pHash within ``CANONICAL_MAX_DISTANCE`` bits: ``pairs`` of ``find_duplicates``, computed
    when not given) and each group is kept in one split:

    - ``df`` holds >= 90 % of the manifest plus files it lacks: manifest files keep their split;
      a file it lacks joins the split of the manifest files in its group (the most common one,
      train first on a tie), and the rest get ``split_dataset(rest, seed=42)`` by group. A
      UserWarning says so.
    - anything else (the demo data, a subset, other data): the whole of ``df`` gets
      ``split_dataset(df, seed=42)`` by group, and a printed line says so.
    """
    require_columns(df, ["filename", "class_name"], "canonical_split")
    manifest = load_canonical_manifest()
    known = df["filename"].isin(set(manifest["filename"])).to_numpy()
    covered = known.sum() >= CANONICAL_MIN_COVERAGE * len(manifest)
    if covered and known.all():
        return apply_split(df, manifest, strict=False)
    require_columns(df, ["path"], "canonical_split")
    if pairs is None:
        pairs = find_duplicates(df, CANONICAL_MAX_DISTANCE)
    groups = duplicate_groups(df, pairs).to_numpy(dtype=np.int64)
    if not covered:
        out = split_dataset(df.assign(_group=groups), seed=CANONICAL_SEED, group_col="_group")
        print(f"canonical_split: the data holds {known.sum()} of the canonical manifest's "
              f"{len(manifest)} files and {(~known).sum()} files it does not list, so "
              f"split_dataset(df, seed=42) split it, keeping {_n_shared(groups)} group(s) of "
              f"near-duplicates (pHash within {CANONICAL_MAX_DISTANCE} bits) in one split each.")
        return out.drop(columns="_group")
    split, joined = _extend_manifest(df, known, manifest, groups)
    warnings.warn(f"{(~known).sum()} file(s) are not in the canonical manifest (e.g. "
                  f"{df.loc[~known, 'filename'].iloc[0]}): the manifest's files keep their split, "
                  f"{joined} of them joined the split of a near-duplicate in the manifest, the "
                  "others were split with split_dataset(seed=42); "
                  f"{_n_shared(groups, ~known)} group(s) of near-duplicates (pHash within "
                  f"{CANONICAL_MAX_DISTANCE} bits) were kept in one split each.",
                  UserWarning, stacklevel=2)
    out = df.copy()
    out["split"] = pd.array(split, dtype="string")
    return out


def _n_shared(groups: np.ndarray, among: np.ndarray | None = None) -> int:
    """How many groups have two or more members (and, with ``among``, a member there)."""
    ids, sizes = np.unique(groups, return_counts=True)
    shared = ids[sizes >= 2]
    return len(shared) if among is None else len(np.intersect1d(shared, groups[among]))


def _extend_manifest(df: pd.DataFrame, known: np.ndarray, manifest: pd.DataFrame,
                     groups: np.ndarray) -> tuple[np.ndarray, int]:
    """Splits for ``df``: the manifest's for its files, by duplicate group for the others.

    Returns (split per row, how many uncovered files joined a manifest file's split).
    """
    split = np.full(len(df), None, dtype=object)
    split[known] = apply_split(df[known], manifest, strict=False)["split"].to_numpy(dtype=object)
    joined = 0
    for group in np.unique(groups[~known]):
        inside = split[(groups == group) & known]
        if len(inside):
            counts = Counter(inside)
            home = max(SPLITS, key=lambda name: (counts[name], -SPLITS.index(name)))
            members = (groups == group) & ~known
            split[members] = home
            joined += int(members.sum())
    rest = np.flatnonzero(pd.isna(split))
    if len(rest):
        part = split_dataset(df.iloc[rest].assign(_group=groups[rest]), seed=CANONICAL_SEED,
                             group_col="_group")
        split[rest] = part["split"].to_numpy(dtype=object)
    return split, joined


def build_canonical_manifest(root: str | os.PathLike, dest: str | os.PathLike | None = None,
                             *, seed: int = CANONICAL_SEED,
                             max_distance: int = CANONICAL_MAX_DISTANCE) -> pd.DataFrame:
    """Rebuild the canonical manifest from a dataset folder: index, group duplicates, split.

    Byte-identical and near-identical images (perceptual hash within ``max_distance`` bits)
    share a group, so no copy of a test image sits in train. Writes ``dest`` when given.
    """
    df = add_duplicate_groups(index_dataset(root), max_distance=max_distance)
    split_df = split_dataset(df, seed=seed, group_col="duplicate_group")
    if dest is not None:
        save_split(split_df, dest)
    return split_df


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 3:
        sys.exit("usage: python -m fakeface_lib.data.splitting DATASET_ROOT MANIFEST_CSV")
    counts = build_canonical_manifest(sys.argv[1], sys.argv[2])["split"].value_counts()
    print(f"wrote {sys.argv[2]}: {counts.to_dict()}")
