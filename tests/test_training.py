"""Training: epoch functions, fit() (overfitting, seeds, early stopping, errors) and resume."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fakeface_lib.config import TrainConfig
from fakeface_lib.training.amp import autocast_context
from fakeface_lib.training.checkpoints import (
    CheckpointPlan,
    load_checkpoint,
    load_model_weights,
)
from fakeface_lib.training.fit import fit
from fakeface_lib.training.loop import (
    evaluate,
    format_epoch_line,
    make_optimizer,
    make_scheduler,
    train_one_epoch,
)
from fakeface_lib.utils import seed_everything

CPU = torch.device("cpu")


class TinyNet(nn.Module):
    """A few hundred parameters, with batch norm and dropout (global-RNG) like the real ones."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                                      nn.ReLU(), nn.AdaptiveAvgPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(16, 2))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))


def tensors(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = torch.randn(n, 3, 8, 8, generator=g) + 0.7 * labels.view(-1, 1, 1, 1)
    return TensorDataset(images, labels)


def loaders(n_train: int = 32, n_val: int = 16, batch_size: int = 8) -> dict[str, DataLoader]:
    """Like make_loaders: train shuffled by its own seeded generator, val in order."""
    return {
        "train": DataLoader(tensors(n_train, 1), batch_size=batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(0)),
        "val": DataLoader(tensors(n_val, 2), batch_size=batch_size),
    }


def fresh_model(seed: int = 0) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet()


CFG = TrainConfig(num_epochs=3, lr=0.05, scheduler="step", step_size=1, gamma=0.5, seed=7)


def test_weight_decay_is_a_gradient_in_adam_and_a_shrink_in_adamw():
    # With no loss gradient, Adam's L2 term is the whole gradient, and Adam rescales it to a
    # step of about lr whatever the weight's size; AdamW shrinks each weight by lr * decay.
    after = {}
    for name in ("adam", "adamw"):
        w = nn.Parameter(torch.tensor([1.0, 0.01]))
        opt = make_optimizer([w], TrainConfig(optimizer=name, lr=0.1, weight_decay=0.01))
        (0 * w).sum().backward()
        opt.step()
        after[name] = w.detach()
    assert torch.allclose(after["adam"], torch.tensor([0.9, -0.09]), atol=1e-4)
    assert torch.allclose(after["adamw"], torch.tensor([1.0, 0.01]) * (1 - 0.1 * 0.01))


def without_seconds(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def test_make_optimizer_and_scheduler():
    model = TinyNet()
    assert isinstance(make_optimizer(model, TrainConfig()), torch.optim.Adam)
    sgd = make_optimizer(model, TrainConfig(optimizer="sgd", momentum=0.8, lr=0.01))
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.8
    adamw = make_optimizer(model, TrainConfig(optimizer="adamw", weight_decay=0.01))
    assert isinstance(adamw, torch.optim.AdamW) and adamw.param_groups[0]["weight_decay"] == 0.01
    ada = make_optimizer(model, TrainConfig(optimizer="adadelta", lr=0.1))
    assert isinstance(ada, torch.optim.Adadelta) and ada.param_groups[0]["lr"] == 0.1
    groups = [{"params": model.features.parameters(), "lr": 1e-4},
              {"params": model.classifier.parameters()}]
    adam = make_optimizer(groups, TrainConfig(lr=1e-3))
    assert [g["lr"] for g in adam.param_groups] == [1e-4, 1e-3]
    assert make_scheduler(adam, TrainConfig()) is None
    step = make_scheduler(adam, TrainConfig(scheduler="step", step_size=2, gamma=0.5))
    assert isinstance(step, torch.optim.lr_scheduler.StepLR) and step.step_size == 2


def test_adam_is_fused_where_this_torch_supports_it():
    model = TinyNet()
    adam = make_optimizer(model, TrainConfig())
    cpu_fused = tuple(int(x) for x in torch.__version__.split(".")[:2]) >= (2, 4)
    assert bool(adam.defaults.get("fused")) is cpu_fused
    one_tensor = make_optimizer([{"params": model.classifier[2].weight}], TrainConfig())
    assert one_tensor.param_groups[0]["params"] == [model.classifier[2].weight]
    generator = make_optimizer((p for p in model.parameters()), TrainConfig())  # kept as a list
    assert sum(len(g["params"]) for g in generator.param_groups) == len(list(model.parameters()))


def test_fused_adam_takes_the_same_steps_as_the_plain_one():
    torch.manual_seed(0)
    a, b = TinyNet(), TinyNet()
    b.load_state_dict(a.state_dict())
    x, y = torch.randn(8, 3, 8, 8), torch.arange(8) % 2
    plain = torch.optim.Adam(b.parameters(), lr=1e-2)
    fused = make_optimizer(a, TrainConfig(lr=1e-2))
    for model, opt in ((a, fused), (b, plain)):
        model.eval()  # no dropout: both see the same function
        for _ in range(3):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    # Eval mode: every parameter has a real gradient (BatchNorm uses its running statistics, so
    # the convolution's bias matters). The kernels differ by float32 rounding, a few ulps of
    # weights about 1 per step; a different update rule would move weights by about lr = 1e-2.
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=0, atol=1e-2 / 100)


def test_autocast_on_cpu_only_in_bfloat16():
    with autocast_context(CPU, amp=True):  # float16 on a CPU: slow there, so left off
        out = torch.ones(2, 2) @ torch.ones(2, 2)
    assert out.dtype == torch.float32
    with autocast_context(CPU, amp=True, dtype=torch.bfloat16):
        out = torch.ones(2, 2) @ torch.ones(2, 2)
    assert out.dtype == torch.bfloat16
    with autocast_context(CPU, amp=False, dtype=torch.bfloat16):
        out = torch.ones(2, 2) @ torch.ones(2, 2)
    assert out.dtype == torch.float32


def test_fit_trains_in_bfloat16_on_cpu():
    model = fresh_model()
    cfg = dataclasses.replace(CFG, num_epochs=2, amp=True, amp_dtype="bfloat16")
    history = fit(model, loaders(), cfg, device=CPU, progress=False)
    assert len(history) == 2 and all(torch.isfinite(torch.tensor(r["train_loss"])) for r in history)
    assert next(model.parameters()).dtype == torch.float32  # autocast: weights stay fp32


def test_evaluate_averages_the_loss_per_image():
    data = tensors(10, 3)
    model = fresh_model().eval()
    loss_fn = nn.CrossEntropyLoss()
    result = evaluate(model, DataLoader(data, batch_size=4), loss_fn, CPU)  # batches 4, 4, 2
    with torch.no_grad():
        logits = model(data.tensors[0])
    assert result["loss"] == pytest.approx(loss_fn(logits, data.tensors[1]).item(), rel=1e-5)
    assert result["acc"] == pytest.approx((logits.argmax(1) == data.tensors[1]).float().mean().item())
    assert not model.training


def test_grad_clip_bounds_the_update():
    model = fresh_model()
    before = torch.cat([p.detach().flatten() for p in model.parameters()]).clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    one_batch = DataLoader(tensors(8, 4), batch_size=8)
    train_one_epoch(model, one_batch, nn.CrossEntropyLoss(), optimizer, CPU, grad_clip=1e-3,
                    amp=True, progress=False)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert 0 < (after - before).norm() <= 1e-3 + 1e-6


def test_empty_loader_is_a_clear_error():
    empty = DataLoader(TensorDataset(torch.zeros(0, 3, 8, 8), torch.zeros(0, dtype=torch.long)))
    model = TinyNet()
    with pytest.raises(ValueError, match="no images"):
        train_one_epoch(model, empty, nn.CrossEntropyLoss(), make_optimizer(model, CFG), CPU,
                        progress=False)
    with pytest.raises(ValueError, match="empty"):
        fit(model, {"train": empty, "val": empty}, CFG, device=CPU, progress=False)


def test_fit_needs_train_and_valloaders():
    with pytest.raises(ValueError, match="'val'"):
        fit(TinyNet(), {"train": loaders()["train"]}, CFG, device=CPU, progress=False)


def test_tiny_model_overfits_eight_images(capsys, noise_loaders):
    data = noise_loaders  # labels are noise: it must memorise
    model = fresh_model()
    history = fit(model, data, TrainConfig(num_epochs=20, lr=0.05, seed=0), device=CPU,
                  progress=False)
    assert len(history) == 20
    assert history[-1]["train_loss"] < 0.3 * history[0]["train_loss"]
    assert history[-1]["val_loss"] < 0.3 * history[0]["val_loss"]
    assert evaluate(model, data["val"], nn.CrossEntropyLoss(), CPU)["acc"] == 1.0
    assert set(history[0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
                               "seconds"}
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 20
    pattern = (r"^Epoch \[1/20\], Train Loss: \d\.\d{4}, Train Acc: \d+\.\d\d%, "
               r"Valid Loss: \d\.\d{4}, Valid Acc: \d+\.\d\d%, LR: ")
    assert re.match(pattern, lines[0]), lines[0]


def test_fit_leaves_the_best_weights_in_the_model():
    model = fresh_model()
    history = fit(model, loaders(), CFG, device=CPU, progress=False)
    best = max(history, key=lambda r: (r["val_acc"], -r["val_loss"]))
    assert history.best_epoch == best["epoch"]
    again = evaluate(model, loaders()["val"], nn.CrossEntropyLoss(), CPU)
    assert again["loss"] == pytest.approx(best["val_loss"], rel=1e-5)
    assert [row["lr"] for row in history] == pytest.approx([0.05, 0.025, 0.0125])


def test_same_seed_same_history_other_seed_differs():
    first = fit(fresh_model(), loaders(), CFG, device=CPU, progress=False)
    second = fit(fresh_model(), loaders(), CFG, device=CPU, progress=False)
    other = fit(fresh_model(), loaders(), dataclasses.replace(CFG, seed=8), device=CPU,
                progress=False)
    assert without_seconds(first) == without_seconds(second)
    assert without_seconds(first) != without_seconds(other)


def test_resume_after_two_epochs_equals_an_uninterrupted_run(tmp_path, capsys):
    straight = fresh_model()
    history = fit(straight, loaders(), CFG, device=CPU, progress=False,
                  checkpoints=CheckpointPlan(tmp_path / "straight"))
    two = dataclasses.replace(CFG, num_epochs=2)
    fit(fresh_model(), loaders(), two, device=CPU, progress=False,
        checkpoints=CheckpointPlan(tmp_path / "cut"))
    capsys.readouterr()
    # the initial weights of the cut run (part of a run's identity); the checkpoint's epoch-2
    # weights replace them
    resumed = fresh_model()
    history_resumed = fit(resumed, loaders(), CFG, device=CPU, progress=False,
                          checkpoints=CheckpointPlan(tmp_path / "cut", resume=True))
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Resuming from epoch 2 of 3")
    assert len(out) == 2 and out[1].startswith("Epoch [3/3]")
    assert without_seconds(history_resumed) == without_seconds(history)
    assert history_resumed.best_epoch == history.best_epoch
    for name, tensor in straight.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name
    last_a, last_b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "cut")
    for name, tensor in last_a["model"].items():
        assert torch.equal(tensor, last_b["model"][name]), name


def test_checkpoint_loads_with_weights_only(tmp_path):
    model = fresh_model()
    cfg = dataclasses.replace(CFG, optimizer="sgd")
    history = fit(model, loaders(), cfg, device=CPU, progress=False,
                  checkpoints=CheckpointPlan(tmp_path))
    (path,) = tmp_path.glob("*/last.pt")  # one run, filed under its identity key
    ckpt = torch.load(path, weights_only=True)
    # the config as the run trained: amp=None (the default, on CUDA only) is off on a CPU
    assert ckpt["epoch"] == 3 and ckpt["config"] == dataclasses.replace(cfg, amp=False).to_dict()
    assert without_seconds(ckpt["history"]) == without_seconds(history)
    assert ckpt["best_epoch"] == history.best_epoch
    assert {"torch", "numpy", "python", "loader_generator"} <= set(ckpt["rng"])
    assert ckpt["scheduler"]["last_epoch"] == 3
    assert not list(tmp_path.glob("*.tmp"))
    reloaded = load_model_weights(TinyNet(), tmp_path, which="best")
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, reloaded.state_dict()[name]), name


