"""Run identity: resume continues the same run exactly and never hands back another one."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fakeface_lib.config import TrainConfig
from fakeface_lib.training.checkpoints import CheckpointPlan
from fakeface_lib.training.fit import fit
from fakeface_lib.training.identity import differences, identity_key, run_identity
from fakeface_lib.training.loop import make_optimizer

CPU = torch.device("cpu")
CFG = TrainConfig(num_epochs=2, lr=0.05, seed=3)


class Net(nn.Module):
    def __init__(self, dropout: float = 0.3) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(3 * 4 * 4, 2))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)


class Scaled(TensorDataset):
    """A TensorDataset with a transform, as FaceDataset has one."""

    def __init__(self, *tensors, transform=None) -> None:
        super().__init__(*tensors)
        self.transform = transform


def loaders(seed: int = 1, transform=None) -> dict[str, DataLoader]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(24) % 2
    images = torch.randn(24, 3, 4, 4, generator=g) + labels.view(-1, 1, 1, 1)
    return {"train": DataLoader(Scaled(images[:16], labels[:16], transform=transform), batch_size=8,
                                shuffle=True, generator=torch.Generator().manual_seed(0)),
            "val": DataLoader(Scaled(images[16:], labels[16:], transform=transform), batch_size=8)}


def model(dropout: float = 0.3) -> Net:
    torch.manual_seed(0)
    return Net(dropout)


def train(tmp_path, capsys, *, net=None, data=None, cfg=CFG, optimizer=None):
    net = net or model()
    history = fit(net, data or loaders(), cfg, device=CPU, progress=False,
                  checkpoints=CheckpointPlan(tmp_path, resume=True), optimizer=optimizer(net) if optimizer else None)
    return history, capsys.readouterr().out


def test_the_same_run_resumes_and_trains_no_epoch_again(tmp_path, capsys):
    first, _ = train(tmp_path, capsys)
    again, out = train(tmp_path, capsys)
    assert out.startswith("Resuming from epoch 2 of 2") and "Epoch [" not in out
    assert again.identity == first.identity and [r["val_loss"] for r in again] == [r["val_loss"] for r in first]


def test_more_epochs_continue_the_same_run(tmp_path, capsys):
    train(tmp_path, capsys)
    longer, out = train(tmp_path, capsys, cfg=dataclasses.replace(CFG, num_epochs=3))
    assert out.startswith("Resuming from epoch 2 of 3") and out.count("Epoch [") == 1
    assert len(longer) == 3 and len(list(tmp_path.glob("*/last.pt"))) == 1


@pytest.mark.parametrize("change, words", [
    (dict(data=loaders(seed=2)), "the training or validation images"),
    (dict(net=model(dropout=0.0)), "the model"),
    (dict(net=Net()), "the initial weights"),  # another draw of the initial weights
    (dict(data=loaders(transform=lambda x: 2 * x)), "the preprocessing or augmentation"),
    (dict(cfg=dataclasses.replace(CFG, lr=0.01)), "the recipe (TrainConfig) (lr: 0.05 -> 0.01)"),
    (dict(optimizer=lambda net: torch.optim.SGD([{"params": net.body[2].weight, "lr": 0.1},
                                                 {"params": net.body[2].bias}], lr=0.05)),
     "the optimizer"),
])
def test_another_run_is_never_handed_back_it_trains_in_a_folder_of_its_own(tmp_path, capsys, change, words):
    first, _ = train(tmp_path, capsys)
    other, out = train(tmp_path, capsys, **change)
    assert out.startswith("No checkpoint of this run yet: starting from epoch 1")
    assert "differs in " in out and words in out.split("differs in ", 1)[1]
    assert out.count("Epoch [") == 2 and len(other) == 2  # trained, not handed back
    assert identity_key(other.identity) != identity_key(first.identity)
    assert len(list(tmp_path.glob("*/last.pt"))) == 2  # the first run is kept as it was


def test_identity_records_model_data_preprocessing_optimizer_and_recipe():
    net, data = model(), loaders()
    identity = run_identity(net, data, make_optimizer(net, CFG), CFG)
    assert set(identity) == {"model", "init", "data", "preprocessing", "optimizer", "config"}
    assert identity["model"]["parameters"] == 98 and "Dropout(p=0.3" in identity["model"]["architecture"]
    assert identity["optimizer"]["class"] == "Adam" and identity["optimizer"]["groups"][0]["lr"] == 0.05
    assert "num_epochs" not in identity["config"] and identity["config"]["seed"] == 3
    assert identity_key(identity) == identity_key(run_identity(model(), loaders(), make_optimizer(net, CFG), CFG))
    frozen = model()
    frozen.body[2].bias.requires_grad_(False)
    assert "the model" in differences(identity, run_identity(frozen, data, make_optimizer(net, CFG), CFG))


def test_a_tampered_checkpoint_is_refused(tmp_path, capsys):
    first, _ = train(tmp_path, capsys)
    (path,) = tmp_path.glob("*/last.pt")
    ckpt = torch.load(path, weights_only=True)
    ckpt["identity"]["config"]["lr"] = 1.0
    torch.save(ckpt, path)
    with pytest.raises(ValueError, match=r"another run than its folder name says.*resume=False"):
        train(tmp_path, capsys)
