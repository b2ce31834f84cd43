"""Figures for explanations: a Grad-CAM map laid over its face, edited regions outlined.

Like every plot function of the series it returns the Figure and never calls savefig/show.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .plots import to_display

CAM_ALPHA = 0.45  # the face stays readable under the heat map


def plot_gradcam(image: Any, cam: np.ndarray, boxes: Sequence[tuple[int, int, int, int]] | None = None,
                 title: str | None = None, ax: Axes | None = None) -> Figure:
    """A Grad-CAM map (H, W) in [0, 1] over its image, with (x0, y0, x1, y1) boxes outlined.

    image: PIL, uint8 array or (3, H, W) tensor (normalised tensors are rescaled for display);
    a map of another size than the image is stretched over it. Boxes are in image pixels
    (e.g. demo.region_boxes(image_size) picked with explain.edited_boxes()).
    """
    cam = np.asarray(cam, dtype=float)
    if cam.ndim != 2:
        raise ValueError(f"cam must be one (H, W) map, got shape {cam.shape}; "
                         "pass gradcam_maps(...)[i] for image i.")
    picture = to_display(image)
    height, width = picture.shape[:2]
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)  # pixel centres, as imshow draws the image
    ax.imshow(picture, extent=extent)
    ax.imshow(cam, cmap="jet", alpha=CAM_ALPHA, vmin=0.0, vmax=1.0, extent=extent,
              interpolation="bilinear")
    for x0, y0, x1, y1 in boxes or []:
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                               edgecolor="white", linewidth=1.5, linestyle="--"))
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return ax.figure
