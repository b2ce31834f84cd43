"""Find byte-identical and near-identical (perceptual hash) images, group them so a split keeps
copies together, and report duplicate pairs that straddle train/val/test.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

import imagehash
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from PIL import Image
from tqdm.auto import tqdm

from fakeface_lib.data.index import PROGRESS_MIN_FILES

PAIR_COLUMNS = ("filename_a", "filename_b", "class_a", "class_b", "kind", "distance",
                "path_a", "path_b")
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def perceptual_hash(path: str | os.PathLike, hash_size: int = 8) -> np.ndarray:
    """The pHash of an image as packed bits: uint8 array of ``hash_size**2 / 8`` bytes."""
    try:
        with Image.open(path) as img:
            img.draft("L", (4 * hash_size, 4 * hash_size))  # JPEG: decode at reduced scale
            bits = imagehash.phash(img, hash_size=hash_size).hash
    except Exception as error:
        raise OSError(f"Cannot hash image {path} ({type(error).__name__}: {error}); the file "
                      "changed or broke after indexing: re-run index_dataset(root).") from error
    return np.packbits(bits.ravel())


def hamming_pairs(bits: np.ndarray, max_distance: int,
                  chunk: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs i < j whose packed bit rows differ in at most ``max_distance`` bits.

    ``bits``: (N, B) uint8. Distances are computed a block of rows at a time with a byte
    popcount table: O(N**2 * B) vectorised work, memory O(chunk * N * B).
    Returns (i, j, distance) arrays.
    """
    bits = np.ascontiguousarray(bits, dtype=np.uint8)
    found_i, found_j, found_d = [], [], []
    for start in range(0, len(bits), chunk):
        block = bits[start:start + chunk]
        dist = _POPCOUNT[block[:, None, :] ^ bits[None, start:, :]].sum(axis=2, dtype=np.int64)
        rows, cols = np.nonzero(dist <= max_distance)
        keep = cols > rows  # upper triangle: j > i (cols are offset by start like rows)
        found_i.append(rows[keep] + start)
        found_j.append(cols[keep] + start)
        found_d.append(dist[rows[keep], cols[keep]])
    if not found_i:
        return (np.empty(0, np.int64),) * 3
    return tuple(np.concatenate(parts).astype(np.int64) for parts in (found_i, found_j, found_d))


def _check_frame(df: pd.DataFrame, caller: str) -> None:
    missing = [c for c in ("path", "filename", "class_name") if c not in df.columns]
    if missing:
        raise KeyError(f"{caller}: the DataFrame lacks column(s) {missing}; build it with "
                       "fakeface_lib.data.index.index_dataset(root).")


