"""The generated offline demo dataset: drawn faces, and fakes spliced the way the real ones were.

Same layout and names as the Kaggle set (training_real/real_00001.jpg, training_fake/
{easy|mid|hard}_{id}_{code}.jpg), so every notebook runs here without a download. The faces
are drawn around the region boxes of ``fakeface_lib.data.regions``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from fakeface_lib.config import CLASS_NAMES, REGIONS
from fakeface_lib.data.regions import REGION_BOXES

DEMO_VERSION = 2  # bump when the pictures change, so old stamps no longer match
STAMP_NAME = ".demo.json"  # hidden: index_dataset skips it
JPEG_QUALITY = 90

# How often each code occurs among the Kaggle fakes of each difficulty; the demo draws alike.
CODE_COUNTS: dict[str, dict[str, int]] = {
    "easy": {"0011": 42, "1111": 39, "1110": 26, "1100": 26, "0001": 20, "0010": 17, "1000": 11,
             "0111": 10, "1010": 9, "0110": 8, "0101": 8, "1101": 7, "1001": 7, "1011": 6,
             "0100": 3},
    "mid": {"1111": 213, "1100": 58, "0011": 53, "1110": 47, "1101": 45, "0001": 13, "0111": 10,
            "1011": 8, "0010": 8, "0101": 7, "1010": 4, "1001": 4, "1000": 4, "0110": 3,
            "0100": 3},
    "hard": {"1111": 67, "1100": 34, "0011": 33, "1101": 22, "1110": 14, "0100": 11, "0001": 10,
             "1001": 8, "1000": 8, "0111": 8, "1011": 7, "0010": 7, "0110": 4, "0101": 4,
             "1010": 3},
}
# Splice flaws per difficulty: colour matched to the face (0 none .. 1 full), a cool colour
# cast (the Kaggle fakes' edited eyes are on average bluer and less saturated than the other
# eye), a lighter brightness step, per-channel gain, resampling factor, misalignment
# (fraction of the box) and edge feather (pixels at 128 px; 0 = hard-edged rectangle).
# Far cruder than the Kaggle edits on purpose: the report's Model 1 must reach 90 % validation
# accuracy within 5 epochs on a CPU (tests/test_demo.py). Its first Adam steps kill most of its
# hidden units, and with subtler flaws (or more varied backgrounds and hair) it learns too slowly.
SPLICE = {
    "easy": dict(match=0.0, cast=(70, 90), step=(25, 40), gain=0.10, resample=0.40,
                 shift=0.12, feather=0.0),
    "mid": dict(match=0.5, cast=(55, 70), step=(18, 28), gain=0.06, resample=0.45,
                shift=0.07, feather=1.0),
    "hard": dict(match=1.0, cast=(40, 50), step=(10, 18), gain=0.03, resample=0.50,
                 shift=0.04, feather=2.0),
}
_COOL = np.array([-1.0, -0.3, 1.0])  # direction of the cast in RGB
_SKIN = np.array([[238, 202, 170], [229, 181, 145], [217, 165, 123], [199, 139, 99],
                  [173, 116, 82], [138, 95, 67], [222, 178, 153]], dtype=float)
_HAIR = np.array([[20, 16, 14], [60, 40, 28], [110, 76, 46], [190, 150, 90], [150, 60, 30],
                  [120, 120, 120]], dtype=float)
_IRIS = np.array([[70, 45, 25], [110, 75, 40], [60, 110, 160], [80, 120, 80], [110, 110, 110]],
                 dtype=float)
_SUPERSAMPLE = 2


def _pick(rng: np.random.Generator, table: np.ndarray) -> np.ndarray:
    """One colour of ``table``, varied a little."""
    return np.clip(table[rng.integers(len(table))] + rng.normal(0, 10, 3), 0, 255)


def _rgb(colour: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in colour)


def _sample_face(rng: np.random.Generator) -> dict:
    """Random looks and pose of one face (colours 0-255, positions as fractions)."""
    return {  # muted backgrounds and clothes: what varies should mostly be the face
        "skin": _pick(rng, _SKIN), "hair": _pick(rng, _HAIR), "iris": _pick(rng, _IRIS),
        "lips": np.clip(_pick(rng, _SKIN) * [0.95, 0.62, 0.62] + [25, 0, 0], 0, 255),
        "clothes": 120 + rng.normal(0, 10, 3), "bg": 150 + rng.normal(0, 8, (2, 3)),
        "scale": rng.uniform(0.93, 1.07), "shift": rng.uniform(-0.025, 0.025, 2),
        "yaw": rng.uniform(-0.015, 0.015), "eye_open": rng.uniform(0.65, 1.1),
        "mouth_width": rng.uniform(0.85, 1.15), "long_hair": bool(rng.random() < 0.2),
        "texture": rng.normal(0, 1, (6, 6, 3)), "noise_seed": int(rng.integers(2**31)),
    }


def _centres(face: dict) -> dict[str, tuple[float, float]]:
    """Where each region's feature sits on this face (fractions of the frame)."""
    s, (dx, dy) = face["scale"], face["shift"]
    out = {}
    for name, (x0, y0, x1, y1) in REGION_BOXES.items():
        nx, ny = (x0 + x1) / 2, (y0 + y1) / 2
        out[name] = (0.5 + dx + face["yaw"] + s * (nx - 0.5), 0.57 + dy + s * (ny - 0.57))
    return out


