"""Region boxes on the face, the face crop around them, and the boxes a fake's name marks."""

from __future__ import annotations

import pandas as pd

from fakeface_lib import REGIONS
from fakeface_lib.data.regions import FACE_CROP, REGION_BOXES, edited_boxes, region_boxes


def test_region_boxes_geometry():
    boxes = region_boxes(128)
    assert list(boxes) == list(REGIONS) and boxes.keys() == REGION_BOXES.keys()
    for x0, y0, x1, y1 in boxes.values():
        assert 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 128
    centre = {k: ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for k, b in boxes.items()}
    assert centre["left_eye"][0] < 64 < centre["right_eye"][0]  # "left" = the image's left
    assert centre["left_eye"][1] < centre["nose"][1] < centre["mouth"][1]
    big = region_boxes(256)
    assert all(abs(a - 2 * b) <= 1 for k in boxes for a, b in zip(big[k], boxes[k]))


def test_face_crop_is_a_square_around_every_region():
    x0, y0, x1, y1 = FACE_CROP
    assert abs((x1 - x0) - (y1 - y0)) < 1e-9
    for bx0, by0, bx1, by1 in REGION_BOXES.values():
        assert x0 < bx0 and y0 < by0 and bx1 < x1 and by1 < y1


def test_edited_boxes_follow_the_code():
    boxes = {"left_eye": (0, 0, 2, 2), "right_eye": (2, 0, 4, 2), "nose": (1, 2, 3, 3),
             "mouth": (1, 3, 3, 4)}
    row = pd.Series({"left_eye": True, "right_eye": False, "nose": pd.NA, "mouth": True})
    assert edited_boxes(row, boxes) == [boxes["left_eye"], boxes["mouth"]]
    real = pd.Series({region: False for region in REGIONS})
    assert edited_boxes(real, boxes) == []
    assert edited_boxes(pd.Series({"filename": "real_00001.jpg"}), boxes) == []
