"""Shared fixtures: tiny noise loaders, the generated demo dataset and, when present, the real
160x160 copy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")  # no display in tests

REAL_DATA = Path(os.environ.get(
    "FAKEFACE_REAL_DATA",
    Path(__file__).resolve().parents[2] / "shared" / "data" / "real_and_fake_face_160"))


@pytest.fixture
def noise_loaders():
    """Eight random images with alternating labels, as train (shuffled, 2 batches) and val (the
    same images): a network can only fit them by memorising."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(5)
    noise = TensorDataset(torch.randn(8, 3, 8, 8, generator=g), torch.arange(8) % 2)
    return {"train": DataLoader(noise, batch_size=4, shuffle=True,
                                generator=torch.Generator().manual_seed(0)),
            "val": DataLoader(noise, batch_size=8)}


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
