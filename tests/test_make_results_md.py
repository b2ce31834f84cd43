"""benchmarks/make_results_md.py: the best line is chosen on validation, never on test."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "make_results_md.py"


@pytest.fixture(scope="module")
def mr():
    spec = importlib.util.spec_from_file_location("make_results_md", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(name, seed, test, val=None, val_loss=0.6, tta_val=None, protocol="honest", title=None):
    run = {"run": name, "title": title or name, "seed": seed, "epochs": 10, "protocol": protocol,
           "accuracy": test, "balanced_accuracy": test - 0.01, "roc_auc": test + 0.02,
           "majority_baseline": 0.534, "tta_accuracy": test + 0.05, "tta_balanced_accuracy": test + 0.04,
           "tta_roc_auc": test + 0.06, "train_seconds": 70.0, "leaked_fraction": None, "best_epoch": 5}
    if val is not None:
        run.update(val_accuracy=val, val_loss=val_loss, val_predict_accuracy=val,
                   tta_val_accuracy=val if tta_val is None else tta_val)
    return run


def test_the_best_line_follows_validation_not_test(mr):
    runs = ([_run("a", s, test=0.70, val=0.60) for s in range(3)]      # best on test
            + [_run("b", s, test=0.60, val=0.65) for s in range(3)]    # best on validation
            + [_run("old", s, test=0.80) for s in range(3)]             # no validation figures
            + [_run("leaky", s, test=0.90, val=0.95, protocol="leaky") for s in range(3)])
    [line, _] = mr.best_leak_free(runs, {"a": "2026-12-01T09:00", "b": "2026-12-01T09:00",
                                         "old": "2026-11-27T07:00"})
    assert "chosen on validation: b**" in line and "val accuracy 65.0 ± 0.0 %" in line
    assert "accuracy 60.0 ± 0.0 %" in line and "flip TTA not used" in line
    assert "1 of the 3 leak-free run groups" in line and "before 2026-12-01 09:00 UTC" in line


def test_ties_on_val_accuracy_go_to_the_lower_val_loss_and_tta_is_chosen_on_val(mr):
    runs = ([_run("a", s, test=0.70, val=0.60, val_loss=0.65) for s in range(3)]
            + [_run("b", s, test=0.60, val=0.60, val_loss=0.62, tta_val=0.62) for s in range(3)])
    [line, _] = mr.best_leak_free(runs)
    assert "chosen on validation: b + flip TTA**" in line
    assert "accuracy 65.0 ± 0.0 %" in line  # the TTA test figure of b, reported once


def test_without_validation_figures_no_model_is_named(mr):
    [line, _] = mr.best_leak_free([_run("old", s, test=0.80) for s in range(3)])
    assert line.startswith("**No best leak-free model is named**") and "80.0" not in line


def test_val_accuracy_column(mr):
    table = mr.series_table([_run("old", 0, test=0.6), _run("new", 0, test=0.6, val=0.625)])
    assert "val accuracy" in table[0]
    assert table[2].split(" | ")[2] == "n/a" and table[3].split(" | ")[2] == "62.5 %"


def test_a_recipe_and_seed_measured_again_counts_once_from_the_newer_file(mr):
    old = {"benchmark": "real_series", "date": "2026-11-26T21:56:22+00:00",
           "runs": [_run("m", 0, test=0.6), _run("m", 1, test=0.6)]}
    new = {"benchmark": "real_series", "date": "2026-12-01T09:10:05+00:00",
           "runs": [_run("m", 0, test=0.5, val=0.55)]}
    newest = mr.newest_measurements([(Path("b_old.json"), old), (Path("a_new.json"), new)])
    assert newest == {("m", 0): "a_new.json", ("m", 1): "b_old.json"}


def test_lessons_tables_set_each_control_beside_its_recipe(mr):
    collapsed = [dict(_run("model2_1@bf16-CPU", s, test=0.534, val=0.53, title="Model 2.1"),
                      train_loss_by_epoch=[28.0, 0.7], weight_norm=900.0) for s in range(3)]
    remedy = [dict(_run("model2_1_lr1e-4@bf16-CPU", 0, test=0.6, val=0.62, title="lr 1e-4"),
                   train_loss_by_epoch=[1.35, 0.6], weight_norm=400.0,
                   val_accuracy_by_epoch=[0.6, 0.62, 0.61, 0.6, 0.59, 0.58, 0.57])]
    lines = mr.lessons_section(collapsed + remedy)
    assert "### Model 2.1's collapse and its remedy (notebook 02)" in lines
    rows = [line for line in lines if line.startswith("| Model 2.1 |") or line.startswith("| lr 1e-4 |")]
    assert rows[0].startswith("| Model 2.1 | 3 | 28.000 ± 0.000 | 5, 5, 5 of 10, 10, 10 | 53.0 ± 0.0 %")
    assert rows[1].startswith("| lr 1e-4 | 1 | 1.350 | 5 of 7 | 62.0 %")  # stopped early and rows[1].endswith("| 400.0 |")
    assert not any("optimizer trials" in line for line in lines)  # fewer than two of its runs
    assert mr.lessons_section(collapsed) == []


def _honest(name, seed, test, val, kind="image", **extra):
    return {**_run(name, seed, test=test, val=val), "kind": kind, **extra}


def test_honest_detection_is_chosen_on_validation_and_says_what_validation_chose(mr):
    pooling = {f"{p}@{t}": [0.6, 0.6] for p in ("max", "mean") for t in (0.5, 0.6)}
    runs = []
    for s in range(3):
        runs += [_honest("model1_128", s, test=0.66, val=0.60),                    # best on test
                 _honest("patches", s, test=0.58, val=0.64, kind="patch", pooling="max",
                         threshold=0.6, val_by_pooling=pooling),                   # best on validation
                 _honest("ensemble", s, test=0.62, val=0.63, kind="ensemble",
                         members=["model1_128", "patches"], best_epoch=None)]
    for run in runs:
        run["extra_choices"] = mr.extra_choices(run, runs)
    assert runs[1]["extra_choices"] == "pooling and threshold among 4 (max@0.6)"
    assert runs[2]["extra_choices"] == "members among 1 subsets (model1_128 + patches)"
    assert runs[0]["extra_choices"] is None
    section = "\n".join(mr.honest_section({"runs": runs, "full_size": 160, "patch_size": 48}))
    assert "all 3 seed(s): patches**" in section and "test accuracy 58.0 ± 0.0 %" in section
    assert "is not reached: the highest mean test accuracy of any attempt is 66.0 ± 0.0 %" in section
    assert "| patches | 3 | epoch 5, max@0.6; epoch 5, max@0.6; epoch 5, max@0.6 | 64.0 ± 0.0 % | 6.0 ± 0.0 pts |" in section
    [line, _] = mr.best_leak_free(runs)
    assert "chosen on validation: patches**" in line
    assert "also chose the pooling and threshold (seed by seed: pooling and threshold among 4" in line
    suffixed = mr.with_precision_in_titles({"amp": True, "machine": {"device": "cpu"}, "runs": runs})
    ensemble = next(r for r in suffixed["runs"] if r["run"] == "ensemble@bf16-CPU")
    assert mr.extra_choices(ensemble, suffixed["runs"]).startswith("members among 1 subsets")
    table = "\n".join(mr.honest_section({**suffixed, "full_size": 160, "patch_size": 48}))
    assert "| 3 | model1_128 + patches; model1_128 + patches; model1_128 + patches |" in table
