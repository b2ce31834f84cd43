"""Per-run results files: what each notebook's training run leaves behind for the comparison.

A run is two files in a results folder: ``<name>.json`` (model, recipe, metrics, history) and
``<name>_preds.csv`` (one row per test image: label, probability, difficulty, regions).
Notebook 05 and the report read them back; nothing else needs the models themselves.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import pandas as pd
import torch

RESULTS_VERSION = 1
PRED_COLUMNS = ("filename", "label", "prob_fake", "pred", "difficulty",
                "left_eye", "right_eye", "nose", "mouth")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _jsonable(value: Any) -> Any:
    """Numbers, arrays and tensors as plain JSON values (NaN becomes null)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


def environment() -> dict[str, str]:
    """Versions and device, recorded with every run so a number can be traced to a machine."""
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return {"python": platform.python_version(), "torch": torch.__version__,
            "platform": platform.platform(), "device": device}


def save_run(results_dir: str | os.PathLike, name: str, *, title: str, model: torch.nn.Module,
             history: list[dict], preds: pd.DataFrame, leak_free: bool = True,
             config: dict | None = None, notes: str = "", extra: dict | None = None) -> Path:
    """Write one run's results (metrics are computed here from ``preds``) and return the JSON path.

    ``leak_free=False`` marks runs made with the report's flawed protocol, so no table can
    present their accuracy as a detector's.
    """
    from .evaluation import by_difficulty, compute_metrics
    from .utils import count_parameters

    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"run name {name!r} must be letters, digits, '_' or '-' (it names files)")
    missing = {"label", "prob_fake", "pred"} - set(preds.columns)
    if missing:
        raise ValueError(f"preds lacks columns {sorted(missing)}: pass evaluation.predict(...)'s output")
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = compute_metrics(preds)
    record = {
        "version": RESULTS_VERSION, "name": name, "title": title,
        "model": type(model).__name__, "params": count_parameters(model),
        "epochs": len(history), "train_seconds": float(sum(h.get("seconds", 0.0) for h in history)),
        "best_epoch": _best_epoch(history), "leak_free": bool(leak_free),
        "metrics": {k: v for k, v in metrics.items() if k != "report_dict"},
        "by_difficulty": by_difficulty(preds).reset_index().to_dict(orient="records"),
        "history": history, "config": config or {}, "notes": notes,
        "environment": environment(), **(extra or {}),
    }
    path = out / f"{name}.json"
    _atomic_write(path, json.dumps(_jsonable(record), indent=1))
    cols = [c for c in PRED_COLUMNS if c in preds.columns]
    preds[cols].to_csv(out / f"{name}_preds.csv", index=False)
    return path


def _best_epoch(history: list[dict]) -> int | None:
    """fit()'s own choice (History.best_epoch, which follows cfg.monitor); else the best val_acc."""
    if getattr(history, "best_epoch", None) is not None:
        return int(history.best_epoch)
    if not history:
        return None
    return int(max(history, key=lambda h: (h.get("val_acc", 0.0), -h.get("val_loss", 0.0)))
               .get("epoch", 0))


def load_runs(results_dir: str | os.PathLike) -> list[dict]:
    """Every run saved in ``results_dir`` (sorted by name), each with its ``preds`` DataFrame."""
    runs = []
    for path in sorted(Path(results_dir).glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("version") != RESULTS_VERSION or "metrics" not in record:
            continue  # another kind of JSON (a data summary, say)
        preds_path = path.with_name(f"{path.stem}_preds.csv")
        record["preds"] = pd.read_csv(preds_path) if preds_path.exists() else None
        runs.append(record)
    return runs


def results_table(runs: list[dict]) -> pd.DataFrame:
    """One row per run: the comparison table of notebook 05 and the report."""
    rows = []
    for run in runs:
        m = run["metrics"]
        rows.append({
            "model": run["title"], "leak_free": "yes" if run["leak_free"] else "NO (leaky)",
            "test_acc": m["accuracy"], "balanced_acc": m["balanced_accuracy"],
            "roc_auc": m["roc_auc"], "majority_baseline": m["majority_baseline"],
            "params": run["params"], "epochs": run["epochs"],
            "train_seconds": run["train_seconds"], "n_test": m["n"],
        })
    return pd.DataFrame(rows)


def save_summary(results_dir: str | os.PathLike, name: str, summary: dict) -> Path:
    """Write a small JSON document (a data summary, a leak check) beside the runs."""
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.summary.json"
    _atomic_write(path, json.dumps(_jsonable(summary), indent=1))
    return path


def load_summary(results_dir: str | os.PathLike, name: str) -> dict | None:
    """The summary written by :func:`save_summary`, or None when there is none."""
    path = Path(results_dir) / f"{name}.summary.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
