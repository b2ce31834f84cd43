"""The report's figures: traced to their lines of memoria_es.txt, recomputed, and a run beside them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fakeface_lib.evaluation.confidence import accuracy_interval
from fakeface_lib.evaluation.report_figures import (
    REPORT_FIGURES, REPORT_LOGS, REPORT_RESULTS, compare_with_report, implied_batches,
    log_line_figures, pooled_overall, reading, report_history, traced_table, verdict,
)

REPORT = Path(os.environ.get("FAKEFACE_REPORT_TEXT", Path(__file__).resolve().parents[2] / "shared" / "report"
                             / "memoria_es.txt"))


@pytest.fixture(scope="module")
def report_lines():
    if not REPORT.is_file():
        pytest.skip(f"the report's text is not at {REPORT} (set FAKEFACE_REPORT_TEXT to its path)")
    return [line.replace("**", "") for line in REPORT.read_text(encoding="utf-8").splitlines()]


def test_each_traced_figure_is_printed_on_its_line(report_lines):
    for key, figure in REPORT_FIGURES.items():
        for text in (figure.printed, figure.words):
            for offset, part in enumerate(text.split("\n")):
                assert part in report_lines[figure.line - 1 + offset], (key, figure.line + offset, part)


def test_each_log_row_is_printed_on_its_line(report_lines):
    for model, (first, rows) in REPORT_LOGS.items():
        for epoch in range(1, len(rows) + 1):
            line = report_lines[first - 1 + epoch - 1]
            assert line.startswith(f"Epoch [{epoch}/{len(rows)}]"), (model, epoch, line)
            for text in log_line_figures(model, epoch):
                assert text in line, (model, epoch, text)


def test_the_logs_have_the_reports_epochs():
    assert [len(rows) for _, rows in REPORT_LOGS.values()] == [REPORT_FIGURES["model1_epochs"].value, 20, 30]
    history = report_history("model2_1")
    assert history[0]["train_loss"] == 9.8898 and history[0]["line"] == 267
    assert max(history, key=lambda r: r["train_acc"])["epoch"] == 19  # 81.5 %: it overfits
    assert history[18]["train_acc"] == pytest.approx(0.815) and history[18]["val_loss"] == 1.7257


def test_the_headline_figures_are_the_last_epochs():
    for model in ("model1", "model2_1", "model2_2"):
        last, quoted = report_history(model)[-1], REPORT_FIGURES[f"{model}_quoted"].value
        assert quoted[0] == pytest.approx(last["train_acc"], abs=0.001)  # 72.86 printed as 72.8
        if model != "model2_2":
            assert quoted[1] == pytest.approx(last["val_acc"], abs=0.0005)


def test_the_test_accuracies_come_from_the_confusion_matrices():
    assert (REPORT_RESULTS["model1"].correct, REPORT_RESULTS["model1"].n) == (116, 204)
    assert round(REPORT_RESULTS["model1"].accuracy, 3) == 0.569  # 56.9 %, not the quoted 56.6 %
    assert REPORT_RESULTS["model2_1"].accuracy == pytest.approx(109 / 204)
    model2_2 = REPORT_RESULTS["model2_2"]
    assert (model2_2.correct, model2_2.n) == (724, 817) and round(model2_2.accuracy, 3) == 0.886
    assert model2_2.n_real == 422 and model2_2.majority_baseline == pytest.approx(422 / 817)


def test_overall_is_the_accuracy_pooled_over_every_copy():
    pooled = pooled_overall()
    assert pooled["n"] == 8164 == sum(REPORT_FIGURES["copies_sizes"].value)
    assert round(pooled["accuracy"], 4) == 0.9476
    assert round(pooled["accuracy"], 3) == REPORT_FIGURES["model2_2_quoted"].value[1]
    assert pooled["arithmetic"].endswith("= 94.76%")


def test_model2_1s_log_implies_its_batches():
    batches = implied_batches()
    assert batches["train_ratio"] == pytest.approx(17.0, abs=0.01) and batches["train_batches"] == 17
    assert batches["val_ratio"] == pytest.approx(3.0, abs=0.01) and batches["val_batches"] == 3
    assert (batches["n_train"], batches["n_val"]) == (1632, 205)
    assert batches["batch_sizes"] == (96, 101)  # 32 would make 51 batches
    first = report_history("model2_1")[0]  # 50.73 % of 205 validation images is 104 of them
    assert first["val_acc"] * batches["n_val"] == pytest.approx(104, abs=0.02)


def test_model2_1_cannot_be_told_from_its_baseline():
    report = REPORT_RESULTS["model2_1"]
    low, high = accuracy_interval(report.correct, report.n)
    assert round(report.majority_baseline, 3) == 0.559
    assert (round(low, 3), round(high, 3)) == (0.466, 0.601)
    assert verdict(low, high, report.majority_baseline) == "not distinguishable from"
    assert report.confusion_matrix[0][1] > 0 and report.confusion_matrix[1][0] > 0  # both columns used


def test_readings_say_what_each_figure_is():
    assert "validation accuracy (56.59%)" in reading("model1") and "line 183" in reading("model1")
    assert "= 94.76%" in reading("model2_2") and "line 395" in reading("model2_2")
    assert list(traced_table().columns) == ["line", "the report's words", "what it is"]


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
    assert "724/817 = **88.6%**" in text and "overall 94.8%" in text and "= 94.76%" in text
    assert "test accuracy **90.0%**" in text and "epochs trained: 2" in text
    assert "Training accuracy reached 90.0%" in text
    assert text.startswith("**SMOKE run") and "demo data is generated" in text
    with pytest.raises(ValueError, match="model3"):
        compare_with_report("model3", preds)
