"""download_dataset against local archives and folders, with the network replaced by fakes."""

from __future__ import annotations

import socket
import sys
import time
import types
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from fakeface_lib.data import download
from fakeface_lib.data.index import index_dataset
from fakeface_lib.data.archives import DatasetDownloadError
from fakeface_lib.data.download import classify_source, download_dataset

DRIVE_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz012345"
REAL_NAMES = ["real_00001.jpg", "real_00002.jpg", "real_00003.jpg"]
FAKE_NAMES = ["easy_1_1000.jpg", "mid_1_1111.jpg"]


def make_class_folders(root: Path) -> Path:
    """A tiny dataset in the real layout: 3 real and 2 fake 8x8 JPEGs."""
    for class_name, names in (("training_real", REAL_NAMES), ("training_fake", FAKE_NAMES)):
        (root / class_name).mkdir(parents=True)
        for i, name in enumerate(names):
            Image.new("RGB", (8, 8), (40 * i, 90, 160)).save(root / class_name / name)
    return root


def make_zip(tmp_path: Path, name: str, prefix: str = "real_and_fake_face/",
             extra: dict[str, bytes] | None = None) -> Path:
    """A zip of the tiny dataset under ``prefix``, plus any ``extra`` members."""
    source = make_class_folders(tmp_path / f"src_{name}")
    archive = tmp_path / name
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(source.rglob("*.jpg")):
            zf.write(path, prefix + path.relative_to(source).as_posix())
        for member, data in (extra or {}).items():
            zf.writestr(member, data)
    return archive


