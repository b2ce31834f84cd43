"""Where the four regions a fake's code names (eyes, nose, mouth) sit on a face image: their
boxes as fractions and in pixels, the face crop around them, and the boxes one fake's name marks.
"""

from __future__ import annotations

import pandas as pd

from fakeface_lib.config import REGIONS

Box = tuple[int, int, int, int]

# Approximate edited-region boxes as fractions (x0, y0, x1, y1) of the image frame. Centred on
# the mean face of the Kaggle set (eye centres x 0.37 / 0.60, y 0.48; nose tip y 0.60; mouth
# y 0.79) and generous, because faces there move by about +-10 % of the frame; the eye boxes
# take in the brows. "left_eye" is the eye on the image's left (the person's right eye): the
# Kaggle fakes coded 1000 have their image-left eye edited (checked by eye and by colour).
# The demo faces are drawn around the same boxes (fakeface_lib.data.demo).
REGION_BOXES: dict[str, tuple[float, float, float, float]] = {
    "left_eye": (0.22, 0.36, 0.50, 0.57),
    "right_eye": (0.50, 0.36, 0.78, 0.57),
    "nose": (0.38, 0.50, 0.62, 0.72),
    "mouth": (0.30, 0.70, 0.70, 0.89),
}
# The square around the four region boxes, with a margin: (x0, y0, x1, y1) as fractions of the
# width and height. Cropping to it drops hair, ears and background and spends the pixels of a
# small input on the edited parts (crop="face" of the loaders and of Preprocessing).
FACE_CROP = (0.14, 0.26, 0.86, 0.98)


def region_boxes(image_size: int = 128) -> dict[str, Box]:
    """Pixel boxes (x0, y0, x1, y1) of the four code regions on a square image of this size.

    Approximate for the Kaggle photographs (faces are roughly centred and frontal); exact
    up to a few pixels of pose jitter for the demo faces. For the uncropped image.
    """
    return {name: tuple(round(v * image_size) for v in box) for name, box in REGION_BOXES.items()}


def edited_boxes(row: pd.Series, boxes: dict[str, Box]) -> list[Box]:
    """The boxes of the regions a fake's file name says were edited (none for real images)."""
    return [boxes[r] for r in REGIONS if r in row and pd.notna(row[r]) and bool(row[r])]
