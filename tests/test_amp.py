"""Mixed precision: the dtype chosen by the hardware (faked here), the GradScaler of float16 and
its checkpointed state, and what fit() prints and records."""

from __future__ import annotations

import dataclasses
import warnings

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fakeface_lib.config import TrainConfig
from fakeface_lib.training import amp
from fakeface_lib.training import fit as training
from fakeface_lib.training.amp import (
    amp_choice,
    make_scaler,
    resolve_amp_dtype,
    run_config,
)
from fakeface_lib.training.checkpoints import CheckpointPlan, load_checkpoint
from fakeface_lib.training.fit import fit
from fakeface_lib.utils import cpu_bf16_features

CPU = torch.device("cpu")
AMP = TrainConfig(num_epochs=3, lr=0.05, seed=7, amp=True)  # amp_dtype "auto"
T4, A100, H100 = ("Tesla T4", (7, 5)), ("NVIDIA A100-SXM4-40GB", (8, 0)), ("NVIDIA H100 80GB HBM3", (9, 0))


def fake_gpu(monkeypatch, card: tuple[str, tuple[int, int]]) -> None:
    name, capability = card
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    # what a T4 answers too (it emulates bfloat16): the choice must not rest on it
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)


def fake_cpu(monkeypatch, features: set[str]) -> None:
    monkeypatch.setattr(amp, "cpu_bf16_features", lambda: frozenset(features))


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(16, 2))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))


def fresh_model() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet()


def loaders() -> dict[str, DataLoader]:
    g = torch.Generator().manual_seed(1)
    labels = torch.arange(48) % 2
    images = torch.randn(48, 3, 8, 8, generator=g) + 0.7 * labels.view(-1, 1, 1, 1)
    return {"train": DataLoader(TensorDataset(images[:32], labels[:32]), batch_size=8, shuffle=True,
                                generator=torch.Generator().manual_seed(0)),
            "val": DataLoader(TensorDataset(images[32:], labels[32:]), batch_size=8)}


def test_a_t4_gets_float16_with_a_scaler(monkeypatch):
    fake_gpu(monkeypatch, T4)
    assert amp_choice(AMP, "cuda") == (
        "float16", "float16 with a GradScaler (Tesla T4, compute capability 7.5 has no native bfloat16)")
    with warnings.catch_warnings():  # a CUDA GradScaler on a machine without CUDA warns
        warnings.simplefilter("ignore")
        assert isinstance(make_scaler(resolve_amp_dtype(AMP, "cuda"), "cuda"), torch.amp.GradScaler)


@pytest.mark.parametrize("card", [A100, H100], ids=["A100", "H100"])
def test_ampere_and_later_get_bfloat16_without_a_scaler(monkeypatch, card):
    fake_gpu(monkeypatch, card)
    dtype, why = amp_choice(AMP, torch.device("cuda", 0))
    assert dtype == "bfloat16" and why.startswith(f"bfloat16 ({card[0]}, compute capability")
    assert "natively" in why and make_scaler(dtype, "cuda") is None


def test_an_explicit_dtype_wins(monkeypatch):
    fake_gpu(monkeypatch, T4)
    dtype, why = amp_choice(dataclasses.replace(AMP, amp_dtype="bfloat16"), "cuda")
    assert dtype == "bfloat16" and "as amp_dtype asks" in why and "only emulates" in why
    fake_gpu(monkeypatch, A100)
    assert resolve_amp_dtype(dataclasses.replace(AMP, amp_dtype="float16"), "cuda") == "float16"
    fake_cpu(monkeypatch, set())
    dtype, why = amp_choice(dataclasses.replace(AMP, amp_dtype="bfloat16"), CPU)
    assert dtype == "bfloat16" and "slower than float32" in why
    fake_cpu(monkeypatch, {"amx_bf16"})  # float16 autocast is never applied on a CPU
    assert resolve_amp_dtype(dataclasses.replace(AMP, amp_dtype="float16"), CPU) is None


