"""Run the notebook series as a student does on Colab: each notebook on a fresh machine, Drive mounted.

Colab is simulated: the stand-in ``google.colab`` of this folder goes on the kernels' PYTHONPATH,
``/content`` is a new folder per notebook (FAKEFACE_COLAB_CONTENT), and Drive is one folder that
outlives them, every byte written to it counted (see google/colab/drive.py).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from collections.abc import Callable

from fakeface_lib.runner.series import execute_notebook, series_notebooks

HERE = Path(__file__).resolve().parent


@dataclass
class DriveUse:
    written: dict[str, int] = field(default_factory=dict)  # notebook -> bytes written to Drive
    seconds: dict[str, float] = field(default_factory=dict)  # notebook -> its wall time
    left: int = 0  # bytes on Drive at the end
    unseen: list[str] = field(default_factory=list)  # files on Drive the ledger never saw written

    @property
    def total_written(self) -> int:
        return sum(self.written.values())


def read_ledger(ledger: Path) -> tuple[int, set[str], set[str]]:
    """(bytes counted, paths still pending, every path seen) from a ledger file."""
    counted, pending, seen = 0, set(), set()
    if not ledger.exists():
        return counted, pending, seen
    for line in ledger.read_text(encoding="utf-8").splitlines():
        kind, size, path = line.split("\t", 2)
        seen.add(path)
        if kind == "count":
            counted += int(size)
        elif kind == "pending":
            pending.add(path)
        elif kind == "done":
            pending.discard(path)
    return counted, pending, seen


@dataclass
class MachineRun:
    written: int  # bytes the notebook wrote to Drive, replaced versions included
    seconds: float  # its wall time (papermill, the kernel's start included)


def run_on_fresh_machine(base: Path, path: Path, params: dict, keep_machine: bool = False,
                         extra_env: dict[str, str] | None = None,
                         execute: Callable[..., float] = execute_notebook) -> MachineRun:
    """Execute one notebook on a new machine ``base/machine-<stem>`` with Drive at ``base/drive``.

    ``extra_env``: more variables for the kernel while it runs (e.g. FAKEFACE_SIM_GPU_STATS, read
    by sitecustomize.py). The executed copy goes to ``base/executed``; the machine's disk is
    deleted afterwards unless ``keep_machine``. ``execute`` runs the notebook (the runner's
    papermill ``execute_notebook`` by default; it takes the same arguments and returns the wall
    time). Raises what it raises.
    """
    drive = base / "drive"
    drive.mkdir(parents=True, exist_ok=True)
    machine = base / f"machine-{path.stem}"
    content = machine / "content"
    content.mkdir(parents=True)
    ledger = base / f"ledger-{path.stem}.tsv"
    env = {"FAKEFACE_COLAB_CONTENT": str(content), "FAKEFACE_SIM_DRIVE": str(drive),
           "FAKEFACE_SIM_LEDGER": str(ledger), **(extra_env or {})}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        seconds = execute(path, base / "executed", params, cwd=content, pythonpath=[HERE])
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    counted, pending, _ = read_ledger(ledger)
    written = counted + sum(Path(p).stat().st_size for p in pending if Path(p).exists())
    if not keep_machine:
        shutil.rmtree(machine)  # the runtime is gone, and its disk with it
    return MachineRun(written=written, seconds=seconds)


def drive_state(base: Path) -> tuple[int, list[str]]:
    """(bytes on Drive now, files there that no ledger under ``base`` saw written)."""
    seen = set().union(*(read_ledger(p)[2] for p in base.glob("ledger-*.tsv")))
    files = [p for p in (base / "drive").rglob("*") if p.is_file()]
    left = sum(p.stat().st_size for p in files)
    return left, sorted(str(p) for p in files if os.path.realpath(p) not in seen)


def simulate_colab(base: Path, params: dict, notebooks: list[Path] | None = None,
                   keep_machines: bool = False,
                   extra_env: dict[str, str] | None = None) -> DriveUse:
    """Execute ``notebooks`` (default: the series) one machine each; return what Drive took.
    ``extra_env``: more variables for every kernel (run_on_fresh_machine's)."""
    drive, use = base / "drive", DriveUse()
    drive.mkdir(parents=True, exist_ok=True)
    for path in notebooks or series_notebooks():
        run = run_on_fresh_machine(base, path, params, keep_machines, extra_env)
        use.written[path.stem], use.seconds[path.stem] = run.written, run.seconds
    use.left, use.unseen = drive_state(base)
    return use
