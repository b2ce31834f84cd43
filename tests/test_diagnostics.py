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


class Normed(nn.Module):
    """Batch norm and dropout before the first hidden layer, as in Model 2's features."""

    def __init__(self):
        super().__init__()
        self.classifier = nn.Sequential(nn.Flatten(), nn.BatchNorm1d(12), nn.Dropout(0.5), nn.Linear(12, 6),
                                        nn.ReLU(), nn.Linear(6, 2))

    def forward(self, x):
        return self.classifier(x)


def fc1_eval(model, images):
    with torch.no_grad():
        return model.eval().classifier[:4](images)


def test_first_step_effect_keeps_batch_norms_running_statistics_out_of_the_step():
    import copy

    torch.manual_seed(0)
    model = Normed()
    images, labels = 5 + torch.randn(8, 3, 2, 2), torch.arange(8) % 2  # far from BN's initial mean 0
    # What a training-mode pass alone does to the eval-mode pre-activations: BN's running mean
    # moves a tenth of the way to 5, and fc1's inputs with it, without any weight changing.
    passed = copy.deepcopy(model)
    passed.train()(images)
    moved_by_bn = (fc1_eval(passed, images) - fc1_eval(model, images)).pow(2).mean().sqrt()
    found = first_step_effect(model, images, labels, TrainConfig(lr=1e-9))  # a step of about 0
    assert moved_by_bn > 0.05 * found["preact_std"]  # what the old measure counted as the step's
    assert found["preact_shift"] < 1e-5 * found["preact_std"]  # now: none of it
    assert found["dead_after"] == found["dead_before"]
    assert torch.equal(model.classifier[1].running_mean, torch.zeros(12))  # the model itself untouched
    # Measured as training sees the batch (its own statistics), without dropout's draws:
    normed = nn.functional.batch_norm(images.flatten(1), None, None, training=True)
    with torch.no_grad():
        pre = model.classifier[3](normed)
    assert found["preact_std"] == pytest.approx(float(pre.std()), rel=1e-5)
    assert found["dead_before"] == pytest.approx(float((pre.amax(0) <= 0).float().mean()))


def test_adams_first_step_against_a_typical_weight():
    """fc1 starts at U(+-1/sqrt(fan_in)): a weight's std is 1/sqrt(3 fan_in), and Adam's first step
    moves every weight by lr, so lr over that std is the update-to-weight ratio."""
    torch.manual_seed(0)
    model = Tiny()
    images, labels = next(iter(loader()))
    found = first_step_effect(model, images, labels, TrainConfig(lr=1e-2))
    assert found["weight_std"] == pytest.approx(1 / (3 * 12) ** 0.5, rel=0.15)
    step = found["update_to_weight"] * found["weight_std"]
    assert step == pytest.approx(1e-2, rel=0.15)  # +-lr for each weight: a std of about lr
    small = first_step_effect(model, images, labels, TrainConfig(lr=1e-3))
    assert small["update_to_weight"] == pytest.approx(found["update_to_weight"] / 10, rel=1e-3)


def test_weight_layers_are_named_by_kind_in_order():
    from fakeface_lib.evaluation.diagnostics import weight_layers
    from fakeface_lib.models.cnn import Model1

    model = Model1()
    found = weight_layers(model)
    assert list(found) == ["conv1", "conv2", "fc1", "fc2"]
    assert found["fc1"] is model.classifier[0].weight if isinstance(model.classifier[0], nn.Linear) \
        else found["fc1"].shape[1] == 64 * 32 * 32


def test_trace_steps_records_each_step_and_trains_the_model_itself():
    from fakeface_lib.evaluation.diagnostics import trace_steps

    torch.manual_seed(0)
    model = Tiny()
    images, labels = next(iter(loader()))
    first = first_step_effect(model, images, labels, TrainConfig(lr=1e-2))
    before = model.classifier[1].weight.detach().clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    trace = trace_steps(model, loader(), TrainConfig(lr=1e-2), steps=3, optimizer=optimizer)
    assert list(trace.index) == [1, 2, 3] and list(trace.columns) == ["loss", "acc", "fc1_dead", "fc1", "fc2"]
    assert trace.loc[1, "fc1"] == pytest.approx(first["update_to_weight"], rel=1e-4)  # the same first step
    assert trace.loc[1, "fc1_dead"] == pytest.approx(first["dead_before"])
    assert not torch.equal(before, model.classifier[1].weight)  # the model itself trained
    assert optimizer.state[model.classifier[1].weight]["step"] == 3  # with the optimizer given
    assert ((trace["fc1_dead"] >= 0) & (trace["fc1_dead"] <= 1)).all()


def test_a_silent_layer_shows_as_dead_and_never_moves():
    from fakeface_lib.evaluation.diagnostics import trace_steps

    torch.manual_seed(0)
    model = Tiny()
    with torch.no_grad():
        model.classifier[1].bias.fill_(-1e3)  # every unit of fc1 silent for every image
    trace = trace_steps(model, loader(), TrainConfig(lr=1e-2))
    assert len(trace) == 4  # 16 images in batches of 5: the whole loader by default
    assert (trace["fc1_dead"] == 1.0).all()
    assert (trace["fc1"] == 0.0).all()  # no gradient reaches it: not even Adam moves it
    assert (trace["fc2"] == 0.0).all()  # fc2's weights see only zeros; its bias still learns
