"""Evaluation: predictions joined to the frame, metrics by hand and against scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn import metrics as skm
from torch import nn
from torch.utils.data import DataLoader, Dataset

from fakeface_lib.evaluation.metrics import (
    by_difficulty, by_region, compute_metrics, majority_baseline, roc_auc, roc_points,
)
from fakeface_lib.evaluation.predictions import predict

NA = pd.NA


@pytest.fixture
def preds() -> pd.DataFrame:
    """4 fakes then 6 reals; TP 2, FN 2, FP 1, TN 5 with fake as the positive class."""
    prob_fake = [0.9, 0.8, 0.4, 0.3, 0.6, 0.2, 0.1, 0.3, 0.2, 0.05]
    frame = pd.DataFrame({
        "label": [0, 0, 0, 0, 1, 1, 1, 1, 1, 1],
        "difficulty": ["easy", "easy", "mid", "hard"] + ["real"] * 6,
        "left_eye": pd.array([True, True, False, NA] + [False] * 6, dtype="boolean"),
        "right_eye": pd.array([False, True, False, NA] + [False] * 6, dtype="boolean"),
        "nose": pd.array([False, False, True, NA] + [False] * 6, dtype="boolean"),
        "mouth": pd.array([True, False, True, NA] + [False] * 6, dtype="boolean"),
        "prob_fake": prob_fake,
        "prob_real": [1 - p for p in prob_fake],
    })
    frame["pred"] = (frame["prob_fake"] < 0.5).astype(int)
    return frame


def test_metrics_by_hand(preds):
    m = compute_metrics(preds)
    assert m["positive_class"] == "training_fake" and m["n"] == 10
    assert m["accuracy"] == pytest.approx(0.7)
    assert m["confusion_matrix"] == [[2, 2], [1, 5]]
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(4 / 7)
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 5 / 6) / 2)
    assert m["roc_auc"] == pytest.approx(21.5 / 24)  # one tie (0.3 vs 0.3) counts half
    assert m["majority_baseline"] == pytest.approx(0.6)
    assert "training_fake" in m["classification_report"]
    assert m["report_dict"]["training_real"]["support"] == 6


def test_metrics_match_scikit_learn_on_random_cases():
    rng = np.random.default_rng(0)
    for _ in range(5):
        labels = rng.integers(0, 2, 50)
        prob_fake = np.clip(0.5 + 0.3 * (labels == 0) + rng.normal(0, 0.3, 50), 0, 1)
        frame = pd.DataFrame({"label": labels, "prob_fake": prob_fake, "prob_real": 1 - prob_fake,
                              "pred": (prob_fake < 0.5).astype(int)})
        m = compute_metrics(frame)
        assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(labels == 0, prob_fake))
        assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(labels, frame["prob_real"]))
        assert m["f1"] == pytest.approx(skm.f1_score(labels, frame["pred"], pos_label=0))
        assert m["balanced_accuracy"] == pytest.approx(
            skm.balanced_accuracy_score(labels, frame["pred"]))
        assert m["majority_baseline"] == pytest.approx(max(labels.mean(), 1 - labels.mean()))


def test_one_class_gives_nan_auc_with_a_warning(preds):
    only_real = preds[preds["label"] == 1]
    with pytest.warns(UserWarning, match="one class"):
        m = compute_metrics(only_real)
    assert math.isnan(m["roc_auc"]) and m["accuracy"] == pytest.approx(5 / 6)
    assert m["confusion_matrix"] == [[0, 0], [1, 5]]


def test_majority_baseline_of_the_real_dataset():
    assert majority_baseline([0] * 960 + [1] * 1081) == pytest.approx(1081 / 2041)


def test_roc_points(preds):
    points = roc_points(preds)
    assert list(points.columns) == ["fpr", "tpr", "threshold"]
    assert points["fpr"].iloc[-1] == 1.0 and points["tpr"].iloc[-1] == 1.0
    assert skm.auc(points["fpr"], points["tpr"]) == pytest.approx(roc_auc(preds))


def test_by_difficulty(preds):
    table = by_difficulty(preds)
    assert list(table.index) == ["easy", "mid", "hard", "real"]
    assert table["n"].tolist() == [2, 1, 1, 6]
    assert table["correct"].tolist() == [2, 0, 0, 5]
    assert table["accuracy"].tolist() == pytest.approx([1.0, 0.0, 0.0, 5 / 6])
    assert table.loc["easy", "recall_fake"] == 1.0 and math.isnan(table.loc["real", "recall_fake"])


def test_by_region_counts_only_edited_fakes(preds):
    table = by_region(preds)
    assert list(table.index) == ["left_eye", "right_eye", "nose", "mouth"]
    assert table["n"].tolist() == [2, 1, 1, 2]  # the fake with an unknown code is left out
    assert table["detected"].tolist() == [2, 1, 0, 1]
    assert table["detection_rate"].tolist() == pytest.approx([1.0, 1.0, 0.0, 0.5])


def test_breakdowns_need_their_columns(preds):
    with pytest.raises(ValueError, match="difficulty"):
        by_difficulty(preds.drop(columns="difficulty"))
    with pytest.raises(ValueError, match="nose"):
        by_region(preds.drop(columns="nose"))


class FramedDataset(Dataset):
    """Like FaceDataset: items (image, label) and a ``.frame`` with one row per item."""

    def __init__(self, n: int) -> None:
        self.images = torch.randn(n, 4)
        self.labels = torch.arange(n) % 2
        self.frame = pd.DataFrame({"path": [f"/x/{i}.jpg" for i in range(n)],
                                   "label": self.labels.numpy(), "difficulty": "real"})

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.images[i], self.labels[i]


def test_predict_joins_the_frame_in_order():
    torch.manual_seed(0)
    data = FramedDataset(10)
    model = nn.Linear(4, 2)
    preds = predict(model, DataLoader(data, batch_size=3), device="cpu")
    assert list(preds.columns) == ["path", "difficulty", "label", "prob_fake", "prob_real",
                                   "pred", "correct"]
    assert preds["path"].tolist() == data.frame["path"].tolist()
    with torch.no_grad():
        expected = torch.softmax(model(data.images), dim=1).numpy()
    assert np.allclose(preds["prob_fake"], expected[:, 0], atol=1e-6)
    assert np.allclose(preds["prob_fake"] + preds["prob_real"], 1.0)
    assert (preds["pred"] == expected.argmax(1)).all()
    assert (preds["correct"] == (preds["pred"] == preds["label"])).all()


def test_predict_refuses_a_shuffled_or_mismatched_loader():
    data = FramedDataset(6)
    with pytest.raises(ValueError, match="unshuffled"):
        predict(nn.Linear(4, 2), DataLoader(data, shuffle=True))
    data.frame["label"] = 1 - data.frame["label"]
    with pytest.raises(ValueError, match="order"):
        predict(nn.Linear(4, 2), DataLoader(data))


def test_predict_without_a_frame():
    data = torch.utils.data.TensorDataset(torch.randn(5, 4), torch.zeros(5, dtype=torch.long))
    preds = predict(nn.Linear(4, 2), DataLoader(data, batch_size=2))
    assert list(preds.columns) == ["label", "prob_fake", "prob_real", "pred", "correct"]
    assert len(preds) == 5


def test_predict_flip_tta_averages_an_image_and_its_mirror():
    torch.manual_seed(0)
    data = FramedDataset(6)  # vectors of 4: flipping the last dimension reverses them
    model = nn.Linear(4, 2)
    preds = predict(model, DataLoader(data, batch_size=4), tta=True)
    with torch.no_grad():
        plain = torch.softmax(model(data.images), dim=1)
        mirrored = torch.softmax(model(data.images.flip(-1)), dim=1)
    expected = ((plain + mirrored) / 2).numpy()
    assert np.allclose(preds["prob_fake"], expected[:, 0], atol=1e-6)
    assert not np.allclose(expected, plain.numpy(), atol=1e-3)  # the mirror did change the scores
    assert (preds["pred"] == expected.argmax(1)).all()
