"""plot_gradcam: the map lies over its image, hot pixels opaque, boxes drawn, given axes used."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.patches import Rectangle

from fakeface_lib.plots import plot_gradcam


def test_map_over_image_with_boxes():
    image = np.full((32, 32, 3), 128, np.uint8)
    cam = np.zeros((8, 8))
    cam[0, 0] = 1.0
    fig = plot_gradcam(image, cam, boxes=[(0, 0, 8, 4), (10, 10, 20, 20)], title="fake")
    ax = fig.axes[0]
    assert len(ax.images) == 2, "the image, then the heat map"
    assert ax.images[1].get_extent() == ax.images[0].get_extent() == [-0.5, 31.5, 31.5, -0.5]
    heat = ax.images[1].get_array()
    assert heat.shape == (8, 8, 4) and heat[0, 0, 3] > 0.5 and heat[1, 1, 3] == 0.0, \
        "hot pixels opaque, cold ones transparent"
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert [(b.get_x(), b.get_y(), b.get_width(), b.get_height()) for b in boxes] == \
        [(-0.5, -0.5, 8, 4), (9.5, 9.5, 10, 10)]
    assert ax.get_title() == "fake"
    plt.close(fig)


def test_draws_into_given_axes_and_accepts_tensors():
    fig, axes = plt.subplots(1, 2)
    out = plot_gradcam(torch.randn(3, 16, 16), np.random.rand(16, 16), ax=axes[1])
    assert out is fig and len(axes[1].images) == 2 and len(axes[0].images) == 0
    assert not axes[1].patches
    plt.close(fig)


def test_a_batch_of_maps_is_refused():
    with pytest.raises(ValueError, match="gradcam_maps"):
        plot_gradcam(np.zeros((16, 16, 3), np.uint8), np.zeros((2, 16, 16)))
