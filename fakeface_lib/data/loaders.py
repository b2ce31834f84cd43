"""FaceDataset (decode and resize every image once, as a ``Preprocessing`` says, into a uint8
RAM cache) and make_loaders, which turns a split DataFrame into seeded train/val/test loaders:
on CUDA batches made on the GPU (DeviceBatches), elsewhere DataLoaders.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from fakeface_lib.config import SPLITS
from fakeface_lib.data.batches import StackedSamples, collate
from fakeface_lib.data.device_batches import DeviceBatches, batch_device
from fakeface_lib.data.preprocessing import (
    Crop,
    Preprocessing,
    as_preprocessing,
    check_int,
    load_image,
    read_image_array,
)
from fakeface_lib.data.transforms import PRESETS, get_transform

PROGRESS_MIN_IMAGES = 300
MAX_DEFAULT_WORKERS = 2  # Colab's runtime has 2 vCPUs


class FaceDataset(Dataset):
    """Images and labels of the rows of an index DataFrame.

    ``frame`` needs "path" and "label" columns; it is kept (index reset) as ``.frame`` so
    predictions can be joined back to filename, difficulty and regions. Images are decoded as
    ``preprocessing`` says (a ``Preprocessing``; or built from ``image_size`` and ``crop``,
    default 128 px, uncropped), which is kept as ``.preprocessing``. With ``cache`` every
    image is decoded and resized once, eagerly, in ``__init__`` (with a progress bar from
    300 images on), into one contiguous uint8 tensor ``.images`` (N, 3, S, S): S*S*3 bytes
    per image, and no later epoch touches the disk. Without ``cache`` images are read on
    every access. ``__getitem__`` returns (transform(uint8 image), int label); without a
    ``transform`` the uint8 tensor itself (the dataset applies only ``transform``, not the
    normalisation of ``preprocessing``). Set ``batched_transform`` only for a deterministic
    transform that accepts batches (like ``eval_transform``): the loader then applies it to
    whole batches, which is faster.
    """

    def __init__(self, frame: pd.DataFrame, image_size: int | None = None,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 cache: bool = True, *, batched_transform: bool = False,
                 progress: bool | None = None, desc: str = "Caching images",
                 crop: Crop | str | None = None, preprocessing: Preprocessing | None = None):
        missing = [c for c in ("path", "label") if c not in frame.columns]
        if missing:
            raise KeyError(f"FaceDataset needs column(s) {missing}; build the frame with "
                           "fakeface_lib.data.index.index_dataset(root).")
        self.preprocessing = as_preprocessing(preprocessing, image_size=image_size, crop=crop)
        self.frame = frame.reset_index(drop=True)
        self.image_size = self.preprocessing.image_size
        self.crop = self.preprocessing.crop
        self.transform = transform
        self.batched_transform = batched_transform
        self.paths = self.frame["path"].astype(str).tolist()
        self.labels = [int(label) for label in self.frame["label"]]
        self.images = self._build_cache(progress, desc) if cache else None

    def _build_cache(self, progress: bool | None, desc: str) -> torch.Tensor:
        size = self.image_size
        # Filled with NumPy, wrapped once: no per-image torch op (and no thread hand-offs).
        images = np.empty((len(self.paths), 3, size, size), dtype=np.uint8)
        show = len(self.paths) >= PROGRESS_MIN_IMAGES if progress is None else progress
        for i, path in enumerate(tqdm(self.paths, desc=desc, unit="img", disable=not show,
                                      leave=False)):
            images[i] = read_image_array(path, size, self.crop)  # as Preprocessing.load does
        return torch.from_numpy(images)

    @property
    def cache_nbytes(self) -> int:
        """Bytes held by the image cache (0 without cache)."""
        return 0 if self.images is None else self.images.numel() * self.images.element_size()

    def __len__(self) -> int:
        return len(self.paths)

    def _image(self, index: int) -> torch.Tensor:
        if self.images is not None:
            return self.images[index]
        return load_image(self.paths[index], self.image_size, self.crop)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self._image(index)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.labels[index]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, int]]:
        """A batch of samples (the DataLoader calls this instead of ``__getitem__``).

        With ``batched_transform`` the transform runs once on the stacked (B, 3, S, S)
        batch: one tensor op per batch instead of one per image.
        """
        if not self.batched_transform or self.transform is None:
            return [self[index] for index in indices]
        if self.images is not None:
            images = self.images[torch.as_tensor(indices, dtype=torch.long)]
        else:
            images = torch.stack([self._image(index) for index in indices])
        labels = [self.labels[i] for i in indices]
        return StackedSamples(self.transform(images), labels)


def _check_split_frame(split_df: pd.DataFrame) -> None:
    if not isinstance(split_df, pd.DataFrame):
        raise TypeError(f"make_loaders expects a DataFrame, got {type(split_df).__name__}.")
    if "split" not in split_df.columns:
        raise KeyError("make_loaders needs a 'split' column: pass split_dataset(df) or "
                       "canonical_split(df), not the plain index.")
    values = split_df["split"].astype("string")
    unknown = sorted(set(values.dropna()) - set(SPLITS))
    if unknown or values.isna().any():
        raise ValueError(f"The 'split' column holds {unknown or ['<missing>']}; allowed: {SPLITS}.")
    empty = [name for name in SPLITS if not (values == name).any()]
    if empty:
        raise ValueError(f"No rows in split(s) {empty}; make_loaders needs train, val and test "
                         "rows: use split_dataset(df, fractions=(0.8, 0.1, 0.1)).")


def _train_transform(augment: str | Callable | None, preprocessing: Preprocessing) -> Callable:
    if augment is None:
        return preprocessing.transform()
    if isinstance(augment, str):
        if augment not in PRESETS:
            raise ValueError(f"Unknown augment preset {augment!r}; use None, 'report', 'mild', "
                             "'strong_blur' or a transform taking a uint8 (3, S, S) tensor.")
        return get_transform(augment, preprocessing.mean, preprocessing.std)
    if not callable(augment):
        raise TypeError(f"augment must be None, a preset name or a callable, got {augment!r}.")
    return augment


def default_num_workers(split: str, *, augmented: bool, cached: bool = True,
                        cuda: bool | None = None) -> int:
    """Worker processes make_loaders gives a split's loader when ``num_workers=None``.

    Only a GPU is fast enough to wait for the CPU, and only per-image work is worth a worker:
    the random augmentation of the training images, or decoding every image when there is
    no cache. Cached, unaugmented batches are one tensor index and one batched transform:
    no work to spread. Then min(2, CPUs) workers: Colab has 2 vCPUs.
    ``cuda`` defaults to ``torch.cuda.is_available()``.
    """
    cuda = torch.cuda.is_available() if cuda is None else cuda
    per_image_work = not cached or (split == "train" and augmented)
    if not cuda or not per_image_work:
        return 0
    return min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1)


def make_loaders(split_df: pd.DataFrame, batch_size: int = 32, image_size: int | None = None,
                 augment: str | Callable | None = None, cache: bool = True,
                 num_workers: int | None = None, seed: int = 0,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None, *,
                 progress: bool | None = None, crop: Crop | str | None = None,
                 preprocessing: Preprocessing | None = None, persistent_workers: bool = False,
                 device: torch.device | str | None = None) -> dict[str, DataLoader | DeviceBatches]:
    """Loaders {"train", "val", "test"} of (images (N, 3, S, S) float32, labels (N,) int64).

    ``preprocessing`` (a ``Preprocessing``) says how images are decoded, cropped, resized and
    normalised; without it one is built from ``image_size`` (default 128), ``crop`` (None,
    "face": ``FACE_CROP``, the square around the editable regions, or a box) and ``mean``/
    ``std`` (default ``REPORT_MEAN``/``REPORT_STD``). Every dataset keeps it:
    ``loaders["train"].dataset.preprocessing``, to save with a run. ``augment`` (None, "report",
    "mild", "strong_blur" or a transform of uint8 (3, S, S) images that ends normalised) applies
    to the train loader only; val/test use ``preprocessing.transform()`` and keep frame order.
    Train batches are shuffled with ``torch.Generator().manual_seed(seed)``. With ``cache``
    every image is decoded once, eagerly, here (see FaceDataset).

    ``device``: where batches are made. None: on CUDA when a GPU is there (``DeviceBatches``:
    the cache copied to the GPU once, each batch indexed, augmented and normalised there, the
    same images, order and augmentation as the DataLoaders), unless ``num_workers`` is given,
    ``cache`` is off or ``augment`` is a callable of your own; elsewhere DataLoaders, as
    always. A device named (``"cpu"`` included) gets DeviceBatches there.

    ``num_workers``: DataLoader worker processes per loader; None chooses per split
    (:func:`default_num_workers`: 0 on a CPU, so CPU runs are what they always were; on CUDA
    up to 2 for the augmented train loader, and for every loader without ``cache``); an int
    is used for every loader (and asks for DataLoaders on CUDA too). On CUDA DataLoader
    batches come in pinned memory. Without workers the random augmentations draw
    from torch's global RNG (seed it with seed_everything); in workers, from each worker's own
    RNG, seeded from the loader's generator and the worker's number. So a run repeats, and
    resumes, exactly for a given number of workers, but augments differently with another
    number (0 included). Workers start afresh every epoch: ``persistent_workers=True`` keeps
    the train loader's alive (saves starting them each epoch), but then they are seeded once
    per process, so an epoch's augmentation depends on the epochs run before it in this
    process, and a resumed run no longer repeats an uninterrupted one.
    """
    _check_split_frame(split_df)
    check_int("batch_size", batch_size, 1)
    if num_workers is not None:
        check_int("num_workers", num_workers, 0)
    check_int("seed", seed, 0)
    preprocessing = as_preprocessing(preprocessing, image_size=image_size, crop=crop,
                                      mean=mean, std=std)
    train_transform = _train_transform(augment, preprocessing)
    transforms = {"train": train_transform, "val": preprocessing.transform(),
                  "test": preprocessing.transform()}
    size, cuda = preprocessing.image_size, torch.cuda.is_available()
    target = batch_device(device, num_workers=num_workers, cache=cache, transform=train_transform)
    loaders = {}
    for name in SPLITS:
        rows = split_df[(split_df["split"] == name).to_numpy(dtype=bool)]
        batched = name != "train" or augment is None  # eval_transform is deterministic
        dataset = FaceDataset(rows, transform=transforms[name], cache=cache,
                              batched_transform=batched, progress=progress,
                              desc=f"Caching {name} images ({size}px)",
                              preprocessing=preprocessing)
        if target is not None:
            generator = torch.Generator().manual_seed(seed) if name == "train" else None
            loaders[name] = DeviceBatches(dataset, batch_size, target, shuffle=name == "train",
                                          generator=generator)
            continue
        workers = num_workers if num_workers is not None else default_num_workers(
            name, augmented=augment is not None, cached=cache, cuda=cuda)
        loaders[name] = _data_loader(dataset, name, batch_size, seed, workers, cuda=cuda,
                                     persistent=persistent_workers and name == "train")
    return loaders


def _data_loader(dataset: FaceDataset, split: str, batch_size: int, seed: int, workers: int, *,
                 cuda: bool, persistent: bool) -> DataLoader:
    """One split's loader: the train split shuffled by its own seeded generator."""
    generator = torch.Generator().manual_seed(seed) if split == "train" else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=split == "train",
                      generator=generator, collate_fn=collate, num_workers=workers,
                      persistent_workers=persistent and workers > 0, pin_memory=cuda)
