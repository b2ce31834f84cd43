"""The dataset's vocabulary (class names, regions, difficulties, splits) and TrainConfig: every
training hyperparameter in one typed dataclass, plus the report's recipes.

Make variants with ``dataclasses.replace(MODEL1_RECIPE, num_epochs=2)``; the config is
frozen so a shared recipe cannot be changed by accident.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

CLASS_NAMES = ("training_fake", "training_real")  # ImageFolder order: fake = 0, real = 1
REGIONS = ("left_eye", "right_eye", "nose", "mouth")  # order of the digits in a fake's code
DIFFICULTIES = ("easy", "mid", "hard")
SPLITS = ("train", "val", "test")
NUM_CLASSES = len(CLASS_NAMES)  # every model here has one output per class

OPTIMIZERS = ("adam", "adamw", "sgd", "adadelta")
SCHEDULERS = (None, "step")
MONITORS = ("val_acc", "val_loss")
AMP_DTYPES = ("auto", "float16", "bfloat16")


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run (saved with every checkpoint)."""

    num_epochs: int = 10  # passes over the training set
    lr: float = 1e-3  # learning rate (AdaDelta's is a scale factor, the report used 0.1)
    optimizer: str = "adam"  # "adam" | "adamw" | "sgd" | "adadelta"
    momentum: float = 0.9  # SGD only
    # Adam, SGD, AdaDelta: an L2 penalty (weight_decay * w added to the gradient, which Adam then
    # rescales like the rest); AdamW: decoupled decay (w shrunk by lr * weight_decay each step)
    weight_decay: float = 0.0
    scheduler: str | None = None  # None (constant lr) | "step" (StepLR)
    step_size: int = 7  # StepLR: epochs between lr drops
    gamma: float = 0.1  # StepLR: lr multiplier at each drop
    batch_size: int = 32  # images per batch (used by whoever builds the loaders)
    seed: int = 42  # seeds Python, NumPy and torch at the start of fit()
    # mixed precision (autocast) in amp_dtype: None ("auto") on CUDA only (a CPU's results stay
    # float32) | True on CUDA or a CPU | False off
    amp: bool | None = None
    # "auto": chosen by the hardware at fit() time (training.resolve_amp_dtype): bfloat16 on GPUs
    # of compute capability >= 8.0 and CPUs with AMX/AVX512-BF16, float16 with a GradScaler on
    # older GPUs (T4), off on other CPUs | "float16" | "bfloat16": used as asked
    amp_dtype: str = "auto"
    patience: int | None = None  # early stopping: epochs without improvement; None = off
    monitor: str = "val_acc"  # best epoch by "val_acc" (ties: lower val_loss) or "val_loss"
    label_smoothing: float = 0.0  # CrossEntropyLoss(label_smoothing=...)
    grad_clip: float | None = None  # max gradient norm; None = no clipping

    def __post_init__(self) -> None:
        self._check_choice("optimizer", OPTIMIZERS)
        self._check_choice("scheduler", SCHEDULERS)
        self._check_choice("monitor", MONITORS)
        self._check_choice("amp_dtype", AMP_DTYPES)
        self._check_positive("num_epochs", "step_size", "batch_size", integer=True)
        self._check_positive("lr")
        if self.patience is not None:
            self._check_positive("patience", integer=True)
        if self.grad_clip is not None:
            self._check_positive("grad_clip")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.weight_decay < 0 or self.momentum < 0 or self.gamma <= 0:
            raise ValueError("weight_decay and momentum must be >= 0 and gamma > 0")
        if self.amp is not None and not isinstance(self.amp, bool):
            raise ValueError(f"TrainConfig.amp must be None (on CUDA only), True or False, "
                             f"got {self.amp!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")

    def _check_choice(self, name: str, choices: tuple) -> None:
        value = getattr(self, name)
        if value not in choices:
            raise ValueError(f"TrainConfig.{name} must be one of {choices}, got {value!r}")

    def _check_positive(self, *names: str, integer: bool = False) -> None:
        kinds = int if integer else (int, float)
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
                kind = "int" if integer else "number"
                raise ValueError(f"TrainConfig.{name} must be a positive {kind}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (str, int, float, bool, None)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of to_dict; unknown keys are an error (a typo would be silently ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown TrainConfig fields {unknown}; known: {sorted(known)}")
        return cls(**data)


# The report's recipes. Model 1 also mentions "weight decay / StepLR 0.001" without saying
# how it was used; the recipe keeps plain Adam. Model 2.2 trains the Model 2.1 network with
# on-the-fly augmentation (transforms.report_augmentation()), not a pre-augmented copy.
MODEL1_RECIPE = TrainConfig(num_epochs=10, lr=1e-3, optimizer="adam")
MODEL2_1_RECIPE = TrainConfig(num_epochs=20, lr=1e-3, optimizer="adam")
MODEL2_2_RECIPE = TrainConfig(num_epochs=30, lr=0.1, optimizer="adadelta")

RECIPES: dict[str, TrainConfig] = {
    "model1": MODEL1_RECIPE,
    "model2_1": MODEL2_1_RECIPE,
    "model2_2": MODEL2_2_RECIPE,
}
