"""Per-run results files and the report built from them."""

from __future__ import annotations

import pandas as pd
import pytest
from torch import nn

from fakeface_lib.report import write_report
from fakeface_lib.results import load_runs, load_summary, results_table, save_run, save_summary
from fakeface_lib.runner import RunOptions


def _preds() -> pd.DataFrame:
    return pd.DataFrame({"filename": ["a.jpg", "b.jpg", "c.jpg", "d.jpg"], "label": [0, 0, 1, 1],
                         "prob_fake": [0.9, 0.4, 0.2, 0.6], "pred": [0, 1, 1, 0],
                         "difficulty": ["easy", "hard", "real", "real"]})


HISTORY = [{"epoch": 1, "train_loss": 0.7, "train_acc": 0.5, "val_loss": 0.69, "val_acc": 0.55, "seconds": 2.0},
           {"epoch": 2, "train_loss": 0.6, "train_acc": 0.7, "val_loss": 0.65, "val_acc": 0.60, "seconds": 3.0}]


def test_save_and_load_a_run(tmp_path):
    model = nn.Linear(3, 2)
    save_run(tmp_path, "tiny", title="Tiny", model=model, history=HISTORY, preds=_preds(),
             leak_free=False, config={"lr": 0.1})
    [run] = load_runs(tmp_path)
    assert run["title"] == "Tiny" and run["params"] == 8 and run["epochs"] == 2
    assert run["train_seconds"] == 5.0 and run["best_epoch"] == 2 and run["leak_free"] is False
    assert run["metrics"]["accuracy"] == 0.5 and run["metrics"]["roc_auc"] == 0.75
    assert list(run["preds"]["filename"]) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    row = results_table([run]).iloc[0]
    assert row["leak_free"] == "NO (leaky)" and row["test_acc"] == 0.5 and row["n_test"] == 4


def test_bad_run_name_and_missing_columns_are_refused(tmp_path):
    with pytest.raises(ValueError, match="run name"):
        save_run(tmp_path, "../evil", title="x", model=nn.Linear(1, 2), history=HISTORY, preds=_preds())
    with pytest.raises(ValueError, match="prob_fake"):
        save_run(tmp_path, "ok", title="x", model=nn.Linear(1, 2), history=HISTORY,
                 preds=_preds().drop(columns="prob_fake"))


def test_summaries_are_not_runs(tmp_path):
    save_summary(tmp_path, "data", {"images": 240})
    assert load_summary(tmp_path, "data") == {"images": 240}
    assert load_summary(tmp_path, "missing") is None
    assert load_runs(tmp_path) == []


def test_report_lists_runs_and_embeds_figures(tmp_path):
    results = tmp_path / "results"
    save_run(results, "m1", title="Model 1", model=nn.Linear(3, 2), history=HISTORY, preds=_preds())
    save_summary(results, "data", {"images": 4})
    write_report(tmp_path, results, opts=RunOptions(data="demo"), timings={"01_model1": 3.0})
    md = (tmp_path / "report.md").read_text()
    assert "| Model 1" in md and "50.0 %" in md and "0.750" in md and "- images: 4" in md
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2  # ROC and the training curves, inline
