"""Notebook 06's attempts side by side: the table of their validation figures, which choose one,
its plot against the majority baseline, and the chosen attempt's test predictions, read once."""

from __future__ import annotations

import pandas as pd

from fakeface_lib.evaluation.ensembles import EnsembleChoice
from fakeface_lib.evaluation.metrics import compute_metrics
from fakeface_lib.evaluation.predictions import validation_key
from fakeface_lib.experiments.attempt_files import AttemptRun

ENSEMBLE = "ensemble"


def attempts_table(runs: dict[str, AttemptRun], ensemble: EnsembleChoice | None = None) -> pd.DataFrame:
    """One row per attempt (and the ensemble): the choices each made and its validation figures.

    ``chosen`` marks the row with the best validation accuracy, then ROC AUC: the attempt whose
    test figures answer "how far" (``chosen_test``). No test figure is in the table: variants
    are compared on validation only.
    """
    rows = {}
    for name, run in runs.items():
        rows[name] = {"attempt": run.title, "val": run.val,
                      "choices": (f"best epoch {run.history.best_epoch}" + (
                          f", {run.pooling[0]} pooling, fake from {run.pooling[1]:g}"
                          if run.pooling else ""))}
    if ensemble is not None:
        rows[ENSEMBLE] = {"attempt": "Ensemble, members chosen on validation",
                          "val": ensemble.val_preds, "choices": " + ".join(ensemble.members)}
    table = []
    for name, row in rows.items():
        val = compute_metrics(row["val"])
        table.append({"name": name, "attempt": row["attempt"], "choices": row["choices"],
                      "val_accuracy": val["accuracy"], "val_roc_auc": val["roc_auc"],
                      "n_val": val["n"], "key": validation_key(row["val"])})
    frame = pd.DataFrame(table).set_index("name")
    frame["chosen"] = False
    if len(frame):
        frame.loc[max(frame.index, key=lambda n: frame.loc[n, "key"]), "chosen"] = True
    return frame.drop(columns="key")


def chosen_test(table: pd.DataFrame, runs: dict[str, AttemptRun],
                ensemble: EnsembleChoice | None = None) -> tuple[str, pd.DataFrame]:
    """(name, test predictions) of the attempt the table chose on validation: the one test
    figure section 7 reports."""
    name = table.index[table["chosen"]][0]
    return name, ensemble.test_preds if name == ENSEMBLE else runs[name].test


def plot_attempts(table: pd.DataFrame, baseline: float | None = None):
    """Validation accuracy per attempt (the chosen one starred), with the majority baseline:
    what the choice saw."""
    import matplotlib.pyplot as plt

    labels = [f"{'* ' if row.chosen else ''}{name}" for name, row in table.iterrows()]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(table) + 1.2))
    ax.barh(range(len(table)), table["val_accuracy"], 0.6, label="validation accuracy (chooses)")
    if baseline is not None:
        ax.axvline(baseline, color="grey", linestyle="--", label="always the majority class")
    ax.set_yticks(list(range(len(table))), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy on the validation images")
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title("How far honest detection goes (* chosen on validation)")
    fig.tight_layout()
    return fig
