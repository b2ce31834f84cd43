"""Metrics of a prediction frame (scikit-learn), the majority baseline, the ROC curve, and
per-difficulty / per-region breakdowns.

Positive class: "training_fake" (label 0). A detector flags fakes, so recall of the fake
class is the detection rate and ROC AUC scores prob_fake against y_true = (label == 0).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from fakeface_lib.config import CLASS_NAMES, DIFFICULTIES, REGIONS
from fakeface_lib.evaluation.predictions import FAKE, REAL

POSITIVE_CLASS = CLASS_NAMES[FAKE]


def _y_true_fake(preds: pd.DataFrame) -> np.ndarray:
    return (preds["label"].to_numpy() == FAKE).astype(int)


def roc_auc(preds: pd.DataFrame) -> float:
    """ROC AUC of prob_fake for the positive class training_fake.

    NaN, with a warning, when the set holds one class only.
    """
    y_true = _y_true_fake(preds)
    if y_true.min() == y_true.max():
        warnings.warn("ROC AUC is undefined with one class only; returning NaN.", stacklevel=2)
        return float("nan")
    return float(skm.roc_auc_score(y_true, preds["prob_fake"]))


def roc_points(preds: pd.DataFrame) -> pd.DataFrame:
    """The ROC curve (fpr, tpr, threshold) for the positive class training_fake."""
    fpr, tpr, thresholds = skm.roc_curve(_y_true_fake(preds), preds["prob_fake"])
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": thresholds})


def majority_baseline(labels: Iterable[int]) -> float:
    """Accuracy of always guessing the most common class of this set."""
    counts = pd.Series(list(labels)).value_counts()
    return float(counts.max() / counts.sum())


def compute_metrics(preds: pd.DataFrame) -> dict[str, Any]:
    """Every test-set metric the notebooks report, as a JSON-able dict.

    Keys: n, positive_class ("training_fake"), accuracy, balanced_accuracy, roc_auc,
    precision / recall / f1 of the positive class, majority_baseline (accuracy of always
    guessing this set's most common class), confusion_matrix (rows true, columns
    predicted, order fake, real), classification_report (text) and report_dict (its dict).
    """
    y_true, y_pred = preds["label"].to_numpy(int), preds["pred"].to_numpy(int)
    labels = [FAKE, REAL]
    kwargs = dict(labels=labels, target_names=list(CLASS_NAMES), zero_division=0, digits=4)
    report = skm.classification_report(y_true, y_pred, output_dict=True, **kwargs)
    fake = report[POSITIVE_CLASS]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        balanced = float(skm.balanced_accuracy_score(y_true, y_pred))
    return {
        "n": int(len(preds)),
        "positive_class": POSITIVE_CLASS,
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": balanced,
        "roc_auc": roc_auc(preds),
        "precision": float(fake["precision"]),
        "recall": float(fake["recall"]),
        "f1": float(fake["f1-score"]),
        "majority_baseline": majority_baseline(y_true),
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "classification_report": skm.classification_report(y_true, y_pred, **kwargs),
        "report_dict": report,
    }


def by_difficulty(preds: pd.DataFrame) -> pd.DataFrame:
    """Per group (easy, mid, hard, [unknown,] real): n, correct, accuracy, recall_fake.

    For the fake groups accuracy is the detection rate (recall of training_fake); the real
    row's accuracy is the share of real faces kept as real, and its recall_fake is NaN.
    """
    if "difficulty" not in preds:
        raise ValueError("by_difficulty() needs a 'difficulty' column: predict() adds it "
                         "when loader.dataset has a .frame (FaceDataset does).")
    present = list(preds["difficulty"].astype(str).unique())
    order = [g for g in (*DIFFICULTIES, "unknown", "real") if g in present]
    order += sorted(g for g in present if g not in order)
    rows = []
    for group in order:
        sub = preds[preds["difficulty"].astype(str) == group]
        y_true, y_pred = sub["label"].to_numpy(int), sub["pred"].to_numpy(int)
        is_fake = bool((y_true == FAKE).any())
        recall = (skm.recall_score(y_true, y_pred, pos_label=FAKE, zero_division=0)
                  if is_fake else np.nan)
        rows.append({"difficulty": group, "n": len(sub), "correct": int((y_true == y_pred).sum()),
                     "accuracy": skm.accuracy_score(y_true, y_pred), "recall_fake": recall})
    return pd.DataFrame(rows).set_index("difficulty")


def by_region(preds: pd.DataFrame) -> pd.DataFrame:
    """For each region: fakes where it was edited (n), how many were flagged, detection_rate.

    Fakes whose code is unknown (NA) are left out; a fake with several edited regions
    counts in each of them.
    """
    missing = [r for r in REGIONS if r not in preds]
    if missing:
        raise ValueError(f"by_region() needs the region columns {missing}; predict() adds "
                         "them when loader.dataset has a .frame (FaceDataset does).")
    fakes = preds[preds["label"] == FAKE]
    rows = []
    for region in REGIONS:
        edited = fakes[fakes[region].astype("boolean").fillna(False).astype(bool)]
        flagged = int((edited["pred"] == FAKE).sum())
        rate = flagged / len(edited) if len(edited) else np.nan
        rows.append({"region": region, "n": len(edited), "detected": flagged,
                     "detection_rate": rate})
    return pd.DataFrame(rows).set_index("region")
