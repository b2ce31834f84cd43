"""The prediction frame: one row per image (the dataset's columns, then label, prob_fake,
prob_real, pred, correct), made by ``predict`` from a model and a loader or by
``predictions_from_probs`` from probabilities computed elsewhere (pooled patches, averaged
models); and ``validation_key``, the rank every choice among prediction frames uses.

Positive class: "training_fake" (label 0). A detector flags fakes, so prob_fake is its score.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn import metrics as skm
from torch import nn

FAKE, REAL = 0, 1
PRED_COLUMNS = ("label", "prob_fake", "prob_real", "pred", "correct")  # what follows the frame's own


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
    if isinstance(sampler, torch.utils.data.RandomSampler) or getattr(loader, "shuffle", False):
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
    frame = getattr(getattr(loader, "dataset", None), "frame", None)
    if not isinstance(frame, pd.DataFrame):
        return preds
    if len(frame) != len(preds):
        raise ValueError(f"loader.dataset.frame has {len(frame)} rows but the loader gave "
                         f"{len(preds)} images; was drop_last set or the dataset changed?")
    return join_frame(preds, frame, "The loader's labels do not follow loader.dataset.frame's "
                      "order; predict() needs an unshuffled loader over that dataset.")


def predictions_from_probs(prob_fake: Sequence[float], labels: Sequence[int],
                           frame: pd.DataFrame | None = None,
                           threshold: float = 0.5) -> pd.DataFrame:
    """One row per image, as ``predict`` gives: the frame's columns (if any), then
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
    return join_frame(preds, frame, "labels disagree with frame['label']: not the same images "
                      "in order.")


def join_frame(preds: pd.DataFrame, frame: pd.DataFrame, mismatch: str) -> pd.DataFrame:
    """``frame``'s columns (its label checked against the predictions', ``mismatch`` raised when
    they differ), then the prediction columns: the one way a prediction frame is assembled."""
    frame = frame.reset_index(drop=True)
    if "label" in frame and not np.array_equal(frame["label"].to_numpy(int),
                                                preds["label"].to_numpy(int)):
        raise ValueError(mismatch)
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
