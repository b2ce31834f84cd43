"""The report's flawed Model 2.2 protocol (augment every image into copies, *then* split), rebuilt
only to measure its leak, in both readings of the code the report does not show: each copy drawn
once (``draws="fixed"``) or drawn anew at every access (``"fresh"``). Never use it to report a
detector's accuracy: its test set holds augmented copies of training images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, random_split
from torchvision.transforms import v2

from fakeface_lib.config import MODEL1_RECIPE, MODEL2_2_RECIPE, SPLITS, TrainConfig
from fakeface_lib.data.loaders import FaceDataset
from fakeface_lib.data.splitting import check_fractions
from fakeface_lib.data.transforms import REPORT_MEAN, REPORT_STD, eval_transform, get_transform

REPORT_COPIES = 4  # 2041 images -> 8164 items (6531 train, 816 val, 817 test) in the report
DRAWS = ("fixed", "fresh")  # how the copies are drawn: once each, or anew at every access


@dataclass(frozen=True)
class LeakNetwork:
    """The network the leak experiment trains: the report's Model 2, or Model 1 standing in."""

    model: str  # build_model's name: "model2" (the report's) or "model1" (the stand-in)
    recipe: TrainConfig  # its recipe: MODEL2_2_RECIPE, or MODEL1_RECIPE for the stand-in

    @property
    def name(self) -> str:
        return "Model 2" if self.model == "model2" else "Model 1, standing in for Model 2"

    @property
    def suffix(self) -> str:
        """What a run's title adds: nothing for Model 2, " (Model 1 stand-in)" otherwise."""
        return "" if self.model == "model2" else " (Model 1 stand-in)"


def leak_network(model: str = "model2", *, smoke: bool = False) -> LeakNetwork:
    """The leak experiment's network: ``model`` ("model2" or "model1") and its recipe; in smoke
    mode Model 1 stands in for Model 2 (two runs of 134 M parameters over the copies take
    minutes on a CPU), said in one line."""
    if model not in ("model1", "model2"):
        raise ValueError(f"the leak experiment trains 'model2' (the report's) or 'model1', not {model!r}")
    if smoke and model == "model2":
        print("SMOKE run: Model 1 stands in for Model 2 in the leak experiment (a full run uses Model 2).")
        model = "model1"
    return LeakNetwork(model, MODEL2_2_RECIPE if model == "model2" else MODEL1_RECIPE)


def report_leaky_split(frame: pd.DataFrame, copies: int = REPORT_COPIES,
                       fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 42,
                       group_by_source: bool = False) -> pd.DataFrame:
    """One row per item of ``ConcatDataset([photos] * copies)``: the frame's columns + "source",
    "copy", "split".

    Row j is copy j // n of photograph j % n (n = len(frame)), in ConcatDataset's order;
    ``source`` is the photograph's position in ``frame``. group_by_source=False is the report's
    protocol: torch's ``random_split`` of all the items, sized as the report's (train int(0.8 N),
    val int(0.1 N), test the rest), with ``torch.Generator().manual_seed(seed)``: row j lands where
    random_split puts item j (notebook 03b writes those lines out). group_by_source=True is the
    honest counterpart: every copy of a photograph lands in one split, the photograph's own
    "split" if ``frame`` has one (e.g. canonical_split's), else a random_split of the photographs.
    """
    if isinstance(copies, bool) or not isinstance(copies, (int, np.integer)) or copies < 1:
        raise ValueError(f"copies must be an int >= 1, got {copies!r} (the report used 4).")
    wanted = check_fractions(fractions)
    if frame.empty:
        raise ValueError("report_leaky_split got an empty frame: did index_dataset(root) "
                         "find no images?")
    sources = frame.reset_index(drop=True).assign(source=lambda f: np.arange(len(f)))
    out = pd.concat([sources] * copies, ignore_index=True)
    out["copy"] = np.repeat(np.arange(copies), len(sources))
    if not group_by_source:
        out["split"] = _random_split(len(out), wanted, seed)
    elif "split" in sources.columns:
        out["split"] = out["split"].astype(str)
    else:
        out["split"] = _random_split(len(sources), wanted, seed)[out["source"].to_numpy()]
    out["split"] = out["split"].astype("string")
    return out


