"""The report's published figures, recomputed, and a run set beside them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fakeface_lib.evaluation.report_figures import REPORT_RESULTS, compare_with_report, verdict


def test_the_reports_accuracies_come_from_its_confusion_matrices():
    assert REPORT_RESULTS["model1"].correct == 116 and REPORT_RESULTS["model1"].n == 204
    assert REPORT_RESULTS["model2_1"].accuracy == pytest.approx(109 / 204)
    model2_2 = REPORT_RESULTS["model2_2"]
    assert (model2_2.correct, model2_2.n) == (724, 817)  # not the 94.8 % its text quotes
    assert model2_2.n_real == 422 and model2_2.majority_baseline == pytest.approx(422 / 817)


def test_verdict_reads_the_interval_against_the_baseline():
    assert verdict(0.55, 0.65, 0.5) == "above"
    assert verdict(0.35, 0.45, 0.5) == "below"
    assert verdict(0.45, 0.55, 0.5) == "not distinguishable from"


def test_compare_with_report_writes_both_sides():
    label = np.array([0] * 10 + [1] * 10)
    pred = label.copy()
    pred[:2] = 1  # 18 of 20 right
    prob_fake = np.where(pred == 0, 0.8, 0.2)
    preds = pd.DataFrame({"label": label, "pred": pred, "prob_fake": prob_fake,
                          "prob_real": 1 - prob_fake, "correct": pred == label})
    history = [{"train_acc": 0.7}, {"train_acc": 0.9}]
    text = compare_with_report("model2_2", preds, history, data="demo", smoke=True)
    assert "724/817 = **88.6%**" in text and "94.8 %" in text
    assert "test accuracy **90.0%**" in text and "epochs trained: 2" in text
    assert "Training accuracy reached 90.0%" in text
    assert text.startswith("**SMOKE run") and "demo data is generated" in text
    with pytest.raises(ValueError, match="model3"):
        compare_with_report("model3", preds)
