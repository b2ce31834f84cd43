"""Shared fixtures: the generated demo dataset and, when present, the real 160x160 copy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")  # no display in tests

REAL_DATA = Path(os.environ.get(
    "FAKEFACE_REAL_DATA",
    Path(__file__).resolve().parents[2] / "shared" / "data" / "real_and_fake_face_160"))


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    """The default demo dataset, generated once per test session."""
    from fakeface_lib.demo import make_demo_dataset

    return make_demo_dataset(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def real_root() -> Path:
    """The 160x160 copy of the real dataset; tests that need it skip when it is absent."""
    if not (REAL_DATA / "training_real").is_dir():
        pytest.skip(f"real data copy not found at {REAL_DATA} (set FAKEFACE_REAL_DATA)")
    return REAL_DATA
