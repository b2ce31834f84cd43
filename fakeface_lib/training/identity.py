"""A run's identity: what makes a training run that run (model, data, preprocessing, optimizer, recipe).

fit() files each run's checkpoints under a key derived from it, so resuming never hands back a
run made on other data, with another model or other preprocessing: those train anew, in a
folder of their own. More epochs (or another patience) continue the same run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

# Settings of an optimizer's param groups that change its steps (not how they are computed).
OPTIMIZER_KEYS = ("lr", "betas", "eps", "weight_decay", "momentum", "dampening", "nesterov",
                  "rho", "amsgrad", "maximize")
# TrainConfig fields that may change between sessions of one run.
RESUMABLE_CHANGES = ("num_epochs", "patience")
SECTIONS = {"model": "the model", "init": "the initial weights (another seed, or pretrained or not)",
            "data": "the training or validation images",
            "preprocessing": "the preprocessing or augmentation", "optimizer": "the optimizer",
            "config": "the recipe (TrainConfig)"}


def _text(obj: Any) -> str:
    """repr without memory addresses (a lambda's repr changes on every run)."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(obj))


def model_identity(model: nn.Module) -> dict[str, Any]:
    """Class, layers (their repr holds every constructor argument), shapes, what trains."""
    shapes = [f"{name}:{tuple(p.shape)}:{int(p.requires_grad)}" for name, p in model.named_parameters()]
    return {"class": f"{type(model).__module__}.{type(model).__qualname__}",
            "architecture": _text(model),
            "parameters": sum(p.numel() for p in model.parameters()),
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "shapes": hashlib.sha256("\n".join(shapes).encode()).hexdigest()[:16]}


def weights_fingerprint(model: nn.Module, sample: int = 4096) -> str:
    """Digest of the first ``sample`` values of every tensor of the state_dict: the weights the
    run starts from (a seed, ImageNet weights, or a model already trained tell apart)."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        head = tensor.detach().flatten()[:sample].to("cpu")
        if head.dtype == torch.bfloat16:  # numpy has no bfloat16
            head = head.float()
        digest.update(name.encode() + head.numpy().tobytes())
    return digest.hexdigest()[:16]


def files_fingerprint(frame) -> str:
    """Digest of the images' names, labels and byte sizes: another copy of the data differs."""
    rows = sorted(f"{os.path.basename(str(path))}|{int(label)}|{_size(path)}"
                  for path, label in zip(frame["path"], frame["label"]))
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


def _size(path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


def data_identity(loaders: Mapping[str, Any]) -> dict[str, Any]:
    """Fingerprints of the training and validation images (those a run learns from and picks by)."""
    out = {}
    for split in ("train", "val"):
        dataset = getattr(loaders[split], "dataset", None)
        frame = getattr(dataset, "frame", None)
        if frame is not None:
            out[split] = {"images": len(frame), "files": files_fingerprint(frame)}
        else:  # a dataset without an index (a TensorDataset, say): its tensors' bytes
            tensors = getattr(dataset, "tensors", ())
            digest = hashlib.sha256(b"".join(t.numpy().tobytes() for t in tensors)).hexdigest()[:16]
            out[split] = {"images": len(dataset), "files": digest if tensors else _text(dataset)}
    return out


def preprocessing_identity(loaders: Mapping[str, Any]) -> dict[str, Any]:
    """Image size, crop and the transforms (augmentation included) of the train and val loaders."""
    out = {}
    for split in ("train", "val"):
        dataset = getattr(loaders[split], "dataset", None)
        preprocessing = getattr(dataset, "preprocessing", None)
        out[split] = {
            "preprocessing": preprocessing.to_dict() if hasattr(preprocessing, "to_dict") else None,
            "image_size": getattr(dataset, "image_size", None),
            "crop": list(dataset.crop) if getattr(dataset, "crop", None) else None,
            "transform": _text(getattr(dataset, "transform", None)),
        }
    return out


def optimizer_identity(optimizer) -> dict[str, Any]:
    """The optimizer's class and, per param group, its size and settings (initial lr)."""
    groups = []
    for group in optimizer.param_groups:
        settings = {k: _plain(group[k]) for k in OPTIMIZER_KEYS if k in group}
        settings["lr"] = float(group.get("initial_lr", group["lr"]))
        groups.append({"parameters": sum(p.numel() for p in group["params"]), **settings})
    return {"class": type(optimizer).__name__, "groups": groups}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return float(value) if hasattr(value, "item") else value


def run_identity(model: nn.Module, loaders: Mapping[str, Any], optimizer, cfg) -> dict[str, Any]:
    """Everything that makes a run that run; JSON-able. fit() computes it before training, so
    ``init`` is the weights passed in, before any checkpoint is restored."""
    config = {k: v for k, v in cfg.to_dict().items() if k not in RESUMABLE_CHANGES}
    return {"model": model_identity(model), "init": weights_fingerprint(model),
            "data": data_identity(loaders),
            "preprocessing": preprocessing_identity(loaders),
            "optimizer": optimizer_identity(optimizer), "config": config}


def identity_key(identity: Mapping[str, Any]) -> str:
    """A short, stable name for a run identity (its checkpoint folder)."""
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between two identities, in words: ["the model", "the recipe (lr)" ...]."""
    found = []
    for section, words in SECTIONS.items():
        a, b = old.get(section, {}), new.get(section, {})
        if a == b:
            continue
        keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)) if section == "config" else []
        found.append(f"{words} ({', '.join(f'{k}: {a.get(k)!r} -> {b.get(k)!r}' for k in keys)})"
                     if keys else words)
    return found
