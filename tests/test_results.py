"""Per-run results files and the report built from them."""

from __future__ import annotations

import pandas as pd
import pytest
from torch import nn

from fakeface_lib.runner.report import write_report
from fakeface_lib.evaluation.results import load_runs, load_summary, results_table, save_run, save_summary
from fakeface_lib.runner.series import RunOptions
from fakeface_lib.training.history import History


def _preds() -> pd.DataFrame:
    return pd.DataFrame({"filename": ["a.jpg", "b.jpg", "c.jpg", "d.jpg"], "label": [0, 0, 1, 1],
                         "prob_fake": [0.9, 0.4, 0.2, 0.6], "pred": [0, 1, 1, 0],
                         "difficulty": ["easy", "hard", "real", "real"]})


def _validated_on(rows: list[dict], images: int = 4, files: str = "plainval") -> History:
    """fit()'s kind of history: its rows, and an identity naming the validation images."""
    identity = {"data": {"train": {"images": 8, "files": "train"}, "val": {"images": images, "files": files}}}
    return History(rows, identity=identity)


HISTORY = _validated_on([
    {"epoch": 1, "train_loss": 0.7, "train_acc": 0.5, "val_loss": 0.69, "val_acc": 0.55, "seconds": 2.0},
    {"epoch": 2, "train_loss": 0.6, "train_acc": 0.7, "val_loss": 0.65, "val_acc": 0.60, "seconds": 3.0}])


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


def _history(val_acc: float, images: int = 4, files: str = "plainval") -> History:
    return _validated_on([{"epoch": 1, "train_loss": 0.7, "train_acc": 0.5, "val_loss": 0.6,
                           "val_acc": val_acc, "seconds": 1.0}], images, files)


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


def test_choose_best_never_ranks_runs_validated_on_different_images(tmp_path):
    from fakeface_lib.evaluation.results import choose_best, comparable_runs, validation_set

    model = nn.Linear(3, 2)
    for name, val_acc, images, files, extra in (
            ("plain_a", 0.60, 4, "plainval", None), ("plain_b", 0.65, 4, "plainval", None),
            ("plain_c", 0.55, 4, "plainval", None),
            ("copies", 0.95, 16, "copiesval", {"copies": 4}),  # notebook 03b's copies by source
            ("other_split", 0.90, 6, "otherval", None),  # another split (another seed)
            ("one_copy", 0.99, 4, "plainval", {"copies": 1})):  # plain images' names, augmented
        save_run(tmp_path, name, title=name, model=model, history=_history(val_acc, images, files),
                 preds=_preds(), extra=extra)
    runs = load_runs(tmp_path)
    saved = {run["name"]: run["validated_on"] for run in runs}
    assert saved["copies"] == {"images": 16, "files": "copiesval", "copies": 4}
    assert saved["plain_a"] == {"images": 4, "files": "plainval", "copies": None}
    ranked, left_out = comparable_runs(runs)
    assert sorted(run["name"] for run in ranked) == ["plain_a", "plain_b", "plain_c"]
    assert "augmented copies (4 per image)" in left_out["copies"]
    assert "1 per image" in left_out["one_copy"] and "other images" in left_out["other_split"]
    assert choose_best(runs)["name"] == "plain_b"  # not the copies' or the other split's 0.9+
    other = choose_best(runs, validated_on=validation_set(next(r for r in runs if r["name"] == "other_split")))
    assert other["name"] == "other_split"
    for best in (choose_best(runs), other):  # whatever is chosen, it shares its validation images
        group, _ = comparable_runs(runs, validation_set(best))
        assert {(r["validated_on"]["images"], r["validated_on"]["files"], r["validated_on"]["copies"])
                for r in group} == {(best["validated_on"]["images"], best["validated_on"]["files"], None)}


def test_old_run_files_derive_what_they_were_validated_on_or_are_left_out(tmp_path):
    import json

    from fakeface_lib.evaluation.results import choose_best, comparable_runs, validation_label

    model = nn.Linear(3, 2)
    save_run(tmp_path, "derived", title="D", model=model, history=_history(0.6), preds=_preds(),
             extra={"copies": 4})
    save_run(tmp_path, "unknown", title="U", model=model, history=list(_history(0.9)), preds=_preds())
    save_run(tmp_path, "plain", title="P", model=model, history=_history(0.5), preds=_preds())
    for name in ("derived", "unknown"):  # as saved before runs recorded validated_on
        path = tmp_path / f"{name}.json"
        record = json.loads(path.read_text())
        del record["validated_on"]
        path.write_text(json.dumps(record))
    runs = {run["name"]: run for run in load_runs(tmp_path)}
    assert validation_label(runs["derived"]) == "4 augmented copies (4 per image)"
    assert validation_label(runs["unknown"]) == "not recorded"
    ranked, left_out = comparable_runs(list(runs.values()))
    assert [run["name"] for run in ranked] == ["plain"]
    assert "not recorded" in left_out["unknown"] and "copies" in left_out["derived"]
    assert choose_best(list(runs.values()))["name"] == "plain"
    assert choose_best([runs["unknown"]]) is None  # unknown validation images: never ranked
