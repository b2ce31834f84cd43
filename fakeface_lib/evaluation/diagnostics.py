"""Is a trained network answering, or has it collapsed? And what one optimizer step does.

A network has *collapsed* when it gives every image the same answer: its hidden units have
gone silent (a ReLU that outputs 0 for every image passes no gradient, so it never recovers)
and the logits are the last layer's biases. Its accuracy is then the share of the class it
answers, and its curves look flat, not overfitted. ``diagnose_collapse`` measures the three
symptoms; ``first_step_effect`` shows the usual cause, a first optimizer step too large for a
layer with very many inputs per unit; ``trace_steps`` follows the first steps one by one (each
layer's update-to-weight ratio and the share of silent units, as in Karpathy's makemore part 3).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from fakeface_lib.config import TrainConfig

# One class for at least this share of the images, probabilities that no longer depend on the
# image, or no hidden unit left that speaks for any image: the network answers a constant.
ONE_CLASS_SHARE = 0.99
FLAT_PROB_STD = 1e-3


def first_hidden_layer(model: nn.Module) -> tuple[nn.Linear, nn.Module]:
    """The first linear layer of ``model.classifier`` and the activation after it."""
    layers = list(getattr(model, "classifier", model).children())
    for i, layer in enumerate(layers[:-1]):
        if isinstance(layer, nn.Linear):
            return layer, layers[i + 1]
    raise ValueError("no linear layer followed by an activation in model.classifier: pass a "
                     "model like Model1 or Model2")


@torch.inference_mode()
def diagnose_collapse(model: nn.Module, loader: Iterable,
                      device: torch.device | str | None = None) -> dict:
    """The symptoms of a collapse on the images of ``loader`` (validation, say).

    Returns ``one_class_share`` (the share of images given the most frequent answer),
    ``prob_fake_std`` (how much the fake probability varies from image to image),
    ``dead_units`` / ``n_units`` (units of the first hidden layer that output 0 for every
    image), ``n_images`` and ``collapsed``: one class for at least 99 % of the images and
    either flat probabilities or no live unit left.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device).eval()
    _, activation = first_hidden_layer(model)
    peak: list[torch.Tensor] = []
    hook = activation.register_forward_hook(
        lambda _m, _i, out: peak.append(out.detach().float().amax(0)))
    probs, answers = [], []
    try:
        for images, _labels in loader:
            out = model(images.to(device)).float()
            probs.append(torch.softmax(out, 1)[:, 0].cpu())
            answers.append(out.argmax(1).cpu())
    finally:
        hook.remove()
    if not probs:
        raise ValueError("diagnose_collapse(): the loader yielded no images")
    prob_fake, answers = torch.cat(probs), torch.cat(answers)
    unit_peak = torch.stack(peak).amax(0)
    one_class = torch.bincount(answers, minlength=2).max().item() / len(answers)
    dead = int((unit_peak <= 0).sum())
    prob_std = float(prob_fake.std()) if len(prob_fake) > 1 else 0.0
    return {"n_images": len(answers), "one_class_share": one_class, "prob_fake_std": prob_std,
            "dead_units": dead, "n_units": unit_peak.numel(),
            "collapsed": one_class >= ONE_CLASS_SHARE
            and (prob_std < FLAT_PROB_STD or dead == unit_peak.numel())}


def _forward_as_trained(net: nn.Module, images: torch.Tensor) -> None:
    """A forward pass as training computes it, batch norm on the batch's own statistics, but without
    dropout's draws; batch norm's running statistics are left as they were."""
    buffers = {name: b.detach().clone() for name, b in net.named_buffers()}
    net.eval()
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.train()
    with torch.no_grad():
        net(images)
        for name, b in net.named_buffers():
            b.copy_(buffers[name])