def test_a_cpu_gets_bfloat16_only_where_it_computes_it_natively(monkeypatch):
    fake_cpu(monkeypatch, {"amx_bf16", "avx512_bf16"})
    assert amp_choice(AMP, CPU) == ("bfloat16", "bfloat16 (native on this CPU: amx_bf16, avx512_bf16)")
    fake_cpu(monkeypatch, set())
    dtype, why = amp_choice(AMP, CPU)
    assert dtype is None and why.startswith("off (no native bfloat16 on this CPU")


def test_amp_off_or_another_device_resolves_to_none(monkeypatch):
    fake_gpu(monkeypatch, A100)
    fake_cpu(monkeypatch, {"amx_bf16"})
    off = dataclasses.replace(AMP, amp=False)
    assert resolve_amp_dtype(off, "cuda") is None and resolve_amp_dtype(off, CPU) is None
    assert resolve_amp_dtype(AMP, "mps") is None
    assert run_config(off, None) is off
    assert run_config(AMP, None) == dataclasses.replace(AMP, amp=False)
    assert run_config(AMP, "bfloat16").amp_dtype == "bfloat16"


def test_cpu_features_come_from_the_cpuinfo_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
                       "processor\t: 1\nflags\t\t: fpu sse2 avx512f avx512_bf16 amx_bf16 amx_tile\n")
    assert cpu_bf16_features(cpuinfo) == {"avx512_bf16", "amx_bf16"}
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n")
    assert cpu_bf16_features(cpuinfo) == frozenset()
    assert cpu_bf16_features(tmp_path / "missing") <= {"avx512_bf16", "amx_bf16"}


def test_make_scaler_only_for_float16():
    scaler = make_scaler("float16", CPU)
    assert isinstance(scaler, torch.amp.GradScaler) and scaler.is_enabled()
    assert make_scaler("bfloat16", CPU) is None and make_scaler(None, CPU) is None


def test_fit_prints_the_choice_once_and_records_it(tmp_path, capsys, monkeypatch):
    fake_cpu(monkeypatch, {"avx512_bf16"})
    history = fit(fresh_model(), loaders(), AMP, device=CPU, progress=False,
                  checkpoints=CheckpointPlan(tmp_path))
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Mixed precision: bfloat16 (native on this CPU: avx512_bf16)"
    assert sum(line.startswith("Mixed precision") for line in out) == 1
    assert history.amp_dtype == "bfloat16"
    ckpt = load_checkpoint(tmp_path)
    assert ckpt["config"]["amp_dtype"] == "bfloat16" and ckpt["config"]["amp"] is True
    assert history.identity["config"]["amp_dtype"] == "bfloat16" == ckpt["identity"]["config"]["amp_dtype"]
    assert ckpt["scaler"] is None


def test_auto_resolved_otherwise_elsewhere_is_another_run(tmp_path, capsys, monkeypatch):
    fake_cpu(monkeypatch, {"avx512_bf16"})
    fit(fresh_model(), loaders(), AMP, device=CPU, progress=False,
        checkpoints=CheckpointPlan(tmp_path))
    capsys.readouterr()
    fake_cpu(monkeypatch, set())  # the same config on a CPU without native bfloat16
    history = fit(fresh_model(), loaders(), AMP, device=CPU, progress=False,
                  checkpoints=CheckpointPlan(tmp_path, resume=True))
    out = capsys.readouterr().out
    assert out.startswith("Mixed precision: off (") and history.amp_dtype is None
    assert "No checkpoint of this run yet" in out and "amp: True -> False" in out
    assert history.identity["config"]["amp"] is False and len(list(tmp_path.glob("*/last.pt"))) == 2


def test_amp_off_keeps_its_checkpoint_config_and_prints_nothing_new(tmp_path, capsys):
    cfg = dataclasses.replace(AMP, amp=False)
    history = fit(fresh_model(), loaders(), cfg, device=CPU, progress=False,
                  checkpoints=CheckpointPlan(tmp_path))
    assert "Mixed precision" not in capsys.readouterr().out and history.amp_dtype is None
    assert load_checkpoint(tmp_path)["config"] == cfg.to_dict()
    assert history.identity["config"]["amp"] is False


