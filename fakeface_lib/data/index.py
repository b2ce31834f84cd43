"""Index the Real and Fake Face dataset: find the class folders, decode every image once to
validate it, and parse the fake file names (difficulty, id, edited regions) into a DataFrame.
Splitting lives in :mod:`fakeface_lib.data.splitting`, which builds on this module.
"""

from __future__ import annotations

import os
import re
import warnings
from collections import Counter
from pathlib import Path

import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from fakeface_lib.config import CLASS_NAMES, DIFFICULTIES, REGIONS

# Same list (compared case-insensitively) as torchvision's ImageFolder, so both see the same files.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
OFFICIAL_COUNTS = {"training_real": 1081, "training_fake": 960}
OFFICIAL_DIFFICULTY_COUNTS = {"easy": 240, "mid": 480, "hard": 240}
# The count check runs only on what looks like the whole official set (see _looks_official).
OFFICIAL_MIN_FILES = int(0.9 * sum(OFFICIAL_COUNTS.values()))
PROGRESS_MIN_FILES = 300  # fewer files index in well under a second: no bar
MAX_SEARCH_DEPTH = 3  # archives nest the class folders, e.g. real_and_fake_face/real_and_fake_face/
_REAL_NAME = re.compile(r"^real_(\d+)$", re.IGNORECASE)
_FAKE_NAME = re.compile(r"^(easy|mid|hard)_(\d+)_(\d+)$", re.IGNORECASE)
_OFFICIAL_NAME = re.compile(r"^(real_\d{5}|(easy|mid|hard)_\d+_\d+)\.jpg$")
_SKIPPED_DIRS = {"__MACOSX"}  # macOS zip metadata

COLUMN_DTYPES = {
    "path": "string", "filename": "string", "label": "int64", "class_name": "string",
    "difficulty": "string", "image_id": "Int64", "code": "string",
    **{region: "boolean" for region in REGIONS},
    "width": "Int64", "height": "Int64", "mode": "string",
}


class DatasetWarning(UserWarning):
    """Something in the dataset folder was skipped or looks off (the message says what)."""


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name in _SKIPPED_DIRS


def _describe(folder: Path) -> str:
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir()
                     if not _is_hidden(p.name))
    shown = ", ".join(entries[:10]) + (", ..." if len(entries) > 10 else "")
    return f"[{shown}]" if entries else "nothing (the folder is empty)"


