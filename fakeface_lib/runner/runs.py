"""The run folders of the main job (``runs/<data>-<time>/``): how much disk they take, and pruning.

One ``make demo`` writes about 450 MB, mostly Model 1's and ResNet18's checkpoints (Model 2's,
about 2 GB each, are not written under the runner: nothing in the job would resume them). Nothing else is deleted on its own:
the runner says how much ``runs/`` holds, and ``python -m fakeface_lib.runner prune --keep N`` removes
the older runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

GB = 1024 ** 3


def folder_size(path: Path) -> int:
    """Bytes in every file under ``path`` (links are not followed)."""
    return sum(f.lstat().st_size for f in Path(path).rglob("*") if f.is_file() and not f.is_symlink())


def run_folders(root: Path) -> list[Path]:
    """The run folders under ``root``, oldest first: those with the ``results/`` a run writes.

    Anything else in ``root`` (a file, a folder of your own) is never listed, so never pruned.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and (p / "results").is_dir()]
    return sorted(runs, key=lambda p: (p.stat().st_mtime, p.name))


def prune_runs(root: Path, keep: int = 1, dry_run: bool = False) -> list[tuple[Path, int]]:
    """Delete all but the ``keep`` newest run folders; return ``(folder, bytes)`` for each removed.

    ``dry_run=True`` only lists what would go.
    """
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 0:
        raise ValueError(f"keep must be a whole number >= 0 (runs to keep), got {keep!r}")
    runs = run_folders(root)
    doomed = runs[:max(0, len(runs) - keep)]
    removed = []
    for folder in doomed:
        size = folder_size(folder)
        if not dry_run:
            shutil.rmtree(folder)
        removed.append((folder, size))
    return removed


def usage_note(root: Path, warn_above: float = 4 * GB) -> str | None:
    """A line on how much ``root`` holds and how to free it, when it holds more than ``warn_above`` bytes."""
    runs = run_folders(root)
    total = sum(folder_size(r) for r in runs)
    if total <= warn_above:
        return None
    if len(runs) > 1:
        fix = "`python -m fakeface_lib.runner prune --keep 1` deletes all but the newest run."
    else:
        fix = "Its checkpoints/ folder can go once you no longer need to resume or reload its models."
    return f"{root} holds {len(runs)} run(s), {total / GB:.1f} GB in all (mostly checkpoints). {fix}"