def first_step_effect(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                      cfg: TrainConfig) -> dict:
    """What cfg's optimizer does to the first hidden layer in its first step on one batch.

    Works on a copy of ``model`` (the model itself is left as it is). Returns the median
    size of a weight's step (``median_weight_step``), the layer's ``weight_std`` before the step
    and ``update_to_weight`` (the std of the step over that std), the spread of the layer's
    pre-activations over the batch before the step (``preact_std``), how far the step moved
    them (``preact_shift``: the root mean square change), and the share of the layer's units
    that output 0 for every image of the batch before and after (``dead_before``,
    ``dead_after``). ``inputs_per_unit`` is the layer's fan-in. Before and after are measured
    as training sees the batch (batch norm on its statistics) without dropout, and batch norm's
    running statistics are restored after every pass, so the shift is the weights' doing alone.
    """
    from fakeface_lib.training.loop import make_optimizer

    net = copy.deepcopy(model).train()
    device = next(net.parameters()).device
    images, labels = images.to(device), labels.to(device)
    layer, _ = first_hidden_layer(net)
    seen: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda _m, _i, out: seen.append(out.detach().float()))
    try:
        optimizer = make_optimizer(net, cfg)
        before_w = layer.weight.detach().clone()
        _forward_as_trained(net, images)  # pre-activations before the step
        buffers = {name: b.detach().clone() for name, b in net.named_buffers()}
        loss = nn.functional.cross_entropy(net.train()(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            for name, b in net.named_buffers():  # the training pass's update of them, undone
                b.copy_(buffers[name])
        _forward_as_trained(net, images)  # ... and after it
    finally:
        hook.remove()
    pre_before, pre_after = seen[0], seen[-1]
    step = layer.weight.detach() - before_w
    return {"optimizer": cfg.optimizer, "lr": cfg.lr, "inputs_per_unit": layer.in_features,
            "median_weight_step": float(step.abs().median()), "weight_std": float(before_w.std()),
            "update_to_weight": float(step.std() / before_w.std()),
            "preact_std": float(pre_before.std()),
            "preact_shift": float((pre_after - pre_before).pow(2).mean().sqrt()),
            "dead_before": float((pre_before.amax(0) <= 0).float().mean()),
            "dead_after": float((pre_after.amax(0) <= 0).float().mean()),
            "loss_before": loss.item()}


def weight_layers(model: nn.Module) -> dict[str, nn.Parameter]:
    """The weight of each convolution and linear layer, named conv1, conv2, ..., fc1, fc2, ..."""
    found: dict[str, nn.Parameter] = {}
    for module in model.modules():
        kind = "conv" if isinstance(module, nn.Conv2d) else "fc" if isinstance(module, nn.Linear) else None
        if kind and module.weight.requires_grad:
            found[f"{kind}{sum(name.startswith(kind) for name in found) + 1}"] = module.weight
    return found


def _step(model: nn.Module, loss: torch.Tensor, optimizer: torch.optim.Optimizer,
          scaler: torch.amp.GradScaler | None, grad_clip: float | None) -> None:
    """Backward and one optimizer step, as train_one_epoch takes it (scaler, clipping)."""
    optimizer.zero_grad(set_to_none=True)
    (scaler.scale(loss) if scaler else loss).backward()
    if grad_clip is not None:
        if scaler:
            scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    if scaler:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()


def trace_steps(model: nn.Module, loader: Iterable, cfg: TrainConfig, *,
                steps: int | None = None, optimizer: torch.optim.Optimizer | None = None,
                device: torch.device | str | None = None) -> pd.DataFrame:
    """Train ``model`` itself with cfg's optimizer on ``steps`` batches of loader (default: all),
    recording every step, as Karpathy's makemore part 3 does.

    One row per step (index ``step``, from 1): the batch's ``loss`` and ``acc``; ``fc1_dead``, the
    share of the first hidden layer's units silent (pre-activation <= 0) for every image of the
    batch in the step's forward pass, before its update; and per weight layer (``weight_layers``' names)
    the update-to-weight ratio, std(update) / std(weight before it): about 1e-3 is the pace
    makemore calls healthy. ``optimizer`` (default ``make_optimizer(model, cfg)``) lets training
    go on with the same optimizer afterwards; cfg.amp and cfg.grad_clip apply as in fit().
    """
    from fakeface_lib.training.amp import autocast_context, make_scaler, resolve_amp_dtype
    from fakeface_lib.training.loop import make_optimizer

    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device).train()
    optimizer = optimizer if optimizer is not None else make_optimizer(model, cfg)
    amp_dtype = resolve_amp_dtype(cfg, device)
    scaler = make_scaler(amp_dtype, device)
    weights, (layer, _) = weight_layers(model), first_hidden_layer(model)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    alive: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda _m, _i, out: alive.append((out.detach() > 0).any(0)))
    rows = []
    try:
        for step, (images, labels) in enumerate(loader, start=1):
            if steps is not None and step > steps:
                break
            before = {name: w.detach().clone() for name, w in weights.items()}
            with autocast_context(device, amp_dtype is not None, getattr(torch, amp_dtype or "float16")):
                logits, labels = model(images.to(device)), labels.to(device)
                loss = loss_fn(logits, labels)
            _step(model, loss, optimizer, scaler, cfg.grad_clip)
            rows.append({"step": step, "loss": loss.item(), "acc": (logits.argmax(1) == labels).float().mean().item(),
                         "fc1_dead": 1 - alive.pop().float().mean().item()}
                        | {name: float((w.detach() - before[name]).float().std() / before[name].float().std())
                           for name, w in weights.items()})
    finally:
        hook.remove()
    if not rows:
        raise ValueError("trace_steps(): the loader yielded no batches")
    return pd.DataFrame(rows).set_index("step")


def overfitting(history: Sequence[Mapping[str, float]], min_gap: float = 0.1) -> dict | None:
    """The evidence of overfitting in a history, or None when the curves do not show it.

    Overfitting: the last training accuracy ends ``min_gap`` or more above the best validation
    accuracy, and the validation loss has risen since its lowest epoch.
    """
    best = max(history, key=lambda row: row["val_acc"])
    lowest = min(history, key=lambda row: row["val_loss"])
    gap = history[-1]["train_acc"] - best["val_acc"]
    rising = history[-1]["val_loss"] > lowest["val_loss"]
    if gap < min_gap or not rising:
        return None
    return {"gap": gap, "train_acc": history[-1]["train_acc"], "best_val_acc": best["val_acc"],
            "lowest_val_loss_epoch": lowest["epoch"], "epochs": len(history)}


def collapse_verdict(found: dict, history: Sequence[Mapping[str, float]]) -> str:
    """What ``diagnose_collapse``'s figures and a run's curves say, in one Markdown sentence."""
    if found["collapsed"]:
        return ("**This run has collapsed**: one answer for every image, so its curves show no "
                "overfitting, only a constant guess.")
    if found["one_class_share"] >= ONE_CLASS_SHARE:
        return ("This run gives one answer for every validation image, although its probabilities "
                "still vary from image to image: not a full collapse, and no detector either.")
    seen = overfitting(history)
    if seen is None:
        return ("This run answers by the image and its curves show no overfitting: the training "
                "accuracy does not run away from the validation accuracy, or the validation loss "
                "has not turned up.")
    return (f"This run answers by the image, and its curves show **overfitting**: training "
            f"accuracy ends at {seen['train_acc']:.1%}, {100 * seen['gap']:.1f} points above its best "
            f"validation accuracy, and the validation loss was lowest at epoch "
            f"{seen['lowest_val_loss_epoch']} of {seen['epochs']}.")
