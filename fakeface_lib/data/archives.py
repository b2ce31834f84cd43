"""Zip archives, extracted safely: nothing is ever written outside the target folder."""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

from tqdm.auto import tqdm

_SKIPPED_MEMBERS = ("__MACOSX/",)  # macOS metadata in zips made on a Mac


class DatasetDownloadError(RuntimeError):
    """The dataset could not be fetched or extracted; the message names the cause and the fix."""


def unsafe_members(archive: zipfile.ZipFile) -> list[str]:
    """Names of members that would land outside the extraction folder, or are symlinks."""
    bad = []
    for member in archive.infolist():
        name = member.filename
        parts = re.split(r"[\\/]", name)
        is_link = (member.external_attr >> 16) & 0o170000 == 0o120000
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts \
                or is_link:
            bad.append(name)
    return bad


def _corrupt(archive: Path, err: Exception) -> DatasetDownloadError:
    return DatasetDownloadError(
        f"{archive} is not a readable zip archive ({type(err).__name__}: {err}); the download "
        f"is probably incomplete or corrupt. Delete {archive} and download it again.")


def safe_extract(archive: Path, out: Path, quiet: bool = True) -> None:
    """Extract a zip into ``out``; refuse the whole archive if any member would escape it."""
    try:
        with zipfile.ZipFile(archive) as zf:
            bad = unsafe_members(zf)
            if bad:
                raise DatasetDownloadError(
                    f"{archive} holds {len(bad)} member(s) that would be written outside "
                    f"{out} or are links: {', '.join(map(repr, bad[:5]))}. Nothing was "
                    "extracted; get the archive from a trusted source.")
            members = [m for m in zf.infolist() if not m.filename.startswith(_SKIPPED_MEMBERS)]
            for member in tqdm(members, desc=f"Extracting {archive.name}", unit="file",
                               disable=quiet or len(members) < 100):
                zf.extract(member, out)
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise _corrupt(archive, err) from err
