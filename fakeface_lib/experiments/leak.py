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
from torchvision.transforms import v2

from fakeface_lib.config import SPLITS
from fakeface_lib.data.loaders import FaceDataset
from fakeface_lib.data.splitting import check_fractions
from fakeface_lib.data.transforms import REPORT_MEAN, REPORT_STD, eval_transform, get_transform

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
        raise KeyError(f"leaked_fraction needs column(s) {missing}: pass the output of "
                       "report_leaky_split().")
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


def _uint8_steps(augment: str | Callable) -> Callable[[torch.Tensor], torch.Tensor]:
    """A preset's augmentation without its closing ToDtype + Normalize (uint8 in, uint8 out)."""
    if not isinstance(augment, str):
        return augment
    steps = get_transform(augment).transforms
    if not (isinstance(steps[-2], v2.ToDtype) and isinstance(steps[-1], v2.Normalize)):
        raise ValueError(f"Preset {augment!r} does not end with ToDtype + Normalize as expected.")
    return v2.Compose(steps[:-2])


def make_copies(sources: torch.Tensor, copies: int = REPORT_COPIES,
                augment: str | Callable = "report", seed: int = 0) -> torch.Tensor:
    """Every copy drawn once: uint8 (n_sources, copies, 3, S, S); [i, k] is copy k of image i.

    ``augment``: a preset name ("report", "mild") or a transform of uint8 (3, S, S) images
    returning uint8. Copy k of image i is drawn with torch's RNG seeded by
    copy_seed(seed, i, k), then the global RNG is restored: the same arguments give the
    same copies, as when the report augmented the whole dataset once, before splitting.
    """
    transform = _uint8_steps(augment)
    out = torch.empty((len(sources), copies, *sources.shape[1:]), dtype=torch.uint8)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one small image at a time: extra threads only add overhead
    try:
        with torch.random.fork_rng(devices=[]):
            for i, image in enumerate(sources):
                for k in range(copies):
                    torch.manual_seed(copy_seed(seed, i, k))
                    out[i, k] = transform(image)
    finally:
        torch.set_num_threads(threads)
    return out


class AugmentedCopies(Dataset):
    """The rows of a copies frame as (image, label): ``copies[source, copy]``, normalised.

    ``copies`` is make_copies()'s tensor; ``.frame`` keeps the rows, so predict() can join
    predictions to file names, difficulties and regions.
    """

    def __init__(self, frame: pd.DataFrame, copies: torch.Tensor,
                 mean: Sequence[float] = REPORT_MEAN, std: Sequence[float] = REPORT_STD):
        missing = [c for c in ("source", "copy", "label") if c not in frame.columns]
        if missing:
            raise KeyError(f"AugmentedCopies needs column(s) {missing}: use report_leaky_split().")
        if copies.dtype != torch.uint8 or copies.ndim != 5:
            raise ValueError(f"copies must be make_copies()'s uint8 (n, copies, 3, S, S) tensor, "
                             f"got {copies.dtype} {tuple(copies.shape)}.")
        self.frame = frame.reset_index(drop=True)
        too_many = int(self.frame["copy"].max()) + 1 - copies.shape[1]
        if too_many > 0 or int(self.frame["source"].max()) >= copies.shape[0]:
            raise ValueError(f"The frame asks for copies that the tensor of shape "
                             f"{tuple(copies.shape[:2])} lacks: make the copies from this frame.")
        self.copies, self.transform = copies, eval_transform(mean, std)
        self.keys = list(zip(self.frame["source"].astype(int), self.frame["copy"].astype(int)))
        self.labels = [int(label) for label in self.frame["label"]]

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        source, copy = self.keys[index]
        return self.transform(self.copies[source, copy]), self.labels[index]


def make_leaky_loaders(split_frame: pd.DataFrame, copies: torch.Tensor | None = None,
                       batch_size: int = 32, image_size: int = 128,
                       augment: str | Callable = "report", seed: int = 0,
                       mean: Sequence[float] = REPORT_MEAN, std: Sequence[float] = REPORT_STD,
                       num_workers: int = 0) -> dict[str, DataLoader]:
    """{"train", "val", "test"} loaders over the augmented copies of report_leaky_split().

    Every split gets augmented copies, as in the report. Pass ``copies`` (make_copies of
    cache_sources) to share them between runs; without it they are made here from
    ``augment`` and ``seed``. Train is shuffled with a generator seeded by ``seed``;
    val/test keep frame order.
    """
    if copies is None:
        n_copies = int(split_frame["copy"].max()) + 1
        copies = make_copies(cache_sources(split_frame, image_size), n_copies, augment, seed)
    if copies.shape[-1] != image_size:
        raise ValueError(f"copies are {copies.shape[-1]} px but image_size={image_size}: make them "
                         "from cache_sources(frame, image_size).")
    loaders = {}
    for name in SPLITS:
        rows = split_frame[(split_frame["split"] == name).to_numpy(dtype=bool)]
        if rows.empty:
            raise ValueError(f"No copies in split {name!r}; check fractions.")
        generator = torch.Generator().manual_seed(seed) if name == "train" else None
        loaders[name] = DataLoader(
            AugmentedCopies(rows, copies, mean, std), batch_size=batch_size,
            shuffle=name == "train", generator=generator, num_workers=num_workers,
            persistent_workers=num_workers > 0, pin_memory=torch.cuda.is_available())
    return loaders
