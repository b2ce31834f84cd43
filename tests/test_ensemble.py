"""Ensembles: averaged probabilities, members chosen on validation, the test set used once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fakeface_lib.evaluation.ensembles import average_predictions, choose_ensemble
from fakeface_lib.evaluation.metrics import compute_metrics
from fakeface_lib.evaluation.predictions import log_loss, predictions_from_probs

LABELS = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]


def frame(probs: list[float], labels: list[int] = LABELS) -> pd.DataFrame:
    info = pd.DataFrame({"filename": [f"img_{i}.jpg" for i in range(len(labels))],
                         "difficulty": ["mid"] * 5 + ["real"] * 5, "label": labels})
    return predictions_from_probs(probs, labels, info)


class CountingDict(dict):
    """A dict that records which keys were read."""

    def __init__(self, *args):
        super().__init__(*args)
        self.read: list[str] = []

    def __getitem__(self, key):
        self.read.append(key)
        return super().__getitem__(key)


def test_predictions_from_probs_match_predicts_format():
    preds = frame([0.9, 0.6, 0.5, 0.4, 0.2, 0.1, 0.3, 0.5, 0.7, 0.0])
    assert list(preds.columns) == ["filename", "difficulty", "label", "prob_fake", "prob_real",
                                   "pred", "correct"]
    assert preds["pred"].tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 0, 1]  # 0.5 counts as fake
    assert compute_metrics(preds)["accuracy"] == pytest.approx(0.6)
    assert log_loss(frame([0.5] * 10)) == pytest.approx(np.log(2))
    with pytest.raises(ValueError, match="labels disagree"):
        predictions_from_probs([0.5] * 10, LABELS[::-1], preds[["filename", "label"]])


def test_average_predictions_hand_computed():
    a, b = frame([0.9] * 5 + [0.2] * 5), frame([0.3] * 5 + [0.6] * 5)
    mean = average_predictions([a, b])
    assert np.allclose(mean["prob_fake"], [0.6] * 5 + [0.4] * 5)
    assert mean["correct"].all() and mean["filename"].tolist() == a["filename"].tolist()
    weighted = average_predictions([a, b], weights=[3, 1])
    assert np.allclose(weighted["prob_fake"], [0.75] * 5 + [0.3] * 5)
    with pytest.raises(ValueError, match="different images"):
        average_predictions([a, b.iloc[::-1].reset_index(drop=True)])
    with pytest.raises(ValueError, match="weights"):
        average_predictions([a, b], weights=[1, -1])


def test_members_are_chosen_on_validation_and_test_is_read_once():
    # On validation A is right on images 0-7, B on 2-9, each surer where it is right, and C is
    # noise: A + B is right on all ten (and so is A + B + C, with more members).
    val = {"A": frame([0.9] * 5 + [0.1, 0.1, 0.1, 0.6, 0.6]),
           "B": frame([0.4, 0.4, 0.9, 0.9, 0.9] + [0.1] * 5),
           "C": frame([0.4, 0.6] * 5)}
    # On test, C alone would be perfect: a choice made on test would pick it.
    test = CountingDict({"A": frame([0.2] * 10), "B": frame([0.3] * 10),
                         "C": frame([1.0] * 5 + [0.0] * 5)})
    choice = choose_ensemble(val, test)
    assert choice.members == ("A", "B")
    assert choice.val_metrics["accuracy"] == 1.0
    assert sorted(test.read) == ["A", "B"]  # the test frames of the chosen members only
    assert choice.test_metrics["accuracy"] == 0.5
    assert np.allclose(choice.test_preds["prob_fake"], 0.25)
    assert len(choice.candidates) == 7 and choice.candidates.loc[0, "members"] == ("A", "B")
    assert choice.candidates["val_accuracy"].is_monotonic_decreasing


def test_ties_go_to_fewer_members_and_size_limits_apply():
    val = {"A": frame([0.9] * 5 + [0.1] * 5), "B": frame([0.8] * 5 + [0.2] * 5)}
    test = {"A": frame([0.9] * 10), "B": frame([0.1] * 10)}
    # A alone and A + B are both perfect; A's ROC AUC equals theirs: the single model wins
    assert choose_ensemble(val, test).members == ("A",)
    assert choose_ensemble(val, test, min_members=2).members == ("A", "B")
    with pytest.raises(ValueError, match="min_members"):
        choose_ensemble(val, test, min_members=3)
    with pytest.raises(ValueError, match="No test predictions"):
        choose_ensemble(val, {"A": test["A"]})
