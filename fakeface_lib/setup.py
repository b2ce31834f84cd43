"""What every notebook's first cells do: the setup (device check, seeds, plot style, and the
smoke mode's budget behind one call) and the series' data (download, canonical split, smoke
subset, loaders, baselines). Where things are saved: :mod:`fakeface_lib.colab`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from fakeface_lib.colab import checkpoint_plan, in_colab, results_dir
from fakeface_lib.training.checkpoints import CheckpointPlan
from fakeface_lib.utils import get_device, seed_everything

NO_GPU_HINT = ("This Colab runtime has no GPU: training will be very slow. "
               "Runtime > Change runtime type > Hardware accelerator: T4 GPU, then rerun.")


def setup_notebook(seed: int = 42) -> torch.device:
    """Seed everything, pick the device, print it, and warn on a Colab runtime without GPU."""
    import matplotlib.pyplot as plt

    seed_everything(seed)
    device = get_device()
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else device.type
    print(f"torch {torch.__version__} | device: {name} | seed: {seed}")
    if in_colab() and device.type != "cuda":
        warnings.warn(NO_GPU_HINT, stacklevel=2)
    plt.rcParams.update({"figure.dpi": 90, "axes.grid": False})
    return device


def smoke_subset(frame, n_per_split: int = 32, seed: int = 0):
    """At most ``n_per_split`` rows of each split, both classes kept: the SMOKE-mode data.

    Smoke runs exercise every line of a notebook in seconds; their numbers mean nothing.
    """
    if "split" not in frame.columns:
        raise ValueError("smoke_subset needs a 'split' column: split the data first")
    keep = []
    for _, rows in frame.groupby("split", sort=False):
        take = min(n_per_split, len(rows))
        for _, group in rows.groupby("label"):
            n = max(1, round(take * len(group) / len(rows)))
            keep.extend(group.sample(n=n, random_state=seed).index)
    return frame.loc[sorted(keep)]


@dataclass
class SeriesData:
    """The series' data as every notebook starts from it (``load_series_data``)."""

    root: Path  # where the images are
    frame: pd.DataFrame  # one row per image, with its canonical split
    loaders: dict | None  # train / val / test loaders (None when no batch size was given)
    baseline: dict[str, float]  # majority-class accuracy of each split

    def counts(self) -> pd.DataFrame:
        """Images per split and class, with totals."""
        return pd.crosstab(self.frame["split"], self.frame["class_name"], margins=True,
                           margins_name="total").reindex(["train", "val", "test", "total"])


def load_series_data(data: str, data_dir: str | Path = "data", *, smoke: bool = False,
                     n_per_split: int = 32, batch_size: int | None = None, seed: int = 42,
                     **loader_options) -> SeriesData:
    """Download (or find) the data, apply the series' fixed split, and make the loaders.

    The four steps every notebook begins with: ``download_dataset``, ``index_dataset``,
    ``canonical_split`` (the same split in every notebook), ``smoke_subset`` in smoke mode
    (``n_per_split`` images per split), then ``make_loaders(batch_size=..., seed=...,
    **loader_options)`` when a batch size is given. Prints the images per split and each
    split's majority baseline.
    """
    from fakeface_lib.data.download import download_dataset
    from fakeface_lib.data.index import index_dataset
    from fakeface_lib.data.loaders import make_loaders
    from fakeface_lib.data.splitting import canonical_split
    from fakeface_lib.evaluation.metrics import majority_baseline

    root = download_dataset(data, dest=data_dir)
    frame = canonical_split(index_dataset(root))
    if smoke:
        frame = smoke_subset(frame, n_per_split=n_per_split)
    loaders = (make_loaders(frame, batch_size=batch_size, seed=seed, **loader_options)
               if batch_size is not None else None)
    baseline = {name: majority_baseline(rows["label"])
                for name, rows in frame.groupby("split", sort=False)}
    baseline = {name: baseline[name] for name in ("train", "val", "test") if name in baseline}
    print("images: " + ", ".join(f"{name} {int((frame['split'] == name).sum())}" for name in baseline))
    print("majority baseline (always answering the larger class): "
          + ", ".join(f"{name} {value:.1%}" for name, value in baseline.items()))
    return SeriesData(Path(root), frame, loaders, baseline)


@dataclass
class Chapter:
    """What a chapter's setup call gives its cells (``setup_chapter``): the device, where results
    go, the training budget, and the smoke mode kept out of the lesson's code."""

    device: torch.device
    results_dir: Path | None  # on Colab on Drive; a folder per data source (smoke runs apart)
    data: str  # what DATA named: "kaggle", "demo", a file id, a zip or a folder
    smoke: bool  # a tiny run whose numbers mean nothing
    epochs: int | None = None  # the chapter's budget (1 in smoke mode)
    image_size: int | None = None  # the chapter's image side (SMOKE_IMAGE_SIZE in smoke mode)
    checkpoint: bool = True  # checkpoints on (the runner turns them off for smoke runs)
    scratch_dir: str | None = None  # the runner's scratch folder, if any
    n_per_split: int = 32  # images per split in smoke mode

    @property
    def scope(self) -> dict:
        """``data`` and ``smoke``: what ``save_run`` and the report's comparison record."""
        return {"data": self.data, "smoke": self.smoke}

    def subset(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame itself; in smoke mode a few images per split (``smoke_subset``)."""
        if not self.smoke:
            return frame
        small = smoke_subset(frame, n_per_split=self.n_per_split)
        print(f"(smoke run: {len(small)} of {len(frame)} images from here on)")
        return small

    def load(self, data_dir: str | Path, **options) -> SeriesData:
        """``load_series_data`` for this chapter's data, smoke subset included."""
        return load_series_data(self.data, data_dir, smoke=self.smoke,
                                n_per_split=self.n_per_split, **options)

    def plan(self, run_name: str, model: torch.nn.Module, cfg) -> CheckpointPlan:
        """Where ``run_name``'s checkpoints go (``checkpoint_plan``), printed, and returned."""
        plan = checkpoint_plan(run_name, model, cfg, enabled=self.checkpoint,
                               scratch_dir=self.scratch_dir)
        print(plan)
        return plan


SMOKE_IMAGE_SIZE = 64  # pixels: small enough for a CPU, large enough for ResNet18's five halvings


def setup_chapter(seed: int, *, data: str, smoke: bool, results: str | Path | None = "results",
                  epochs: int | None = None, image_size: int | None = None,
                  checkpoint: bool = True, scratch_dir: str | Path | None = None,
                  n_per_split: int = 32) -> Chapter:
    """``setup_notebook(seed)``, the results folder (``results_dir``; none for ``results=None``),
    and the budget: in smoke mode 1 epoch on ``n_per_split`` images per split (``image_size``
    shrunk to SMOKE_IMAGE_SIZE), said once, in one visible line."""
    device = setup_notebook(seed)
    if smoke:
        epochs = 1 if epochs is not None else None
        image_size = min(image_size, SMOKE_IMAGE_SIZE) if image_size is not None else None
        budget = "1 epoch on " if epochs else ""
        size = f" {image_size} px" if image_size else ""
        print(f"SMOKE run: {budget}a few{size} images, to check that every cell runs; "
              "its numbers mean nothing.")
    folder = None if results is None else results_dir(results, data=data, smoke=smoke)
    return Chapter(device, folder, str(data), bool(smoke),
                   epochs, image_size, bool(checkpoint),
                   None if scratch_dir is None else str(scratch_dir), int(n_per_split))
