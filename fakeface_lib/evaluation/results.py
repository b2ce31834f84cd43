"""Per-run results files: what each notebook's training run leaves behind for the comparison.

A run is two files in a results folder: ``<name>.json`` (model, recipe, identity, metrics,
history) and ``<name>_preds.csv`` (one row per test image: label, probability, difficulty,
regions), plus ``<name>.weights.pt`` (best weights in half precision) for the models notebook 05
opens. Each data source has a folder of its own (see ``colab.results_dir``), so runs of other
data are never compared; the best run is chosen on validation, among runs validated on the same
plain images (``validated_on``), then its test figures reported.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from fakeface_lib.config import REGIONS
from fakeface_lib.training.history import epoch_score
from fakeface_lib.training.identity import files_fingerprint
from fakeface_lib.utils import write_text_atomic

RESULTS_VERSION = 2
# The columns of a saved run's ``<name>_preds.csv``: a prediction frame's, trimmed to the file.
SAVED_COLUMNS = ("filename", "label", "prob_fake", "pred", "difficulty", *REGIONS)


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
             config: dict | None = None, notes: str = "", extra: dict | None = None,
             data: str | None = None, smoke: bool = False, weights: bool = False) -> Path:
    """Write one run's results (metrics are computed here from ``preds``) and return the JSON path.

    ``leak_free=False`` marks runs made with the report's flawed protocol, so no table can
    present their accuracy as a detector's. ``data`` and ``smoke`` say what the run was made
    on; fit()'s history brings the run's identity, from which ``validated_on`` is recorded
    (:func:`validation_set`; ``extra={"copies": k}`` marks a run on augmented copies).
    ``weights=True`` also saves the model's weights in half precision (what notebook 05 opens;
    Model 1 is 17 MB so, Model 2 270 MB).
    Give exercise runs names of their own: a name already saved is replaced.
    """
    from fakeface_lib.evaluation.metrics import by_difficulty, compute_metrics
    from fakeface_lib.utils import count_parameters

    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"run name {name!r} must be letters, digits, '_' or '-' (it names files)")
    missing = {"label", "prob_fake", "pred"} - set(preds.columns)
    if missing:
        raise ValueError(f"preds lacks columns {sorted(missing)}: pass predict(...)'s output")
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
        "data": None if data is None else str(data), "smoke": bool(smoke),
        "identity": getattr(history, "identity", None),
        "environment": environment(), **(extra or {}),
    }
    record["validated_on"] = validation_set(record)
    if weights:
        save_weights(model, out / f"{name}{WEIGHTS_SUFFIX}")
    path = out / f"{name}.json"
    write_text_atomic(path, json.dumps(_jsonable(record), indent=1))
    cols = [c for c in SAVED_COLUMNS if c in preds.columns]
    preds[cols].to_csv(out / f"{name}_preds.csv", index=False)
    return path


WEIGHTS_SUFFIX = ".weights.pt"


def save_weights(model: torch.nn.Module, path: Path) -> Path:
    """The model's state_dict, floating tensors in float16, saved as checkpoints are (atomic;
    a full disk keeps the previous file and says what to do)."""
    from fakeface_lib.training.checkpoints import save_checkpoint

    state = {k: v.detach().to("cpu", torch.float16 if v.is_floating_point() else v.dtype)
             for k, v in model.state_dict().items()}
    return save_checkpoint(state, path)


def load_run_weights(results_dir: str | os.PathLike, name: str, model: torch.nn.Module) -> torch.nn.Module:
    """Load the weights ``save_run(..., weights=True)`` saved into ``model`` (its own dtype)."""
    path = Path(results_dir) / f"{name}{WEIGHTS_SUFFIX}"
    if not path.is_file():
        raise FileNotFoundError(f"No weights of run {name!r} at {path}: the notebook that trains it "
                                "saves them with save_run(..., weights=True).")
    state = torch.load(path, map_location="cpu", weights_only=True)
    own = model.state_dict()
    model.load_state_dict({k: v.to(own[k].dtype) if k in own else v for k, v in state.items()})
    return model


def _best_epoch(history: list[dict]) -> int | None:
    """fit()'s own choice (History.best_epoch, which follows cfg.monitor); else the best val_acc."""
    if getattr(history, "best_epoch", None) is not None:
        return int(history.best_epoch)
    if not history:
        return None
    return int(max(history, key=epoch_score).get("epoch", 0))


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


def data_label(runs: list[dict]) -> str:
    """Which data a set of runs was made on, in words; raises if they mix data or smoke runs."""
    sources = sorted({(str(run.get("data")), bool(run.get("smoke"))) for run in runs})
    if len(sources) > 1:
        shown = ", ".join(f"{d}{' (smoke)' if s else ''}" for d, s in sources)
        raise ValueError(f"These runs were made on different data ({shown}): compare runs of one "
                         "data source (each has a results folder of its own).")
    if not sources:
        return "no runs"
    data, smoke = sources[0]
    return f"{data} data" + (", SMOKE runs (their numbers mean nothing)" if smoke else "")


