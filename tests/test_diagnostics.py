"""A collapsed network is told from one that answers; one optimizer step, measured."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fakeface_lib.config import TrainConfig
from fakeface_lib.evaluation.diagnostics import diagnose_collapse, first_hidden_layer, first_step_effect


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 2))

    def forward(self, x):
        return self.classifier(x)


def loader(n=16):
    g = torch.Generator().manual_seed(0)
    return DataLoader(TensorDataset(torch.randn(n, 3, 2, 2, generator=g), torch.arange(n) % 2),
                      batch_size=5)


def test_a_network_whose_units_are_all_silent_has_collapsed():
    torch.manual_seed(0)
    model = Tiny()
    with torch.no_grad():
        model.classifier[1].bias.fill_(-1e3)  # every ReLU outputs 0 for every image
        model.classifier[3].bias.copy_(torch.tensor([0.0, 2.0]))  # so the answer is "real"
    found = diagnose_collapse(model, loader())
    assert found["collapsed"] and found["dead_units"] == found["n_units"] == 6
    assert found["one_class_share"] == 1.0 and found["prob_fake_std"] == pytest.approx(0.0)
    assert found["n_images"] == 16


def test_a_network_that_answers_by_image_has_not():
    torch.manual_seed(0)
    found = diagnose_collapse(Tiny(), loader())
    assert not found["collapsed"] and found["prob_fake_std"] > 0.01
    assert found["dead_units"] < found["n_units"]


def test_first_hidden_layer_needs_a_linear_layer_and_its_activation():
    model = Tiny()
    assert first_hidden_layer(model) == (model.classifier[1], model.classifier[2])
    with pytest.raises(ValueError, match="linear layer"):
        first_hidden_layer(nn.Sequential(nn.ReLU()))


def test_adams_first_step_moves_every_weight_by_the_learning_rate():
    torch.manual_seed(0)
    model = Tiny()
    before = [p.detach().clone() for p in model.parameters()]
    images, labels = next(iter(loader()))
    adam = first_step_effect(model, images, labels, TrainConfig(lr=1e-2))
    small = first_step_effect(model, images, labels, TrainConfig(lr=1e-3))
    sgd = first_step_effect(model, images, labels, TrainConfig(optimizer="sgd", lr=1e-2))
    assert adam["median_weight_step"] == pytest.approx(1e-2, rel=1e-3)  # whatever the gradient
    assert small["median_weight_step"] == pytest.approx(1e-3, rel=1e-3)
    assert sgd["median_weight_step"] < adam["median_weight_step"]  # SGD: lr x gradient
    assert adam["preact_shift"] > small["preact_shift"] > 0
    assert adam["inputs_per_unit"] == 12 and 0 <= adam["dead_after"] <= 1
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # a copy trained


def curves(train_acc, val_acc, val_loss):
    return [{"epoch": e + 1, "train_acc": t, "val_acc": v, "val_loss": loss}
            for e, (t, v, loss) in enumerate(zip(train_acc, val_acc, val_loss))]


def test_overfitting_needs_a_gap_and_a_rising_validation_loss():
    from fakeface_lib.evaluation.diagnostics import overfitting

    seen = overfitting(curves([0.6, 0.8, 0.95], [0.6, 0.62, 0.6], [0.68, 0.66, 0.75]))
    assert seen["gap"] == pytest.approx(0.33) and seen["lowest_val_loss_epoch"] == 2
    assert overfitting(curves([0.6, 0.8, 0.95], [0.6, 0.62, 0.6], [0.7, 0.68, 0.66])) is None
    assert overfitting(curves([0.6, 0.65, 0.66], [0.6, 0.62, 0.6], [0.68, 0.66, 0.75])) is None


def test_collapse_verdict_names_what_the_figures_show():
    from fakeface_lib.evaluation.diagnostics import collapse_verdict

    dead = {"collapsed": True, "one_class_share": 1.0}
    flat = {"collapsed": False, "one_class_share": 1.0}
    alive = {"collapsed": False, "one_class_share": 0.6}
    run = curves([0.6, 0.8, 0.95], [0.6, 0.62, 0.6], [0.68, 0.66, 0.75])
    assert "collapsed" in collapse_verdict(dead, run)
    assert "one answer for every validation image" in collapse_verdict(flat, run)
    assert "**overfitting**" in collapse_verdict(alive, run) and "epoch 2 of 3" in collapse_verdict(alive, run)
    assert "no overfitting" in collapse_verdict(alive, run[:1])
