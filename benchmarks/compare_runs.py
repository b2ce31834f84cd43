"""Compare two runs of the series (``python -m fakeface_lib.runner run --out DIR``) figure by figure.

    python benchmarks/compare_runs.py BEFORE AFTER

Walks ``BEFORE/results`` and ``AFTER/results`` and compares, file by file:

- every JSON file (each run's ``<name>.json``, the ``*.summary.json`` summaries, notebook 06's
  attempts): key by key, recursively; numbers must be equal;
- every CSV file (prediction frames, the attempts' frames, quiz answers): column by column;
- every ``*.pt`` file (saved weights, loaded with ``weights_only=True``): tensor by tensor;
- the PNG figures of ``figures/``: pixel by pixel.

Ignored, because they change from run to run or machine to machine without being a figure:

- ``seconds``, ``train_seconds`` (wall-clock times: history rows, runs, quiz answer times);
- ``environment`` (python, torch, platform and device versions recorded with a run);
- ``loading_per_epoch`` (notebook 00's measured loading time, in words);
- ``path`` (absolute image paths: each run has its own data folder) and any other string that
  is an absolute path;
- dates and times: string values that parse as an ISO date-time;
- the module path of a run identity's model class (``identity.model.class``): only the class
  name is compared, because the path says where the code lives (``fakeface_lib.models.Model1``
  became ``fakeface_lib.models.cnn.Model1`` when the library moved into subpackages), not what
  the run computed. Note that the run identity's key, and so a checkpoint's folder name, follows
  that path: checkpoints written before such a move are not resumed after it.

Prints every difference (file, key path, before, after) and exits 1 if there is any, 0 if the
two runs hold the same figures; also exits 1 when a file exists on one side only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import datetime
from pathlib import Path

IGNORED_KEYS = {"seconds", "train_seconds", "environment", "loading_per_epoch", "path"}
CLASS_PATH = ".identity.model.class"  # compared by class name only


def _volatile_string(value: str) -> bool:
    if value.startswith("/") or (len(value) > 2 and value[1:3] == ":\\"):
        return True
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return any(c.isdigit() for c in value) and ("-" in value or ":" in value) and len(value) >= 10


def _same_number(a: float, b: float) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def compare_values(a, b, where: str, out: list[str]) -> None:
    """Append a line to ``out`` for each difference between ``a`` and ``b`` (``where``: the key path)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key in IGNORED_KEYS:
                continue
            if key not in a or key not in b:
                out.append(f"{where}.{key}: only in {'after' if key not in a else 'before'}")
                continue
            compare_values(a[key], b[key], f"{where}.{key}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} items before, {len(b)} after")
        for i, (x, y) in enumerate(zip(a, b)):
            compare_values(x, y, f"{where}[{i}]", out)
    elif isinstance(a, str) and isinstance(b, str) and _volatile_string(a) and _volatile_string(b):
        return
    elif where.endswith(CLASS_PATH) and isinstance(a, str) and isinstance(b, str):
        if a.rsplit(".", 1)[-1] != b.rsplit(".", 1)[-1]:
            out.append(f"{where}: {a!r} before, {b!r} after")
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if not _same_number(a, b):
            out.append(f"{where}: {a!r} before, {b!r} after")
    elif a != b:
        out.append(f"{where}: {a!r} before, {b!r} after")


def compare_csv(a: Path, b: Path, where: str, out: list[str]) -> None:
    import pandas as pd

    before, after = pd.read_csv(a), pd.read_csv(b)
    keep = [c for c in before.columns if c not in IGNORED_KEYS]
    if list(before.columns) != list(after.columns):
        out.append(f"{where}: columns {list(before.columns)} before, {list(after.columns)} after")
        return
    compare_values(before[keep].to_dict(orient="list"), after[keep].to_dict(orient="list"), where, out)


def compare_weights(a: Path, b: Path, where: str, out: list[str]) -> None:
    import torch

    before = torch.load(a, map_location="cpu", weights_only=True)
    after = torch.load(b, map_location="cpu", weights_only=True)
    if set(before) != set(after):
        out.append(f"{where}: other tensors ({sorted(set(before) ^ set(after))[:5]} ...)")
        return
    out += [f"{where}[{k}]: tensors differ" for k in before if not torch.equal(before[k], after[k])]


def compare_png(a: Path, b: Path, where: str, out: list[str]) -> None:
    import numpy as np
    from PIL import Image

    before, after = (np.asarray(Image.open(p).convert("RGBA")) for p in (a, b))
    if before.shape != after.shape or not np.array_equal(before, after):
        out.append(f"{where}: the figure's pixels differ")


COMPARERS = {".json": None, ".csv": compare_csv, ".pt": compare_weights, ".png": compare_png}


def compare_runs(before: Path, after: Path) -> tuple[list[str], int]:
    """(differences, files compared) between two run folders."""
    out: list[str] = []
    files = sorted({p.relative_to(root) for root in (before, after)
                    for folder in ("results", "figures") if (root / folder).is_dir()
                    for p in (root / folder).rglob("*") if p.suffix in COMPARERS and p.is_file()})
    for rel in files:
        a, b = before / rel, after / rel
        if not (a.is_file() and b.is_file()):
            out.append(f"{rel}: only in {'before' if a.is_file() else 'after'}")
        elif rel.suffix == ".json":
            compare_values(json.loads(a.read_text()), json.loads(b.read_text()), str(rel), out)
        else:
            COMPARERS[rel.suffix](a, b, str(rel), out)
    return out, len(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    differences, n_files = compare_runs(args.before, args.after)
    for line in differences:
        print(line)
    print(f"{n_files} files compared (ignored: {', '.join(sorted(IGNORED_KEYS))}, absolute paths, "
          f"dates; model classes by name): {len(differences)} difference(s).")
    return 1 if differences or n_files == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
