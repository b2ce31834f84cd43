"""On a CUDA GPU: float16 with its GradScaler and bfloat16 train and resume exactly, the default
config trains in mixed precision, make_loaders makes its batches there as the CPU does, and a
notebook of the series runs there in smoke mode. Skipped on machines without CUDA."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fakeface_lib.config import TrainConfig
from fakeface_lib.training.checkpoints import CheckpointPlan, load_checkpoint
from fakeface_lib.training.fit import fit

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

ROOT = Path(__file__).resolve().parents[1]
CUDA = torch.device("cuda")
NATIVE_BF16 = torch.cuda.is_available() and torch.cuda.get_device_capability() >= (8, 0)
CFG = TrainConfig(num_epochs=4, lr=0.05, scheduler="step", step_size=1, gamma=0.5, seed=7, amp=True)


@pytest.fixture(autouse=True)
def deterministic_kernels(monkeypatch):
    """Deterministic cuDNN convolutions, picked the same way every time (fit() then leaves
    cudnn.benchmark off); the cuBLAS setting works if no cuBLAS handle exists yet."""
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


class TinyNet(nn.Module):
    """Batch norm and dropout (the CUDA RNG) like the real models; no adaptive pooling, whose
    CUDA backward adds atomically (in no fixed order)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(8 * 8 * 8, 2))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))


def fresh_model() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet()


def loaders(n_train: int = 32, n_val: int = 16) -> dict[str, DataLoader]:
    g = torch.Generator().manual_seed(1)
    labels = torch.arange(n_train + n_val) % 2
    images = torch.randn(n_train + n_val, 3, 8, 8, generator=g) + 0.7 * labels.view(-1, 1, 1, 1)
    train = TensorDataset(images[:n_train], labels[:n_train])
    val = TensorDataset(images[n_train:], labels[n_train:])
    return {"train": DataLoader(train, batch_size=8, shuffle=True,
                                generator=torch.Generator().manual_seed(0)),
            "val": DataLoader(val, batch_size=8)}


def without_seconds(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def test_float16_with_its_scaler_overfits_a_tiny_batch(tmp_path, capsys, noise_loaders):
    data = noise_loaders  # labels are noise: it must memorise
    model = fresh_model()
    dtypes = []
    model.classifier[-1].register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    cfg = TrainConfig(num_epochs=30, lr=0.05, seed=0, amp=True, amp_dtype="float16")
    history = fit(model, data, cfg, device=CUDA, progress=False,
                  checkpoints=CheckpointPlan(tmp_path))
    assert capsys.readouterr().out.startswith("Mixed precision: float16 with a GradScaler (as amp_dtype asks")
    assert history.amp_dtype == "float16" and set(dtypes) == {torch.float16}  # autocast ran
    assert history[-1]["train_loss"] < 0.3 * history[0]["train_loss"]
    assert min(row["val_loss"] for row in history) < 0.3 * history[0]["val_loss"]
    scaler = load_checkpoint(tmp_path)["scaler"]
    assert scaler is not None and scaler["scale"] > 0 and scaler["_growth_tracker"] >= 0


@pytest.mark.parametrize("dtype", [
    "float16",
    pytest.param("bfloat16", marks=pytest.mark.skipif(
        not NATIVE_BF16, reason="bfloat16 is native from compute capability 8.0 (A100, H100)")),
])
def test_a_run_resumed_on_the_gpu_equals_an_uninterrupted_one(tmp_path, capsys, dtype):
    cfg = dataclasses.replace(CFG, amp_dtype=dtype)
    straight = fit(fresh_model(), loaders(), cfg, device=CUDA, progress=False,
                   checkpoints=CheckpointPlan(tmp_path / "straight"))
    fit(fresh_model(), loaders(), dataclasses.replace(cfg, num_epochs=2), device=CUDA,
        progress=False, checkpoints=CheckpointPlan(tmp_path / "cut"))
    capsys.readouterr()
    resumed = fit(fresh_model(), loaders(), cfg, device=CUDA, progress=False,
                  checkpoints=CheckpointPlan(tmp_path / "cut", resume=True))
    assert "Resuming from epoch 2 of 4" in capsys.readouterr().out
    assert straight.amp_dtype == resumed.amp_dtype == dtype
    # Exact equality is expected (deterministic kernels, one stream); the tolerance only
    # forgives a last-bit difference, far below what a wrong RNG, scaler or optimizer state gives.
    for a, b in zip(without_seconds(straight), without_seconds(resumed), strict=True):
        assert b == pytest.approx(a, rel=1e-5, abs=1e-7)
    last_straight, last = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "cut")
    assert last["config"]["amp_dtype"] == dtype == last["identity"]["config"]["amp_dtype"]
    assert last["scaler"] == last_straight["scaler"] and (last["scaler"] is None) == (dtype != "float16")
    for name, tensor in last_straight["model"].items():
        torch.testing.assert_close(last["model"][name], tensor, rtol=1e-5, atol=1e-6, msg=name)