def test_resume_of_a_finished_run_trains_nothing(tmp_path, capsys):
    fit(fresh_model(), loaders(), CFG, device=CPU, progress=False,
        checkpoints=CheckpointPlan(tmp_path))
    capsys.readouterr()
    history = fit(fresh_model(), loaders(), CFG, device=CPU, progress=False,
                  checkpoints=CheckpointPlan(tmp_path, resume=True))
    assert len(history) == 3
    (path,) = tmp_path.glob("*/last.pt")
    assert capsys.readouterr().out.splitlines() == [f"Resuming from epoch 3 of 3 ({path})."]


def test_early_stopping_stops(capsys):
    model = fresh_model()
    frozen = torch.optim.SGD(model.parameters(), lr=0.0)  # nothing improves after epoch 1
    cfg = dataclasses.replace(CFG, num_epochs=10, patience=2)
    history = fit(model, loaders(), cfg, device=CPU, optimizer=frozen, progress=False)
    assert len(history) == 3 and history.best_epoch == 1 and history.stopped_early
    assert "Early stopping" in capsys.readouterr().out


def test_nan_loss_stops_with_a_clear_error():
    model = fresh_model()
    with torch.no_grad():
        model.classifier[-1].bias.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match=r"Epoch 1: .*lower learning rate"):
        fit(model, loaders(), CFG, device=CPU, progress=False)


