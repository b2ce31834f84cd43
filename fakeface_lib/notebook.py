"""What every notebook's setup cell does (device check, seeds, plot style), and the statistics
and text summaries the notebooks print. Where things are saved: :mod:`fakeface_lib.colab`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from .colab import in_colab
from .utils import get_device, seed_everything

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
    from .data import canonical_split, index_dataset
    from .download import download_dataset
    from .evaluation import majority_baseline
    from .loaders import make_loaders

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


def accuracy_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of an accuracy of ``correct`` out of ``n`` images (scipy).

    On 204 test images an accuracy of 56.9% spans about 50-63%: small test sets
    cannot separate models a few points apart.
    """
    from numbers import Integral

    from scipy.stats import binomtest

    integers = isinstance(n, Integral) and isinstance(correct, Integral)
    if not (integers and 0 <= correct <= n and n > 0):
        raise ValueError(f"need integers 0 <= correct <= n and n > 0, got correct={correct!r}, "
                         f"n={n!r}")
    test = binomtest(int(correct), int(n))
    interval = test.proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def summarize_metrics(metrics: dict, split: str = "test") -> str:
    """compute_metrics()'s headline numbers as text, accuracy beside the majority baseline.

    Ends with a verdict: does the accuracy's 95% interval lie above the baseline?
    """
    from . import CLASS_NAMES

    cm = metrics["confusion_matrix"]  # rows true (fake, real), columns predicted
    counts = [sum(row) for row in cm]
    majority = CLASS_NAMES[int(counts[1] > counts[0])]
    low, high = accuracy_interval(cm[0][0] + cm[1][1], sum(counts))
    auc = metrics["roc_auc"]
    rates = [cm[i][0] / counts[i] if counts[i] else float("nan") for i in (0, 1)]
    base = metrics["majority_baseline"]
    lines = [
        f"{split.capitalize()} set: {sum(counts)} images ({counts[0]} {CLASS_NAMES[0]}, "
        f"{counts[1]} {CLASS_NAMES[1]}); positive class: {metrics['positive_class']}.",
        f"  accuracy           {metrics['accuracy']:6.1%}  (95% interval {low:.1%} to {high:.1%})",
        f"  majority baseline  {base:6.1%}  (always answering {majority})",
        f"  balanced accuracy  {metrics['balanced_accuracy']:6.1%}  "
        "(mean recall of the two classes; 50% = guessing)",
        f"  ROC AUC            {'   n/a' if auc != auc else f'{auc:6.3f}'}  "
        "(0.5 = guessing, 1 = every fake ranked above every real)",
        f"  fakes detected     {rates[0]:6.1%}  (recall of {CLASS_NAMES[0]})",
        f"  false alarms       {rates[1]:6.1%}  (real faces flagged as fake)",
    ]
    if low > base:
        verdict = ("The whole 95% interval lies above the baseline: better than always "
                   f"answering {majority}.")
    elif high < base:
        verdict = ("The whole 95% interval lies below the baseline: worse than always "
                   f"answering {majority}.")
    else:
        verdict = (f"The baseline lies inside the 95% interval: on accuracy alone, this {split} set "
                   f"cannot tell the model from always answering {majority}.")
    return "\n".join(lines + [verdict])