def report_split_sizes(n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> list[int]:
    """[train, val, test] sizes as the report computed them: 8164 items -> [6531, 816, 817]."""
    n_train, n_val = int(fractions[0] * n), int(fractions[1] * n)
    return [n_train, n_val, n - n_train - n_val]


def _random_split(n: int, fractions: np.ndarray, seed: int) -> np.ndarray:
    """The split of each of n items, where torch's random_split puts it with the report's sizes."""
    parts = random_split(range(n), report_split_sizes(n, fractions),
                         generator=torch.Generator().manual_seed(seed))
    split = np.empty(n, dtype=object)
    for name, part in zip(SPLITS, parts):
        split[part.indices] = name
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

    ``augment``: a preset name ("report", "strong_blur", "mild") or a transform of uint8 images
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


class FreshCopies(Dataset):
    """The rows of a copies frame as (image, label): ``augment`` drawn anew from the row's source
    image at every access, as a transform attached to a dataset concatenated ``copies`` times does.

    ``sources`` is cache_sources()'s tensor; ``augment`` a preset name or a transform of uint8
    (3, S, S) images that ends normalised. ``.frame`` keeps the rows, for predict().
    """

    def __init__(self, frame: pd.DataFrame, sources: torch.Tensor,
                 augment: str | Callable = "report", mean: Sequence[float] = REPORT_MEAN,
                 std: Sequence[float] = REPORT_STD):
        missing = [c for c in ("source", "label") if c not in frame.columns]
        if missing:
            raise KeyError(f"FreshCopies needs column(s) {missing}: use report_leaky_split().")
        if sources.dtype != torch.uint8 or sources.ndim != 4:
            raise ValueError(f"sources must be cache_sources()'s uint8 (n, 3, S, S) tensor, "
                             f"got {sources.dtype} {tuple(sources.shape)}.")
        self.frame = frame.reset_index(drop=True)
        if int(self.frame["source"].max()) >= len(sources):
            raise ValueError(f"The frame asks for images that the {len(sources)} sources lack: "
                             "cache the sources from this frame.")
        self.sources = sources
        self.transform = get_transform(augment, mean, std) if isinstance(augment, str) else augment
        self.keys = [int(source) for source in self.frame["source"]]
        self.labels = [int(label) for label in self.frame["label"]]

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.sources[self.keys[index]]), self.labels[index]


def make_leaky_loaders(split_frame: pd.DataFrame, copies: torch.Tensor | None = None,
                       batch_size: int = 32, image_size: int = 128,
                       augment: str | Callable = "report", seed: int = 0,
                       mean: Sequence[float] = REPORT_MEAN, std: Sequence[float] = REPORT_STD,
                       num_workers: int = 0, *, draws: str = "fixed",
                       sources: torch.Tensor | None = None) -> dict[str, DataLoader]:
    """{"train", "val", "test"} loaders over the augmented copies of report_leaky_split().

    Every split gets augmented copies, as in the report. ``draws`` is how they are drawn, which
    the report does not show: "fixed", each copy one seeded draw made once (make_copies; pass
    ``copies``, make_copies of cache_sources, to share them between runs), as if the augmented
    dataset had been saved; "fresh", a new draw of ``augment`` at every access (FreshCopies; pass
    ``sources``, cache_sources' tensor, to share it), as a transform attached to the dataset
    does: every epoch trains on new versions, and validation and test items change from one
    evaluation to the next. Train is shuffled with a generator seeded by ``seed``; val/test
    keep frame order.
    """
    if draws not in DRAWS:
        raise ValueError(f"draws must be one of {DRAWS}, got {draws!r}.")
    if draws == "fixed":
        if sources is not None:
            raise ValueError("sources are for draws='fresh'; fixed draws take copies (make_copies).")
        if copies is None:
            n_copies = int(split_frame["copy"].max()) + 1
            copies = make_copies(cache_sources(split_frame, image_size), n_copies, augment, seed)
        images = copies
    else:
        if copies is not None:
            raise ValueError("copies (make_copies' tensor) are fixed draws; draws='fresh' takes "
                             "sources (cache_sources' tensor).")
        images = cache_sources(split_frame, image_size) if sources is None else sources
    if images.shape[-1] != image_size:
        raise ValueError(f"copies are {images.shape[-1]} px but image_size={image_size}: make them "
                         "from cache_sources(frame, image_size).")
    loaders = {}
    for name in SPLITS:
        rows = split_frame[(split_frame["split"] == name).to_numpy(dtype=bool)]
        if rows.empty:
            raise ValueError(f"No copies in split {name!r}; check fractions.")
        dataset = (AugmentedCopies(rows, images, mean, std) if draws == "fixed"
                   else FreshCopies(rows, images, augment, mean, std))
        generator = torch.Generator().manual_seed(seed) if name == "train" else None
        loaders[name] = DataLoader(
            dataset, batch_size=batch_size, shuffle=name == "train", generator=generator,
            num_workers=num_workers, persistent_workers=num_workers > 0,
            pin_memory=torch.cuda.is_available())
    return loaders