def find_duplicates(df: pd.DataFrame, max_distance: int = 4, *, hash_size: int = 8,
                    progress: bool | None = None) -> pd.DataFrame:
    """Pairs of duplicate images: byte-identical ("exact") or pHash within ``max_distance``.

    ``max_distance`` counts differing bits of the ``hash_size``**2-bit perceptual hash
    (0: identical hashes). Returns one row per pair (columns ``PAIR_COLUMNS``), sorted
    by distance then names; an empty frame when there are none.
    """
    _check_frame(df, "find_duplicates")
    n_bits = hash_size * hash_size
    if isinstance(max_distance, bool) or not isinstance(max_distance, (int, np.integer)) \
            or not 0 <= max_distance <= n_bits:
        raise ValueError(f"max_distance must be an int between 0 and {n_bits} bits, "
                         f"got {max_distance!r}; 4 is a good default.")
    if isinstance(hash_size, bool) or not isinstance(hash_size, int) or hash_size < 2:
        raise ValueError(f"hash_size must be an int >= 2 (got {hash_size!r}); 8 is the usual.")
    paths = df["path"].astype(str).tolist()
    show = len(paths) >= PROGRESS_MIN_FILES if progress is None else progress
    digests, hashes = [], []
    for path in tqdm(paths, desc="Hashing images", unit="img", disable=not show, leave=False):
        digests.append(file_digest(path))
        hashes.append(perceptual_hash(path, hash_size))
    if not hashes:
        return _pair_frame(df, [], set(), np.empty((0, -(-n_bits // 8)), np.uint8))
    hashes = np.stack(hashes)
    i, j, _ = hamming_pairs(hashes, max_distance)
    exact = _exact_pairs(digests)
    return _pair_frame(df, sorted(set(zip(i.tolist(), j.tolist())) | exact), exact, hashes)


def _exact_pairs(digests: Sequence[str]) -> set[tuple[int, int]]:
    by_digest: dict[str, list[int]] = {}
    for position, digest in enumerate(digests):
        by_digest.setdefault(digest, []).append(position)
    return {(a, b) for group in by_digest.values()
            for k, a in enumerate(group) for b in group[k + 1:]}


def _pair_frame(df: pd.DataFrame, pairs: list[tuple[int, int]], exact: set[tuple[int, int]],
                hashes: np.ndarray) -> pd.DataFrame:
    rows = [{"filename_a": df["filename"].iat[a], "filename_b": df["filename"].iat[b],
             "class_a": df["class_name"].iat[a], "class_b": df["class_name"].iat[b],
             "kind": "exact" if (a, b) in exact else "near",
             "distance": int(_POPCOUNT[hashes[a] ^ hashes[b]].sum()),
             "path_a": df["path"].iat[a], "path_b": df["path"].iat[b]} for a, b in pairs]
    out = pd.DataFrame(rows, columns=list(PAIR_COLUMNS))
    out = out.astype({c: "string" for c in PAIR_COLUMNS if c != "distance"} | {"distance": "int64"})
    return out.sort_values(["distance", "filename_a", "filename_b"], ignore_index=True)


def duplicate_groups(df: pd.DataFrame, pairs: pd.DataFrame) -> pd.Series:
    """A group id per row of ``df`` (Int64): rows linked by duplicate pairs share one id.

    Groups are connected components (a~b and b~c puts a, b, c together); an image without
    duplicates is a group of its own. Ids follow the row order of ``df``.
    """
    position = {path: k for k, path in enumerate(df["path"].astype(str))}
    links = [(position[a], position[b])
             for a, b in zip(pairs["path_a"].astype(str), pairs["path_b"].astype(str))
             if a in position and b in position]
    rows, cols = np.array(links, dtype=np.int64).reshape(-1, 2).T
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(len(df),) * 2)
    _, labels = connected_components(graph, directed=False)
    ids = pd.factorize(pd.Series(labels))[0]  # numbered in row order
    return pd.Series(pd.array(ids, dtype="Int64"), index=df.index, name="duplicate_group")


def add_duplicate_groups(df: pd.DataFrame, max_distance: int = 4, *,
                         pairs: pd.DataFrame | None = None) -> pd.DataFrame:
    """A copy of ``df`` with a "duplicate_group" column, ready for split_dataset(group_col=...)."""
    if pairs is None:
        pairs = find_duplicates(df, max_distance)
    out = df.copy()
    out["duplicate_group"] = duplicate_groups(df, pairs)
    return out


def leak_report(df: pd.DataFrame, pairs: pd.DataFrame | None = None,
                max_distance: int = 4) -> pd.DataFrame:
    """Duplicate pairs whose two images sit in different splits (empty when there is no leak).

    ``df`` needs a "split" column; ``pairs`` defaults to ``find_duplicates(df, max_distance)``.
    Returns the pair columns plus split_a and split_b.
    """
    _check_frame(df, "leak_report")
    if "split" not in df.columns:
        raise KeyError("leak_report needs a 'split' column: run split_dataset(df) or "
                       "canonical_split(df) first.")
    if pairs is None:
        pairs = find_duplicates(df, max_distance)
    split_of = dict(zip(df["path"].astype(str), df["split"].astype(str)))
    out = pairs.assign(split_a=pairs["path_a"].astype(str).map(split_of).astype("string"),
                       split_b=pairs["path_b"].astype(str).map(split_of).astype("string"))
    crossing = out["split_a"].notna() & out["split_b"].notna() & (out["split_a"] != out["split_b"])
    return out[crossing.astype(bool)].reset_index(drop=True)
