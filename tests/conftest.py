"""Shared fixtures: tiny noise loaders, the generated demo dataset, the series executed once as
on Colab, and, when present, the real 160x160 copy."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")  # no display in tests


def _share_the_cores() -> None:
    """Under xdist, each worker (and every notebook kernel it starts, which inherits the
    environment) gets its share of the cores: two workers of two threads each on two cores spend
    their time waiting on each other's threads. An OMP_NUM_THREADS already set is kept."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))


_share_the_cores()  # before anything imports torch in this process

REAL_DATA = Path(os.environ.get(
    "FAKEFACE_REAL_DATA",
    Path(__file__).resolve().parents[2] / "shared" / "data" / "real_and_fake_face_160"))


# The suite's two long jobs, one per xdist worker from the start (make test: -n 2 --dist
# loadgroup hands out groups in collection order). Collected where they fall, the solutions came
# near the end of the queue and ran alone while the other worker sat idle.
LONG_GROUPS = ("series", "solutions")


def pytest_collection_modifyitems(config, items):
    """Move the tests of LONG_GROUPS to the front, in that order; the rest keep their order."""
    def rank(item) -> int:
        marker = item.get_closest_marker("xdist_group")
        group = marker.args[0] if marker and marker.args else None
        return LONG_GROUPS.index(group) if group in LONG_GROUPS else len(LONG_GROUPS)

    items.sort(key=rank)  # stable


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
    from fakeface_lib.data.demo import make_demo_dataset

    return make_demo_dataset(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def real_root() -> Path:
    """The 160x160 copy of the real dataset; tests that need it skip when it is absent."""
    if not (REAL_DATA / "training_real").is_dir():
        pytest.skip(f"real data copy not found at {REAL_DATA} (set FAKEFACE_REAL_DATA)")
    return REAL_DATA


@dataclass
class ExecutedSeries:
    """The series executed once in smoke mode on the demo data, as a student runs it on Colab."""

    base: Path  # the simulation's folder: drive/, executed/, the ledgers
    use: object  # simulate.DriveUse: the bytes each notebook wrote to Drive, and its wall time
    executed: Path  # the executed notebooks, <stem>.ipynb
    results: Path  # what the notebooks saved on Drive for one another (smoke-demo/)
    report: Path  # report.md, written from those results as `make demo` writes it

    def notebook(self, name: str) -> dict:
        import json

        return json.loads((self.executed / f"{name}.ipynb").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def executed_series(tmp_path_factory) -> ExecutedSeries:
    """Every notebook of the series once, each on a fresh simulated Colab machine with Drive
    mounted and checkpoints on (tests/colab_sim), then the series' report from what they saved.

    ResNet18's ImageNet weights sit in the torch hub cache, as after a download (stand-in
    weights: what is checked is the path notebook 04 takes, not ImageNet's features). Tests
    that use it share one xdist group ("series"), so one worker runs it once.
    """
    import torch
    import torchvision

    from fakeface_lib.data.demo import make_demo_dataset
    from fakeface_lib.runner.report import write_report
    from fakeface_lib.runner.series import RunOptions

    sys.path.insert(0, str(Path(__file__).resolve().parent / "colab_sim"))
    from simulate import simulate_colab

    base = tmp_path_factory.mktemp("colab")
    make_demo_dataset(base / "data" / "demo")  # every machine downloads the same data
    cache = base / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    weights = torchvision.models.ResNet18_Weights.DEFAULT
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), cache / Path(weights.url).name)
    params = {"DATA": "demo", "SMOKE": True, "CHECKPOINT": True, "DATA_DIR": str(base / "data")}
    use = simulate_colab(base, params, extra_env={"TORCH_HOME": str(base / "torch")})
    results = base / "drive" / "fakeface" / "results"
    report = write_report(base, results, opts=RunOptions(data="demo", smoke=True),
                          timings=use.seconds)
    return ExecutedSeries(base, use, base / "executed", results / "smoke-demo", report)
