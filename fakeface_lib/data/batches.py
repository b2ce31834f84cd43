"""Batches decoded and transformed in one go: ``StackedSamples`` (a dataset's ``__getitems__``
result) and the ``collate`` that passes it through; used by the face and patch loaders."""

from __future__ import annotations

import torch
from torch.utils.data import default_collate


class StackedSamples(list):
    """(image, label) samples that also keep their stacked batch, so ``collate`` skips a copy.

    It is a plain list of samples (views into the batch), so any collate function works.
    """

    def __init__(self, images: torch.Tensor, labels: list[int]):
        super().__init__(zip(images.unbind(0), labels))
        self.images, self.labels = images, torch.tensor(labels, dtype=torch.int64)


def collate(samples: list) -> tuple[torch.Tensor, torch.Tensor]:
    """``default_collate``, except that an already stacked batch is passed through as it is."""
    if isinstance(samples, StackedSamples):
        return samples.images, samples.labels
    return default_collate(samples)
