"""Where a notebook keeps what it saves: Google Drive on Colab, the runtime's disk, or local folders.

On Colab each notebook runs on a machine of its own, so what a later notebook or a resume needs
goes to ``MyDrive/fakeface`` (results, small weights, small checkpoints); a free account's Drive
holds 15 GB, so resumable state too large for it (Model 2's, 1.6-2.2 GB) stays on the runtime's
local disk, where a kernel restart still finds it.
"""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path

from fakeface_lib.training.checkpoints import CheckpointPlan, MiB

GITHUB_REPO = "fakeface/fakeface"  # where the Colab badges and the Colab install point
RELEASE = "v0.2.0"  # the git tag both point at: Colab runs notebooks and library of one release
INSTALL_SPEC = f"fakeface @ git+https://github.com/{GITHUB_REPO}@{RELEASE}"  # each install cell

# Resumable state above this stays off Drive (Model 2: ~1.6-2.2 GB; Model 1: ~135 MB).
DRIVE_CHECKPOINT_LIMIT = 400 * MiB
DRIVE_WRITES_PER_RUN = 2  # checkpoints a run writes to Drive: every replaced one stays in Trash
LOCAL_EVERY = 5  # epochs between the large checkpoints kept on a local disk
# Bytes of state per trainable parameter, besides the weights: the optimizer's buffers.
OPTIMIZER_SLOTS = {"adam": 2, "adamw": 2, "adadelta": 2, "sgd": 1}


def colab_url(notebook_name: str) -> str:
    """The "Open in Colab" URL of ``notebooks/<notebook_name>`` at RELEASE."""
    return (f"https://colab.research.google.com/github/{GITHUB_REPO}/blob/{RELEASE}"
            f"/notebooks/{notebook_name}")


def in_colab() -> bool:
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules


def colab_content() -> Path:
    """Colab's working disk, ``/content`` (``FAKEFACE_COLAB_CONTENT`` overrides it for tests)."""
    return Path(os.environ.get("FAKEFACE_COLAB_CONTENT", "/content"))


def drive_folder() -> Path:
    """``MyDrive/fakeface`` on Colab, mounting Google Drive first (Colab asks once).

    Declining the permission raises; the notebooks then keep everything on the runtime's disk.
    """
    mount_point = colab_content() / "drive"
    if not (mount_point / "MyDrive").exists():
        from google.colab import drive  # type: ignore[import-not-found]

        drive.mount(str(mount_point))
    return mount_point / "MyDrive" / "fakeface"


def data_scope(data: str, smoke: bool = False) -> str:
    """A folder name for one data source: runs of different data are never compared.

    "kaggle", "demo", a zip or folder's name, a Drive id; ``smoke-`` in front for smoke runs.
    """
    text = str(data).rstrip("/\\")
    if text not in ("kaggle", "demo"):
        text = Path(text).stem if ("/" in text or "\\" in text or text.endswith(".zip")) else text
        text = "data-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:40] or "local")
    return f"smoke-{text}" if smoke else text


def results_dir(path: str | Path = "results", *, data: str | None = None,
                smoke: bool = False) -> Path:
    """Where runs save their results: ``<path>/<data scope>``, on Colab under Drive.

    Each Colab notebook runs on a machine of its own, so results kept on the local disk would
    be gone by the time notebook 05 compares them; ``MyDrive/fakeface/<path>`` stays. Without
    Drive (permission declined) they stay on the runtime's disk, and notebook 05 trains
    stand-ins for what it cannot find.
    """
    path = Path(path)
    if in_colab() and not path.is_absolute():
        path, _ = _drive_or_local(path)
    if data is not None:
        path = path / data_scope(data, smoke)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _drive_or_local(path: Path) -> tuple[Path, bool]:
    """``MyDrive/fakeface/<path>`` and True; the runtime's disk and False without Drive."""
    try:
        return drive_folder() / path, True
    except Exception as err:  # noqa: BLE001  (declined, or no Drive for this account)
        print(f"Google Drive is not mounted ({type(err).__name__}: {err}); {path} stays on this "
              "runtime's disk, gone when the runtime is. Notebook 05 will train stand-ins for "
              "what it cannot find.")
        return colab_content() / "fakeface" / path, False


def checkpoint_size(model, optimizer: str) -> int:
    """Bytes of one checkpoint: weights, the optimizer's buffers, and a copy of the best weights."""
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return 2 * total + OPTIMIZER_SLOTS.get(optimizer, 2) * trainable


def checkpoint_plan(run_name: str, model, cfg, *, enabled: bool = True,
                    scratch_dir: str | Path | None = None,
                    local_root: str | Path = "checkpoints") -> CheckpointPlan:
    """Decide where ``run_name``'s checkpoints go, by their size.

    On Colab a checkpoint of at most DRIVE_CHECKPOINT_LIMIT goes to Drive, written at most
    DRIVE_WRITES_PER_RUN times (a replaced file stays in Drive's Trash, counting against the
    quota); a larger one goes to the runtime's disk, every LOCAL_EVERY
    epochs: a kernel restart resumes it, a lost runtime retrains the run. Elsewhere small
    checkpoints go to ``<local_root>/<run_name>`` every epoch, large ones every LOCAL_EVERY
    epochs. ``scratch_dir`` is what the series runner gives: a folder deleted when its job ends,
    and nothing in the job resumes a run, so large checkpoints are not written at all then
    (Model 2's 2 GB each would only cost the job its time).
    """
    size = checkpoint_size(model, cfg.optimizer)
    if not enabled:
        return CheckpointPlan(None, cfg.num_epochs, where="off", size=size)
    large = size > DRIVE_CHECKPOINT_LIMIT
    if large and scratch_dir is not None:
        return CheckpointPlan(None, cfg.num_epochs, where="skipped", size=size)
    if large and in_colab():
        where, root, every = "runtime disk", colab_content() / "fakeface" / "checkpoints", LOCAL_EVERY
    elif in_colab():
        root, on_drive = _drive_or_local(Path("checkpoints"))
        where = "drive" if on_drive else "runtime disk"
        every = math.ceil(cfg.num_epochs / DRIVE_WRITES_PER_RUN)
    else:
        where, root, every = "local", Path(local_root), LOCAL_EVERY if large else 1
    folder = root / run_name
    folder.mkdir(parents=True, exist_ok=True)
    return CheckpointPlan(folder, min(every, cfg.num_epochs), resume=True, where=where, size=size)
