"""Grad-CAM maps, attention on edited regions, one-image prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

from fakeface_lib.evaluation.explanations import (
    attention_on_regions, box_mask, default_cam_layer, gradcam_maps, predict_image,
)
from fakeface_lib.data.regions import edited_boxes
from fakeface_lib.data.loaders import FaceDataset
from fakeface_lib.data.preprocessing import Preprocessing, image_to_array
from fakeface_lib.data.transforms import IMAGENET_MEAN, IMAGENET_STD


def tiny_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, padding=1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))


def test_default_cam_layer_is_last_conv():
    model = tiny_cnn()
    assert default_cam_layer(model) is model[2]
    with pytest.raises(ValueError, match="Conv2d"):
        default_cam_layer(nn.Sequential(nn.Flatten(), nn.Linear(3, 2)))


def test_gradcam_maps_shape_range_and_mode_restored():
    model = tiny_cnn().train()
    maps = gradcam_maps(model, torch.randn(3, 3, 32, 32))
    assert maps.shape == (3, 32, 32)
    assert maps.min() >= 0 and maps.max() <= 1 + 1e-6
    assert model.training, "gradcam_maps must give the model back in the mode it found it"
    with pytest.raises(ValueError, match="batch"):
        gradcam_maps(model, torch.randn(3, 32, 32))


def test_gradcam_follows_the_evidence():
    # Channel 0 sees red, channel 1 green; the "fake" logit sums channel 0 only. A red blob
    # top-left and a green blob bottom-right: the map must light the red one alone.
    model = nn.Sequential(nn.Conv2d(3, 2, 1, bias=False), nn.Flatten(), nn.Linear(2 * 16 * 16, 2, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).view(2, 3, 1, 1))
        weights = torch.zeros(2, 2, 16, 16)
        weights[0, 0] = 1.0
        model[2].weight.copy_(weights.flatten(1))
    image = torch.zeros(1, 3, 16, 16)
    image[0, 0, :8, :8] = 1.0
    image[0, 1, 8:, 8:] = 1.0
    cam = gradcam_maps(model, image, target_layer=model[0])[0]
    assert cam[:8, :8].mean() > 0.9 and cam[8:, 8:].max() < 0.1


def test_attention_on_regions_hand_made():
    cam = np.zeros((10, 10))
    cam[0:2, 0:5] = 1.0
    inside = attention_on_regions(cam, [(0, 0, 5, 2)])
    assert inside == {"mass": 1.0, "area": 0.1, "peak_inside": 1.0}
    outside = attention_on_regions(cam, [(5, 5, 10, 10)])
    assert outside["mass"] == 0.0 and outside["area"] == 0.25 and outside["peak_inside"] == 0.0


def test_box_mask_and_edited_boxes():
    boxes = {"left_eye": (0, 0, 2, 2), "right_eye": (2, 0, 4, 2), "nose": (1, 2, 3, 3), "mouth": (1, 3, 3, 4)}
    row = pd.Series({"left_eye": True, "right_eye": False, "nose": pd.NA, "mouth": True})
    assert edited_boxes(row, boxes) == [boxes["left_eye"], boxes["mouth"]]
    assert box_mask(edited_boxes(row, boxes), (4, 4)).sum() == 4 + 2


def test_predict_image_from_path_and_pil(tmp_path):
    model = tiny_cnn()
    path = tmp_path / "face.png"
    Image.fromarray(np.full((40, 50, 3), 120, np.uint8)).save(path)
    from_path = predict_image(model, path, image_size=32)
    from_pil = predict_image(model, Image.open(path).convert("L"), image_size=32, with_cam=False)
    assert from_path["prob_fake"] + from_path["prob_real"] == pytest.approx(1.0)
    assert from_path["pred"] in ("training_fake", "training_real")
    assert from_path["cam"].shape == (32, 32) and from_path["image"].shape == (32, 32, 3)
    assert from_pil["prob_fake"] == pytest.approx(from_path["prob_fake"], abs=1e-5)


def test_predict_image_bad_input_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        predict_image(tiny_cnn(), tmp_path / "nope.jpg")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="bad.jpg"):
        predict_image(tiny_cnn(), bad)


def test_predict_image_crops_as_the_loaders_do(tmp_path):
    from fakeface_lib.data.preprocessing import load_image as load_cached

    pixels = np.zeros((60, 60, 3), np.uint8)
    pixels[:30, :30] = (200, 40, 40)  # the top-left quarter: the crop below
    path = tmp_path / "face.png"
    Image.fromarray(pixels).save(path)
    box = (0.0, 0.0, 0.5, 0.5)
    cropped = predict_image(tiny_cnn(), path, image_size=32, with_cam=False, crop=box)
    expected = load_cached(path, 32, box).permute(1, 2, 0).numpy()
    assert np.array_equal(cropped["image"], expected)
    assert (cropped["image"][..., 0] > 150).all()
    with pytest.raises(ValueError, match="Unknown crop"):
        predict_image(tiny_cnn(), path, crop="eyes")


def dataset_jpeg(path) -> None:
    """A 600x600 JPEG like the dataset's (draft mode decodes it at a reduced scale)."""
    small = np.random.default_rng(0).integers(0, 256, (12, 12, 3), dtype=np.uint8)
    Image.fromarray(small).resize((600, 600), Image.BICUBIC).save(path, quality=90)


def model_input(preprocessing: Preprocessing | None, image, **kwargs) -> tuple[torch.Tensor, dict]:
    """The batch predict_image feeds the model, and its result."""
    seen = []
    model = tiny_cnn()
    model.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    result = predict_image(model, image, preprocessing=preprocessing, with_cam=False, **kwargs)
    return seen[0], result


@pytest.mark.parametrize("preprocessing", [
    Preprocessing(),
    Preprocessing(image_size=64, crop="face", mean=IMAGENET_MEAN, std=IMAGENET_STD),
])
def test_predict_image_sees_exactly_what_the_cache_holds(tmp_path, preprocessing):
    path = tmp_path / "real_00001.jpg"
    dataset_jpeg(path)
    cached = FaceDataset(pd.DataFrame({"path": [str(path)], "label": [1]}),
                         preprocessing=preprocessing).images
    x, result = model_input(preprocessing, path)
    assert torch.equal(x, preprocessing.transform()(cached))
    assert np.array_equal(result["image"], cached[0].permute(1, 2, 0).numpy())
    with Image.open(path) as img:  # what predict_image used to do: a full decode and resize
        full = image_to_array(img.convert("RGB"), preprocessing.image_size, preprocessing.crop)
    assert not np.array_equal(full, cached[0].numpy())


def test_predict_image_keeps_its_separate_arguments(tmp_path):
    path = tmp_path / "real_00001.jpg"
    dataset_jpeg(path)
    p = Preprocessing(image_size=64, crop="face")
    x, _ = model_input(None, path, image_size=64, crop="face")
    assert torch.equal(x, p.tensor(path).unsqueeze(0))
    with pytest.raises(ValueError, match="image_size.*given beside preprocessing"):
        predict_image(tiny_cnn(), path, preprocessing=p, image_size=128)


def test_predict_image_of_a_pil_image_takes_the_full_decode(tmp_path):
    path = tmp_path / "real_00001.jpg"
    dataset_jpeg(path)
    p = Preprocessing(image_size=64)
    with Image.open(path) as img:
        x, result = model_input(p, img)
        expected = torch.from_numpy(image_to_array(img.convert("RGB"), 64))
    assert np.array_equal(result["image"], expected.permute(1, 2, 0).numpy())
    assert torch.equal(x, p.transform()(expected).unsqueeze(0))