def test_float16_scaler_state_is_saved_and_restored(tmp_path, capsys, monkeypatch):
    # float16 resolves only on CUDA; faked here, it trains in float32 (autocast_context does
    # nothing for float16 on a CPU) through a CPU GradScaler: the save/restore path is the same.
    monkeypatch.setattr(training, "amp_choice", lambda cfg, device: ("float16", "float16 (faked)"))
    straight = fresh_model()
    history = fit(straight, loaders(), AMP, device=CPU, progress=False,
                  checkpoints=CheckpointPlan(tmp_path / "straight"))
    assert history.amp_dtype == "float16"
    fit(fresh_model(), loaders(), dataclasses.replace(AMP, num_epochs=2), device=CPU,
        progress=False, checkpoints=CheckpointPlan(tmp_path / "cut"))
    cut = load_checkpoint(tmp_path / "cut")["scaler"]
    assert cut["scale"] == 2.0**16 and cut["_growth_tracker"] == 8  # 2 epochs of 4 steps
    resumed = fresh_model()
    fit(resumed, loaders(), AMP, device=CPU, progress=False,
        checkpoints=CheckpointPlan(tmp_path / "cut", resume=True))
    assert "Resuming from epoch 2 of 3" in capsys.readouterr().out
    final, final_straight = load_checkpoint(tmp_path / "cut"), load_checkpoint(tmp_path / "straight")
    assert final["scaler"] == final_straight["scaler"]
    assert final["scaler"]["_growth_tracker"] == 12  # 4 had it started afresh
    assert final["config"]["amp_dtype"] == "float16"
    for name, tensor in final_straight["model"].items():  # the last weights, then the best
        assert torch.equal(tensor, final["model"][name]), name
    for name, tensor in straight.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name


def test_cudnn_benchmark_on_cuda_unless_deterministic(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    training._use_cudnn_benchmark(torch.device("cuda"))
    assert torch.backends.cudnn.benchmark is False
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", False)
    training._use_cudnn_benchmark(CPU)
    assert torch.backends.cudnn.benchmark is False
    training._use_cudnn_benchmark(torch.device("cuda"))
    assert torch.backends.cudnn.benchmark is True


AUTO = dataclasses.replace(AMP, amp=None)  # the default: mixed precision on CUDA only


@pytest.mark.parametrize("card, dtype", [(T4, "float16"), (A100, "bfloat16")], ids=["T4", "A100"])
def test_the_default_turns_mixed_precision_on_on_cuda(monkeypatch, card, dtype):
    assert TrainConfig().amp is None
    fake_gpu(monkeypatch, card)
    assert resolve_amp_dtype(AUTO, "cuda") == dtype
    assert run_config(AUTO, dtype) == dataclasses.replace(AUTO, amp=True, amp_dtype=dtype)
    assert resolve_amp_dtype(dataclasses.replace(AUTO, amp=False), "cuda") is None


def test_the_default_leaves_a_cpu_run_as_it_was(tmp_path, capsys, monkeypatch):
    fake_cpu(monkeypatch, {"avx512_bf16", "amx_bf16"})  # even where bfloat16 would pay
    dtype, why = amp_choice(AUTO, CPU)
    assert dtype is None and "CUDA only" in why and "amp=True" in why
    assert resolve_amp_dtype(AUTO, "mps") is None
    auto = fit(fresh_model(), loaders(), AUTO, device=CPU, progress=False,
               checkpoints=CheckpointPlan(tmp_path))
    assert "Mixed precision" not in capsys.readouterr().out and auto.amp_dtype is None
    off = fit(fresh_model(), loaders(), dataclasses.replace(AMP, amp=False), device=CPU,
              progress=False, checkpoints=CheckpointPlan(tmp_path, resume=True))
    assert "Resuming from epoch 3 of 3" in capsys.readouterr().out  # one run: amp=False recorded
    assert auto.identity == off.identity and auto.identity["config"]["amp"] is False


@pytest.mark.parametrize("value", [1, "auto", 0.0])
def test_amp_is_none_true_or_false(value):
    with pytest.raises(ValueError, match="amp must be None"):
        TrainConfig(amp=value)
