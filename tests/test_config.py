"""TrainConfig: defaults, validation, JSON round trip, the report's recipes."""

from __future__ import annotations

import dataclasses
import json

import pytest

from fakeface_lib.config import MODEL1_RECIPE, MODEL2_1_RECIPE, MODEL2_2_RECIPE, RECIPES, TrainConfig


def test_defaults_follow_the_spec():
    cfg = TrainConfig()
    assert (cfg.num_epochs, cfg.lr, cfg.optimizer, cfg.momentum) == (10, 1e-3, "adam", 0.9)
    assert (cfg.weight_decay, cfg.scheduler, cfg.step_size, cfg.gamma) == (0.0, None, 7, 0.1)
    assert (cfg.batch_size, cfg.seed, cfg.amp, cfg.patience) == (32, 42, None, None)  # amp on CUDA
    assert (cfg.label_smoothing, cfg.grad_clip, cfg.monitor) == (0.0, None, "val_acc")
    assert cfg.amp_dtype == "auto"  # the hardware chooses (training.resolve_amp_dtype)


@pytest.mark.parametrize("dtype", ["auto", "float16", "bfloat16"])
def test_amp_dtype_choices_round_trip(dtype):
    cfg = TrainConfig(amp=True, amp_dtype=dtype)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))).amp_dtype == dtype


def test_round_trip_through_json():
    cfg = TrainConfig(optimizer="sgd", scheduler="step", patience=3, grad_clip=1.0)
    data = json.loads(json.dumps(cfg.to_dict()))
    assert TrainConfig.from_dict(data) == cfg


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match="num_epoch"):
        TrainConfig.from_dict({"num_epoch": 3})


@pytest.mark.parametrize("field, value, fragment", [
    ("optimizer", "rmsprop", "adadelta"),
    ("scheduler", "cosine", "step"),
    ("monitor", "train_loss", "val_acc"),
    ("num_epochs", 0, "positive int"),
    ("num_epochs", 2.5, "positive int"),
    ("lr", -1.0, "lr"),
    ("patience", 0, "patience"),
    ("label_smoothing", 1.0, "label_smoothing"),
    ("amp_dtype", "float8", "bfloat16"),
])
def test_invalid_values_fail_clearly(field, value, fragment):
    with pytest.raises(ValueError, match=fragment):
        TrainConfig(**{field: value})


def test_recipes_are_the_reports_and_immutable():
    assert (MODEL1_RECIPE.optimizer, MODEL1_RECIPE.lr, MODEL1_RECIPE.num_epochs) == ("adam", 1e-3, 10)
    assert (MODEL2_1_RECIPE.optimizer, MODEL2_1_RECIPE.num_epochs) == ("adam", 20)
    assert (MODEL2_2_RECIPE.optimizer, MODEL2_2_RECIPE.lr, MODEL2_2_RECIPE.num_epochs) == (
        "adadelta", 0.1, 30)
    assert RECIPES["model2_2"] is MODEL2_2_RECIPE
    with pytest.raises(dataclasses.FrozenInstanceError):
        MODEL1_RECIPE.num_epochs = 2
    smoke = dataclasses.replace(MODEL1_RECIPE, num_epochs=2)
    assert smoke.num_epochs == 2 and MODEL1_RECIPE.num_epochs == 10