def find_class_root(root: str | os.PathLike) -> Path:
    """The folder holding ``training_real/`` and ``training_fake/``: ``root`` or a folder below it.

    Searches up to three levels down, so an extracted Kaggle archive
    (``real_and_fake_face/real_and_fake_face/...``) works as it is.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise FileNotFoundError(
            f"Dataset folder {root} does not exist. Download the data with "
            "fakeface_lib.data.download.download_dataset(), or make the offline demo with "
            "fakeface_lib.data.demo.make_demo_dataset(root).")
    if not root.is_dir():
        raise NotADirectoryError(
            f"{root} is a file, not a folder. If it is a zip archive, extract it first "
            "(download_dataset(source=<zip>) does that).")
    level, partial = [root], None
    for _ in range(MAX_SEARCH_DEPTH + 1):
        for folder in level:
            found = [name for name in CLASS_NAMES if (folder / name).is_dir()]
            if len(found) == len(CLASS_NAMES):
                return folder
            partial = partial or (folder if found else None)
        level = [sub for folder in level for sub in sorted(folder.iterdir())
                 if sub.is_dir() and not _is_hidden(sub.name)]
    if partial is not None:
        missing = [name for name in CLASS_NAMES if not (partial / name).is_dir()]
        raise FileNotFoundError(
            f"Class folder {missing[0]!r} is missing from {partial}: it holds "
            f"{_describe(partial)}. Both {CLASS_NAMES[1]}/ and {CLASS_NAMES[0]}/ must sit "
            "side by side; re-extract the dataset archive.")
    raise FileNotFoundError(
        f"No folder under {root} (searched {MAX_SEARCH_DEPTH} levels deep) holds the class "
        f"folders {CLASS_NAMES[1]}/ and {CLASS_NAMES[0]}/. Found instead: {_describe(root)}. "
        "Pass the folder of the extracted Kaggle dataset (or of make_demo_dataset()).")


def list_image_files(class_dir: Path) -> list[Path]:
    """Image files under ``class_dir`` (recursively, like ImageFolder), hidden files skipped."""
    files = []
    for folder, subdirs, names in os.walk(class_dir):
        subdirs[:] = sorted(d for d in subdirs if not _is_hidden(d))
        files += [Path(folder, name) for name in names
                  if not _is_hidden(name) and name.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted(files)


def read_image_info(path: str | os.PathLike, *, decode: bool = True) -> tuple[int, int, str]:
    """(width, height, mode) of an image file; with ``decode`` the pixels are decoded too.

    JPEGs are decoded in draft mode (at 1/8 scale), which still reads every byte of the
    compressed stream, so truncated or corrupt files fail here as they would at full size.
    """
    with Image.open(path) as img:
        width, height, mode = img.width, img.height, img.mode
        if decode:
            img.draft(None, (1, 1))  # only JPEG implements draft; a no-op elsewhere
            img.load()
    return width, height, mode


def parse_filename(filename: str, class_name: str) -> dict[str, object]:
    """Difficulty, image id, code and region flags encoded in a file name.

    Fakes are named ``{easy|mid|hard}_{id}_{code}.jpg``; the code's four 0/1 digits mark the
    edited regions (left eye, right eye, nose, mouth). A code of another length (the official
    ``easy_116_111.jpg``) leaves the regions unknown (NA); a name that does not parse at all
    gives difficulty "unknown".
    """
    stem = Path(filename).stem
    if class_name == CLASS_NAMES[1]:
        match = _REAL_NAME.match(stem)
        return {"difficulty": "real", "image_id": int(match[1]) if match else None,
                "code": None, **{region: False for region in REGIONS}}
    match = _FAKE_NAME.match(stem)
    if match is None:
        return {"difficulty": "unknown", "image_id": None, "code": None,
                **{region: None for region in REGIONS}}
    code = match[3]
    known = len(code) == len(REGIONS) and set(code) <= {"0", "1"}
    flags = [digit == "1" for digit in code] if known else [None] * len(REGIONS)
    return {"difficulty": match[1].lower(), "image_id": int(match[2]), "code": code,
            **dict(zip(REGIONS, flags))}


def _index_rows(files: list[tuple[Path, int]], validate: bool, progress: bool | None):
    rows, failures = [], []
    show = len(files) >= PROGRESS_MIN_FILES if progress is None else progress
    for path, label in tqdm(files, desc="Checking images", unit="img", disable=not show,
                            leave=False):
        try:
            width, height, mode = read_image_info(path, decode=validate)
        except Exception as error:  # any failure to open or decode makes the file unusable
            failures.append(f"{path} ({type(error).__name__}: {error})")
            continue
        class_name = CLASS_NAMES[label]
        rows.append({"path": os.path.abspath(path), "filename": path.name, "label": label,
                     "class_name": class_name, **parse_filename(path.name, class_name),
                     "width": width, "height": height, "mode": mode})
    return rows, failures


def index_dataset(root: str | os.PathLike, *, validate: bool = True, official: bool | None = None,
                  progress: bool | None = None) -> pd.DataFrame:
    """One row per usable image, sorted by (label, filename); columns as in ``COLUMN_DTYPES``.

    Args:
        root: the dataset folder, or any folder up to three levels above the class folders.
        validate: decode every image once (fast JPEG draft mode); unreadable files are
            skipped with a ``DatasetWarning`` naming each. With False only the headers are read.
        official: check the official counts (1081 real, 960 fake: 240 easy, 480 mid, 240
            hard) and warn on a mismatch. None: check only when the folder looks like the
            whole official set (official file names and at least 90 % of its 2041 files),
            so subsets and the demo dataset index quietly.
        progress: tqdm bar; None shows it from 300 files on.
    Images in other modes or formats (grayscale, RGBA, CMYK, PNG saved as .jpg) are kept:
    the loaders convert them to RGB. Non-image and hidden files are ignored.
    """
    class_root = find_class_root(root)
    files = []
    for label, class_name in enumerate(CLASS_NAMES):
        found = list_image_files(class_root / class_name)
        if not found:
            raise FileNotFoundError(
                f"Class folder {class_root / class_name} holds no image files "
                f"({', '.join(IMAGE_EXTENSIONS)}); it holds {_describe(class_root / class_name)}.")
        files += [(path, label) for path in found]
    rows, failures = _index_rows(files, validate, progress)
    if failures:
        warnings.warn(f"Skipped {len(failures)} unreadable image file(s): " + "; ".join(failures),
                      DatasetWarning, stacklevel=2)
    df = pd.DataFrame(rows, columns=list(COLUMN_DTYPES)).astype(COLUMN_DTYPES)
    for label, class_name in enumerate(CLASS_NAMES):
        if not (df["label"] == label).any():
            raise ValueError(f"No readable image left in {class_root / class_name}: every file "
                             "failed to decode (see the warning above).")
    df = df.sort_values(["label", "filename", "path"], ignore_index=True)
    _warn_about_names(df)
    if official or (official is None and _looks_official(df, len(files))):
        for problem in official_count_problems(df, n_skipped=len(failures)):
            warnings.warn(problem, DatasetWarning, stacklevel=2)
    return df


def _warn_about_names(df: pd.DataFrame) -> None:
    unknown = df.loc[df["difficulty"] == "unknown", "filename"].tolist()
    if unknown:
        warnings.warn(
            f"{len(unknown)} fake image name(s) do not follow {{easy|mid|hard}}_{{id}}_{{code}}"
            " and were kept with difficulty 'unknown' and unknown regions: "
            + ", ".join(unknown[:20])
            + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""),
            DatasetWarning, stacklevel=3)
    repeated = sorted({name for name, n in Counter(df["filename"]).items() if n > 1})
    if repeated:
        warnings.warn(
            f"File name(s) found more than once (in sub-folders): {', '.join(repeated[:10])}. "
            "Split manifests are keyed by file name; rename the copies to save or apply one.",
            DatasetWarning, stacklevel=3)


def _looks_official(df: pd.DataFrame, n_files: int) -> bool:
    official_names = df["filename"].str.fullmatch(_OFFICIAL_NAME.pattern).sum()
    return n_files >= OFFICIAL_MIN_FILES and official_names >= 0.95 * len(df)


def official_count_problems(df: pd.DataFrame, *, n_skipped: int = 0) -> list[str]:
    """Differences between an index and the official dataset's counts, one message each."""
    problems = []
    for class_name, expected in OFFICIAL_COUNTS.items():
        found = int((df["class_name"] == class_name).sum())
        if found != expected:
            problems.append(f"{class_name} has {found} usable images; the official dataset "
                            f"has {expected}.")
    expected_real = {f"real_{i:05d}.jpg" for i in range(1, OFFICIAL_COUNTS["training_real"] + 1)}
    missing = sorted(expected_real - set(df.loc[df["label"] == 1, "filename"]))
    if missing:
        problems.append(f"Missing real images: {', '.join(missing[:10])}"
                        + (f" and {len(missing) - 10} more." if len(missing) > 10 else "."))
    for difficulty in DIFFICULTIES:
        found = int((df["difficulty"] == difficulty).sum())
        if found != OFFICIAL_DIFFICULTY_COUNTS[difficulty]:
            problems.append(f"{found} '{difficulty}' fakes; the official dataset has "
                            f"{OFFICIAL_DIFFICULTY_COUNTS[difficulty]}.")
    if problems and n_skipped:
        problems.append(f"{n_skipped} unreadable file(s) were skipped (see the warning above); "
                        "re-download the dataset to restore them.")
    return problems
