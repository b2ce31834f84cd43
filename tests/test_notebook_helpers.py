"""Notebook helpers: smoke subsets, accuracy intervals, metric summaries."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from fakeface_lib import setup as notebook
from fakeface_lib.evaluation.confidence import accuracy_interval, summarize_metrics
from fakeface_lib.setup import smoke_subset


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@pytest.mark.parametrize("k, n", [(116, 204), (0, 10), (10, 10), (1, 1)])
def test_accuracy_interval_is_the_wilson_interval(k, n):
    assert accuracy_interval(k, n) == pytest.approx(_wilson(k, n), abs=1e-9)


def test_accuracy_interval_accepts_numpy_integers():
    import numpy as np

    assert accuracy_interval(np.int64(116), np.int64(204)) == accuracy_interval(116, 204)


def test_accuracy_interval_narrows_with_more_images():
    small, large = accuracy_interval(57, 100), accuracy_interval(570, 1000)
    assert small[0] < large[0] < 0.57 < large[1] < small[1]


@pytest.mark.parametrize("k, n", [(5, 4), (-1, 4), (1, 0), (0.5, 4)])
def test_accuracy_interval_rejects_impossible_counts(k, n):
    with pytest.raises(ValueError, match="correct"):
        accuracy_interval(k, n)


def _metrics(cm: list[list[int]], auc: float = 0.6) -> dict:
    n = sum(map(sum, cm))
    counts = [sum(row) for row in cm]
    return {"confusion_matrix": cm, "accuracy": (cm[0][0] + cm[1][1]) / n,
            "balanced_accuracy": 0.5 * (cm[0][0] / counts[0] + cm[1][1] / counts[1]),
            "roc_auc": auc, "majority_baseline": max(counts) / n,
            "positive_class": "training_fake"}


def test_summary_of_the_reports_model1_keeps_the_baseline_inside_the_interval():
    text = summarize_metrics(_metrics([[59, 41], [47, 57]]))  # the report's Model 1 matrix
    assert "204 images (100 training_fake, 104 training_real)" in text
    assert "56.9%" in text and "51.0%" in text  # accuracy and always-real baseline
    assert "always answering training_real" in text
    assert "fakes detected      59.0%" in text and "false alarms        45.2%" in text
    assert text.splitlines()[-1].startswith("The baseline lies inside")


def test_summary_verdicts_above_and_below_the_baseline():
    good = summarize_metrics(_metrics([[90, 10], [10, 90]]), split="val")
    bad = summarize_metrics(_metrics([[10, 100], [60, 40]], auc=float("nan")))
    assert good.startswith("Val set: 200 images") and "above the baseline: better than" in good
    assert "below the baseline" in bad and "n/a" in bad
    assert "always answering training_fake" in bad  # 110 fakes, 100 reals


def _split_frame() -> pd.DataFrame:
    splits = ["train"] * 80 + ["val"] * 10 + ["test"] * 10
    labels = [i % 3 == 0 for i in range(100)]  # about a third fake (0), the rest real (1)
    return pd.DataFrame({"filename": [f"f{i}.jpg" for i in range(100)],
                         "label": [0 if fake else 1 for fake in labels], "split": splits})


def test_smoke_subset_caps_each_split_and_keeps_both_classes():
    frame = _split_frame()
    small = smoke_subset(frame, n_per_split=12)
    sizes = small["split"].value_counts()
    assert sizes["train"] <= 12 and sizes["val"] <= 10 and sizes["test"] <= 10
    for _, rows in small.groupby("split"):
        assert set(rows["label"]) == {0, 1}
    assert small.equals(smoke_subset(frame, n_per_split=12))  # same rows every time
    with pytest.raises(ValueError, match="split"):
        smoke_subset(frame.drop(columns="split"))




def test_setup_chapter_keeps_the_budget_outside_smoke_mode(tmp_path, capsys):
    chapter = notebook.setup_chapter(0, data="demo", smoke=False, results=tmp_path / "r",
                                     epochs=10, image_size=224, checkpoint=False)
    assert (chapter.epochs, chapter.image_size, chapter.checkpoint) == (10, 224, False)
    assert chapter.results_dir.is_dir() and chapter.results_dir.parent == tmp_path / "r"
    assert chapter.scope == {"data": "demo", "smoke": False}
    frame = _split_frame()
    assert chapter.subset(frame) is frame
    assert "SMOKE" not in capsys.readouterr().out


def test_setup_chapter_in_smoke_mode_says_so_once_and_shrinks_the_budget(tmp_path, capsys):
    chapter = notebook.setup_chapter(0, data="demo", smoke=True, results=tmp_path / "r",
                                     epochs=10, image_size=224)
    assert (chapter.epochs, chapter.image_size) == (1, notebook.SMOKE_IMAGE_SIZE)
    assert capsys.readouterr().out.count("numbers mean nothing") == 1
    assert chapter.scope == {"data": "demo", "smoke": True}
    smoke_dir = chapter.results_dir
    plain_dir = notebook.setup_chapter(0, data="demo", smoke=False, results=tmp_path / "r").results_dir
    assert smoke_dir != plain_dir  # smoke runs never mix with real ones
    frame = _split_frame()
    assert chapter.subset(frame).equals(smoke_subset(frame, n_per_split=chapter.n_per_split))


def test_setup_chapter_takes_its_smoke_subset_size(tmp_path):
    chapter = notebook.setup_chapter(0, data="demo", smoke=True, results=None, n_per_split=4)
    small = chapter.subset(_split_frame())
    assert chapter.n_per_split == 4
    assert small.groupby("split").size().max() <= 4


def test_setup_chapter_without_a_budget_leaves_it_unset(tmp_path):
    chapter = notebook.setup_chapter(0, data="demo", smoke=True, results=tmp_path)
    assert chapter.epochs is None and chapter.image_size is None


def test_chapter_plan_follows_the_checkpoint_switch(tmp_path, capsys, monkeypatch):
    from fakeface_lib.config import TrainConfig
    from torch import nn

    monkeypatch.chdir(tmp_path)
    model, cfg = nn.Linear(4, 2), TrainConfig(num_epochs=3)
    off = notebook.setup_chapter(0, data="demo", smoke=False, results="r", checkpoint=False)
    assert off.plan("tiny", model, cfg).dir is None
    on = notebook.setup_chapter(0, data="demo", smoke=False, results="r")
    assert on.plan("tiny", model, cfg).dir == Path("checkpoints") / "tiny"


def test_setup_chapter_without_results_makes_no_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert notebook.setup_chapter(0, data="demo", smoke=False, results=None).results_dir is None
    assert list(tmp_path.iterdir()) == []
