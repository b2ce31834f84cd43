"""The report's published test figures, and this series' run set beside them.

Each of the report's models comes with the accuracy its text quoted and the test confusion
matrix it printed (rows: true fake, true real; columns: predicted fake, predicted real).
``compare_with_report`` recomputes the report's accuracy from its matrix, with its interval
and its test set's majority baseline, and writes this run's figures beside them: the
paragraph that closes notebooks 01-03.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from fakeface_lib.evaluation.confidence import accuracy_interval
from fakeface_lib.evaluation.metrics import compute_metrics


@dataclass(frozen=True)
class ReportResult:
    """One model's test figures as the report printed them."""

    title: str
    quoted: str  # the accuracy as the report's text gives it
    confusion_matrix: tuple[tuple[int, int], tuple[int, int]]  # rows true (fake, real)
    train_accuracy: float | None = None  # its last training accuracy, where it gave one

    @property
    def n(self) -> int:
        return sum(map(sum, self.confusion_matrix))

    @property
    def correct(self) -> int:
        return self.confusion_matrix[0][0] + self.confusion_matrix[1][1]

    @property
    def n_real(self) -> int:
        return sum(self.confusion_matrix[1])

    @property
    def accuracy(self) -> float:
        return self.correct / self.n

    @property
    def majority_baseline(self) -> float:
        return max(self.n_real, self.n - self.n_real) / self.n


REPORT_RESULTS = {
    "model1": ReportResult("Model 1", "56.6 %", ((59, 41), (47, 57)), train_accuracy=0.729),
    "model2_1": ReportResult("Model 2.1", "53 % to 54.6 %", ((46, 44), (51, 63))),
    "model2_2": ReportResult("Model 2.2", "94.8 %", ((354, 41), (52, 370)), train_accuracy=0.956),
}


def verdict(low: float, high: float, baseline: float) -> str:
    """Where an accuracy's interval lies against a baseline, in words."""
    if low > baseline:
        return "above"
    return "below" if high < baseline else "not distinguishable from"


def compare_with_report(model: str, preds: pd.DataFrame, history: Sequence[dict] = (), *,
                        data: str = "", smoke: bool = False) -> str:
    """Markdown: the report's figures for ``model`` (a key of REPORT_RESULTS), recomputed
    from its confusion matrix, then this run's test figures, each against its majority baseline.
    """
    if model not in REPORT_RESULTS:
        raise ValueError(f"no report figures for {model!r}; choose from {sorted(REPORT_RESULTS)}")
    report = REPORT_RESULTS[model]
    metrics = compute_metrics(preds)
    r_low, r_high = accuracy_interval(report.correct, report.n)
    low, high = accuracy_interval(int(preds["correct"].sum()), len(preds))
    caveat = ("**SMOKE run: these numbers mean nothing.** " if smoke else "") + (
        "*The demo data is generated and far easier than the real photos: compare with the "
        "report only on the Kaggle data.*\n\n" if data == "demo" else "")
    trained = (f"; training accuracy reached {report.train_accuracy:.1%}"
               if report.train_accuracy is not None else "")
    ours_trained = (f" Training accuracy reached {max(r['train_acc'] for r in history):.1%}."
                    if history else "")
    epochs = f", epochs trained: {len(history)}" if history else ""
    return caveat + (
        f"**The report** quoted {report.quoted} for {report.title}{trained}. Its confusion "
        f"matrix {[list(row) for row in report.confusion_matrix]} gives {report.correct}/"
        f"{report.n} = **{report.accuracy:.1%}** (95% interval {r_low:.1%} to {r_high:.1%}), "
        f"{verdict(r_low, r_high, report.majority_baseline)} the majority baseline of its test "
        f"set, {report.majority_baseline:.1%} ({report.n_real} real faces of {report.n}).\n\n"
        f"**This run** ({data or 'this'} data{epochs}): test accuracy **{metrics['accuracy']:.1%}** "
        f"(95% interval {low:.1%} to {high:.1%}), {verdict(low, high, metrics['majority_baseline'])} "
        f"the majority baseline of {metrics['majority_baseline']:.1%}; balanced accuracy "
        f"{metrics['balanced_accuracy']:.1%}, ROC AUC {metrics['roc_auc']:.3f} (0.5 = chance)."
        + ours_trained)