def test_format_epoch_line_matches_the_report():
    row = {"epoch": 1, "train_loss": 0.9628, "train_acc": 0.519, "val_loss": 0.69,
           "val_acc": 0.5317, "lr": 1e-3, "seconds": 2.04}
    assert format_epoch_line(row, 10).startswith(
        "Epoch [1/10], Train Loss: 0.9628, Train Acc: 51.90%, Valid Loss: 0.6900, Valid Acc: 53.17%")


def test_checkpoint_every_writes_only_every_n_epochs_and_the_last(tmp_path, monkeypatch):
    from fakeface_lib.training import fit as fit_module

    saved = []
    real_save = fit_module.save_checkpoint
    monkeypatch.setattr(fit_module, "save_checkpoint",
                        lambda state, path: saved.append(state["epoch"]) or real_save(state, path))
    fit(fresh_model(), loaders(), TrainConfig(num_epochs=5, seed=0),
        checkpoints=CheckpointPlan(tmp_path, every=2), progress=False)
    assert saved == [2, 4, 5]
    with pytest.raises(ValueError, match="every must be a positive int"):
        CheckpointPlan(tmp_path, every=0)


def test_a_failed_checkpoint_write_keeps_the_previous_one_and_says_what_to_do(tmp_path, monkeypatch):
    from fakeface_lib.training import checkpoints

    path = checkpoints.save_checkpoint({"epoch": 1}, tmp_path / "last.pt")

    def disk_full(state, target):
        Path(target).write_bytes(b"half a file")  # torch.save fails part-way on a full disk
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1569856")

    monkeypatch.setattr(checkpoints.torch, "save", disk_full)
    with pytest.raises(OSError, match=r"MiB free.*checkpoints=None.*kept at .*last\.pt"):
        checkpoints.save_checkpoint({"epoch": 2}, path)
    monkeypatch.undo()
    assert not path.with_name("last.pt.tmp").exists()
    assert checkpoints.load_checkpoint(path) == {"epoch": 1}


