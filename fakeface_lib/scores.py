"""Prediction frames from fake-probabilities computed outside ``evaluation.predict`` (pooled
patch scores, averaged models), in its format, so ``compute_metrics`` and the breakdowns take
them; and the key every validation choice here ranks by.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from fakeface_lib.evaluation import FAKE, REAL

PRED_COLUMNS = ("label", "prob_fake", "prob_real", "pred", "correct")


def predictions_from_probs(prob_fake: Sequence[float], labels: Sequence[int],
                           frame: pd.DataFrame | None = None,
                           threshold: float = 0.5) -> pd.DataFrame:
    """One row per image, as ``evaluation.predict`` gives: the frame's columns (if any), then
    label, prob_fake, prob_real, pred, correct. pred is fake (0) where prob_fake >= threshold
    (at 0.5 the argmax that predict takes, ties to fake as there)."""
    prob_fake = np.asarray(prob_fake, dtype=float)
    labels = np.asarray(labels, dtype=int)
    if prob_fake.shape != labels.shape or prob_fake.ndim != 1:
        raise ValueError(f"prob_fake {prob_fake.shape} and labels {labels.shape} must be two "
                         "vectors of one length.")
    preds = pd.DataFrame({"label": labels, "prob_fake": prob_fake, "prob_real": 1 - prob_fake})
    preds["pred"] = np.where(prob_fake >= threshold, FAKE, REAL).astype(int)
    preds["correct"] = preds["pred"] == preds["label"]
    if frame is None:
        return preds
    if len(frame) != len(preds):
        raise ValueError(f"frame has {len(frame)} rows for {len(preds)} probabilities.")
    frame = frame.reset_index(drop=True)
    if "label" in frame and not np.array_equal(frame["label"].to_numpy(int), labels):
        raise ValueError("labels disagree with frame['label']: not the same images in order.")
    return pd.concat([frame.drop(columns=["label"], errors="ignore"), preds], axis=1)


def log_loss(preds: pd.DataFrame) -> float:
    """Mean cross-entropy of prob_fake against the labels (what fit() calls val_loss)."""
    y_true = (preds["label"].to_numpy(int) == FAKE).astype(int)
    prob = np.clip(preds["prob_fake"].to_numpy(float), 1e-7, 1 - 1e-7)
    return float(skm.log_loss(y_true, prob, labels=[0, 1]))


def validation_key(preds: pd.DataFrame) -> tuple[float, float]:
    """Higher is better: accuracy, then ROC AUC (0 where the set holds one class only)."""
    y_true = (preds["label"].to_numpy(int) == FAKE).astype(int)
    auc = skm.roc_auc_score(y_true, preds["prob_fake"]) if 0 < y_true.sum() < len(y_true) else 0.0
    return (float((preds["pred"] == preds["label"]).mean()), float(auc))


def same_images(frames: Sequence[pd.DataFrame]) -> str:
    """The column that identifies images in all the frames ("path", "filename" or the label
    order), after checking that every frame holds the same images in the same order."""
    key = next((c for c in ("path", "filename") if all(c in f for f in frames)), None)
    first = frames[0]
    for other in frames[1:]:
        same = (len(other) == len(first)
                and (key is None or np.array_equal(other[key].astype(str).to_numpy(),
                                                   first[key].astype(str).to_numpy()))
                and np.array_equal(other["label"].to_numpy(int), first["label"].to_numpy(int)))
        if not same:
            raise ValueError("The prediction frames hold different images (or another order); "
                             "predict the same split with unshuffled loaders.")
    return key or "label"