def _draw_head(draw: ImageDraw.ImageDraw, face: dict, w: int) -> None:
    """Hair, neck, clothes, ears and the face oval (w: canvas size in pixels)."""
    s, (dx, dy) = face["scale"] * w, face["shift"] * w
    cx, cy = 0.5 * w + dx, 0.57 * w + dy
    hair, skin = _rgb(face["hair"]), _rgb(face["skin"])
    if face["long_hair"]:
        draw.rounded_rectangle((cx - 0.36 * s, cy - 0.42 * s, cx + 0.36 * s, w), 0.2 * s, hair)
    draw.ellipse((cx - 0.45 * s, w - 0.14 * s, cx + 0.45 * s, w + 0.4 * s), _rgb(face["clothes"]))
    draw.rectangle((cx - 0.11 * s, cy + 0.2 * s, cx + 0.11 * s, w - 0.05 * s),
                   _rgb(face["skin"] * 0.85))
    for side in (-1, 1):
        ex = cx + side * 0.27 * s
        draw.ellipse((ex - 0.04 * s, cy - 0.12 * s, ex + 0.04 * s, cy + 0.02 * s), skin)
    draw.ellipse((cx - 0.27 * s, cy - 0.36 * s, cx + 0.27 * s, cy + 0.36 * s), skin)
    draw.pieslice((cx - 0.29 * s, cy - 0.44 * s, cx + 0.29 * s, cy - 0.08 * s), 180, 360, hair)


def _draw_features(draw: ImageDraw.ImageDraw, face: dict, w: int) -> None:
    """Eyebrows, eyes with iris, nose and mouth at the face's region centres."""
    s = face["scale"] * w
    dark = _rgb(face["skin"] * 0.55)
    for name in ("left_eye", "right_eye"):
        x, y = (v * w for v in _centres(face)[name])
        h = 0.026 * s * face["eye_open"]
        draw.line((x - 0.055 * s, y - 0.05 * s, x + 0.055 * s, y - 0.058 * s),
                  _rgb(face["hair"] * 0.8), width=max(1, round(0.016 * s)))
        draw.ellipse((x - 0.055 * s, y - h, x + 0.055 * s, y + h), (236, 232, 226), dark, 2)
        r = 0.022 * s
        draw.ellipse((x - r, y - r, x + r, y + r), _rgb(face["iris"]))
        draw.ellipse((x - r / 2.2, y - r / 2.2, x + r / 2.2, y + r / 2.2), (12, 10, 10))
        draw.ellipse((x + r / 3, y - r / 2, x + r / 1.5, y - r / 6), (250, 250, 250))
    x, y = (v * w for v in _centres(face)["nose"])
    draw.line((x - 0.005 * s, y - 0.08 * s, x - 0.012 * s, y + 0.02 * s),
              _rgb(face["skin"] * 0.8), width=max(1, round(0.01 * s)))
    draw.ellipse((x - 0.04 * s, y + 0.0, x + 0.04 * s, y + 0.045 * s), _rgb(face["skin"] * 0.92))
    for side in (-1, 1):
        nx = x + side * 0.024 * s
        draw.ellipse((nx - 0.012 * s, y + 0.025 * s, nx + 0.012 * s, y + 0.04 * s), dark)
    x, y = (v * w for v in _centres(face)["mouth"])
    mw = 0.085 * s * face["mouth_width"]
    draw.ellipse((x - mw, y - 0.024 * s, x + mw, y + 0.026 * s), _rgb(face["lips"]))
    draw.line((x - mw, y, x + mw, y), _rgb(face["lips"] * 0.5), width=max(1, round(0.008 * s)))


