"""The generated demo dataset: layout and names, edited regions, determinism, and learnability."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakeface_lib import CLASS_NAMES, REGIONS
from fakeface_lib.data.index import index_dataset
from fakeface_lib.data.demo import STAMP_NAME, _render_face, _sample_face, make_demo_dataset
from fakeface_lib.data.regions import region_boxes

FAKE_NAME = re.compile(r"^(easy|mid|hard)_(\d+)_([01]{4})\.jpg$")


def file_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.jpg"))}


def test_layout_names_and_counts(demo_root):
    reals = sorted(p.name for p in (demo_root / "training_real").iterdir())
    assert reals == [f"real_{i:05d}.jpg" for i in range(1, 121)]
    fakes = [FAKE_NAME.match(p.name) for p in (demo_root / "training_fake").iterdir()]
    assert len(fakes) == 120 and all(fakes)
    levels = Counter(m[1] for m in fakes)
    assert levels == {"easy": 30, "mid": 60, "hard": 30}  # the real set's 1:2:1
    for level, n in levels.items():
        assert sorted(int(m[2]) for m in fakes if m[1] == level) == list(range(1, n + 1))
    assert "0000" not in {m[3] for m in fakes} and len({m[3] for m in fakes}) > 5
    with Image.open(demo_root / "training_real" / reals[0]) as img:
        assert (img.format, img.size, img.mode) == ("JPEG", (128, 128), "RGB")


def test_index_dataset_reads_it(demo_root):
    df = index_dataset(demo_root)
    assert len(df) == 240 and set(df["difficulty"]) == {"real", "easy", "mid", "hard"}
    assert not df[list(REGIONS)].isna().any().any()
    fakes = df[df["label"] == CLASS_NAMES.index("training_fake")]
    assert fakes[list(REGIONS)].any(axis=1).all()  # every fake has an edited region


def unedited_fake(index: int, seed: int = 0, size: int = 128) -> np.ndarray:
    """The face a demo fake started from, before its regions were spliced (same RNG stream)."""
    return _render_face(_sample_face(np.random.default_rng([seed, 1, index])), size)


def region_change(fake: np.ndarray, original: np.ndarray, box: tuple[int, ...]) -> float:
    x0, y0, x1, y1 = box
    return float(np.abs(fake[y0:y1, x0:x1] - original[y0:y1, x0:x1]).mean())


def test_codes_name_the_edited_regions(demo_root):
    boxes = region_boxes(128)
    files = sorted((demo_root / "training_fake").iterdir())
    edited, checked = {"easy": [], "mid": [], "hard": []}, 0
    for path in files:
        level, number, code = FAKE_NAME.match(path.name).groups()
        order = {"easy": 0, "mid": 30, "hard": 90}[level] + int(number)
        fake = np.asarray(Image.open(path), float)
        original = unedited_fake(order)
        for region, digit in zip(REGIONS, code):
            change = region_change(fake, original, boxes[region])
            if digit == "1":
                edited[level].append(change)
            elif not any(d == "1" for r, d in zip(REGIONS, code) if r != region
                         and _overlap(boxes[r], boxes[region])):
                assert change < 6, f"{path.name}: unedited {region} changed by {change:.1f}"
                checked += 1
    assert checked > 20  # enough fakes leave a region untouched away from their edits
    means = {level: np.mean(values) for level, values in edited.items()}
    assert means["easy"] > means["mid"] > means["hard"] > 10, means


def _overlap(a: tuple[int, ...], b: tuple[int, ...], margin: int = 6) -> bool:
    """Boxes closer than ``margin`` px (pose jitter moves a splice by a few pixels)."""
    return (a[0] < b[2] + margin and b[0] < a[2] + margin
            and a[1] < b[3] + margin and b[1] < a[3] + margin)


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    first = file_bytes(make_demo_dataset(tmp_path / "a", n_real=6, n_fake=8, seed=3))
    again = file_bytes(make_demo_dataset(tmp_path / "b", n_real=6, n_fake=8, seed=3))
    other = file_bytes(make_demo_dataset(tmp_path / "c", n_real=6, n_fake=8, seed=4))
    assert first == again and len(first) == 14
    real = [name for name in first if name.startswith("training_real")]
    assert all(first[name] != other[name] for name in real)


def test_repeat_is_noop_and_new_arguments_regenerate(tmp_path):
    root = make_demo_dataset(tmp_path, n_real=6, n_fake=8, image_size=64)
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    assert make_demo_dataset(tmp_path, n_real=6, n_fake=8, image_size=64) == root
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == mtimes
    make_demo_dataset(tmp_path, n_real=4, n_fake=4, image_size=64)
    assert len(list((root / "training_real").iterdir())) == 4  # no stale files left
    assert len(list((root / "training_fake").iterdir())) == 4
    assert json.loads((root / STAMP_NAME).read_text())["n_real"] == 4
    with Image.open(next((root / "training_fake").iterdir())) as img:
        assert img.size == (64, 64)


def test_incomplete_set_is_regenerated(tmp_path):
    root = make_demo_dataset(tmp_path, n_real=4, n_fake=4)
    victim = root / "training_real" / "real_00002.jpg"
    expected = victim.read_bytes()
    victim.unlink()
    make_demo_dataset(tmp_path, n_real=4, n_fake=4)
    assert victim.read_bytes() == expected


def test_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "training_real").mkdir()
    mine = tmp_path / "training_real" / "my_photo.jpg"
    mine.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="not a demo set"):
        make_demo_dataset(tmp_path, n_real=4, n_fake=4)
    assert mine.read_bytes() == b"precious"


@pytest.mark.parametrize("kwargs", [{"n_real": 0}, {"n_fake": 2}, {"image_size": 16},
                                    {"n_real": 2.5}])
def test_bad_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        make_demo_dataset(tmp_path, **kwargs)


@pytest.mark.slow
def test_model1_learns_the_demo_in_five_epochs(demo_root):
    """The report's Model 1 and recipe reach >= 90 % validation accuracy within 5 epochs."""
    from fakeface_lib.config import MODEL1_RECIPE
    from fakeface_lib.data.loaders import make_loaders
    from fakeface_lib.models.cnn import Model1
    from fakeface_lib.data.splitting import canonical_split
    from fakeface_lib.training.fit import fit
    from fakeface_lib.utils import seed_everything

    split = canonical_split(index_dataset(demo_root))  # duplicate-aware: 191/25/24
    sizes = split["split"].value_counts()
    assert abs(sizes["train"] - 192) <= 3 and abs(sizes["val"] - 24) <= 3
    loaders = make_loaders(split, batch_size=32, seed=42, progress=False)
    seed_everything(42)
    model = Model1()
    history = fit(model, loaders, replace(MODEL1_RECIPE, num_epochs=5, seed=42),
                  device="cpu", progress=False)
    val_acc = [row["val_acc"] for row in history]
    print("Model 1 val_acc per epoch:", [round(acc, 3) for acc in val_acc])
    assert max(val_acc) >= 0.90, val_acc
    assert history[0]["train_acc"] < 0.85, f"trivially separable: {history[0]}"
