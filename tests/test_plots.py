"""Plots: each returns a Figure with the expected artists, draws into a given ax, never shows."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display in tests

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from fakeface_lib import plots  #noqa: E402
from fakeface_lib.training.history import History  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def image_frame(tmp_path) -> pd.DataFrame:
    """2 real and 6 fake images on disk, with the columns data.index_dataset gives."""
    rows = []
    for i, (difficulty, code) in enumerate([("real", None), ("real", None), ("easy", "1000"),
                                            ("easy", "0001"), ("mid", "1100"), ("mid", "0110"),
                                            ("hard", "0011"), ("hard", None)]):
        path = tmp_path / f"{difficulty}_{i}.png"
        Image.new("RGB", (20, 20), (30 * i, 100, 200)).save(path)
        digits = [None] * 4 if code is None else [c == "1" for c in code]
        if difficulty == "real":
            digits = [False] * 4
        rows.append({"path": str(path), "label": int(difficulty == "real"),
                     "difficulty": difficulty, **dict(zip(plots.REGIONS, digits))})
    frame = pd.DataFrame(rows)
    for region in plots.REGIONS:
        frame[region] = frame[region].astype("boolean")
    return frame


@pytest.fixture
def preds(image_frame) -> pd.DataFrame:
    prob_fake = np.array([0.9, 0.2, 0.7, 0.4, 0.6, 0.55, 0.15, 0.8])  # rows 0, 3, 6 wrong
    return image_frame.assign(prob_fake=prob_fake, prob_real=1 - prob_fake,
                              pred=(prob_fake < 0.5).astype(int))


def test_plot_history_marks_the_best_epoch():
    history = History([{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_acc": 0.5 + e / 10,
                        "val_acc": 0.5 + e / 20, "lr": 1e-3, "seconds": 1.0} for e in (1, 2, 3)],
                      best_epoch=2)
    fig = plots.plot_history(history, baseline=0.53)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 3 and len(acc_ax.lines) == 4  # train, val, best (+ baseline)
    assert list(loss_ax.lines[2].get_xdata()) == [2, 2]
    assert "best epoch (2)" in [t.get_text() for t in loss_ax.get_legend().get_texts()]
    with pytest.raises(ValueError, match="empty"):
        plots.plot_history([])


def test_plot_confusion_matrix_counts_and_percent():
    fig = plots.plot_confusion_matrix([[59, 41], [47, 57]])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["59\n28.9%", "41\n20.1%", "47\n23.0%", "57\n27.9%"]
    fig, ax = plt.subplots()
    assert plots.plot_confusion_matrix([[59, 41], [47, 57]], ax=ax, normalize=True) is fig
    assert [t.get_text() for t in ax.texts][0] == "59\n59.0%"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["training_fake", "training_real"]


def test_plot_roc_legend_has_the_auc(preds):
    fig = plots.plot_roc({"a": preds, "b": preds.assign(prob_fake=0.5)})
    ax = fig.axes[0]
    assert len(ax.lines) == 3  # two models and the chance diagonal
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:2] == ["a (AUC = 0.417)", "b (AUC = 0.500)"]  # a: 5 of 12 pairs right
    assert len(plots.plot_roc(preds).axes[0].lines) == 2


def test_plot_predictions_shows_confident_mistakes_first(preds):
    fig = plots.plot_predictions(preds, n=4)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 4 and all(len(ax.images) == 1 for ax in fig.axes[:4])
    assert titles[:3] == ["true: real\npred: fake (90%)", "true: fake\npred: real (85%)",
                          "true: fake\npred: real (60%)"]  # mistakes, most confident first
    assert [ax.title.get_color() for ax in fig.axes[:4]] == ["tab:red"] * 3 + ["tab:green"]


def test_plot_predictions_from_a_dataset(preds):
    dataset = [(torch.rand(3, 8, 8) * 2 - 1, 0) for _ in range(len(preds))]
    fig = plots.plot_predictions(preds.drop(columns="path").iloc[2:], images=dataset, n=3,
                                 most_confident_mistakes_first=False, ncols=3)
    assert len([ax for ax in fig.axes if ax.images]) == 3
    assert fig.axes[0].get_title() == "true: fake\npred: fake (70%)"  # row 2 comes first


def test_plot_image_grid_and_display_conversion():
    images = [torch.zeros(3, 8, 8, dtype=torch.uint8), torch.randn(3, 8, 8),
              Image.new("RGB", (8, 8)), None, np.ones((8, 8, 3))]
    fig = plots.plot_image_grid(images, titles=list("abcde"), ncols=3)
    assert len(fig.axes) == 6 and sum(len(ax.images) for ax in fig.axes) == 4
    shown = plots.to_display(torch.randn(3, 4, 4))
    assert shown.shape == (4, 4, 3) and shown.min() >= 0 and shown.max() <= 1
    assert plots.to_display(torch.zeros(3, 4, 4, dtype=torch.uint8)).dtype == np.uint8


def test_plot_samples_rows_by_group_with_regions(image_frame):
    fig = plots.plot_samples(image_frame, n_per_group=2)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 8 and sum(len(ax.images) for ax in fig.axes) == 8
    assert titles[:2] == ["real", "real"]
    assert set(titles[2:4]) == {"easy: left_eye", "easy: mouth"}
    assert "hard: ?" in titles[6:]
    fig = plots.plot_samples(image_frame, n_per_group=3, groups=("easy",))
    assert sum(len(ax.images) for ax in fig.axes) == 2  # the group has two images


def test_plot_bar_counts(image_frame):
    fig, ax = plt.subplots()
    assert plots.plot_bar_counts(image_frame, by="difficulty", ax=ax) is fig
    assert sorted(p.get_height() for p in ax.patches) == [2, 2, 2, 2]
    assert [t.get_text() for t in ax.texts] == ["2"] * 4


def test_plot_histories_draws_each_run_in_three_panels():
    def run(shift):
        return [{"epoch": e, "train_loss": 1 / e + shift, "val_loss": 1.2 / e, "train_acc": 0.6,
                 "val_acc": 0.5 + shift, "lr": 1e-3, "seconds": 1.0} for e in (1, 2, 3)]

    fig = plots.plot_histories({"sgd": run(0.0), "adam": run(0.1)}, baseline=0.53)
    assert len(fig.axes) == 3
    assert [len(ax.lines) for ax in fig.axes] == [2, 2, 3]  # a line per run (+ the baseline)
    assert list(fig.axes[2].lines[1].get_ydata()) == pytest.approx([0.6] * 3)
    assert [t.get_text() for t in fig.axes[2].get_legend().get_texts()][:2] == ["sgd", "adam"]
    with pytest.raises(ValueError, match="no runs"):
        plots.plot_histories({})
    with pytest.raises(ValueError, match="'empty'"):
        plots.plot_histories({"empty": []})


def test_plot_test_summary_is_the_confusion_matrix_beside_the_roc(preds):
    fig = plots.plot_test_summary(preds.assign(correct=preds["pred"] == preds["label"]))
    matrix, roc = fig.axes
    assert matrix.get_title() == "Confusion matrix" and "ROC" in roc.get_title()
    cells = [t.get_text().split("\n")[0] for t in matrix.texts]
    assert sorted(map(int, cells)) == sorted([4, 2, 1, 1])  # 6 fakes (4 caught), 2 real (1 kept)


def test_plot_step_trace_draws_each_run_in_two_panels():
    trace = pd.DataFrame({"step": [1, 2, 3], "fc1": [0.9, 0.5, 0.2], "fc1_dead": [0.0, 0.4, 1.0]}).set_index("step")
    fig = plots.plot_step_trace({"adam": trace, "adadelta": trace.assign(fc1=1e-4)})
    ratio_ax, dead_ax = fig.axes
    assert ratio_ax.get_yscale() == "log" and len(ratio_ax.lines) == 3  # two runs + the 1e-3 line
    assert list(ratio_ax.lines[1].get_ydata()) == pytest.approx([1e-4] * 3)
    assert list(dead_ax.lines[0].get_ydata()) == [0.0, 0.4, 1.0]
    fig, axes = plt.subplots(1, 2)
    assert plots.plot_step_trace({"adam": trace}, axes=axes) is fig
    with pytest.raises(ValueError, match="no runs"):
        plots.plot_step_trace({})


def test_roc_curves_of_many_models_never_share_a_colour_and_dash():
    from fakeface_lib.plots import plot_roc

    rng = np.random.default_rng(0)
    preds = pd.DataFrame({"label": rng.integers(0, 2, 40), "prob_fake": rng.random(40)})
    fig = plot_roc({f"model {i}": preds for i in range(12)})
    styles = [(line.get_color(), line.get_linestyle()) for line in fig.axes[0].lines[:12]]
    assert len(set(styles)) == 12
    plt.close(fig)