def _render_face(face: dict, size: int) -> np.ndarray:
    """A finished "photograph" of the face: (size, size, 3) float array, values 0-255."""
    w = size * _SUPERSAMPLE
    ramp = np.linspace(0, 1, w)[:, None, None]
    bg = face["bg"][0] * (1 - ramp) + face["bg"][1] * ramp
    canvas = Image.fromarray(np.broadcast_to(bg, (w, w, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    _draw_head(draw, face, w)
    _draw_features(draw, face, w)
    canvas = canvas.resize((size, size), Image.Resampling.BOX)
    canvas = canvas.filter(ImageFilter.GaussianBlur(0.4 * size / 128))
    texture = Image.fromarray(((face["texture"] + 4) * 32).clip(0, 255).astype(np.uint8))
    texture = np.asarray(texture.resize((size, size), Image.Resampling.BICUBIC), float) / 32 - 4
    noise = np.random.default_rng(face["noise_seed"]).normal(0, 5.0, (size, size, 3))
    return np.asarray(canvas, float) * (1 + 0.03 * texture) + noise


def _feather_mask(width: int, height: int, feather: float, ellipse: bool) -> np.ndarray:
    """Paste weights (height, width) in 0..1: a hard rectangle, or a soft-edged ellipse."""
    if feather <= 0:
        return np.ones((height, width))
    mask = Image.new("L", (width, height), 0)
    inset = 2 * feather
    shape = (inset, inset, width - 1 - inset, height - 1 - inset)
    (ImageDraw.Draw(mask).ellipse if ellipse else ImageDraw.Draw(mask).rectangle)(shape, 255)
    return np.asarray(mask.filter(ImageFilter.GaussianBlur(feather)), float) / 255


def _splice(image: np.ndarray, face: dict, donor: np.ndarray, donor_face: dict, region: str,
            level: str, rng: np.random.Generator) -> None:
    """Paste `region` of the donor face into `image` (in place), with the level's flaws."""
    size, cfg = image.shape[0], SPLICE[level]
    x0, y0, x1, y1 = REGION_BOXES[region]
    bw = round((x1 - x0) * size * face["scale"])
    bh = round((y1 - y0) * size * face["scale"])
    tx, ty = (round(v * size - half) for v, half in zip(_centres(face)[region], (bw / 2, bh / 2)))
    tx, ty = int(np.clip(tx, 0, size - bw)), int(np.clip(ty, 0, size - bh))
    shift = rng.uniform(-1, 1, 2) * cfg["shift"] * np.array([bw, bh])
    sx, sy = (np.array(_centres(donor_face)[region]) * size - [bw / 2, bh / 2] + shift).round()
    sx, sy = int(np.clip(sx, 0, size - bw)), int(np.clip(sy, 0, size - bh))
    patch = Image.fromarray(donor[sy:sy + bh, sx:sx + bw].clip(0, 255).astype(np.uint8))
    small = (max(2, round(bw * cfg["resample"])), max(2, round(bh * cfg["resample"])))
    patch = np.asarray(patch.resize(small, Image.Resampling.BILINEAR)
                       .resize((bw, bh), Image.Resampling.BILINEAR), float)
    target = image[ty:ty + bh, tx:tx + bw]
    patch += cfg["match"] * (target.mean((0, 1)) - patch.mean((0, 1)))
    cast = rng.uniform(*cfg["cast"]) * _COOL
    gain = 1 + rng.uniform(-cfg["gain"], cfg["gain"], 3)
    patch = patch * gain + rng.uniform(*cfg["step"]) + cast
    feather = cfg["feather"] * size / 128
    mask = _feather_mask(bw, bh, feather, ellipse=level == "hard")[..., None]
    image[ty:ty + bh, tx:tx + bw] = target * (1 - mask) + patch * mask


def _plan(n_real: int, n_fake: int, seed: int) -> list[tuple[str, str]]:
    """(relative path, difficulty or "real") of every image, in the real set's naming."""
    rng = np.random.default_rng([seed, 2])
    n_easy = n_hard = n_fake // 4  # the real set's ratio, easy:mid:hard = 1:2:1
    levels = ["easy"] * n_easy + ["mid"] * (n_fake - n_easy - n_hard) + ["hard"] * n_hard
    plan = [(f"{CLASS_NAMES[1]}/real_{i:05d}.jpg", "real") for i in range(1, n_real + 1)]
    for level in ("easy", "mid", "hard"):
        for i in range(1, levels.count(level) + 1):
            codes, counts = zip(*CODE_COUNTS[level].items())
            code = codes[rng.choice(len(codes), p=np.array(counts) / sum(counts))]
            plan.append((f"{CLASS_NAMES[0]}/{level}_{i}_{code}.jpg", level))
    return plan


def _make_image(name: str, level: str, index: int, size: int, seed: int) -> np.ndarray:
    """The pixels of one planned image; fakes are a fresh face with regions spliced in."""
    rng = np.random.default_rng([seed, int(level != "real"), index])
    face = _sample_face(rng)
    image = _render_face(face, size)
    if level != "real":
        donor_face = _sample_face(rng)
        donor = _render_face(donor_face, size)
        code = Path(name).stem.split("_")[-1]
        for region, digit in zip(REGIONS, code):
            if digit == "1":
                _splice(image, face, donor, donor_face, region, level, rng)
    return image


def _prepare_root(root: Path) -> None:
    """Empty the class folders of an earlier demo set; refuse to touch anything else."""
    stamp = root / STAMP_NAME
    if not stamp.exists():
        for name in CLASS_NAMES:
            if (root / name).is_dir() and any((root / name).iterdir()):
                raise FileExistsError(
                    f"{root / name} holds files but {root} is not a demo set (no {STAMP_NAME}); "
                    "pass an empty or new folder to make_demo_dataset.")
    for name in CLASS_NAMES:
        shutil.rmtree(root / name, ignore_errors=True)
        (root / name).mkdir(parents=True)
    stamp.write_text(json.dumps({"complete": False}))


def _is_complete(root: Path, stamp: dict, files: list[str]) -> bool:
    """True when the stamp says finished with these settings and exactly these files exist."""
    try:
        found = json.loads((root / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return False
    present = {f"{d.name}/{p.name}" for d in (root / n for n in CLASS_NAMES) if d.is_dir()
               for p in d.iterdir()}
    return found == {**stamp, "complete": True} and present == set(files)


def make_demo_dataset(root: str | Path, n_real: int = 120, n_fake: int = 120,
                      image_size: int = 128, seed: int = 0) -> Path:
    """Generate (or find, if already made alike) the demo dataset; returns its root.

    The root holds training_real/ and training_fake/ named like the Kaggle set. The same
    arguments give the same bytes; a hidden stamp file makes a repeated call a no-op.
    """
    for name, value, low in (("n_real", n_real, 1), ("n_fake", n_fake, 4),
                             ("image_size", image_size, 32)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    root = Path(root)
    plan = _plan(n_real, n_fake, seed)
    stamp = {"version": DEMO_VERSION, "n_real": n_real, "n_fake": n_fake,
             "image_size": image_size, "seed": seed}
    if _is_complete(root, stamp, [name for name, _ in plan]):
        return root
    root.mkdir(parents=True, exist_ok=True)
    _prepare_root(root)
    counters = {"real": 0, "fake": 0}
    for name, level in plan:
        kind = "real" if level == "real" else "fake"
        counters[kind] += 1
        pixels = _make_image(name, level, counters[kind], image_size, seed)
        Image.fromarray(pixels.clip(0, 255).round().astype(np.uint8)).save(
            root / name, "JPEG", quality=JPEG_QUALITY, subsampling=2, optimize=False)
    (root / STAMP_NAME).write_text(json.dumps({**stamp, "complete": True}, indent=1))
    return root
