"""The report's flawed Model 2.2 protocol (augment every image into copies, *then* split), rebuilt
only to measure its leak. Never use it to report a detector's accuracy: its test set holds
augmented copies of training images, so it measures memorisation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from fakeface_lib.loaders import FaceDataset
from fakeface_lib.splitting import SPLITS, check_fractions
from fakeface_lib.transforms import REPORT_MEAN, REPORT_STD, get_transform

REPORT_COPIES = 4  # 2041 images -> 8164 items (6531 train, 816 val, 817 test) in the report


def report_leaky_split(frame: pd.DataFrame, copies: int = REPORT_COPIES,
                       fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 42,
                       group_by_source: bool = False) -> pd.DataFrame:
    """One row per (source image, copy): the frame's columns + "source", "copy", "split".

    ``source`` is the row's position in ``frame`` (0..n-1), ``copy`` runs 0..copies-1.
    group_by_source=False is the report's protocol: a random split over all copies, sized
    like its ``random_split`` (train int(0.8 n), val int(0.1 n), test the rest).
    group_by_source=True is the honest counterpart: every copy of a source lands in one
    split, the source's own "split" if ``frame`` has one (e.g. canonical_split's), else a
    random split of the sources sized the same way.
    """
    if isinstance(copies, bool) or not isinstance(copies, (int, np.integer)) or copies < 1:
        raise ValueError(f"copies must be an int >= 1, got {copies!r} (the report used 4).")
    wanted = check_fractions(fractions)
    if frame.empty:
        raise ValueError("report_leaky_split got an empty frame: did index_dataset(root) "
                         "find no images?")
    sources = frame.reset_index(drop=True).assign(source=lambda f: np.arange(len(f)))
    out = sources.loc[sources.index.repeat(copies)].reset_index(drop=True)
    out["copy"] = np.tile(np.arange(copies), len(sources))
    rng = np.random.default_rng(seed)
    if not group_by_source:
        out["split"] = _random_split(len(out), wanted, rng)
    elif "split" in sources.columns:
        out["split"] = out["split"].astype(str)
    else:
        out["split"] = _random_split(len(sources), wanted, rng)[out["source"].to_numpy()]
    out["split"] = out["split"].astype("string")
    return out


def _random_split(n: int, fractions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Split labels for n items in random order, sized like torch's random_split in the report."""
    n_train, n_val = int(fractions[0] * n), int(fractions[1] * n)
    n_test = n - n_train - n_val
    split = np.empty(n, dtype=object)
    split[rng.permutation(n)] = ["train"] * n_train + ["val"] * n_val + ["test"] * n_test
    return split


def leaked_fraction(split_frame: pd.DataFrame) -> float:
    """Share of test items whose source image also has a copy in train (0.0: no leak)."""
    missing = [c for c in ("source", "split") if c not in split_frame.columns]
    if missing:
        raise KeyError(f"leaked_fraction needs column(s) {missing}: pass report_leaky_split()'s output.")
    test = split_frame[split_frame["split"] == "test"]
    if test.empty:
        raise ValueError("leaked_fraction: the frame has no test rows.")
    in_train = set(split_frame.loc[split_frame["split"] == "train", "source"])
    return float(test["source"].isin(in_train).mean())


def copy_seed(seed: int, source: int, copy: int) -> int:
    """The seed of copy ``copy`` of image ``source``: a fixed picture for every (seed, i, k)."""
    return int(np.random.SeedSequence([seed, int(source), int(copy)]).generate_state(1)[0])


def cache_sources(split_frame: pd.DataFrame, image_size: int = 128) -> torch.Tensor:
    """Decode and resize each source image once: uint8 (max source + 1, 3, S, S), row = source.

    Uses FaceDataset's cache, so the copies of an image never decode it again.
    """
    sources = split_frame.drop_duplicates("source").sort_values("source")
    decoded = FaceDataset(sources, image_size, cache=True, desc="Caching source images").images
    images = torch.zeros((int(sources["source"].max()) + 1, *decoded.shape[1:]), dtype=torch.uint8)
    images[torch.tensor(sources["source"].to_numpy(dtype=np.int64))] = decoded
    return images


class AugmentedCopies(Dataset):
    """The rows of a copies frame as (image, label): copy k of image i, a fixed augmentation.

    ``images`` is cache_sources()'s tensor. Each item is ``transform(images[source])`` run
    under torch's RNG seeded with copy_seed(seed, source, copy), then restored: the same
    copy is the same picture in every epoch and split, as when the report augmented the
    whole dataset once before splitting. ``.frame`` keeps the rows for predict().
    """

    def __init__(self, frame: pd.DataFrame, images: torch.Tensor,
                 transform: Callable[[torch.Tensor], torch.Tensor], seed: int = 0):
        missing = [c for c in ("source", "copy", "label") if c not in frame.columns]
        if missing:
            raise KeyError(f"AugmentedCopies needs column(s) {missing}: use report_leaky_split().")
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be cache_sources()'s uint8 (n, 3, S, S) tensor, got "
                             f"{images.dtype} {tuple(images.shape)}.")
        self.frame = frame.reset_index(drop=True)
        self.images, self.transform, self.seed = images, transform, seed
        self.keys = list(zip(self.frame["source"].astype(int), self.frame["copy"].astype(int)))
        self.labels = [int(label) for label in self.frame["label"]]

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        source, copy = self.keys[index]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(copy_seed(self.seed, source, copy))
            image = self.transform(self.images[source])
        return image, self.labels[index]


def make_leaky_loaders(split_frame: pd.DataFrame, images: torch.Tensor | None = None,
                       batch_size: int = 32, image_size: int = 128,
                       augment: str | Callable = "report", seed: int = 0,
                       mean: Sequence[float] = REPORT_MEAN, std: Sequence[float] = REPORT_STD,
                       num_workers: int = 0) -> dict[str, DataLoader]:
    """{"train", "val", "test"} loaders over the augmented copies of report_leaky_split().

    Every split gets augmented copies (``augment``: a preset name or a transform of uint8
    images), as in the report; train is shuffled with a generator seeded by ``seed``,
    val/test keep frame order. Pass ``images`` (cache_sources()) to share one cache
    between runs.
    """
    if images is None:
        images = cache_sources(split_frame, image_size)
    if images.shape[-1] != image_size:
        raise ValueError(f"images are {images.shape[-1]} px but image_size={image_size}: "
                         "build them with cache_sources(frame, image_size).")
    transform = get_transform(augment, mean, std) if isinstance(augment, str) else augment
    loaders = {}
    for name in SPLITS:
        rows = split_frame[(split_frame["split"] == name).to_numpy(dtype=bool)]
        if rows.empty:
            raise ValueError(f"No copies in split {name!r}; check fractions.")
        generator = torch.Generator().manual_seed(seed) if name == "train" else None
        loaders[name] = DataLoader(
            AugmentedCopies(rows, images, transform, seed), batch_size=batch_size,
            shuffle=name == "train", generator=generator, num_workers=num_workers,
            persistent_workers=num_workers > 0, pin_memory=torch.cuda.is_available())
    return loaders