def validation_score(run: dict) -> tuple[float, float] | None:
    """(val accuracy, -val loss) of the run's chosen epoch, or None when it has no history."""
    history, best = run.get("history") or [], run.get("best_epoch")
    rows = [row for row in history if row.get("epoch") == best]
    if not rows or rows[0].get("val_acc") is None:
        return None
    return epoch_score(rows[0])


def validation_set(run: dict) -> dict | None:
    """What a run was validated on: ``{"images", "files", "copies"}`` or None when unknown.

    ``images`` and ``files`` are the count and digest of the validation images' names, labels
    and sizes (``identity.data_identity``, which fit() records); ``copies`` is the number of
    augmented copies per photograph of notebook 03b's runs on copies (None: plain images).
    A run saved with ``validated_on`` keeps it; older files derive it from their identity.
    """
    if run.get("validated_on"):
        return dict(run["validated_on"])
    val = ((run.get("identity") or {}).get("data") or {}).get("val")
    if not val:
        return None
    copies = run.get("copies")
    return {"images": int(val["images"]), "files": str(val["files"]),
            "copies": None if copies is None else int(copies)}


def split_validation_set(split_frame: pd.DataFrame) -> dict:
    """The :func:`validation_set` of runs whose loaders were made from ``split_frame``: what fit()
    records of its "val" rows (``identity.data_identity``: their count and ``files_fingerprint``),
    on plain images (``copies`` None). ``choose_best(runs, validated_on=...)`` then ranks only the
    runs validated on these very images, whatever the other runs in the folder were made on.
    """
    if "split" not in split_frame.columns:
        raise ValueError("split_validation_set needs a 'split' column: split the data first")
    val = split_frame[(split_frame["split"] == "val").to_numpy(dtype=bool)]
    if val.empty:
        raise ValueError("split_validation_set: the frame has no validation rows")
    return {"images": len(val), "files": files_fingerprint(val), "copies": None}


def validation_label(run: dict) -> str:
    """A run's validation set in words: "25 images (f5fe8e6f)", "64 augmented copies (4 per image)"."""
    seen = validation_set(run)
    if seen is None:
        return "not recorded"
    if seen["copies"]:
        return f"{seen['images']} augmented copies ({seen['copies']} per image)"
    return f"{seen['images']} images ({seen['files'][:8]})"


def comparable_runs(runs: list[dict], validated_on: dict | None = None) -> tuple[list[dict], dict[str, str]]:
    """(the runs choose_best ranks, {name: why each other run is left out}).

    Ranked: leak-free runs with a validation history, validated on one set of plain images:
    ``validated_on`` (a :func:`validation_set`) or, by default, the set most of them share (ties:
    the larger set, then its digest). Left out, and said why: leaky runs, runs on augmented
    copies (their items are correlated draws, several per photograph), runs that do not record
    their validation images, and runs validated on other images.
    """
    left_out, plain = {}, []
    for run in runs:
        seen = validation_set(run)
        if not run["leak_free"]:
            left_out[run["name"]] = "leaky protocol"
        elif validation_score(run) is None:
            left_out[run["name"]] = "no validation history"
        elif seen is None:
            left_out[run["name"]] = "its validation images are not recorded (save it again)"
        elif seen["copies"]:
            left_out[run["name"]] = f"validated on {validation_label(run)}"
        else:
            plain.append((run, (seen["images"], seen["files"])))
    counts: dict[tuple[int, str], int] = {}
    for _, key in plain:
        counts[key] = counts.get(key, 0) + 1
    if validated_on is not None:
        chosen = (int(validated_on["images"]), str(validated_on["files"]))
    else:
        chosen = max(counts, key=lambda key: (counts[key], key)) if counts else None
    ranked = [run for run, key in plain if key == chosen]
    for run, key in plain:
        if key != chosen:
            left_out[run["name"]] = f"validated on other images ({validation_label(run)})"
    return ranked, left_out


def choose_best(runs: list[dict], validated_on: dict | None = None) -> dict | None:
    """The run with the highest validation accuracy (ties: lower validation loss, then the name)
    among :func:`comparable_runs`: leak-free runs validated on the same plain images, never
    runs on other images or on augmented copies. ``epoch_score`` of each run's chosen epoch,
    the rule fit() chose that epoch by.

    Chosen on validation only; its test figures are then reported, once.
    """
    ranked, _ = comparable_runs(runs, validated_on)
    scored = [(validation_score(run), run["name"], run) for run in ranked]
    return max(scored, key=lambda item: (item[0], item[1]))[2] if scored else None


def results_table(runs: list[dict]) -> pd.DataFrame:
    """One row per run: the comparison table of notebook 05 and the report (one data source)."""
    data_label(runs)
    rows = []
    for run in runs:
        m = run["metrics"]
        score = validation_score(run)
        rows.append({
            "model": run["title"], "leak_free": "yes" if run["leak_free"] else "NO (leaky)",
            "val_acc": score[0] if score else float("nan"),
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
    write_text_atomic(path, json.dumps(_jsonable(summary), indent=1))
    return path


def load_summary(results_dir: str | os.PathLike, name: str) -> dict | None:
    """The summary written by :func:`save_summary`, or None when there is none."""
    path = Path(results_dir) / f"{name}.summary.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
