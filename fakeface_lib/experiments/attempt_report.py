"""Notebook 06's attempts side by side: the table of their validation and test figures, and its
plot against the majority baseline."""

from __future__ import annotations

import pandas as pd

from fakeface_lib.evaluation.ensembles import EnsembleChoice
from fakeface_lib.evaluation.metrics import compute_metrics
from fakeface_lib.evaluation.predictions import validation_key
from fakeface_lib.experiments.attempts import AttemptRun


def attempts_table(runs: dict[str, AttemptRun], ensemble: EnsembleChoice | None = None) -> pd.DataFrame:
    """One row per attempt (and the ensemble): validation figures, which chose, then test.

    ``chosen`` marks the row with the best validation accuracy, then ROC AUC (the test columns
    play no part in it): the one whose test figures are the answer to "how far".
    """
    rows = {}
    for name, run in runs.items():
        rows[name] = {"attempt": run.spec.title, "val": run.val, "test": run.test,
                      "choices": (f"best epoch {run.history.best_epoch}" + (
                          f", {run.pooling[0]} pooling, fake from {run.pooling[1]:g}"
                          if run.pooling else ""))}
    if ensemble is not None:
        rows["ensemble"] = {"attempt": "Ensemble, members chosen on validation",
                            "val": ensemble.val_preds, "test": ensemble.test_preds,
                            "choices": " + ".join(ensemble.members)}
    table = []
    for name, row in rows.items():
        val, test = compute_metrics(row["val"]), compute_metrics(row["test"])
        table.append({"name": name, "attempt": row["attempt"], "choices": row["choices"],
                      "val_accuracy": val["accuracy"], "val_roc_auc": val["roc_auc"],
                      "test_accuracy": test["accuracy"],
                      "test_balanced_accuracy": test["balanced_accuracy"],
                      "test_roc_auc": test["roc_auc"], "n_test": test["n"],
                      "key": validation_key(row["val"])})
    frame = pd.DataFrame(table).set_index("name")
    frame["chosen"] = False
    if len(frame):
        frame.loc[max(frame.index, key=lambda n: frame.loc[n, "key"]), "chosen"] = True
    return frame.drop(columns="key")


def plot_attempts(table: pd.DataFrame, baseline: float | None = None):
    """Validation beside test accuracy per attempt (the chosen one starred), with the majority
    baseline: what the choice saw against what it got."""
    import matplotlib.pyplot as plt

    labels = [f"{'* ' if row.chosen else ''}{name}" for name, row in table.iterrows()]
    y = range(len(table))
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(table) + 1.2))
    ax.barh([i + 0.2 for i in y], table["val_accuracy"], 0.4, label="validation (chooses)")
    ax.barh([i - 0.2 for i in y], table["test_accuracy"], 0.4, label="test (reported)")
    if baseline is not None:
        ax.axvline(baseline, color="grey", linestyle="--", label="always the majority class")
    ax.set_yticks(list(y), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy")
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title("How far honest detection goes (* chosen on validation)")
    fig.tight_layout()
    return fig
