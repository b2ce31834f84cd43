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


def checkpoint_dir(run_name: str, local_root: str | Path = "checkpoints") -> Path:
    """Where a run keeps its checkpoints: Google Drive on Colab, so a disconnect loses nothing.

    On Colab this mounts Drive (it asks for permission once) and uses
    ``MyDrive/fakeface/checkpoints/<run_name>``; elsewhere ``<local_root>/<run_name>``.
    """
    if in_colab():
        if not (COLAB_DRIVE / "MyDrive").exists():
            from google.colab import drive  # type: ignore[import-not-found]

            drive.mount(str(COLAB_DRIVE))
        path = COLAB_DRIVE / "MyDrive" / "fakeface" / "checkpoints" / run_name
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
