"""Region patches: labels from the codes, boxes cut at full resolution, the patch net, and image
scores pooled from patches in predict's format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from fakeface_lib import REGIONS
from fakeface_lib.config import TrainConfig
from fakeface_lib.evaluation.metrics import by_difficulty, by_region, compute_metrics
from fakeface_lib.evaluation.predictions import predict
from fakeface_lib.training.identity import preprocessing_identity
from fakeface_lib.data.loaders import make_loaders
from fakeface_lib.experiments.patches import (
    PatchDataset, PatchNet, PatchPreprocessing, choose_pooling, image_predictions,
    make_patch_loaders, patch_labels, pool_patch_probs, predict_images, read_patches,
    thresholds_from_half, window_origin,
)
from fakeface_lib.data.regions import REGION_BOXES
from fakeface_lib.data.splitting import split_dataset
from fakeface_lib.training.fit import fit

COLOURS = {"left_eye": (250, 0, 0), "right_eye": (0, 250, 0), "nose": (0, 0, 250),
           "mouth": (250, 250, 0)}


@pytest.fixture(scope="module")
def demo_split(demo_root):
    from fakeface_lib.data.index import index_dataset

    return split_dataset(index_dataset(demo_root))


def test_patch_labels_follow_the_codes():
    frame = pd.DataFrame({"label": [1, 0, 0], "left_eye": [False, True, pd.NA],
                          "right_eye": [False, False, pd.NA], "nose": [False, True, pd.NA],
                          "mouth": [False, False, pd.NA]})
    expected = [[1, 1, 1, 1], [0, 1, 0, 1], [-1, -1, -1, -1]]  # real; code 1010; unknown code
    assert patch_labels(frame).tolist() == expected
    assert patch_labels(frame, ("mouth", "left_eye")).tolist() == [[1, 1], [1, 0], [-1, -1]]


def test_read_patches_cuts_each_box_at_full_resolution(tmp_path):
    size = 300
    pixels = np.full((size, size, 3), 128, np.uint8)
    for region, (x0, y0, x1, y1) in REGION_BOXES.items():  # paint each box's middle third
        cx0, cx1 = round(size * (2 * x0 + x1) / 3), round(size * (x0 + 2 * x1) / 3)
        cy0, cy1 = round(size * (2 * y0 + y1) / 3), round(size * (y0 + 2 * y1) / 3)
        pixels[cy0:cy1, cx0:cx1] = COLOURS[region]
    x0, y0 = round(size * REGION_BOXES["left_eye"][0]), round(size * REGION_BOXES["left_eye"][1])
    pixels[y0 + 1:y0 + 9, x0 + 1:x0 + 9] = (np.indices((8, 8)).sum(0) % 2 * 255)[..., None]
    path = tmp_path / "face.png"
    Image.fromarray(pixels).save(path)
    patches = read_patches(path, 84)  # 84 px squares of the file's pixels around each box
    assert patches.shape == (4, 3, 84, 84) and patches.dtype == np.uint8
    for j, region in enumerate(REGIONS):
        assert tuple(patches[j, :, 42, 42]) == COLOURS[region]
    left, top = window_origin(REGION_BOXES["left_eye"], 84, size, size)
    checker = patches[0, 0, y0 + 3 - top, x0 + 1 - left:x0 + 9 - left].astype(int)  # 1 px checkerboard
    assert np.abs(np.diff(checker)).min() > 100  # still 1 px stripes: cut at full resolution
    assert np.array_equal(patches[0], pixels[top:top + 84, left:left + 84].transpose(2, 0, 1))
    assert torch.equal(PatchPreprocessing(84).load(path), torch.from_numpy(patches))


def test_patch_dataset_one_sample_per_known_patch(demo_split):
    frame = demo_split[demo_split["split"] == "val"]
    dataset = PatchDataset(frame, PatchPreprocessing(16), batched_transform=True)
    known = patch_labels(frame) != -1
    assert len(dataset) == known.sum() and dataset.images.shape == (len(frame), 4, 3, 16, 16)
    fake = int(np.flatnonzero(frame["label"].to_numpy() == 0)[0])
    code = frame["code"].iloc[fake]
    rows = [k for k, (i, _) in enumerate(dataset.index) if i == fake]
    assert [dataset.labels[k] for k in rows] == [0 if d == "1" else 1 for d in code]
    batch = dataset.__getitems__(rows)  # the batched transform gives what one sample gives
    assert batch.images.dtype == torch.float32 and batch.images.shape == (len(rows), 3, 16, 16)
    assert torch.equal(batch.images[0], dataset[rows[0]][0])
    assert batch.labels.tolist() == [dataset.labels[k] for k in rows]


def test_pooling_and_choice_by_validation():
    probs = np.array([[0.1, 0.9, 0.2, 0.2], [0.3, 0.3, 0.3, 0.3], [0.6, 0.7, 0.6, 0.6]])
    assert pool_patch_probs(probs, "max").tolist() == [0.9, 0.3, 0.7]
    assert np.allclose(pool_patch_probs(probs, "mean"), [0.35, 0.3, 0.625])
    frame = pd.DataFrame({"filename": ["a", "b", "c"], "label": [0, 1, 0]})
    preds = image_predictions(probs, frame, "max")
    assert preds["pred"].tolist() == [0, 1, 0] and preds["correct"].all()
    assert np.allclose(preds["prob_real"], 1 - preds["prob_fake"])
    assert choose_pooling(probs, frame)[:2] == ("max", 0.5)  # mean misses a's one edited eye
    smooth = pd.DataFrame({"filename": ["a", "b", "c"], "label": [1, 1, 0]})
    assert choose_pooling(probs, smooth)[:2] == ("mean", 0.5)  # one noisy patch is no fake
    with pytest.raises(ValueError, match="pooling"):
        pool_patch_probs(probs, "median")


def test_threshold_chosen_on_validation_keeps_the_ranking():
    # Max pooling runs high: every image scores >= 0.6, the fakes >= 0.8.
    probs = np.array([[0.2, 0.9, 0.1, 0.1], [0.8, 0.3, 0.2, 0.2], [0.6, 0.3, 0.2, 0.1],
                      [0.7, 0.5, 0.4, 0.2]])
    frame = pd.DataFrame({"filename": list("abcd"), "label": [0, 0, 1, 1]})
    assert compute_metrics(image_predictions(probs, frame, "max"))["accuracy"] == 0.5
    thresholds = thresholds_from_half()
    assert thresholds[:3] == (0.5, 0.45, 0.55) and len(thresholds) == 19 and max(thresholds) < 1
    pooling, threshold, scores = choose_pooling(probs, frame, ("max",), thresholds)
    assert pooling == "max" and threshold == 0.75  # the first of 0.75 and 0.8 that split them
    assert scores["max@0.75"] == (1.0, 1.0) and scores["max@0.5"] == (0.5, 1.0)
    preds = image_predictions(probs, frame, "max", threshold)
    assert preds["correct"].all()
    assert preds.loc[1, "prob_fake"] > 0.5 > preds.loc[3, "prob_fake"]  # 0.8 -> fake, 0.7 -> real
    plain = image_predictions(probs, frame, "max")
    assert (np.argsort(preds["prob_fake"]) == np.argsort(plain["prob_fake"])).all()
    assert np.allclose(plain["prob_fake"], [0.9, 0.8, 0.6, 0.7])  # at 0.5: the pooled scores
    with pytest.raises(ValueError, match="threshold"):
        image_predictions(probs, frame, "max", 1.0)


def test_patch_net_takes_any_patch_size():
    torch.manual_seed(0)
    model = PatchNet(width=8)
    for size in (16, 33, 64):
        assert model(torch.randn(2, 3, size, size)).shape == (2, 2)
    model(torch.randn(4, 3, 16, 16)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert model.cam_layer is model.features[8]


def test_trained_patch_net_detects_demo_fakes_by_their_regions(demo_split):
    loaders = make_patch_loaders(demo_split, batch_size=32, patch_size=24, augment="flip", seed=0)
    identity = preprocessing_identity(loaders)["train"]["preprocessing"]
    assert identity["patch_size"] == 24 and len(identity["boxes"]) == 4
    torch.manual_seed(0)
    model = PatchNet(width=8)
    history = fit(model, loaders, TrainConfig(num_epochs=2, lr=3e-3), device="cpu",
                  progress=False)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    test = loaders["test"].dataset
    preds = predict_images(model, test, "max")
    assert compute_metrics(preds)["accuracy"] > 0.8
    assert set(by_region(preds).index) == set(REGIONS) and len(by_difficulty(preds)) >= 2
    # the same images, columns and order as predict gives for whole images
    whole = predict(PatchNet(width=4), make_loaders(demo_split, image_size=32)["test"])
    assert list(preds.columns) == list(whole.columns)
    assert preds["filename"].tolist() == whole["filename"].tolist()
    flipped = predict_images(model, test, "max", tta=True)
    assert not np.allclose(flipped["prob_fake"], preds["prob_fake"])