def counts(root: Path) -> tuple[int, int]:
    df = index_dataset(root, validate=False, progress=False)
    return int((df["label"] == 1).sum()), int((df["label"] == 0).sum())


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any real connection attempt fails: the tests must never reach the internet."""
    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket, "create_connection", refuse)
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("prefix", ["", "real_and_fake_face/",
                                    "real_and_fake_face/real_and_fake_face/"])
def test_local_zip_extracts_and_finds_root(tmp_path, prefix):
    archive = make_zip(tmp_path, "real_and_fake_face.zip", prefix)
    dest = tmp_path / "data"
    root = download_dataset(archive, dest=dest, quiet=True)
    assert root == (dest / "real_and_fake_face" / prefix).absolute()
    assert counts(root) == (3, 2)
    assert sorted(p.name for p in dest.iterdir()) == ["real_and_fake_face"]  # no leftovers


def test_zip_inside_zip(tmp_path):
    inner = make_zip(tmp_path, "inner.zip")
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.write(inner, "archive/inner.zip")
    root = download_dataset(outer, dest=tmp_path / "data", quiet=True)
    assert counts(root) == (3, 2)
    assert not list((tmp_path / "data").rglob("*.zip"))


def test_repeated_call_does_nothing(tmp_path, monkeypatch, capsys):
    archive = make_zip(tmp_path, "faces.zip")
    dest = tmp_path / "data"
    first = download_dataset(archive, dest=dest)
    stamp = {p: p.stat().st_mtime_ns for p in dest.rglob("*")}

    def must_not_run(*args, **kwargs):
        raise AssertionError("extracted again")

    monkeypatch.setattr(download, "safe_extract", must_not_run)
    capsys.readouterr()
    assert download_dataset(archive, dest=dest) == first
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "already there" in out and "3 real, 2 fake" in out
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*")} == stamp


def test_force_extracts_again(tmp_path):
    archive = make_zip(tmp_path, "faces.zip")
    root = download_dataset(archive, dest=tmp_path / "data", quiet=True)
    (root / "training_real" / REAL_NAMES[0]).unlink()
    assert counts(download_dataset(archive, dest=tmp_path / "data", quiet=True)) == (2, 2)
    assert counts(download_dataset(archive, dest=tmp_path / "data", force=True,
                                   quiet=True)) == (3, 2)


def symlink_member(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (0o120777 << 16)  # a symlink, as zip on Unix stores one
    return info


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt", "C:/evil.txt",
                                    "real_and_fake_face/../../evil.txt", "..\\evil.txt",
                                    "link"])
def test_hostile_archive_writes_nothing(tmp_path, member):
    archive = make_zip(tmp_path, "hostile.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        if member == "link":
            zf.writestr(symlink_member("real_and_fake_face/link", "/etc"), "/etc")
        else:
            zf.writestr(member, b"pwned")
    dest = tmp_path / "nested" / "data"
    with pytest.raises(DatasetDownloadError, match="Nothing was extracted") as info:
        download_dataset(archive, dest=dest, quiet=True)
    assert repr("real_and_fake_face/link" if member == "link" else member) in str(info.value)
    assert not list(tmp_path.rglob("evil.txt")) and not Path("/abs/evil.txt").exists()
    assert not dest.exists() or not any(dest.rglob("*"))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped"])
def test_corrupt_zip_names_file_and_fix(tmp_path, damage):
    archive = make_zip(tmp_path, "faces.zip")
    data = archive.read_bytes()
    cut = len(data) // 3
    archive.write_bytes({"garbage": b"this is not a zip", "truncated": data[:cut],
                         "flipped": data[:cut] + bytes(b ^ 0xFF for b in data[cut:cut + 64])
                         + data[cut + 64:]}[damage])
    with pytest.raises(DatasetDownloadError) as info:
        download_dataset(archive, dest=tmp_path / "data", quiet=True)
    assert str(archive) in str(info.value) and "Delete" in str(info.value)
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


def test_foreign_folder_in_the_way_is_kept(tmp_path):
    archive = make_zip(tmp_path, "faces.zip")
    mine = tmp_path / "data" / "faces" / "notes.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("mine")
    with pytest.raises(DatasetDownloadError, match="force=True"):
        download_dataset(archive, dest=tmp_path / "data", quiet=True)
    assert mine.read_text() == "mine"
    assert counts(download_dataset(archive, dest=tmp_path / "data", force=True,
                                   quiet=True)) == (3, 2)


def test_zip_without_dataset_is_refused(tmp_path):
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("notes/readme.txt", "no faces here")
    with pytest.raises(DatasetDownloadError, match="does not hold the dataset"):
        download_dataset(archive, dest=tmp_path / "data", quiet=True)
    assert not any((tmp_path / "data").iterdir())


def test_folder_is_copied_once(tmp_path, monkeypatch):
    source = make_class_folders(tmp_path / "drive" / "real_and_fake_face")
    dest = tmp_path / "data"
    root = download_dataset(tmp_path / "drive", dest=dest, quiet=True)
    assert root == (dest / "real_and_fake_face").absolute() and counts(root) == (3, 2)
    (source / "training_real" / REAL_NAMES[0]).unlink()  # the copy is independent
    monkeypatch.setattr(download, "_copy_classes", lambda *a: pytest.fail("copied again"))
    assert counts(download_dataset(tmp_path / "drive", dest=dest, quiet=True)) == (3, 2)


def test_folder_in_place(tmp_path):
    source = make_class_folders(tmp_path / "faces")
    root = download_dataset(source, dest=tmp_path / "data", copy_to_local=False, quiet=True)
    assert root == source.absolute() and not (tmp_path / "data").exists()
    inside = make_class_folders(tmp_path / "data" / "mine")  # already under dest: no copy
    assert download_dataset(inside, dest=tmp_path / "data", quiet=True) == inside.absolute()


def fake_kaggle_cache(tmp_path: Path) -> Path:
    """What kagglehub returns: real_and_fake_face/ plus a duplicate nested one level deeper."""
    cache = tmp_path / "cache" / "versions" / "1"
    make_class_folders(cache / "real_and_fake_face")
    make_class_folders(cache / "real_and_fake_face_detection" / "real_and_fake_face")
    return cache


def test_kaggle_links_download_and_then_stays_offline(tmp_path, monkeypatch):
    cache = fake_kaggle_cache(tmp_path)
    calls = []
    monkeypatch.setattr(download, "is_online", lambda host: True)
    monkeypatch.setattr(download, "_kaggle_download", lambda slug: calls.append(slug) or cache)
    dest = tmp_path / "data"
    root = download_dataset("kaggle", dest=dest, quiet=True)
    assert calls == [download.KAGGLE_SLUG] and counts(root) == (3, 2)
    assert (dest / "real_and_fake_face").resolve() == (cache / "real_and_fake_face").resolve()
    monkeypatch.setattr(download, "is_online", lambda host: False)
    assert download_dataset("kaggle", dest=dest, quiet=True) == root and len(calls) == 1


def test_kaggle_failure_is_wrapped(tmp_path, monkeypatch):
    def broken(slug):
        raise ConnectionError("HTTP 503")

    monkeypatch.setattr(download, "is_online", lambda host: True)
    monkeypatch.setattr(download, "_kaggle_download", broken)
    with pytest.raises(DatasetDownloadError, match="HTTP 503.*demo"):
        download_dataset("kaggle", dest=tmp_path / "data", quiet=True)


def test_kaggle_secrets_from_colab_are_passed_not_printed(tmp_path, monkeypatch, capsys):
    secrets = {"KAGGLE_USERNAME": "someone", "KAGGLE_KEY": "s3cr3t-key"}
    colab = types.ModuleType("google.colab")
    colab.userdata = types.SimpleNamespace(get=secrets.__getitem__)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    for name in secrets:
        monkeypatch.delenv(name, raising=False)
    seen = {}
    cache = fake_kaggle_cache(tmp_path)

    def fake_download(slug):
        seen.update({name: download.os.environ.get(name) for name in secrets})
        return cache

    monkeypatch.setattr(download, "is_online", lambda host: True)
    monkeypatch.setattr(download, "_kaggle_download", fake_download)
    download_dataset("kaggle", dest=tmp_path / "data")
    assert seen == secrets
    assert "s3cr3t-key" not in capsys.readouterr().out


@pytest.mark.parametrize("source", [
    f"https://drive.google.com/file/d/{DRIVE_ID}/view?usp=sharing",
    f"https://drive.google.com/open?id={DRIVE_ID}",
    f"https://drive.google.com/uc?export=download&id={DRIVE_ID}",
    DRIVE_ID])
def test_drive_sources_parse(source):
    assert classify_source(source) == ("drive", DRIVE_ID)


def test_drive_downloads_once(tmp_path, monkeypatch):
    archive = make_zip(tmp_path, "shared.zip", "real_and_fake_face/real_and_fake_face/")
    calls = []

    def fake_gdown(file_id, out, quiet):
        calls.append(file_id)
        out.write_bytes(archive.read_bytes())

    monkeypatch.setattr(download, "is_online", lambda host: True)
    monkeypatch.setattr(download, "_gdown_download", fake_gdown)
    dest = tmp_path / "data"
    url = f"https://drive.google.com/file/d/{DRIVE_ID}/view"
    root = download_dataset(url, dest=dest, quiet=True)
    assert calls == [DRIVE_ID] and counts(root) == (3, 2)
    assert root.is_relative_to((dest / f"drive_{DRIVE_ID}").absolute())
    assert download_dataset(DRIVE_ID, dest=dest, quiet=True) == root and len(calls) == 1


@pytest.mark.parametrize("source", ["kaggle", DRIVE_ID])
def test_offline_fails_fast_naming_alternatives(tmp_path, monkeypatch, source):
    monkeypatch.setattr(download, "_kaggle_download", lambda slug: pytest.fail("network used"))
    monkeypatch.setattr(download, "_gdown_download", lambda *a: pytest.fail("network used"))
    start = time.monotonic()
    with pytest.raises(DatasetDownloadError) as info:
        download_dataset(source, dest=tmp_path / "data", quiet=True)
    assert time.monotonic() - start < download.CONNECT_TIMEOUT_S + 2
    message = str(info.value)
    assert "Cannot reach" in message
    assert all(word in message for word in ("Google Drive file id", ".zip", "folder", "demo"))


def test_hung_lookup_times_out(monkeypatch):
    def hang(*args, **kwargs):
        time.sleep(5)  # far past the timeout below; the probe's thread is left behind
        raise OSError("lookup timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.monotonic()
    assert download.is_online("example.invalid", timeout=0.3) is False
    assert time.monotonic() - start < 2


def test_probe_sees_a_listening_port(monkeypatch):
    monkeypatch.undo()  # the real socket module for a loopback check
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert download._probe("127.0.0.1", port, 2.0) is True
    assert download._probe("127.0.0.1", port, 2.0) is False


def test_demo_source(tmp_path, capsys):
    root = download_dataset("demo", dest=tmp_path / "data")
    assert root == (tmp_path / "data" / "demo").absolute() and counts(root) == (120, 120)
    assert "generated (demo)" in capsys.readouterr().out
    mtimes = [p.stat().st_mtime_ns for p in sorted(root.rglob("*.jpg"))]
    assert download_dataset("DEMO", dest=tmp_path / "data") == root
    assert "already there" in capsys.readouterr().out
    assert [p.stat().st_mtime_ns for p in sorted(root.rglob("*.jpg"))] == mtimes


def test_unknown_sources_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither"):
        download_dataset(tmp_path / "missing.zip", dest=tmp_path / "data")
    with pytest.raises(ValueError, match="file id"):
        download_dataset("https://drive.google.com/drive/my-drive", dest=tmp_path / "data")
