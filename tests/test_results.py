"""Per-run results files and the report built from them."""

from __future__ import annotations

import pandas as pd
import pytest
from torch import nn

from fakeface_lib.runner.report import write_report
from fakeface_lib.evaluation.results import load_runs, load_summary, results_table, save_run, save_summary
from fakeface_lib.runner.series import RunOptions


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


def _history(val_acc: float, test_better: bool = False) -> list[dict]:
    return [{"epoch": 1, "train_loss": 0.7, "train_acc": 0.5, "val_loss": 0.6, "val_acc": val_acc,
             "seconds": 1.0}]


def test_best_is_chosen_on_validation_not_on_test(tmp_path):
    good_test = _preds().assign(pred=[0, 0, 1, 1])  # 100 % on test
    save_run(tmp_path, "a", title="A", model=nn.Linear(3, 2), history=_history(0.55), preds=good_test)
    save_run(tmp_path, "b", title="B", model=nn.Linear(3, 2), history=_history(0.70), preds=_preds())
    save_run(tmp_path, "c", title="C", model=nn.Linear(3, 2), history=_history(0.90), preds=_preds(),
             leak_free=False)  # leaky runs are never chosen
    from fakeface_lib.evaluation.results import choose_best

    runs = load_runs(tmp_path)
    assert choose_best(runs)["name"] == "b"
    assert list(results_table(runs)["val_acc"]) == [0.55, 0.70, 0.90]


def test_runs_of_other_data_or_smoke_runs_are_never_compared(tmp_path):
    from fakeface_lib.evaluation.results import data_label

    save_run(tmp_path, "real", title="R", model=nn.Linear(3, 2), history=HISTORY, preds=_preds(), data="kaggle")
    save_run(tmp_path, "smoke", title="S", model=nn.Linear(3, 2), history=HISTORY, preds=_preds(),
             data="kaggle", smoke=True)
    with pytest.raises(ValueError, match=r"different data \(kaggle, kaggle \(smoke\)\)"):
        results_table(load_runs(tmp_path))
    save_run(tmp_path, "zdemo", title="D", model=nn.Linear(3, 2), history=HISTORY, preds=_preds(), data="demo")
    with pytest.raises(ValueError, match=r"different data \(demo, kaggle, kaggle \(smoke\)\)"):
        write_report(tmp_path / "out", tmp_path, opts=RunOptions(data="demo"), timings={})
    real, smoke, _ = load_runs(tmp_path)  # sorted by name
    assert data_label([real]) == "kaggle data" and "SMOKE" in data_label([smoke])


def test_weights_are_saved_in_half_precision_and_load_back(tmp_path):
    import torch

    from fakeface_lib.evaluation.results import load_run_weights

    model = nn.Linear(3000, 2)
    save_run(tmp_path, "m", title="M", model=model, history=HISTORY, preds=_preds(), weights=True)
    path = tmp_path / "m.weights.pt"
    assert torch.load(path, weights_only=True)["weight"].dtype == torch.float16
    assert path.stat().st_size < 3000 * 2 * 4 * 0.6  # half of float32
    loaded = load_run_weights(tmp_path, "m", nn.Linear(3000, 2))
    assert loaded.weight.dtype == torch.float32
    assert torch.allclose(loaded.weight, model.weight, atol=1e-3)
    with pytest.raises(FileNotFoundError, match="weights=True"):
        load_run_weights(tmp_path, "missing", nn.Linear(3000, 2))


def test_report_gives_each_data_source_a_section_of_its_own(tmp_path):
    results = tmp_path / "results"
    save_run(results / "demo", "m1", title="Model 1", model=nn.Linear(3, 2), history=HISTORY,
             preds=_preds(), data="demo")
    save_run(results / "smoke-demo", "m1", title="Model 1", model=nn.Linear(3, 2), history=HISTORY,
             preds=_preds(), data="demo", smoke=True)
    write_report(tmp_path, results, opts=RunOptions(data="demo"), timings={"01_model1": 3.0})
    md = (tmp_path / "report.md").read_text()
    assert "## Models compared: demo data\n" in md
    assert "## Models compared: demo data, SMOKE runs (their numbers mean nothing)" in md
    assert md.count("**Chosen on validation: Model 1** (validation accuracy 60.0 %)") == 2
