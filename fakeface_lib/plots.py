"""Figures for the notebooks: samples, training curves, confusion matrix, ROC, predictions.

Every function returns the matplotlib Figure and never calls savefig/show; those taking
``ax`` draw into it when given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from fakeface_lib.config import CLASS_NAMES, REGIONS
from fakeface_lib.evaluation.metrics import compute_metrics, roc_auc, roc_points

SHORT_NAMES = ("fake", "real")  # label 0, label 1


def _figure(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def plot_history(history: Sequence[Mapping[str, float]], axes: Sequence[Axes] | None = None,
                 best_epoch: int | None = None, baseline: float | None = None) -> Figure:
    """Loss and accuracy per epoch, train vs validation, with the best epoch marked.

    best_epoch defaults to ``history.best_epoch`` (fit()'s History); baseline (e.g. the
    majority-class accuracy) is drawn as a horizontal line on the accuracy plot.
    """
    frame = pd.DataFrame(list(history))
    if frame.empty:
        raise ValueError("plot_history() got an empty history; train for at least one epoch.")
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    fig = axes[0].figure
    best_epoch = best_epoch if best_epoch is not None else getattr(history, "best_epoch", None)
    for ax, metric, name in ((axes[0], "loss", "Loss"), (axes[1], "acc", "Accuracy")):
        ax.plot(frame["epoch"], frame[f"train_{metric}"], marker="o", label="train")
        ax.plot(frame["epoch"], frame[f"val_{metric}"], marker="o", label="validation")
        if best_epoch is not None:
            ax.axvline(best_epoch, color="gray", linestyle="--", label=f"best epoch ({best_epoch})")
        ax.set(xlabel="epoch", ylabel=name, title=f"{name} per epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no "epoch 1.5" on short runs
    if baseline is not None:
        axes[1].axhline(baseline, color="red", linestyle=":", label=f"majority ({baseline:.1%})")
    axes[1].yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}"))
    for ax in axes[:2]:
        ax.legend()
    fig.tight_layout()
    return fig


def plot_histories(histories: Mapping[str, Sequence[Mapping[str, float]]],
                   baseline: float | None = None) -> Figure:
    """Several runs' curves on one figure: training loss, validation loss, validation accuracy.

    histories: {run name: fit()'s history}. One colour per run, the same in the three panels;
    baseline (the validation set's majority accuracy) is drawn on the accuracy panel.
    """
    if not histories:
        raise ValueError("plot_histories() got no runs: pass {name: history}.")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    panels = (("train_loss", "training loss"), ("val_loss", "validation loss"),
              ("val_acc", "validation accuracy"))
    for name, history in histories.items():
        frame = pd.DataFrame(list(history))
        if frame.empty:
            raise ValueError(f"plot_histories(): the history of {name!r} is empty.")
        for ax, (column, _) in zip(axes, panels):
            ax.plot(frame["epoch"], frame[column], marker="o", label=name)
    for ax, (_, title) in zip(axes, panels):
        ax.set(xlabel="epoch", title=title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if baseline is not None:
        axes[2].axhline(baseline, color="red", linestyle=":", label=f"majority ({baseline:.1%})")
    axes[2].yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}"))
    axes[2].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small")
    fig.tight_layout()
    return fig


def plot_test_summary(preds: pd.DataFrame) -> Figure:
    """The test set at a glance: confusion matrix (left) and ROC curve (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.3))
    plot_confusion_matrix(compute_metrics(preds)["confusion_matrix"], ax=axes[0])
    plot_roc(preds, ax=axes[1])
    fig.tight_layout()
    return fig


def plot_confusion_matrix(cm: Any, class_names: Sequence[str] = CLASS_NAMES,
                          ax: Axes | None = None, normalize: bool = False) -> Figure:
    """Heatmap of a confusion matrix (rows true, columns predicted) with counts and %.

    normalize=False: % of all images; True: colours and % per true class (row = recall).
    """
    cm = np.asarray(cm, dtype=float)
    fig, ax = _figure(ax, (4.5, 4))
    totals = cm.sum(axis=1, keepdims=True) if normalize else cm.sum()
    share = np.divide(cm, totals, out=np.zeros_like(cm), where=np.asarray(totals) > 0)
    annot = np.array([[f"{int(c)}\n{s:.1%}" for c, s in zip(row, srow)]
                      for row, srow in zip(cm, share)])
    sns.heatmap(share if normalize else cm, annot=annot, fmt="", cmap="Blues", cbar=False,
                xticklabels=class_names, yticklabels=class_names, ax=ax, square=True)
    ax.set(xlabel="predicted", ylabel="true",
           title="Confusion matrix" + (" (row %)" if normalize else ""))
    return fig


def _line_styles(n: int) -> list[dict]:
    """n distinct (colour, dash) pairs: matplotlib's ten colours, then the same ten dashed."""
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    dashes = ("-", "--", ":", "-.")
    return [{"color": colours[i % len(colours)], "linestyle": dashes[i // len(colours) % len(dashes)]}
            for i in range(n)]


def plot_roc(curves: pd.DataFrame | Mapping[str, pd.DataFrame], ax: Axes | None = None) -> Figure:
    """ROC curves (positive class training_fake) with their AUC in the legend.

    curves: one predictions DataFrame (from predict()) or {name: predictions}.
    """
    if isinstance(curves, pd.DataFrame):
        curves = {"model": curves}
    fig, ax = _figure(ax, (5, 5))
    for (name, preds), style in zip(curves.items(), _line_styles(len(curves))):
        points = roc_points(preds)
        ax.plot(points["fpr"], points["tpr"], label=f"{name} (AUC = {roc_auc(preds):.3f})", **style)
    ax.plot([0, 1], [0, 1], color="gray", linestyle="--", label="chance (AUC = 0.5)")
    ax.set(xlabel="false positive rate (real flagged as fake)",
           ylabel="true positive rate (fakes detected)", title="ROC curve, positive = fake",
           xlim=(0, 1), ylim=(0, 1.01))
    if len(curves) <= 3:
        ax.legend(loc="lower right")
    else:  # many models: the legend beside the plot, not over the curves
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small")
    return fig


def to_display(image: Any) -> np.ndarray:
    """A PIL image, uint8 array or (C, H, W) tensor as an array imshow can show.

    Normalised float tensors (outside [0, 1]) are rescaled per image to [0, 1].
    """
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu()
        if image.ndim == 3 and image.shape[0] in (1, 3):
            image = image.permute(1, 2, 0)
        image = image.numpy()
    array = np.asarray(image).squeeze()
    if array.dtype == np.uint8:
        return array
    array = array.astype(np.float32)
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        array = (array - low) / max(high - low, 1e-8)
    return array


def plot_image_grid(images: Sequence[Any], titles: Sequence[str] | None = None,
                    ncols: int = 4, size: float = 2.4) -> Figure:
    """Images (PIL, arrays or (C, H, W) tensors) in a grid, one optional title each.

    A None image leaves its cell empty.
    """
    if len(images) == 0:
        raise ValueError("plot_image_grid() got no images.")
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images) and images[i] is not None:
            ax.imshow(to_display(images[i]), cmap="gray")
            if titles is not None:
                ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig


def _order_predictions(preds: pd.DataFrame, mistakes_first: bool) -> pd.DataFrame:
    confidence = preds[["prob_fake", "prob_real"]].max(axis=1)
    ordered = preds.assign(_confidence=confidence, _wrong=preds["pred"] != preds["label"])
    if mistakes_first:
        return ordered.sort_values(["_wrong", "_confidence"], ascending=False, kind="stable")
    return ordered


def plot_predictions(preds: pd.DataFrame, images: Any = None, n: int = 16,
                     most_confident_mistakes_first: bool = True, ncols: int = 4) -> Figure:
    """A grid of images titled true / predicted (probability), mistakes in red.

    images: None reads preds["path"]; otherwise a dataset (item i -> (image, label)) or a
    sequence of images indexed by preds' index labels (predict() gives row i = item i, and
    filtering preds keeps those labels).
    """
    chosen = _order_predictions(preds, most_confident_mistakes_first).head(n)
    if images is None and "path" not in preds:
        raise ValueError("plot_predictions() needs images=... or a 'path' column in preds.")
    shown, titles, colours = [], [], []
    for position, row in chosen.iterrows():
        if images is None:
            shown.append(Image.open(row["path"]).convert("RGB"))
        else:
            item = images[int(position)]
            shown.append(item[0] if isinstance(item, tuple) else item)
        pred = int(row["pred"])
        prob = row["prob_fake"] if pred == 0 else row["prob_real"]
        true = SHORT_NAMES[int(row["label"])]
        titles.append(f"true: {true}\npred: {SHORT_NAMES[pred]} ({prob:.0%})")
        colours.append("tab:red" if row["_wrong"] else "tab:green")
    fig = plot_image_grid(shown, titles, ncols=ncols)
    for ax, colour in zip(fig.axes, colours):
        ax.title.set_color(colour)
    return fig


def _sample_title(row: pd.Series) -> str:
    if row.get("label") == 1:
        return "real"
    edited = [r for r in REGIONS if r in row and pd.notna(row[r]) and bool(row[r])]
    return f"{row.get('difficulty', 'fake')}: " + (", ".join(edited) if edited else "?")


def plot_samples(frame: pd.DataFrame, n_per_group: int = 4,
                 groups: Sequence[str] = ("real", "easy", "mid", "hard"),
                 seed: int = 0, thumb: int = 160) -> Figure:
    """A row of random images per group (frame["difficulty"]), titled with edited regions."""
    rows, titles = [], []
    for group in groups:
        sub = frame[frame["difficulty"] == group]
        picked = sub.sample(min(n_per_group, len(sub)), random_state=seed)
        for _, row in picked.iterrows():
            with Image.open(row["path"]) as img:
                rows.append(img.convert("RGB").resize((thumb, thumb)))
            titles.append(_sample_title(row))
        padding = n_per_group - len(picked)  # keep one group per grid row
        rows += [None] * padding
        titles += [""] * padding
    if not any(image is not None for image in rows):
        raise ValueError(f"plot_samples(): no images in groups {list(groups)}.")
    return plot_image_grid(rows, titles, ncols=n_per_group)


def plot_bar_counts(frame: pd.DataFrame, by: str = "difficulty", hue: str | None = None,
                    ax: Axes | None = None) -> Figure:
    """Bar chart of image counts per value of ``by`` (e.g. difficulty, split), counts on bars."""
    fig, ax = _figure(ax, (6, 3.5))
    sns.countplot(data=frame, x=by, hue=hue, ax=ax)
    for container in ax.containers:
        ax.bar_label(container)
    ax.set(title=f"Images per {by}" + (f" and {hue}" if hue else ""), ylabel="images")
    return fig


CAM_ALPHA = 0.6  # opacity of a Grad-CAM map's hottest pixels; colder ones fade to transparent


def plot_gradcam(image: Any, cam: np.ndarray,
                 boxes: Sequence[tuple[int, int, int, int]] | None = None,
                 title: str | None = None, ax: Axes | None = None) -> Figure:
    """A Grad-CAM map (H, W) in [0, 1] over its image, with (x0, y0, x1, y1) boxes outlined.

    The map is drawn in the jet colours with an opacity that grows with its value, so the
    face stays visible where the network found no evidence.

    image: PIL, uint8 array or (3, H, W) tensor (normalised tensors are rescaled for display);
    a map of another size than the image is stretched over it. Boxes are in image pixels
    (e.g. regions.region_boxes(image_size) picked with regions.edited_boxes()).
    """
    from matplotlib.patches import Rectangle

    cam = np.asarray(cam, dtype=float)
    if cam.ndim != 2:
        raise ValueError(f"cam must be one (H, W) map, got shape {cam.shape}; "
                         "pass gradcam_maps(...)[i] for image i.")
    picture = to_display(image)
    height, width = picture.shape[:2]
    fig, ax = _figure(ax, (3, 3))
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)  # pixel edges, as imshow draws the image
    heat = plt.get_cmap("jet")(np.clip(cam, 0.0, 1.0))
    heat[..., 3] = CAM_ALPHA * np.clip(cam, 0.0, 1.0)  # cold regions stay see-through
    ax.imshow(picture, extent=extent)
    ax.imshow(heat, extent=extent, interpolation="bilinear")
    for x0, y0, x1, y1 in boxes or []:
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                               edgecolor="white", linewidth=1.5, linestyle="--"))
    ax.set(xlim=(extent[0], extent[1]), ylim=(extent[2], extent[3]))
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def plot_step_trace(traces: Mapping[str, pd.DataFrame], layer: str = "fc1",
                    axes: Sequence[Axes] | None = None) -> Figure:
    """Runs' first steps (``trace_steps``' frames, {name: trace}): a layer's update-to-weight
    ratio per step on a log scale, with makemore's healthy 1e-3 dotted, and fc1's silent units."""
    if not traces:
        raise ValueError("plot_step_trace() got no runs: pass {name: trace_steps(...)}.")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, trace in traces.items():
        axes[0].plot(trace.index, trace[layer], marker=".", label=name)
        axes[1].plot(trace.index, trace["fc1_dead"], marker=".", label=name)
    axes[0].axhline(1e-3, color="gray", linestyle=":", label="about 1e-3 (makemore)")
    axes[0].set(yscale="log", xlabel="step", title=f"{layer}: std(update) / std(weight)")
    axes[1].set(xlabel="step", ylim=(-0.02, 1.02), title="fc1 units silent for the whole batch")
    axes[1].yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}"))
    axes[0].legend(fontsize="small")
    axes[0].figure.tight_layout()
    return axes[0].figure
