"""What every notebook's setup cell does: device check, seeds, plot style, Colab paths."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import torch

from .utils import get_device, seed_everything

COLAB_DRIVE = Path("/content/drive")
NO_GPU_HINT = ("This Colab runtime has no GPU: training will be very slow. "
               "Runtime > Change runtime type > Hardware accelerator: T4 GPU, then rerun.")


def in_colab() -> bool:
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules


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


def drive_folder() -> Path:
    """``MyDrive/fakeface`` on Colab, mounting Google Drive first (Colab asks once)."""
    if not (COLAB_DRIVE / "MyDrive").exists():
        from google.colab import drive  # type: ignore[import-not-found]

        drive.mount(str(COLAB_DRIVE))
    return COLAB_DRIVE / "MyDrive" / "fakeface"


def checkpoint_dir(run_name: str, local_root: str | Path = "checkpoints") -> Path:
    """Where a run keeps its checkpoints: Google Drive on Colab, so a disconnect loses nothing.

    On Colab this mounts Drive (it asks for permission once) and uses
    ``MyDrive/fakeface/checkpoints/<run_name>``; elsewhere ``<local_root>/<run_name>``.
    """
    if in_colab():
        path = drive_folder() / "checkpoints" / run_name
    else:
        path = Path(local_root) / run_name
    path.mkdir(parents=True, exist_ok=True)
    return path


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


def results_dir(path: str | Path = "results") -> Path:
    """Where runs save their results: on Colab a relative path goes to Drive.

    Each Colab notebook runs on a machine of its own, so results kept on the local disk
    would be gone by the time notebook 05 compares them; ``MyDrive/fakeface/<path>`` stays.
    """
    path = Path(path)
    if in_colab() and not path.is_absolute():
        path = drive_folder() / path
    path.mkdir(parents=True, exist_ok=True)
    return path
