"""Split manifests (filename, class_name, split): saved, loaded, applied to an index, and the
canonical one shipped with the package (data/manifests/)."""

from __future__ import annotations

import importlib.resources
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from fakeface_lib.config import SPLITS

MANIFEST_COLUMNS = ("filename", "class_name", "split")


CANONICAL_MANIFEST = "real_and_fake_face.csv"


def _check_manifest(manifest: pd.DataFrame, source: str) -> pd.DataFrame:
    require_columns(manifest, MANIFEST_COLUMNS, f"Split manifest {source}")
    bad = sorted(set(manifest["split"].astype(str)) - set(SPLITS))
    if bad or manifest["split"].isna().any():
        raise ValueError(f"Split manifest {source} has split values {bad or ['<missing>']}; "
                         f"allowed: {SPLITS}.")
    repeated = manifest.loc[manifest["filename"].duplicated(), "filename"].tolist()
    if repeated:
        raise ValueError(f"Split manifest {source} lists file name(s) more than once: "
                         f"{repeated[:10]}. Manifests are keyed by file name; rename the copies.")
    return manifest


def save_split(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the manifest (filename, class_name, split) of a split DataFrame as CSV."""
    path = Path(path)
    manifest = _check_manifest(df.loc[:, list(MANIFEST_COLUMNS)].astype("string"), "to save")
    manifest = manifest.sort_values(["class_name", "filename"], ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest.to_csv(path, index=False, lineterminator="\n")
    return path


def load_split(path: str | os.PathLike) -> pd.DataFrame:
    """Read a manifest written by ``save_split``: DataFrame(filename, class_name, split)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Split manifest {path} does not exist; write one with "
                                "save_split(split_df, path).")
    manifest = pd.read_csv(path, dtype="string", keep_default_na=False)
    return _check_manifest(manifest, str(path)).loc[:, list(MANIFEST_COLUMNS)]


def apply_split(df: pd.DataFrame, manifest: pd.DataFrame | str | os.PathLike,
                *, strict: bool = True) -> pd.DataFrame:
    """A copy of ``df`` with the "split" column the manifest gives each file name.

    Files of ``df`` missing from the manifest are an error. Manifest files missing from
    ``df`` are an error too with ``strict``, else a warning (e.g. a file skipped as unreadable).
    """
    require_columns(df, ["filename", "class_name"], "apply_split")
    if not isinstance(manifest, pd.DataFrame):
        manifest = load_split(manifest)
    table = _check_manifest(manifest, "given").set_index("filename")
    repeated = df.loc[df["filename"].duplicated(), "filename"].tolist()
    if repeated:
        raise ValueError(f"apply_split: file name(s) occur more than once in df: {repeated[:10]}.")
    unknown = sorted(set(df["filename"]) - set(table.index))
    if unknown:
        raise ValueError(f"{len(unknown)} file(s) of df are not in the manifest: {unknown[:10]}. "
                         "Use split_dataset(df) for other data, or save_split a new manifest.")
    absent = sorted(set(table.index) - set(df["filename"]))
    if absent:
        message = (f"{len(absent)} file(s) of the manifest are not in df: {absent[:10]}"
                   + (" ..." if len(absent) > 10 else ""))
        if strict:
            raise ValueError(message + ". Pass strict=False to accept a partial dataset.")
        warnings.warn(message + "; their rows are simply absent.", UserWarning, stacklevel=2)
    expected = table.loc[df["filename"], "class_name"].to_numpy()
    clash = df["filename"][df["class_name"].astype(str).to_numpy() != expected.astype(str)]
    if len(clash):
        raise ValueError(f"File(s) sit in another class folder than the manifest says: "
                         f"{clash.tolist()[:10]}.")
    out = df.copy()
    out["split"] = pd.array(table.loc[df["filename"], "split"].to_numpy(), dtype="string")
    return out


def canonical_manifest_path() -> Path:
    """The shipped manifest, package data of ``fakeface_lib.data`` (``manifests/``)."""
    resource = importlib.resources.files("fakeface_lib.data").joinpath("manifests", CANONICAL_MANIFEST)
    if resource.is_file() and isinstance(resource, Path):
        return resource
    raise FileNotFoundError(f"The canonical split manifest {CANONICAL_MANIFEST} is not in the "
                            f"package data ({resource}); reinstall fakeface.")


def load_canonical_manifest() -> pd.DataFrame:
    """The canonical manifest (2041 rows: 1633 train, 204 val, 204 test)."""
    resource = importlib.resources.files("fakeface_lib.data").joinpath("manifests", CANONICAL_MANIFEST)
    if resource.is_file():  # also inside a zipped install, where it is not a plain path
        with importlib.resources.as_file(resource) as path:
            return load_split(path)
    return load_split(canonical_manifest_path())


def require_columns(df: pd.DataFrame, columns: Sequence[str], caller: str) -> None:
    """Raise, naming the fix, unless ``df`` is a DataFrame with these columns."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{caller} expects a pandas DataFrame, got {type(df).__name__}.")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"{caller}: the DataFrame lacks column(s) {missing} (it has "
                       f"{list(df.columns)}); build it with fakeface_lib.data.index.index_dataset(root).")
