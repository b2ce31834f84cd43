"""DeviceBatches: a split's batches made on the device the model trains on. The decode-once uint8
cache is copied there once; each batch is indexed, augmented (``BatchAugment``) and normalised
there, so no image crosses from the CPU after the first epoch and no worker process is needed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch

from fakeface_lib.data.batch_augment import BatchAugment


class DeviceBatches:
    """What make_loaders gives per split on CUDA: a DataLoader's interface (``len()``, iteration
    of (images (B, 3, S, S) float32, labels (B,) int64) on ``device``, ``.dataset``,
    ``.batch_size``, ``.generator``) over a cached FaceDataset, its batches made on ``device``.

    ``dataset.transform`` (a preset or the evaluation transform, see ``BatchAugment``) runs on
    each batch, each image with its own random parameters drawn from torch's global RNG in the
    order the DataLoader's path draws them. With ``shuffle`` the order comes from ``generator``
    as a shuffling DataLoader's does (its sampler's draws included). So for one seed both paths
    see the same images in the same order with the same augmentation, and a checkpoint (which
    keeps the global RNG and ``.generator``) resumes either exactly. The cache is copied to the
    device on first use (about 49 kB per image at 128 px).
    """

    def __init__(self, dataset: Any, batch_size: int, device: torch.device | str, *,
                 shuffle: bool = False, generator: torch.Generator | None = None):
        if getattr(dataset, "images", None) is None:
            raise ValueError("DeviceBatches index the uint8 cache: build the dataset with "
                             "cache=True.")
        self.dataset, self.batch_size = dataset, batch_size
        self.device = torch.device(device)
        self.shuffle = shuffle
        self.generator = generator if generator is not None or not shuffle else torch.Generator()
        self.transform = BatchAugment(dataset.transform)
        self._images: torch.Tensor | None = None
        self._labels: torch.Tensor | None = None

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __repr__(self) -> str:
        return (f"DeviceBatches({len(self.dataset)} images, batch_size={self.batch_size}, "
                f"device={self.device}, shuffle={self.shuffle})")

    def on_device(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The cache (N, 3, S, S) uint8 and the labels (N,) int64 on the device (copied once)."""
        if self._images is None:
            self._images = self.dataset.images.to(self.device)
            self._labels = torch.as_tensor(self.dataset.labels, dtype=torch.int64).to(self.device)
        return self._images, self._labels

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        images, labels = self.on_device()
        # A DataLoader's iterator draws a seed for its workers (from its generator, else from
        # the global RNG the augmentation uses), then its sampler a permutation: drawn alike
        # here, so both paths shuffle and augment the same way.
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        order = (torch.randperm(len(self.dataset), generator=self.generator) if self.shuffle
                 else None)
        return self._batches(images, labels, order)

    def _batches(self, images: torch.Tensor, labels: torch.Tensor,
                 order: torch.Tensor | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.dataset)
        for start in range(0, n, self.batch_size):
            if order is None:
                index: slice | torch.Tensor = slice(start, start + self.batch_size)
            else:
                index = order[start:start + self.batch_size].to(self.device, non_blocking=True)
            yield self.transform(images[index]), labels[index]
        if order is not None:
            # The sampler's closing draw: it asks for one more permutation when it runs out.
            torch.randperm(n, generator=self.generator)


def batch_device(device: torch.device | str | None, *, num_workers: int | None, cache: bool,
                 transform: Any) -> torch.device | None:
    """Where make_loaders makes its batches: a device for DeviceBatches, or None (DataLoaders).

    ``device=None``: CUDA when a GPU is there, the cache is on and the training transform is
    one BatchAugment batches; DataLoaders otherwise, or when ``num_workers`` asks for worker
    processes. A device named (the CPU included) is used, or a ValueError says why it cannot be.
    """
    if device is None:
        usable = cache and num_workers is None and BatchAugment.supports(transform)
        return torch.device("cuda") if usable and torch.cuda.is_available() else None
    if num_workers is not None:
        raise ValueError("num_workers asks for DataLoader worker processes; batches made on a "
                         "device have none: pass device=None with num_workers, or drop it.")
    if not cache:
        raise ValueError("Batches made on a device index the uint8 cache: use cache=True.")
    if not BatchAugment.supports(transform):
        raise ValueError(f"Batches made on a device need a preset augmentation (or None); "
                         f"{transform!r} runs in DataLoaders only (device=None).")
    return torch.device(device)
