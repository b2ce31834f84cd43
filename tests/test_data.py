"""Tests for fakeface_lib.data.index and fakeface_lib.data.splitting: indexing odd and broken folders,
stratified seeded splits, manifests and the shipped canonical manifest."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fakeface_lib import CLASS_NAMES, REGIONS
from fakeface_lib.data.index import DatasetWarning, find_class_root, index_dataset, parse_filename
from fakeface_lib.data.duplicates import find_duplicates, leak_report
from fakeface_lib.data.split_files import (
    CANONICAL_MANIFEST, apply_split, canonical_manifest_path, load_canonical_manifest, load_split,
    save_split,
)
from fakeface_lib.data.splitting import CANONICAL_MAX_DISTANCE, allocate, canonical_split, split_dataset
from fakeface_lib.config import SPLITS

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = Path(os.environ.get("FAKEFACE_REAL_DATA")
                 or Path(__file__).resolve().parents[2] / "shared/data/real_and_fake_face_160")
needs_real_data = pytest.mark.skipif(not (REAL_DATA / "training_real").is_dir(),
                                     reason=f"real dataset copy not found at {REAL_DATA}")
OFFICIAL_FAKES = ([f"easy_{i}_1010.jpg" for i in range(1, 241)]
                  + [f"mid_{i}_0101.jpg" for i in range(1, 481)]
                  + [f"hard_{i}_1111.jpg" for i in range(1, 241)])
OFFICIAL_REALS = [f"real_{i:05d}.jpg" for i in range(1, 1082)]


def image(mode: str = "RGB", size: int = 24, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    return Image.fromarray(pixels).convert(mode)


def save(path: Path, img: Image.Image, fmt: str = "JPEG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt)
    return path


@pytest.fixture
def odd_dataset(tmp_path: Path) -> Path:
    """A nested archive layout full of odd, broken and irrelevant files."""
    top = tmp_path / "real_and_fake_face"
    root = top / "real_and_fake_face"
    real, fake = root / "training_real", root / "training_fake"
    save(real / "real_00001.jpg", image())
    save(real / "real_00002.jpg", image("L", seed=2))  # grayscale
    save(real / "real_00003.JPG", image(seed=3))  # upper-case extension
    save(real / "real_00004.png", image("RGBA", seed=4), "PNG")
    save(real / "real_00005.jpg", image("CMYK", seed=5))  # CMYK JPEG
    save(real / "real_00006.jpg", image(seed=6), "PNG")  # PNG content, .jpg name
    save(real / "sub" / "real_00010.jpg", image(seed=10))  # sub-folder, as ImageFolder sees it
    buffer = io.BytesIO()
    image(size=64, seed=7).save(buffer, format="JPEG")
    (real / "real_00007.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (real / "real_00008.jpg").write_bytes(b"")  # zero bytes
    (real / "real_00009.jpg").write_text("this is not an image")
    (real / ".DS_Store").write_bytes(b"\0\1junk")
    (real / "._real_00001.jpg").write_bytes(b"\0\5\26\7 AppleDouble")
    save(real / ".hidden" / "real_00011.jpg", image(seed=11))  # hidden folder: ignored
    (root / "README.txt").write_text("dataset notes")
    (real / "notes.txt").write_text("not an image")
    save(top / "__MACOSX" / "training_real" / "real_00012.jpg", image(seed=12))
    save(fake / "easy_1_1010.jpg", image(seed=20))
    save(fake / "mid_2_0001.jpg", image(seed=21))
    save(fake / "hard_3_1111.jpg", image(seed=22))
    save(fake / "easy_116_111.jpg", image(seed=23))  # the official 3-digit code
    save(fake / "edited_face.jpg", image(seed=24))  # does not parse
    return tmp_path


def index_quietly(root: Path, **kwargs) -> tuple[pd.DataFrame, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = index_dataset(root, **kwargs)
    return df, [str(w.message) for w in caught if issubclass(w.category, DatasetWarning)]


def test_index_finds_nested_root_and_keeps_valid_odd_images(odd_dataset):
    df, _ = index_quietly(odd_dataset)
    expected_real = ["real_00001.jpg", "real_00002.jpg", "real_00003.JPG", "real_00004.png",
                     "real_00005.jpg", "real_00006.jpg", "real_00010.jpg"]
    assert df.loc[df["label"] == 1, "filename"].tolist() == expected_real
    assert sorted(df.loc[df["label"] == 0, "filename"]) == sorted(
        ["easy_1_1010.jpg", "mid_2_0001.jpg", "hard_3_1111.jpg", "easy_116_111.jpg",
         "edited_face.jpg"])
    modes = dict(zip(df["filename"], df["mode"]))
    assert (modes["real_00002.jpg"], modes["real_00004.png"], modes["real_00005.jpg"]) == \
        ("L", "RGBA", "CMYK")
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in df["path"])
    assert (df["width"] == 24).all() and (df["height"] == 24).all()


def test_index_warns_naming_each_skipped_file(odd_dataset):
    _, messages = index_quietly(odd_dataset)
    skipped = [m for m in messages if "unreadable" in m]
    assert len(skipped) == 1
    for name in ("real_00007.jpg", "real_00008.jpg", "real_00009.jpg"):
        assert name in skipped[0]
    assert "real_00001.jpg" not in skipped[0] and ".DS_Store" not in skipped[0]
    unparsed = [m for m in messages if "unknown" in m]
    assert len(unparsed) == 1 and "edited_face.jpg" in unparsed[0]
    assert not any("official" in m for m in messages)  # a small set: no count warning


def test_index_columns_dtypes_and_order(odd_dataset):
    df, _ = index_quietly(odd_dataset)
    assert list(df.columns[:5]) == ["path", "filename", "label", "class_name", "difficulty"]
    assert str(df["image_id"].dtype) == "Int64" and str(df["label"].dtype) == "int64"
    assert all(str(df[region].dtype) == "boolean" for region in REGIONS)
    assert str(df["code"].dtype) == "string" and str(df["filename"].dtype) == "string"
    assert df["label"].is_monotonic_increasing
    assert (df["class_name"] == [CLASS_NAMES[label] for label in df["label"]]).all()
    for label, group in df.groupby("label"):
        assert group["filename"].tolist() == sorted(group["filename"])


def test_index_parses_fake_names(odd_dataset):
    df, _ = index_quietly(odd_dataset)
    row = df.set_index("filename")
    assert row.loc["easy_1_1010.jpg", list(REGIONS)].tolist() == [True, False, True, False]
    assert row.loc["easy_1_1010.jpg", "image_id"] == 1
    three = row.loc["easy_116_111.jpg"]
    assert (three["difficulty"], three["image_id"], three["code"]) == ("easy", 116, "111")
    assert three[list(REGIONS)].isna().all()
    odd = row.loc["edited_face.jpg"]
    assert odd["difficulty"] == "unknown" and pd.isna(odd["image_id"]) and pd.isna(odd["code"])
    assert odd[list(REGIONS)].isna().all()
    real = row.loc["real_00003.JPG"]
    assert (real["difficulty"], real["image_id"]) == ("real", 3)
    assert real[list(REGIONS)].tolist() == [False] * 4 and pd.isna(real["code"])


def test_parse_filename_is_case_insensitive():
    parsed = parse_filename("HARD_12_0110.JPG", "training_fake")
    assert (parsed["difficulty"], parsed["image_id"], parsed["code"]) == ("hard", 12, "0110")
    assert [parsed[r] for r in REGIONS] == [False, True, True, False]


def test_header_only_mode_misses_truncation_but_not_garbage(odd_dataset):
    df, messages = index_quietly(odd_dataset, validate=False)
    assert "real_00007.jpg" in set(df["filename"])  # only a decode finds the truncation
    assert "real_00009.jpg" not in set(df["filename"])
    assert any("real_00009.jpg" in m for m in messages)


def test_missing_class_folder_is_named(tmp_path):
    save(tmp_path / "data" / "training_real" / "real_00001.jpg", image())
    with pytest.raises(FileNotFoundError, match="training_fake") as error:
        index_dataset(tmp_path)
    assert str(tmp_path / "data") in str(error.value) and "training_real/" in str(error.value)


def test_wrong_layout_lists_what_was_found(tmp_path):
    save(tmp_path / "real" / "a.jpg", image())
    save(tmp_path / "fake" / "b.jpg", image())
    with pytest.raises(FileNotFoundError, match=r"training_real.*Found instead: \[fake/, real/\]"):
        index_dataset(tmp_path)


def test_missing_root_file_root_and_empty_class(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        index_dataset(tmp_path / "nowhere")
    (tmp_path / "data.zip").write_bytes(b"PK")
    with pytest.raises(NotADirectoryError, match="extract"):
        index_dataset(tmp_path / "data.zip")
    save(tmp_path / "d" / "training_real" / "real_00001.jpg", image())
    (tmp_path / "d" / "training_fake").mkdir()
    (tmp_path / "d" / "training_fake" / "readme.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="training_fake holds no image files"):
        index_dataset(tmp_path / "d")


def test_find_class_root_prefers_the_shallowest(tmp_path):
    for folder in (tmp_path / "a", tmp_path / "a" / "b" / "c"):
        for name in CLASS_NAMES:
            (folder / name).mkdir(parents=True)
    assert find_class_root(tmp_path) == tmp_path / "a"


def write_official_like(root: Path, drop: tuple[str, ...] = ()) -> None:
    """All official file names, each a copy of one tiny JPEG (fast)."""
    buffer = io.BytesIO()
    image(size=8).save(buffer, format="JPEG")
    for class_name, names in (("training_real", OFFICIAL_REALS), ("training_fake", OFFICIAL_FAKES)):
        (root / class_name).mkdir(parents=True, exist_ok=True)
        for name in names:
            if name not in drop:
                (root / class_name / name).write_bytes(buffer.getvalue())


def test_official_count_check_warns_only_for_a_near_complete_set(tmp_path):
    write_official_like(tmp_path / "full", drop=("real_00017.jpg", "mid_5_0101.jpg"))
    df, messages = index_quietly(tmp_path / "full", progress=False)
    assert len(df) == 2039
    text = " ".join(messages)
    assert "1080 usable images" in text and "real_00017.jpg" in text and "479 'mid'" in text
    shutil.rmtree(tmp_path / "full" / "training_real")
    (tmp_path / "full" / "training_real").mkdir()
    save(tmp_path / "full" / "training_real" / "real_00001.jpg", image(size=8))
    _, quiet = index_quietly(tmp_path / "full", progress=False)  # 960 files: a subset
    assert not any("official" in m for m in quiet)
    _, forced = index_quietly(tmp_path / "full", official=True, progress=False)
    assert any("1 usable images; the official dataset has 1081" in m for m in forced)


def synthetic_index(n_real: int = 1081, fakes: list[str] | None = None) -> pd.DataFrame:
    """An index-like DataFrame without files (splits only read names and labels)."""
    fakes = OFFICIAL_FAKES if fakes is None else fakes
    names = [f"real_{i:05d}.jpg" for i in range(1, n_real + 1)] + fakes
    labels = [1] * n_real + [0] * len(fakes)
    difficulty = ["real"] * n_real + [name.split("_")[0] for name in fakes]
    return pd.DataFrame({
        "path": [f"/data/{CLASS_NAMES[label]}/{name}" for name, label in zip(names, labels)],
        "filename": names, "label": labels,
        "class_name": [CLASS_NAMES[label] for label in labels], "difficulty": difficulty})


def test_split_sizes_and_stratification_on_official_sizes():
    out = split_dataset(synthetic_index(), seed=42)
    assert out["split"].value_counts().to_dict() == {"train": 1633, "val": 204, "test": 204}
    for (label, difficulty), group in out.groupby(["label", "difficulty"]):
        counts = [int((group["split"] == name).sum()) for name in SPLITS]
        assert counts == allocate(len(group), np.array([0.8, 0.1, 0.1])).tolist()


def test_split_is_disjoint_complete_and_keeps_rows():
    df = synthetic_index(n_real=50, fakes=OFFICIAL_FAKES[:40])
    out = split_dataset(df, fractions=(0.6, 0.2, 0.2), seed=3)
    assert out.index.equals(df.index) and out.drop(columns="split").equals(df)
    assert out["split"].isin(SPLITS).all() and out["split"].notna().all()
    assert sum((out["split"] == name).sum() for name in SPLITS) == len(df)
    assert "split" not in df.columns  # the input is not modified


def split_map(df: pd.DataFrame, **kwargs) -> dict[str, str]:
    out = split_dataset(df, **kwargs)
    return dict(zip(out["filename"], out["split"]))


def test_split_reproducible_seed_dependent_and_order_independent():
    df = synthetic_index(n_real=200, fakes=OFFICIAL_FAKES[::5])
    reference = split_map(df, seed=7)
    assert split_map(df, seed=7) == reference
    assert split_map(df, seed=8) != reference
    shuffled = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    assert split_map(shuffled, seed=7) == reference


def test_split_is_pinned_across_machines():
    # The assignment depends only on names, seed and PCG64's raw stream (stable across
    # NumPy versions); if this digest changes, every seeded split changed.
    out = split_dataset(synthetic_index(), seed=42)
    text = "\n".join(f"{f}:{s}" for f, s in sorted(zip(out["filename"], out["split"])))
    assert hashlib.sha256(text.encode()).hexdigest()[:16] == "996d293d17c5b57d"


def test_split_keeps_groups_together_and_allows_zero_fractions():
    df = synthetic_index(n_real=100, fakes=OFFICIAL_FAKES[::8])
    df["group"] = pd.array([i // 3 if i < 60 else None for i in range(len(df))], dtype="Int64")
    for seed in range(5):
        out = split_dataset(df, seed=seed, group_col="group")
        assert (out.dropna(subset=["group"]).groupby("group")["split"].nunique() == 1).all()
    out = split_dataset(df, fractions=(0.9, 0.1, 0.0), seed=1)
    assert (out["split"] == "test").sum() == 0 and (out["split"] == "val").sum() > 0


@pytest.mark.parametrize("fractions, message", [
    ((0.8, 0.1), "3 entries"), ((0.7, 0.1, 0.1), "sum to 0.9"), ((1.1, -0.1, 0.0), "non-negative"),
    ((0.8, float("nan"), 0.1), "finite"), ("abc", "numbers"), ((0.0, 0.5, 0.5), "train fraction"),
])
def test_split_rejects_bad_fractions(fractions, message):
    with pytest.raises(ValueError, match=message):
        split_dataset(synthetic_index(n_real=10, fakes=OFFICIAL_FAKES[:10]), fractions=fractions)


def test_split_rejects_bad_input():
    with pytest.raises(KeyError, match="difficulty"):
        split_dataset(pd.DataFrame({"filename": ["a.jpg"], "label": [1]}))
    with pytest.raises(ValueError, match="seed"):
        split_dataset(synthetic_index(n_real=10, fakes=[]), seed=-1)
    with pytest.raises(ValueError, match="empty"):
        split_dataset(synthetic_index(n_real=0, fakes=[]))


def test_manifest_round_trip(tmp_path):
    out = split_dataset(synthetic_index(n_real=30, fakes=OFFICIAL_FAKES[:30]), seed=1)
    path = save_split(out, tmp_path / "nested" / "split.csv")
    manifest = load_split(path)
    assert list(manifest.columns) == ["filename", "class_name", "split"] and len(manifest) == 60
    again = apply_split(out.drop(columns="split"), path)
    assert again["split"].tolist() == out["split"].tolist()
    assert path.read_text().splitlines()[0] == "filename,class_name,split"


def test_manifest_errors(tmp_path):
    df = split_dataset(synthetic_index(n_real=10, fakes=OFFICIAL_FAKES[:10]), seed=1)
    manifest = df[["filename", "class_name", "split"]]
    with pytest.raises(ValueError, match="not in the manifest: \\['real_00001.jpg'\\]"):
        apply_split(df, manifest.iloc[1:])
    with pytest.raises(ValueError, match="not in df.*strict=False"):
        apply_split(df.iloc[1:], manifest)
    with pytest.warns(UserWarning, match="real_00001.jpg"):
        partial = apply_split(df.iloc[1:], manifest, strict=False)
    assert len(partial) == 19
    wrong_class = manifest.assign(class_name="training_fake")
    with pytest.raises(ValueError, match="another class folder"):
        apply_split(df, wrong_class)
    (tmp_path / "bad.csv").write_text("filename,split\na.jpg,train\n")
    with pytest.raises(KeyError, match="class_name"):
        load_split(tmp_path / "bad.csv")
    (tmp_path / "bad2.csv").write_text("filename,class_name,split\na.jpg,training_real,holdout\n")
    with pytest.raises(ValueError, match="holdout"):
        load_split(tmp_path / "bad2.csv")
    with pytest.raises(FileNotFoundError, match="save_split"):
        load_split(tmp_path / "missing.csv")


def test_canonical_manifest_is_shipped_and_sound():
    manifest = load_canonical_manifest()
    assert len(manifest) == 2041 and manifest["filename"].is_unique
    assert set(manifest["filename"]) == set(OFFICIAL_REALS) | set(
        manifest.loc[manifest["class_name"] == "training_fake", "filename"])
    assert manifest["class_name"].value_counts().to_dict() == {"training_real": 1081,
                                                               "training_fake": 960}
    sizes = manifest["split"].value_counts()
    assert abs(sizes["train"] - 1633) <= 3 and abs(sizes["val"] - 204) <= 3 \
        and abs(sizes["test"] - 204) <= 3
    assert canonical_manifest_path() == REPO / "fakeface_lib" / "data" / "manifests" / CANONICAL_MANIFEST
    assert not canonical_manifest_path().is_symlink(), "the one committed copy is the package's"
    copies = [p for p in REPO.rglob(CANONICAL_MANIFEST) if ".venv" not in p.parts and "runs" not in p.parts]
    assert copies == [canonical_manifest_path()], f"one copy of the manifest in the repository: {copies}"


NO_PAIRS = pd.DataFrame({"path_a": pd.Series(dtype="string"), "path_b": pd.Series(dtype="string")})


def manifest_fakes() -> list[str]:
    manifest = load_canonical_manifest()
    return manifest.loc[manifest["class_name"] == "training_fake", "filename"].tolist()


def test_canonical_split_uses_manifest_only_for_official_data(capsys):
    manifest = load_canonical_manifest()
    official = synthetic_index(fakes=manifest_fakes())
    out = canonical_split(official)  # no pairs needed: nothing is hashed when the manifest applies
    assert dict(zip(out["filename"], out["split"])) == dict(zip(manifest["filename"],
                                                                manifest["split"]))
    assert capsys.readouterr().out == ""
    demo = synthetic_index(n_real=40, fakes=manifest_fakes()[:40])
    out = canonical_split(demo, pairs=NO_PAIRS)  # no duplicates: the plain seeded split
    assert out["split"].tolist() == split_dataset(demo, seed=42)["split"].tolist()
    assert "holds 80 of the canonical manifest's 2041 files" in capsys.readouterr().out
    with pytest.warns(UserWarning, match="real_01082.jpg"):
        extra = canonical_split(synthetic_index(n_real=1082, fakes=manifest_fakes()),
                                pairs=NO_PAIRS)
    assert extra["split"].value_counts()["train"] > 1600


def near_duplicate_dataset(root: Path, n_real: int = 16, n_fake: int = 8) -> Path:
    """Distinct smooth pictures, each saved twice: as is and re-encoded a little brighter.

    None of the names is in the canonical manifest (real_02001 on, easy/mid/hard_9xx).
    """
    for label, n in ((1, n_real), (0, n_fake)):
        folder = root / CLASS_NAMES[label]
        folder.mkdir(parents=True)
        for i in range(n):
            small = np.random.default_rng([label, i]).integers(0, 256, (6, 6, 3), dtype=np.uint8)
            picture = Image.fromarray(small).resize((96, 96), Image.BICUBIC)
            copy = Image.fromarray(np.clip(np.asarray(picture, int) + 3, 0, 255).astype(np.uint8))
            if label == 1:
                names = (f"real_{2001 + 2 * i:05d}.jpg", f"real_{2002 + 2 * i:05d}.jpg")
            else:
                level = ("easy", "mid", "hard")[i % 3]
                names = (f"{level}_{901 + 2 * i}_1010.jpg", f"{level}_{902 + 2 * i}_1010.jpg")
            picture.save(folder / names[0], quality=95)
            copy.save(folder / names[1], quality=80)
    return root


def test_canonical_fallback_keeps_near_duplicates_in_one_split(tmp_path, capsys):
    df = index_dataset(near_duplicate_dataset(tmp_path))
    pairs = find_duplicates(df, CANONICAL_MAX_DISTANCE)
    assert len(pairs) == 24  # exactly the 24 picture/copy pairs
    assert not leak_report(split_dataset(df, seed=42), pairs).empty  # ignoring them leaks
    out = canonical_split(df)
    assert leak_report(out, pairs).empty
    sizes = out["split"].value_counts()
    assert set(sizes.index) == set(SPLITS) and sizes["train"] >= 0.7 * len(df)
    line = capsys.readouterr().out
    assert "48 files it does not list" in line and "keeping 24 group(s)" in line
    assert out.drop(columns="split").equals(df)


def test_canonical_split_places_files_the_manifest_lacks(recwarn):
    # The official set plus three files: real_01082 a near-copy of a test image of the
    # manifest, real_01083 and real_01084 near-copies of each other.
    manifest = load_canonical_manifest()
    df = synthetic_index(n_real=1084, fakes=manifest_fakes())
    path = dict(zip(df["filename"], df["path"]))
    test_image = manifest.loc[(manifest["split"] == "test")
                              & (manifest["class_name"] == "training_real"), "filename"].iloc[0]
    pairs = pd.DataFrame({"path_a": [path[test_image], path["real_01083.jpg"]],
                          "path_b": [path["real_01082.jpg"], path["real_01084.jpg"]]})
    out = canonical_split(df, pairs=pairs).set_index("filename")["split"]
    assert out[manifest["filename"]].tolist() == manifest["split"].tolist()  # unchanged
    assert out["real_01082.jpg"] == "test"
    assert out["real_01083.jpg"] == out["real_01084.jpg"]
    message = str(recwarn.pop(UserWarning).message)
    assert "3 file(s) are not in the canonical manifest" in message
    assert "1 of them joined" in message and "2 group(s)" in message


def test_the_index_never_imports_splitting_nor_serves_its_names():
    code = ("import sys, fakeface_lib.data.index as index; "
            "assert 'fakeface_lib.data.splitting' not in sys.modules; "
            "assert not hasattr(index, 'canonical_split') and not hasattr(index, 'SPLITS')")
    subprocess.run([sys.executable, "-c", code], check=True)


@needs_real_data
def test_real_copy_acceptance():
    df, messages = index_quietly(REAL_DATA, progress=False)
    assert messages == []
    assert len(df) == 2041 and df["label"].value_counts().to_dict() == {1: 1081, 0: 960}
    assert df.loc[df["label"] == 0, "difficulty"].value_counts().to_dict() == {
        "mid": 480, "easy": 240, "hard": 240}
    row = df.set_index("filename").loc["easy_100_1111.jpg"]
    assert row[list(REGIONS)].tolist() == [True] * 4
    assert df.set_index("filename").loc["easy_116_111.jpg", list(REGIONS)].isna().all()
    out = canonical_split(df)
    assert out["split"].notna().all()
    assert (out["split"].value_counts() - pd.Series({"train": 1633, "val": 204, "test": 204})
            ).abs().max() <= 3
