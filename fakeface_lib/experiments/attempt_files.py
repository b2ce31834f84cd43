"""A finished attempt of notebook 06 (``AttemptRun``) and its files: its predictions saved after
training, and reloaded instead of training again when its key (model, initial weights, images,
preprocessing, recipe) is the one saved."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
from torch import nn

from fakeface_lib.config import TrainConfig
from fakeface_lib.training.history import History
from fakeface_lib.training.identity import (
    data_identity, files_fingerprint, model_identity, preprocessing_identity, weights_fingerprint,
)


@dataclasses.dataclass
class AttemptRun:
    """One trained attempt: its model (best epoch's weights; None when reloaded from its saved
    results), history, predictions and choices."""

    name: str
    title: str
    model: nn.Module | None
    history: Any  # training.History
    val: pd.DataFrame
    val_tta: pd.DataFrame
    test: pd.DataFrame
    test_tta: pd.DataFrame
    pooling: tuple | None  # (pooling, threshold, candidates) for patch attempts
    residual_scale: float | None
    resumed: bool
    params: int = 0


FRAMES = ("val", "val_tta", "test", "test_tta")


def attempt_key(model: nn.Module, loaders: dict, cfg: TrainConfig, pooled: bool) -> dict:
    """What a saved attempt must match to be reused: the model and its initial weights, the
    training, validation and test images, their preprocessing, the recipe and the pooling."""
    key = {"model": model_identity(model), "init": weights_fingerprint(model),
           "data": {**data_identity(loaders),
                    "test": files_fingerprint(loaders["test"].dataset.frame)},
           "preprocessing": preprocessing_identity(loaders), "cfg": cfg.to_dict(),
           "pooled": bool(pooled)}
    return json.loads(json.dumps(key, default=str))  # as it reads back from the file


def save_attempt(run: AttemptRun, folder, key: dict) -> Path:
    """The attempt's four predictions frames (CSV) and its record (JSON, written last, so a
    record on disk always has its frames)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for frame in FRAMES:
        getattr(run, frame).to_csv(folder / f"{run.name}_{frame}.csv", index=False)
    pooling = run.pooling and [run.pooling[0], run.pooling[1],
                               {k: list(v) for k, v in run.pooling[2].items()}]
    record = {"key": key, "name": run.name, "history": list(run.history),
              "best_epoch": run.history.best_epoch, "stopped_early": run.history.stopped_early,
              "pooling": pooling, "residual_scale": run.residual_scale, "params": run.params}
    path = folder / f"{run.name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, default=float), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_attempt(name: str, title: str, folder, key: dict) -> AttemptRun | None:
    """The attempt saved in ``folder`` by save_attempt, or None (none saved, or other settings)."""
    path = Path(folder) / f"{name}.json"
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    if record.get("key") != key or not all((path.parent / f"{name}_{f}.csv").is_file() for f in FRAMES):
        return None
    history = History(record["history"], best_epoch=record["best_epoch"],
                      stopped_early=record["stopped_early"])
    frames = {f: pd.read_csv(path.parent / f"{name}_{f}.csv") for f in FRAMES}
    pooling = record["pooling"] and (record["pooling"][0], record["pooling"][1],
                                     {k: tuple(v) for k, v in record["pooling"][2].items()})
    return AttemptRun(name, title, None, history, frames["val"], frames["val_tta"], frames["test"],
                      frames["test_tta"], pooling, record["residual_scale"], True, record["params"])
