"""Ensembles: the fake-probabilities of several models' prediction frames averaged, the members
chosen on validation and the test set predicted once, for the chosen members only.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fakeface_lib.evaluation.metrics import compute_metrics
from fakeface_lib.evaluation.predictions import (
    PRED_COLUMNS,
    predictions_from_probs,
    same_images,
    validation_key,
)


def average_predictions(frames: Sequence[pd.DataFrame], weights: Sequence[float] | None = None,
                        threshold: float = 0.5) -> pd.DataFrame:
    """One predictions frame whose prob_fake is the (weighted) mean of the frames' prob_fake.

    The frames must hold the same images in the same order (``predict`` on one split's
    unshuffled loader gives that); the first frame's other columns are kept.
    """
    if not frames:
        raise ValueError("average_predictions needs at least one predictions frame.")
    same_images(frames)
    weights = np.ones(len(frames)) if weights is None else np.asarray(weights, dtype=float)
    if weights.shape != (len(frames),) or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"weights must be {len(frames)} non-negative numbers, not all zero.")
    probs = np.stack([f["prob_fake"].to_numpy(float) for f in frames])
    prob_fake = weights @ probs / weights.sum()
    first = frames[0].reset_index(drop=True)
    info = first.drop(columns=[c for c in PRED_COLUMNS if c != "label"])
    return predictions_from_probs(prob_fake, first["label"], info, threshold)


@dataclasses.dataclass
class EnsembleChoice:
    """What choose_ensemble found: the members, their averaged validation and test predictions
    and metrics, and every candidate's validation score (test figures for the chosen only)."""

    members: tuple[str, ...]
    val_preds: pd.DataFrame
    test_preds: pd.DataFrame
    val_metrics: dict[str, Any]
    test_metrics: dict[str, Any]
    candidates: pd.DataFrame  # members, n_members, val_accuracy, val_roc_auc; best first


def choose_ensemble(val_frames: Mapping[str, pd.DataFrame],
                    test_frames: Mapping[str, pd.DataFrame], *, min_members: int = 1,
                    max_members: int | None = None) -> EnsembleChoice:
    """The subset of models whose averaged validation predictions score best, and its test once.

    Every subset of ``min_members`` to ``max_members`` (default all) of the models in
    ``val_frames`` is averaged on validation and ranked by accuracy, then ROC AUC, then fewer
    members, then the order of ``val_frames``. Only the winner's test frames are averaged.
    """
    names = list(val_frames)
    max_members = len(names) if max_members is None else max_members
    if not 1 <= min_members <= max_members <= len(names):
        raise ValueError(f"Need 1 <= min_members <= max_members <= {len(names)} models, got "
                         f"{min_members} and {max_members}.")
    missing = [n for n in names if n not in test_frames]
    if missing:
        raise ValueError(f"No test predictions for {missing}.")
    rows = []
    for size in range(min_members, max_members + 1):
        for members in itertools.combinations(names, size):
            accuracy, auc = validation_key(average_predictions([val_frames[m] for m in members]))
            rows.append({"members": members, "n_members": size, "val_accuracy": accuracy,
                         "val_roc_auc": auc})
    candidates = pd.DataFrame(rows)
    order = sorted(range(len(rows)), key=lambda i: (-rows[i]["val_accuracy"],
                                                    -rows[i]["val_roc_auc"], rows[i]["n_members"], i))
    candidates = candidates.iloc[order].reset_index(drop=True)
    members = candidates.loc[0, "members"]
    val_preds = average_predictions([val_frames[m] for m in members])
    test_preds = average_predictions([test_frames[m] for m in members])
    return EnsembleChoice(members, val_preds, test_preds, compute_metrics(val_preds),
                          compute_metrics(test_preds), candidates)
