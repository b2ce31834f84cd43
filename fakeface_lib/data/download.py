"""Get the dataset: Kaggle (kagglehub), a Google Drive zip (gdown), a local zip or folder, or the
generated demo. Archives are extracted safely; a repeated call finds the data and does nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import threading
import warnings
from pathlib import Path
from urllib.parse import urlparse

from tqdm.auto import tqdm

from fakeface_lib.data.archives import DatasetDownloadError, safe_extract

KAGGLE_SLUG = "ciplab/real-and-fake-face-detection"
KAGGLE_HOST = "www.kaggle.com"
DRIVE_HOST = "drive.google.com"
CONNECT_TIMEOUT_S = 3.0  # offline, a Kaggle or Drive source fails after this long
COLAB_DRIVE = "/content/drive"  # where Colab mounts Google Drive
_DRIVE_URL_ID = (re.compile(r"/d/([\w-]{10,})"), re.compile(r"[?&]id=([\w-]{10,})"))
_DRIVE_BARE_ID = re.compile(r"^[\w-]{20,}$")
ALTERNATIVES = (
    "Other sources: a Google Drive file id or share link of the dataset zip, a local .zip or "
    "extracted folder (e.g. DATA=\"/content/drive/MyDrive/real_and_fake_face.zip\" with Drive "
    "mounted), or DATA=\"demo\" for the generated offline demo dataset.")


def download_dataset(source: str | os.PathLike = "kaggle", dest: str | os.PathLike = "data", *,
                     force: bool = False, copy_to_local: bool = True, quiet: bool = False) -> Path:
    """Fetch the dataset once and return its root (the folder with training_real/, training_fake/).

    source:
        "kaggle": kagglehub downloads ``ciplab/real-and-fake-face-detection`` into its cache
        (public: no credentials needed; KAGGLE_USERNAME/KAGGLE_KEY from the environment or,
        on Colab, from the notebook's secrets are passed on, never printed); dest/
        real_and_fake_face then links to it. A Google Drive file id or share URL: gdown saves
        the zip as dest/drive_<id>.zip, extracted to dest/drive_<id>/. A local .zip: extracted
        to dest/<zip name>/. A folder: used where it is, or copied to dest/<folder name>/
        (see copy_to_local). "demo": make_demo_dataset(dest/"demo").
    force: fetch, extract or copy again even if the data is already there.
    copy_to_local: copy a folder source to local disk under dest. Reading thousands of
        small files from a mounted Google Drive (/content/drive/...) is slow, while one
        copy is quick; keep True there. False uses the folder in place.
    quiet: no messages or progress bars.
    Archives never write outside their folder: an archive with an absolute, drive-letter,
    ``..`` or symlink member is refused whole, before anything is written. Without a network,
    "kaggle" and Drive sources fail within seconds with a DatasetDownloadError naming the
    other sources.
    """
    kind, value = classify_source(source)
    dest = Path(dest).expanduser()
    if kind == "demo":
        return _fetch_demo(dest, force, quiet)
    if kind == "folder":
        return _fetch_folder(value, dest, force=force, copy_to_local=copy_to_local, quiet=quiet)
    if kind == "kaggle":
        target = dest / "real_and_fake_face"
    else:
        target = dest / (f"drive_{value}" if kind == "drive" else Path(value).stem)
    if (existing := _already_there(target, force)) is not None:
        return _verify(existing, quiet, "already there, nothing to do")
    if kind == "kaggle":
        root = _fetch_kaggle(target, quiet)
    elif kind == "drive":
        root = _extract(_fetch_drive(value, dest, force, quiet), target, quiet)
    else:
        root = _extract(Path(value), target, quiet)
    return _verify(root, quiet, "ready")


def classify_source(source: str | os.PathLike) -> tuple[str, str | Path]:
    """("demo"|"kaggle"|"folder"|"zip"|"drive", value) for a ``download_dataset`` source."""
    text = str(source).strip()
    if text.lower() in ("demo", "kaggle"):
        return text.lower(), text.lower()
    path = Path(text).expanduser()
    if path.is_dir():
        return "folder", path
    if path.is_file():
        return "zip", path
    if "google.com" in text:
        for pattern in _DRIVE_URL_ID:
            if match := pattern.search(text):
                return "drive", match[1]
        raise ValueError(f"Could not find a file id in the Google Drive link {text!r}; copy the "
                         "share link (https://drive.google.com/file/d/<id>/view) or the id itself.")
    if _DRIVE_BARE_ID.match(text):
        return "drive", text
    raise FileNotFoundError(
        f"Dataset source {text!r} is neither \"kaggle\", \"demo\", a Google Drive id or link, "
        "nor an existing .zip or folder (check the path; on Colab mount Drive first).")


def _say(quiet: bool, message: str) -> None:
    if not quiet:
        print(message)


def _existing_root(folder: Path) -> Path | None:
    """The class root inside ``folder`` when it is there (a dangling link counts as absent)."""
    from fakeface_lib.data.index import find_class_root

    if not folder.exists():
        return None
    try:
        return find_class_root(folder)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _already_there(target: Path, force: bool) -> Path | None:
    """The dataset root in ``target`` unless ``force``; refuses to overwrite a foreign folder."""
    if force:
        return None
    if (existing := _existing_root(target)) is not None:
        return existing
    if target.exists() and not target.is_symlink():  # not ours: we only rename complete copies
        raise DatasetDownloadError(f"{target} exists but holds no dataset; move it away or "
                                   "pass force=True to replace it.")
    return None


def _verify(root: Path, quiet: bool, state: str) -> Path:
    """Index ``root`` (headers only) and report its counts; returns it as an absolute path."""
    from fakeface_lib.data.index import index_dataset

    try:
        df = index_dataset(root, validate=False, progress=False)
    except (FileNotFoundError, ValueError) as err:
        raise DatasetDownloadError(
            f"{root} is not a usable dataset: {err} Delete it, or pass force=True, and fetch "
            "it again.") from err
    n_real = int((df["label"] == 1).sum())
    _say(quiet, f"Dataset {state}: {root} ({n_real} real, {len(df) - n_real} fake images).")
    return Path(os.path.abspath(root))


def _fetch_demo(dest: Path, force: bool, quiet: bool) -> Path:
    """The generated demo set under dest/demo (generated once, then found)."""
    from fakeface_lib.data.demo import STAMP_NAME, make_demo_dataset

    folder, stamp = dest / "demo", dest / "demo" / STAMP_NAME
    if force and stamp.exists():  # the stamp proves the folder is a demo set
        shutil.rmtree(folder)
    before = stamp.stat().st_mtime_ns if stamp.exists() else None
    root = make_demo_dataset(folder)  # rewrites the stamp whenever it generates
    found = before == stamp.stat().st_mtime_ns
    return _verify(root, quiet, "already there (demo), nothing to generate" if found
                   else "generated (demo)")


def _remove(path: Path) -> None:
    """Delete a file, a link (never what it points to) or a folder, if present."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _probe(host: str, port: int, timeout: float) -> bool:
    """True when a TCP connection opens within ``timeout`` (DNS lookup included)."""
    opened: list[bool] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            opened.append(True)
        except OSError:
            opened.append(False)

    worker = threading.Thread(target=connect, daemon=True)  # a hung DNS lookup must not block
    worker.start()
    worker.join(timeout)
    return bool(opened and opened[0])


def is_online(host: str, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Can we reach ``host`` on port 443 (or the HTTPS proxy when one is configured)?"""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    if proxy:
        parsed = urlparse(proxy if "://" in proxy else f"http://{proxy}")
        return _probe(parsed.hostname or "", parsed.port or 80, timeout)
    return _probe(host, 443, timeout)


def _require_online(host: str, service: str) -> None:
    if not is_online(host):
        raise DatasetDownloadError(
            f"Cannot reach {host} within {CONNECT_TIMEOUT_S:g} s (no internet connection?), so "
            f"the dataset cannot come from {service}. {ALTERNATIVES}")


def _pass_kaggle_credentials() -> None:
    """Put Colab's KAGGLE_USERNAME/KAGGLE_KEY secrets in the environment, if any (optional)."""
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return
    if "google.colab" not in sys.modules:
        return
    try:
        from google.colab import userdata

        secrets = {name: userdata.get(name) for name in ("KAGGLE_USERNAME", "KAGGLE_KEY")}
    except Exception:  # secret missing or access not granted: the public dataset needs none
        return
    os.environ.update({name: value for name, value in secrets.items() if value})


def _kaggle_download(slug: str) -> Path:
    """The folder kagglehub downloads (or has cached) the dataset into. Network."""
    import kagglehub

    return Path(kagglehub.dataset_download(slug))


def _gdown_download(file_id: str, out: Path, quiet: bool) -> None:
    """Save the Google Drive file ``file_id`` as ``out``. Network."""
    import gdown

    if gdown.download(id=file_id, output=str(out), quiet=quiet) is None:
        raise RuntimeError("gdown saved no file (is the file shared as 'Anyone with the link'?)")


def _fetch_kaggle(target: Path, quiet: bool) -> Path:
    """Download with kagglehub, then link (or copy) the class root to ``target``."""
    from fakeface_lib.data.index import find_class_root

    _require_online(KAGGLE_HOST, "Kaggle")
    _pass_kaggle_credentials()
    try:
        cache = _kaggle_download(KAGGLE_SLUG)
        root = find_class_root(cache)  # the archive also nests a duplicate copy; take one
    except Exception as err:
        raise DatasetDownloadError(
            f"Downloading {KAGGLE_SLUG} from Kaggle failed ({type(err).__name__}: {err}). "
            f"{ALTERNATIVES}") from err
    _remove(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        target.symlink_to(root.absolute(), target_is_directory=True)
    except OSError:  # no symlinks (some Windows setups): copy instead
        _copy_classes(root, target, quiet)
    return target


def _fetch_drive(file_id: str, dest: Path, force: bool, quiet: bool) -> Path:
    """dest/drive_<id>.zip, downloaded with gdown unless already there."""
    archive = dest / f"drive_{file_id}.zip"
    if archive.is_file() and not force:
        return archive
    _require_online(DRIVE_HOST, "Google Drive")
    dest.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + ".part")
    try:
        _gdown_download(file_id, partial, quiet)
    except Exception as err:
        partial.unlink(missing_ok=True)
        raise DatasetDownloadError(
            f"Downloading Google Drive file {file_id} failed ({type(err).__name__}: {err}). "
            f"Check the id and that the file is shared as 'Anyone with the link'. "
            f"{ALTERNATIVES}") from err
    partial.replace(archive)
    return archive


def _fetch_folder(folder: Path, dest: Path, *, force: bool, copy_to_local: bool,
                  quiet: bool) -> Path:
    """The class root in ``folder``, or a copy of it under dest (see ``copy_to_local``)."""
    from fakeface_lib.data.index import find_class_root

    root = find_class_root(folder)
    inside_dest = Path(os.path.abspath(root)).is_relative_to(os.path.abspath(dest))
    if not copy_to_local or inside_dest:
        if os.path.abspath(root).startswith(COLAB_DRIVE + "/"):
            warnings.warn(f"Reading {root} straight from Google Drive is slow; "
                          "copy_to_local=True copies it to local disk once.", stacklevel=3)
        return _verify(root, quiet, "found")
    target = dest / root.name
    if (existing := _already_there(target, force)) is not None:
        return _verify(existing, quiet, "already copied, nothing to do")
    _copy_classes(root, target, quiet)
    return _verify(target, quiet, "copied")


def _copy_classes(root: Path, target: Path, quiet: bool) -> None:
    """Copy root's class folders to ``target`` (through a temporary folder: all or nothing)."""
    from fakeface_lib.config import CLASS_NAMES

    files = [path for name in CLASS_NAMES for path in sorted((root / name).rglob("*"))
             if path.is_file()]
    partial = target.with_name(f".{target.name}.partial")
    _remove(partial)
    for path in tqdm(files, desc=f"Copying to {target}", unit="file", disable=quiet):
        out = partial / path.relative_to(root)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out)
    for name in CLASS_NAMES:  # an empty class folder still counts as copied
        (partial / name).mkdir(parents=True, exist_ok=True)
    _remove(target)
    partial.rename(target)


def _extract(archive: Path, target: Path, quiet: bool) -> Path:
    """Extract ``archive`` (and zips inside it) to ``target``; returns the class root there."""
    from fakeface_lib.data.index import find_class_root

    partial = target.with_name(f".{target.name}.partial")
    _remove(partial)
    try:
        safe_extract(archive, partial, quiet)
        for inner in sorted(partial.rglob("*.zip")):  # a zip inside the zip
            safe_extract(inner, inner.with_suffix(""), quiet)
            inner.unlink()
        root = find_class_root(partial)
    except FileNotFoundError as err:
        _remove(partial)
        raise DatasetDownloadError(f"{archive} does not hold the dataset: {err}") from err
    except BaseException:
        _remove(partial)
        raise
    _remove(target)
    partial.rename(target)
    return target / root.relative_to(partial)