class Recorder(TinyNet):
    """TinyNet that keeps the sum of every training batch it sees."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[float] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.seen.append(images.sum().item())
        return super().forward(images)


def test_a_loader_with_workers_is_iterated_once_per_epoch():
    def with_worker() -> DataLoader:
        return DataLoader(tensors(32, 1), batch_size=8, shuffle=True, num_workers=1,
                          generator=torch.Generator().manual_seed(0))

    model = Recorder()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    for progress in (False, True):
        model.seen.clear()
        loader = with_worker()
        expected = [images.sum().item() for images, _ in with_worker()]
        train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, CPU, progress=progress)
        # a spare iterator (tqdm.auto makes one) would have drawn the first shuffle itself
        assert model.seen == expected


class NoZeroGradNet(TinyNet):
    """TinyNet without the convolution's bias. Before a BatchNorm in training mode that bias's true
    gradient is zero: what backward() computes for it is rounding noise, which Adam rescales into
    steps of about lr of either sign, so two Adam kernels (fit()'s fused one, the plain one)
    end far apart on it, by how each CPU rounds. Every parameter left has a real gradient."""

    def __init__(self) -> None:
        super().__init__()
        self.features[0] = nn.Conv2d(3, 4, 3, padding=1, bias=False)


def test_fits_first_epoch_is_the_plain_loop(noise_loaders):
    """The loop of notebook 01, written out with torch.optim.Adam, gives fit()'s first epoch."""
    cfg = TrainConfig(num_epochs=1, lr=1e-2, seed=3)
    results = []
    for by_hand in (True, False):
        seed_everything(cfg.seed)
        model = NoZeroGradNet()
        noise_loaders["train"].generator.manual_seed(0)
        if not by_hand:
            history = fit(model, noise_loaders, cfg, device="cpu", progress=False)
            results.append((history[0]["train_loss"], history[0]["val_acc"], model.state_dict()))
            continue
        seed_everything(cfg.seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        loss_fn, total, n = nn.CrossEntropyLoss(), 0.0, 0
        model.train()
        for images, labels in noise_loaders["train"]:
            loss = loss_fn(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, n = total + loss.item() * len(labels), n + len(labels)
        model.eval()
        with torch.no_grad():
            images, labels = next(iter(noise_loaders["val"]))
            val_acc = (model(images).argmax(1) == labels).float().mean().item()
        results.append((total / n, val_acc, model.state_dict()))
    (hand_loss, hand_acc, hand_state), (fit_loss, fit_acc, fit_state) = results
    # fit()'s Adam is the fused kernel, the loop's the plain one: the same arithmetic in another
    # order, a few float32 ulps apart per step (weights about 1, so ~1e-6 after two steps).
    # Anything a wrong loop does (a step more or less, another batch order, another lr) moves
    # some weight by about lr = 1e-2: a tolerance of lr / 100 tells the two apart on any CPU.
    tolerance = cfg.lr / 100
    assert hand_loss == pytest.approx(fit_loss, abs=tolerance) and hand_acc == fit_acc
    diffs = {k: (hand_state[k].float() - fit_state[k].float()).abs().max().item() for k in hand_state}
    assert max(diffs.values()) < tolerance, diffs
