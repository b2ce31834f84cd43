"""Grad-CAM maps (and notebook 05's by hand), attention on edited regions against fair
baselines, one-image prediction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

from fakeface_lib.evaluation.explanations import (
    attention_baselines, attention_on_regions, box_mask, default_cam_layer, edited_regions,
    gradcam_maps, lift_reading, map_similarity, predict_image, region_shares,
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



BOXES = {"left_eye": (2, 4, 6, 8), "right_eye": (10, 4, 14, 8), "nose": (6, 8, 10, 12),
         "mouth": (5, 12, 11, 15)}  # on a 16 x 16 frame, as region_boxes lays them out


def test_region_shares_hand_made():
    cams = np.zeros((2, 16, 16))
    cams[0, 4:8, 2:6] = 1.0  # all of it on the left eye
    shares = region_shares(cams, BOXES)  # the second map holds no evidence
    assert list(shares.columns) == list(BOXES)
    assert shares.iloc[0].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert shares.iloc[1].isna().all()


def _faces(n: int, seed: int) -> tuple[np.ndarray, pd.DataFrame]:
    """n fakes, each with one edited region drawn at random, as file names mark them."""
    rng = np.random.default_rng(seed)
    picked = rng.integers(0, 4, n)
    edited = pd.DataFrame({name: picked == i for i, name in enumerate(BOXES)})
    return rng, edited


def test_a_face_centred_map_beats_the_frame_but_not_the_fair_baselines():
    # The same blob on the middle of every face, fake or real, whatever was edited: the old
    # yardstick (share of the frame) calls it attention to the edits; the fair baselines give 1x.
    y, x = np.mgrid[:16, :16]
    blob = np.exp(-((x - 8) ** 2 + (y - 10) ** 2) / 8.0)
    _, edited = _faces(40, seed=1)
    fakes = np.repeat(blob[None], 40, axis=0)
    reals = np.repeat(blob[None], 30, axis=0)
    old = np.mean([attention_on_regions(cam, [BOXES[r] for r in BOXES if row[r]])["mass"]
                   / attention_on_regions(cam, [BOXES[r] for r in BOXES if row[r]])["area"]
                   for cam, (_, row) in zip(fakes, edited.iterrows())])
    assert old > 1.5
    result = attention_baselines(region_shares(fakes, BOXES), edited, region_shares(reals, BOXES), n_boot=200)
    for name in ("lift_edited", "lift_unedited", "edited_vs_unedited"):
        for key in (name, f"{name}_low", f"{name}_high"):
            assert result[key] == pytest.approx(1.0)
    wide = {"edited_vs_unedited": 1.1, "edited_vs_unedited_low": 0.9, "edited_vs_unedited_high": 1.3}
    assert lift_reading(wide) == "1.10x (95% interval 0.90 to 1.30: not distinguishable from 1)"


def test_a_map_on_the_edits_lifts_them_against_both_baselines():
    rng, edited = _faces(60, seed=2)
    fakes = rng.random((60, 16, 16)) * 0.2
    for cam, (_, row) in zip(fakes, edited.iterrows()):
        for name in BOXES:
            if row[name]:
                x0, y0, x1, y1 = BOXES[name]
                cam[y0:y1, x0:x1] += 1.0
    reals = rng.random((50, 16, 16)) * 0.2
    result = attention_baselines(region_shares(fakes, BOXES), edited, region_shares(reals, BOXES),
                                 n_boot=300, seed=0)
    assert result["lift_edited_low"] > 1 and result["edited_vs_unedited_low"] > 1
    assert result["lift_unedited"] < 1  # the share the edits take comes from elsewhere
    assert result["fakes"] == 60 and result["real_faces"] == 50 and result["no_evidence"] == 0
    assert "above 1" in lift_reading(result)
    # Maps without evidence are left out and counted; with nothing left, every figure is NaN.
    blank = attention_baselines(region_shares(np.zeros((3, 16, 16)), BOXES), edited.head(3),
                                region_shares(reals, BOXES))
    assert blank["no_evidence"] == 3 and np.isnan(blank["lift_edited"])
    assert lift_reading(blank).startswith("not measurable")
    corners = np.zeros((5, 16, 16))
    corners[:, 0, 0] = 1.0  # real faces whose evidence lies outside every box: no lift to speak of
    outside = attention_baselines(region_shares(fakes, BOXES), edited, region_shares(corners, BOXES), n_boot=50)
    assert lift_reading(outside, "lift_edited").startswith("not measurable")
    few = attention_baselines(region_shares(fakes[:3], BOXES), edited.head(3), region_shares(reals, BOXES))
    assert np.isfinite(few["lift_edited"]) and np.isnan(few["lift_edited_low"])  # 3 faces: no interval
    assert "no interval" in lift_reading(few, "lift_edited")


def test_map_similarity_is_the_mean_rank_correlation():
    rng = np.random.default_rng(0)
    maps = rng.random((3, 8, 8))
    assert map_similarity(maps, maps * 2 + 1) == pytest.approx(1.0)  # same order, other scale
    assert map_similarity(maps, -maps + 1) == pytest.approx(-1.0)
    assert np.isnan(map_similarity(np.zeros((2, 8, 8)), maps[:2]))  # no evidence: nothing to compare


def test_edited_regions_reads_the_codes_of_the_file_names():
    frame = pd.DataFrame({"left_eye": [True, pd.NA], "right_eye": [False, pd.NA], "nose": [pd.NA, pd.NA],
                          "mouth": [True, pd.NA], "label": [0, 1]})
    regions = edited_regions(frame)
    assert regions.dtypes.eq(bool).all()
    assert regions.to_numpy().tolist() == [[True, False, False, True], [False] * 4]


NOTEBOOK_05 = Path(__file__).resolve().parents[1] / "notebooks" / "05_results_and_explanations.ipynb"


def test_notebook_05s_gradcam_by_hand_is_pytorch_grad_cams():
    """Notebook 05 writes Grad-CAM out with a forward hook; it must give the maintained package's maps."""
    import nbformat
    import torch.nn.functional as F

    from fakeface_lib.models.cnn import Model1

    cell = next(c for c in nbformat.read(NOTEBOOK_05, as_version=4).cells if c.get("id") == "gradcam-by-hand")
    namespace = {"torch": torch, "F": F}
    exec(cell.source, namespace)
    assert "pytorch_grad_cam" not in cell.source and "gradcam_maps" not in cell.source
    torch.manual_seed(0)
    model = Model1()
    images = torch.randn(4, 3, 128, 128)
    for target in (0, 1):
        by_hand = namespace["gradcam_by_hand"](model, images, target_class=target)
        library = gradcam_maps(model, images, target_class=target)
        assert by_hand.shape == library.shape == (4, 128, 128)
        assert np.abs(by_hand - library).max() < 1e-4
        assert by_hand.max() > 0.99  # maps that hold evidence, so the comparison means something
