"""Packaging: requirements.txt and pyproject agree, nothing Colab ships is pinned."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLAB_SHIPS = {"torch", "torchvision", "numpy"}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirements() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def test_requirements_match_pyproject():
    project = _pyproject()["project"]
    declared = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    assert set(_requirements()) == declared


def test_no_hard_pins_on_what_colab_ships():
    for req in _requirements():
        name = re.split(r"[<>=!~ \[]", req, maxsplit=1)[0].lower()
        assert "==" not in req, f"{req}: pins break Colab's preinstalled packages; use a range"
        if name in COLAB_SHIPS:
            assert "<" not in req, f"{req}: an upper bound on {name} would replace Colab's build"


def test_canonical_manifest_is_package_data():
    manifest = ROOT / "fakeface_lib" / "splits" / "real_and_fake_face.csv"
    assert manifest.exists(), "the split manifest must ship inside the package for pip installs"
    assert manifest.resolve() == (ROOT / "data" / "splits" / "real_and_fake_face.csv").resolve()
