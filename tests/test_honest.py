"""The honest-detection attempts of notebook 06 and bench_honest_detection: what each builds, that
a run is reproducible from its seed and resumes from its checkpoints, and that the table
chooses on validation only."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
import torch

from fakeface_lib.config import MODEL1_RECIPE
from fakeface_lib.data.index import index_dataset
from fakeface_lib.evaluation.ensembles import choose_ensemble
from fakeface_lib.models.forensics import ResidualInput
from fakeface_lib.experiments.attempts import (
    ATTEMPTS, IMAGENET_ATTEMPT, attempt, attempt_title, build_attempt, model_size, native_side,
    patch_side, run_attempt, window_side,
)
from fakeface_lib.experiments.attempt_report import attempts_table, chosen_test, plot_attempts
from fakeface_lib.models.cnn import Model1
from fakeface_lib.experiments.patches import PatchNet
from fakeface_lib.data.splitting import split_dataset
from fakeface_lib.utils import count_parameters

ONE_EPOCH = dataclasses.replace(MODEL1_RECIPE, num_epochs=1, batch_size=16, seed=3)


@pytest.fixture(scope="module")
def small_split(demo_root):
    frame = split_dataset(index_dataset(demo_root))
    return (frame.groupby(["split", "label"], group_keys=False).head(6)
            .sort_values(["label", "filename"]).reset_index(drop=True))


def test_native_side_window_and_patch_side(small_split):
    assert native_side(small_split) == 128  # the demo images' side
    assert window_side(small_split, max_size=96) == 96 and window_side(small_split, 320) == 128
    assert native_side(pd.DataFrame({"width": [600, 160], "height": [600, 150]})) == 150
    assert patch_side(160) == 48 and patch_side(600) == 180 and patch_side(20) == 16
    with pytest.raises(ValueError, match="width"):
        native_side(pd.DataFrame({"path": ["a.jpg"]}))


def test_titles_name_sizes_for_what_they_are():
    assert attempt_title(ATTEMPTS["model1_128"], 320, 600) == (
        "Model 1 at 128 px (reference), the 600 px files resized")
    assert attempt_title(ATTEMPTS["model1_128"], 128, 128) == "Model 1 at 128 px (reference)"
    assert attempt_title(ATTEMPTS["model1_native"], 160, 160) == (
        "Model 1, the whole 160 px image, no resampling")
    assert attempt_title(ATTEMPTS["model1_residual"], 320, 600) == (
        "Model 1 on the SRM noise residual, a 320 px window of the 600 px files, no resampling")
    assert attempt_title(ATTEMPTS["patches"], 320, 600) == (
        "Region patch net, 180 px windows of the 600 px files")
    assert "full resolution" not in " ".join(spec.title for spec in ATTEMPTS.values())


def test_attempt_names_and_sizes():
    assert attempt("patches") is ATTEMPTS["patches"]
    assert attempt(IMAGENET_ATTEMPT) is IMAGENET_ATTEMPT
    with pytest.raises(ValueError, match="model1_native"):
        attempt("model1_full")
    assert model_size(ATTEMPTS["model1_128"], 160) == 128
    assert model_size(ATTEMPTS["model1_native"], 160) == 160
    assert model_size(ATTEMPTS["patches"], 160) is None
    assert model_size(IMAGENET_ATTEMPT, 320) == 320


def test_build_attempt_gives_each_attempt_its_input(small_split):
    loaders, model, scale = build_attempt(ATTEMPTS["model1_native"], small_split, seed=0,
                                          window=96, batch_size=4)
    assert isinstance(model, Model1) and model.image_size == 96 and scale is None
    assert next(iter(loaders["val"]))[0].shape[1:] == (3, 96, 96)

    loaders, model, scale = build_attempt(ATTEMPTS["model1_residual"], small_split, seed=0,
                                          window=64, batch_size=4)
    assert isinstance(model, ResidualInput) and model.model.image_size == 64
    assert scale > 0  # measured on training images: the residual gets unit spread there
    residual = model.highpass(next(iter(loaders["train"]))[0])
    assert 0.3 < float(residual.std()) < 3

    loaders, model, scale = build_attempt(ATTEMPTS["patches"], small_split, seed=0,
                                          batch_size=4)
    assert isinstance(model, PatchNet)
    assert loaders["val"].dataset.images.shape[1:3] == (4, 3)  # four regions, RGB
    assert loaders["val"].dataset.images.shape[-1] == patch_side(128)

    loaders, model, _ = build_attempt(IMAGENET_ATTEMPT, small_split, seed=0, window=64,
                                      batch_size=4, weights=None)
    assert model.fc.out_features == 2 and count_parameters(model) > 11_000_000
    assert loaders["val"].dataset.preprocessing.mean == pytest.approx((0.485, 0.456, 0.406))


def test_run_attempt_is_reproducible_and_resumes(small_split, tmp_path):
    first = run_attempt("model1_residual", small_split, ONE_EPOCH, window=64,
                        checkpoint_dir=tmp_path / "ck", progress=False)
    again = run_attempt("model1_residual", small_split, ONE_EPOCH, window=64,
                        checkpoint_dir=tmp_path / "ck", progress=False)
    fresh = run_attempt("model1_residual", small_split, ONE_EPOCH, window=64, progress=False)
    assert not first.resumed and again.resumed and not fresh.resumed
    for run in (again, fresh):  # the same seed, the same weights: the same predictions
        assert torch.allclose(torch.tensor(run.test["prob_fake"].to_numpy()),
                              torch.tensor(first.test["prob_fake"].to_numpy()), atol=1e-6)
    assert list(first.val["filename"]) == list(small_split.query("split == 'val'")["filename"])
    assert first.pooling is None


def test_patch_run_chooses_its_pooling_on_validation(small_split):
    run = run_attempt("patches", small_split, ONE_EPOCH, progress=False)
    pooling, threshold, candidates = run.pooling
    assert pooling in ("max", "mean") and 0 < threshold < 1
    assert f"{pooling}@{threshold:g}" in candidates
    assert len(run.test) == (small_split["split"] == "test").sum()


def test_attempts_table_chooses_on_validation_only(small_split):
    runs = {name: run_attempt(name, small_split, ONE_EPOCH, window=64, progress=False)
            for name in ("model1_128", "model1_native")}
    good, bad = runs["model1_128"], runs["model1_native"]
    # the 128 px run is made perfect on validation and useless on test, the other the reverse
    good.val = good.val.assign(pred=good.val["label"], prob_fake=1.0 - good.val["label"])
    good.test = good.test.assign(pred=1 - good.test["label"], prob_fake=good.test["label"] * 1.0)
    bad.val = bad.val.assign(pred=1 - bad.val["label"], prob_fake=bad.val["label"] * 1.0)
    bad.test = bad.test.assign(pred=bad.test["label"], prob_fake=1.0 - bad.test["label"])
    table = attempts_table(runs)
    assert table["chosen"].tolist() == [True, False]  # validation chose; test would say otherwise
    assert not any(column.startswith("test") for column in table.columns)  # variants: validation only
    name, test = chosen_test(table, runs)
    assert name == "model1_128" and (test["pred"] != test["label"]).all()  # the one test look
    assert table.loc["model1_128", "choices"] == "best epoch 1"

    choice = choose_ensemble({n: r.val for n, r in runs.items()},
                             {n: r.test for n, r in runs.items()}, min_members=2)
    with_ensemble = attempts_table(runs, choice)
    assert list(with_ensemble.index) == ["model1_128", "model1_native", "ensemble"]
    assert with_ensemble.loc["ensemble", "choices"] == "model1_128 + model1_native"
    assert with_ensemble["chosen"].sum() == 1
    fig = plot_attempts(with_ensemble, baseline=0.5)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()][0] == "* model1_128"


def test_a_finished_attempt_is_saved_and_reloaded_not_retrained(small_split, tmp_path):
    folder = tmp_path / "honest"
    first = run_attempt("patches", small_split, ONE_EPOCH, results_dir=folder,
                        progress=False)
    assert first.model is not None and not first.resumed
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["patches.json"] + [f"patches_{f}.csv" for f in ("val", "val_tta", "test", "test_tta")])
    again = run_attempt("patches", small_split, ONE_EPOCH, results_dir=folder,
                        progress=False)
    assert again.model is None and again.resumed and again.params == first.params
    assert again.pooling[:2] == first.pooling[:2] and again.pooling[2] == first.pooling[2]
    assert again.history.best_epoch == first.history.best_epoch == 1
    for frame in ("val", "test_tta"):
        assert torch.allclose(torch.tensor(getattr(again, frame)["prob_fake"].to_numpy()),
                              torch.tensor(getattr(first, frame)["prob_fake"].to_numpy()))
    table = attempts_table({"patches": again})  # a reloaded run is compared like a fresh one
    assert table.loc["patches", "val_accuracy"] == attempts_table({"patches": first}).loc[
        "patches", "val_accuracy"]
    other = run_attempt("patches", small_split, dataclasses.replace(ONE_EPOCH, seed=4),
                        results_dir=folder, progress=False)
    assert other.model is not None and not other.resumed  # another seed: trained, and saved over
    (folder / "patches_val.csv").unlink()  # a record without its frames is not trusted
    assert run_attempt("patches", small_split, dataclasses.replace(ONE_EPOCH, seed=4),
                       results_dir=folder, progress=False).model is not None


def test_an_attempt_passed_as_a_spec_is_saved_under_its_name(small_split, tmp_path):
    from fakeface_lib.experiments.attempts import attempt_name

    assert attempt_name(IMAGENET_ATTEMPT) == "resnet18_imagenet"
    assert attempt_name(ATTEMPTS["patches"]) == "patches"
    cfg = dataclasses.replace(IMAGENET_ATTEMPT.recipe, num_epochs=1, batch_size=8, amp=False)
    run = run_attempt(IMAGENET_ATTEMPT, small_split, cfg, window=32, results_dir=tmp_path,
                      progress=False, weights=None)
    assert run.name == "resnet18_imagenet" and (tmp_path / "resnet18_imagenet.json").is_file()
    assert len(run.test) == (small_split["split"] == "test").sum()
