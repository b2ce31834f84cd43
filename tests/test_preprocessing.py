"""Preprocessing: decoding like the cache, canonical settings, dict round trips, validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from fakeface_lib.data.regions import FACE_CROP
from fakeface_lib.data.preprocessing import Preprocessing, as_preprocessing, image_to_array, load_image
from fakeface_lib.data.transforms import IMAGENET_MEAN, IMAGENET_STD, eval_transform

SIZE = 32


def scene(seed: int, size: int = 48) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.BICUBIC)


@pytest.fixture
def jpeg(tmp_path):
    """A 600x600 JPEG, like the dataset's: draft mode decodes it at a reduced scale."""
    path = tmp_path / "face.jpg"
    scene(3, 600).save(path, quality=90)
    return path


def test_defaults_are_the_reports():
    p = Preprocessing()
    assert (p.image_size, p.crop, p.mean, p.std) == (128, None, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def test_settings_are_stored_canonically():
    face = Preprocessing(crop="face")
    assert face.crop == FACE_CROP
    assert face == Preprocessing(crop=list(FACE_CROP)) == Preprocessing(crop=FACE_CROP)
    p = Preprocessing(image_size=np.int64(64), mean=[0, 0, 0], std=np.array([1, 1, 1]))
    assert p.image_size == 64 and type(p.image_size) is int
    assert p.mean == (0.0, 0.0, 0.0) and all(type(v) is float for v in p.mean + p.std)
    assert len({face, Preprocessing(crop=FACE_CROP), Preprocessing()}) == 2  # hashable


def test_to_dict_is_plain_json_and_round_trips():
    p = Preprocessing(image_size=224, crop="face", mean=IMAGENET_MEAN, std=IMAGENET_STD)
    d = p.to_dict()
    assert list(d) == ["image_size", "crop", "mean", "std"]
    assert d == {"image_size": 224, "crop": list(FACE_CROP), "mean": list(IMAGENET_MEAN),
                 "std": list(IMAGENET_STD)}
    assert Preprocessing.from_dict(json.loads(json.dumps(d))) == p
    assert Preprocessing().to_dict()["crop"] is None
    assert Preprocessing.from_dict({"image_size": 64}) == Preprocessing(image_size=64)
    with pytest.raises(ValueError, match="resize"):
        Preprocessing.from_dict({**d, "resize": "bicubic"})


@pytest.mark.parametrize("kwargs, message", [
    ({"image_size": 4}, "image_size must be an int >= 8"),
    ({"image_size": True}, "image_size must be an int"),
    ({"image_size": 64.0}, "image_size must be an int"),
    ({"crop": "eyes"}, "Unknown crop 'eyes'"),
    ({"crop": (0.5, 0.2, 0.4, 0.9)}, "not a box inside the image"),
    ({"mean": (0.5,)}, "3 each"),
    ({"std": (0.5, 0.0, 0.5)}, "std values must be > 0"),
])
def test_bad_settings_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Preprocessing(**kwargs)


def test_load_decodes_a_path_as_the_cache_does(jpeg):
    p = Preprocessing(image_size=SIZE, crop="face")
    pixels = p.load(jpeg)
    assert pixels.dtype == torch.uint8 and pixels.shape == (3, SIZE, SIZE)
    assert torch.equal(pixels, load_image(jpeg, SIZE, FACE_CROP))
    assert torch.equal(p.load(str(jpeg)), pixels)
    assert torch.equal(p.tensor(jpeg), eval_transform()(pixels))
    with Image.open(jpeg) as img:  # the full-size decode of a PIL image differs a little
        full = torch.from_numpy(image_to_array(img.convert("RGB"), SIZE, FACE_CROP))
    assert not torch.equal(full, pixels) and (full.float() - pixels.float()).abs().mean() < 8


def test_load_takes_a_pil_image_through_the_same_crop_and_resize(jpeg):
    p = Preprocessing(image_size=SIZE, crop=(0.0, 0.0, 0.5, 0.5))
    with Image.open(jpeg) as img:
        image = img.convert("L")
        expected = image_to_array(image.convert("RGB"), SIZE, (0.0, 0.0, 0.5, 0.5))
    pixels = p.load(image)
    assert pixels.shape == (3, SIZE, SIZE) and torch.equal(pixels, torch.from_numpy(expected))


def test_transform_uses_the_statistics():
    p = Preprocessing(mean=IMAGENET_MEAN, std=IMAGENET_STD)
    image = torch.full((3, 8, 8), 255, dtype=torch.uint8)
    out = p.transform()(image)
    expected = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    assert torch.allclose(out[:, 0, 0], expected)
    assert image.dtype == torch.uint8 and (image == 255).all()  # the input is left alone


def test_as_preprocessing_takes_one_or_the_other():
    assert as_preprocessing(None, image_size=64, crop=None) == Preprocessing(image_size=64)
    p = Preprocessing(image_size=64, crop="face")
    assert as_preprocessing(p) is p
    assert as_preprocessing(p, image_size=None, crop=None) is p  # None: not given
    with pytest.raises(ValueError, match=r"\['crop', 'image_size'\] given beside preprocessing"):
        as_preprocessing(p, image_size=64, crop="face")  # both, even agreeing
    with pytest.raises(ValueError, match=r"\['image_size'\] given beside"):
        as_preprocessing(p, image_size=128)
    with pytest.raises(TypeError, match="from_dict"):
        as_preprocessing(p.to_dict())


def test_odd_modes_load_as_rgb(tmp_path):
    base = scene(1, 40)
    cases = {"gray.jpg": ("L", "JPEG"), "alpha.png": ("RGBA", "PNG"), "cmyk.jpg": ("CMYK", "JPEG"),
             "pal.png": ("P", "PNG"), "png_named.jpg": ("RGB", "PNG")}
    for name, (mode, fmt) in cases.items():
        base.convert(mode).save(tmp_path / name, format=fmt)
        image = load_image(tmp_path / name, 16)
        assert image.shape == (3, 16, 16) and image.dtype == torch.uint8
    gray = load_image(tmp_path / "gray.jpg", 16)
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])


def test_draft_decode_is_close_to_a_full_decode(tmp_path):
    scene(7, 256).save(tmp_path / "big.jpg", quality=95)
    fast = load_image(tmp_path / "big.jpg", SIZE).float()
    with Image.open(tmp_path / "big.jpg") as img:
        full = np.asarray(img.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BILINEAR))
    full = torch.from_numpy(full.copy()).permute(2, 0, 1).float()
    assert (fast - full).abs().mean() < 3  # grey levels out of 255


def test_crop_cuts_the_box_before_the_resize(tmp_path):
    # Four flat quadrants: a crop of the top-left quarter must come out all one colour.
    quadrants = np.zeros((200, 200, 3), dtype=np.uint8)
    quadrants[:100, :100] = (200, 30, 30)
    quadrants[:100, 100:] = (30, 200, 30)
    quadrants[100:, :100] = (30, 30, 200)
    Image.fromarray(quadrants).save(tmp_path / "q.png")
    whole = load_image(tmp_path / "q.png", SIZE).float()
    corner = load_image(tmp_path / "q.png", SIZE, crop=(0.0, 0.0, 0.5, 0.5)).float()
    assert corner.shape == whole.shape == (3, SIZE, SIZE)
    assert torch.allclose(corner[:, 1:-1, 1:-1], torch.tensor([200.0, 30, 30]).view(3, 1, 1), atol=2)
    assert whole[2, -4:, :4].mean() > 150  # the uncropped image still holds the blue quadrant