def test_auto_picks_by_the_card(capsys):
    history = fit(fresh_model(), loaders(), dataclasses.replace(CFG, num_epochs=1), device=CUDA,
                  progress=False)
    expected = "bfloat16" if NATIVE_BF16 else "float16"
    assert history.amp_dtype == expected
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith(f"Mixed precision: {expected}") and torch.cuda.get_device_name() in line


def test_the_default_config_trains_in_mixed_precision_on_the_gpu(capsys):
    history = fit(fresh_model(), loaders(), TrainConfig(num_epochs=1, lr=0.05, seed=7),
                  device=CUDA, progress=False)  # amp=None: on CUDA
    assert history.amp_dtype == ("bfloat16" if NATIVE_BF16 else "float16")
    assert capsys.readouterr().out.startswith("Mixed precision: ")


def test_make_loaders_makes_batches_on_the_gpu_as_the_cpu_does(tmp_path, capsys):
    """The default on CUDA (DeviceBatches) against the CPU's DataLoaders: the same order and
    labels, the evaluation images equal, the augmented ones equal but where the GPU's
    grid_sample and convolution round a value the other way; and fit() trains on them."""
    from fakeface_lib.data.demo import make_demo_dataset
    from fakeface_lib.data.device_batches import DeviceBatches
    from fakeface_lib.data.index import index_dataset
    from fakeface_lib.data.loaders import make_loaders
    from fakeface_lib.data.splitting import split_dataset

    root = make_demo_dataset(tmp_path / "demo", n_real=24, n_fake=24, image_size=64)
    frame = split_dataset(index_dataset(root), fractions=(0.5, 0.25, 0.25), seed=0)
    batches, made = {}, {}
    for where, options in (("gpu", {}), ("cpu", {"num_workers": 0})):
        made[where] = make_loaders(frame, batch_size=8, image_size=64, augment="report", seed=3,
                                   progress=False, **options)
        torch.manual_seed(5)
        batches[where] = {split: [(x.cpu(), y.cpu()) for x, y in made[where][split]]
                          for split in ("train", "val")}
    assert isinstance(made["gpu"]["train"], DeviceBatches) and made["gpu"]["val"].device == CUDA
    for split in ("train", "val"):
        gpu, cpu = batches["gpu"][split], batches["cpu"][split]
        assert [y.tolist() for _, y in gpu] == [y.tolist() for _, y in cpu]
        gpu, cpu = torch.cat([x for x, _ in gpu]), torch.cat([x for x, _ in cpu])
        if split == "val":
            torch.testing.assert_close(gpu, cpu, rtol=0, atol=1e-6)
        else:  # one grey level is 2/255 after Normalize(0.5, 0.5)
            assert ((gpu - cpu).abs() > 1.5 * 2 / 255).float().mean() < 0.01
    model = nn.Sequential(nn.Conv2d(3, 8, 3, stride=4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(8 * 16 * 16, 2))
    history = fit(model, made["gpu"], TrainConfig(num_epochs=2, lr=0.01, seed=0), device=CUDA,
                  progress=False)
    assert len(history) == 2 and history.amp_dtype is not None


@pytest.mark.slow
def test_a_notebook_runs_on_the_gpu_in_smoke_mode(tmp_path):
    from fakeface_lib.runner.series import RunOptions, run_series

    name = "01_model1"
    out = run_series(RunOptions(data="demo", smoke=True, out=tmp_path / "run",
                                data_dir=tmp_path / "data",
                                notebooks=[ROOT / "notebooks" / f"{name}.ipynb"]))
    executed = json.loads((out / f"{name}.ipynb").read_text(encoding="utf-8"))
    printed = "".join("".join(o["text"]) if isinstance(o["text"], list) else o["text"]
                      for cell in executed["cells"] for o in cell.get("outputs", [])
                      if o.get("output_type") == "stream")
    assert f"device: {torch.cuda.get_device_name(0)}" in printed  # what setup_notebook prints
    record = json.loads((out / "results" / "smoke-demo" / "model1.json").read_text(encoding="utf-8"))
    assert record["device"] == "cuda"
