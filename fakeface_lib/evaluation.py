"""Predictions as a DataFrame, scikit-learn metrics, and per-difficulty / per-region breakdowns.

Positive class: "training_fake" (label 0). A detector flags fakes, so recall of the fake
class is the detection rate and ROC AUC scores prob_fake against y_true = (label == 0).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn import metrics as skm
from torch import nn

from . import CLASS_NAMES, DIFFICULTIES, REGIONS

FAKE, REAL = 0, 1
POSITIVE_CLASS = CLASS_NAMES[FAKE]


@torch.inference_mode()
def predict(model: nn.Module, loader: Iterable,
            device: torch.device | str | None = None, *, tta: bool = False) -> pd.DataFrame:
    """Predictions for every image of an unshuffled loader, one row each.

    ``tta=True`` (test-time augmentation) averages the probabilities of each image and of its
    mirror image: two forward passes per batch.

    Columns: the dataset's ``.frame`` columns (if it has one: path, filename, difficulty,
    regions...), then label, prob_fake, prob_real, pred, correct. The loader must not shuffle: rows are joined to ``loader.dataset.frame`` by position
    (make_loaders' val/test loaders keep frame order). Positive class: training_fake (0).
    """
    sampler = getattr(loader, "sampler", None)
    if isinstance(sampler, torch.utils.data.RandomSampler):
        raise ValueError("predict() needs an unshuffled loader (shuffle=False), such as "
                         "make_loaders(...)['test'], to join predictions to the frame.")
    if device is not None:
        model.to(device)
    device = next(model.parameters()).device
    model.eval()
    labels, probs = [], []
    for images, batch_labels in loader:
        images = images.to(device)
        batch_probs = torch.softmax(model(images).float(), dim=1)
        if tta:
            batch_probs = (batch_probs + torch.softmax(model(images.flip(-1)).float(), dim=1)) / 2
        probs.append(batch_probs.cpu())
        labels.append(torch.as_tensor(batch_labels).cpu())
    if not labels:
        raise ValueError("predict(): the loader yielded no images.")
    probs_all = torch.cat(probs).numpy()
    preds = pd.DataFrame({
        "label": torch.cat(labels).numpy().astype(int),
        "prob_fake": probs_all[:, FAKE],
        "prob_real": probs_all[:, REAL],
    })
    preds["pred"] = probs_all.argmax(1).astype(int)
    preds["correct"] = preds["pred"] == preds["label"]
    return _join_frame(preds, getattr(getattr(loader, "dataset", None), "frame", None))


def _join_frame(preds: pd.DataFrame, frame: pd.DataFrame | None) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        return preds
    if len(frame) != len(preds):
        raise ValueError(f"loader.dataset.frame has {len(frame)} rows but the loader gave "
                         f"{len(preds)} images; was drop_last set or the dataset changed?")
    frame = frame.reset_index(drop=True)
    if "label" in frame and not np.array_equal(frame["label"].to_numpy(int), preds["label"]):
        raise ValueError("The loader's labels do not follow loader.dataset.frame's order; "
                         "predict() needs an unshuffled loader over that dataset.")
    return pd.concat([frame.drop(columns=["label"], errors="ignore"), preds], axis=1)


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
