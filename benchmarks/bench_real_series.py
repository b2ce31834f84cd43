"""Every model of the series trained on real photographs (the 160x160 copy of the dataset).

Each recipe as the notebooks run it, on the canonical split, repeated over several training
seeds; Model 2.2 both honest and with the report's leaky protocol; then the attempts to push
accuracy honestly. Results go to one JSON file, rewritten after every run, so a run cut short
keeps what it finished. Not a test: run it by hand, on a GPU if you have one:

    python benchmarks/bench_real_series.py --data ../shared/data/real_and_fake_face_160

Each run records its test figures (accuracy, balanced_accuracy, roc_auc, tta_*) and, so that
every choice can be made on validation, the validation figures of its chosen epoch:
val_accuracy and val_loss (the row of fit()'s history that chose best_epoch, with
val_accuracy_by_epoch / val_loss_by_epoch for every epoch), and the validation set predicted
the way the test set is, without and with flip TTA (val_predict_accuracy / val_predict_roc_auc,
tta_val_accuracy / tta_val_roc_auc; n_val images). The test set is predicted once per run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from fakeface_lib import REGIONS
from fakeface_lib.training.checkpoints import CHECKPOINT_NAME, CheckpointPlan, run_folder
from fakeface_lib.config import MODEL1_RECIPE, MODEL2_1_RECIPE, MODEL2_2_RECIPE
from fakeface_lib.data.splitting import canonical_split
from fakeface_lib.data.index import index_dataset
from fakeface_lib.evaluation.metrics import by_difficulty, compute_metrics
from fakeface_lib.evaluation.predictions import predict
from fakeface_lib.data.loaders import make_loaders
from fakeface_lib.models.cnn import build_model
from fakeface_lib.training.fit import fit
from fakeface_lib.utils import count_parameters, get_device, seed_everything

RESNET_RECIPE = dataclasses.replace(MODEL1_RECIPE, num_epochs=10)  # Adam 1e-3, 10 epochs

# name: (title, model, recipe, options). Options: augment, image_size, crop, protocol, tta.
SERIES = {
    "model1": ("Model 1", "model1", MODEL1_RECIPE, {}),
    "model2_1": ("Model 2.1", "model2", MODEL2_1_RECIPE, {}),
    "model2_2": ("Model 2.2 (report augmentation)", "model2", MODEL2_2_RECIPE, {"augment": "report"}),
    "model2_2_leaky": ("Model 2.2, report's leaky protocol", "model2", MODEL2_2_RECIPE,
                       {"augment": "report", "protocol": "leaky"}),
    "model2_2_copies_by_source": ("Model 2.2, 4 copies split by source image", "model2", MODEL2_2_RECIPE,
                                  {"augment": "report", "protocol": "by_source"}),
    "model2_2_mild": ("Model 2.2 (mild augmentation)", "model2", MODEL2_2_RECIPE, {"augment": "mild"}),
    "resnet18_scratch": ("ResNet18 from scratch", "resnet18", RESNET_RECIPE, {}),
    # The leak with the cheaper Model 1 (CPU-sized): same 4 augmented copies, only the split differs.
    "model1_leaky": ("Model 1, report's leaky protocol", "model1", MODEL1_RECIPE,
                     {"augment": "report", "protocol": "leaky"}),
    "model1_copies_by_source": ("Model 1, 4 copies split by source image", "model1", MODEL1_RECIPE,
                                {"augment": "report", "protocol": "by_source"}),
    "model1_leaky_mild": ("Model 1, leaky protocol, mild augmentation", "model1", MODEL1_RECIPE,
                          {"augment": "mild", "protocol": "leaky"}),
    "model1_copies_by_source_mild": ("Model 1, 4 mild copies split by source image", "model1",
                                     MODEL1_RECIPE, {"augment": "mild", "protocol": "by_source"}),
    # ... and with ResNet18 from scratch, which learns on a CPU within its budget.
    "resnet18_leaky_mild": ("ResNet18 scratch, leaky protocol, mild augmentation", "resnet18",
                            RESNET_RECIPE, {"augment": "mild", "protocol": "leaky"}),
    "resnet18_copies_by_source_mild": ("ResNet18 scratch, 4 mild copies split by source image",
                                       "resnet18", RESNET_RECIPE, {"augment": "mild", "protocol": "by_source"}),
}
# What runs by default: every recipe of the series (the Model 1 leak pair above is the CPU-sized
# stand-in, run on request).
DEFAULT_RUNS = ["model1", "model2_1", "model2_2", "model2_2_leaky", "model2_2_copies_by_source",
                "model2_2_mild", "resnet18_scratch"]
# Attempts to push accuracy honestly (issue: resolution, augmentation, schedule, smoothing, TTA).
ATTEMPTS = {
    # Model 1 variants at the recipe's own budget (10 epochs): only the named change differs.
    "model1_mild": ("Model 1 + mild augmentation", "model1", MODEL1_RECIPE, {"augment": "mild"}),
    "model1_smooth_step": ("Model 1 + label smoothing 0.1 + StepLR", "model1",
                           dataclasses.replace(MODEL1_RECIPE, label_smoothing=0.1, scheduler="step",
                                               step_size=4, gamma=0.3), {}),
    "model1_face_crop": ("Model 1 + face crop (region-aware)", "model1", MODEL1_RECIPE, {"crop": "face"}),
    # ResNet18 from scratch at its own budget (10 epochs): one change each.
    "resnet18_mild": ("ResNet18 scratch + mild augmentation", "resnet18", RESNET_RECIPE,
                      {"augment": "mild"}),
    "resnet18_face_crop": ("ResNet18 scratch + face crop (region-aware)", "resnet18", RESNET_RECIPE,
                           {"crop": "face"}),
    "resnet18_160": ("ResNet18 scratch at 160 px", "resnet18", RESNET_RECIPE, {"image_size": 160}),
    # Model 1 with an auxiliary head that also predicts which regions were edited (the fakes'
    # file names say: left eye, right eye, nose, mouth; a real face has none edited).
    "model1_region_aux": ("Model 1 + auxiliary loss on the edited regions (weight 0.5)", "model1",
                          MODEL1_RECIPE, {"region_aux": 0.5}),
}
# The lessons' controls (notebooks 01-03a): one change each against the report's recipe.
LESSONS = {
    # Model 2.1's collapse and its remedy: the same network and budget, Adam at a tenth of the lr.
    "model2_1_lr1e-4": ("Model 2.1, Adam lr 1e-4 (stops after 5 epochs without progress)", "model2",
                        dataclasses.replace(MODEL2_1_RECIPE, lr=1e-4, patience=5), {}),
    # Model 2.2's optimizer without its augmentation: separates the two changes from 2.1 to 2.2.
    "model2_adadelta_noaug": ("Model 2, AdaDelta lr 0.1, no augmentation (stops after 5 epochs "
                              "without progress)", "model2",
                              dataclasses.replace(MODEL2_2_RECIPE, patience=5), {}),
    # The report's optimizer trials on Model 1, at its budget of 10 epochs ("model1" is Adam).
    "model1_sgd": ("Model 1, SGD lr 0.01 momentum 0.9", "model1",
                   dataclasses.replace(MODEL1_RECIPE, optimizer="sgd", lr=0.01, momentum=0.9), {}),
    "model1_adadelta": ("Model 1, AdaDelta lr 0.1", "model1",
                        dataclasses.replace(MODEL1_RECIPE, optimizer="adadelta", lr=0.1), {}),
    "model1_adam_l2": ("Model 1, Adam + L2 penalty 1e-3", "model1",
                       dataclasses.replace(MODEL1_RECIPE, weight_decay=1e-3), {}),
    "model1_adamw": ("Model 1, AdamW decoupled decay 1e-3", "model1",
                     dataclasses.replace(MODEL1_RECIPE, optimizer="adamw", weight_decay=1e-3), {}),
}


class RegionAuxLoss(nn.Module):
    """Cross-entropy on real/fake plus ``weight`` x BCE of an auxiliary head on the region flags.

    The head (Linear 128 -> 4) reads Model 1's hidden layer through a forward hook and is
    registered on the model as ``region_head``, so fit() trains it; the classifier itself is
    the report's Model 1, untouched. Training labels carry the flags: ``encode_regions``.
    """

    def __init__(self, model: nn.Module, weight: float):
        super().__init__()
        self.weight = weight
        model.region_head = nn.Linear(model.classifier[0].out_features, len(REGIONS))
        self.head = model.region_head
        self.hidden = None
        model.classifier[1].register_forward_hook(lambda _m, _i, out: setattr(self, "hidden", out))

    def forward(self, logits: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        loss = F.cross_entropy(logits, codes % 2)
        known = codes >= 32  # plain labels (validation, test) carry no flags: CE only
        if known.any():
            bits = (codes[known] // 2) % 16
            flags = torch.stack([(bits >> i) & 1 for i in range(len(REGIONS))], 1).float()
            loss = loss + self.weight * F.binary_cross_entropy_with_logits(
                self.head(self.hidden[known]).float(), flags)
        return loss


def encode_regions(dataset) -> None:
    """Train labels become label + 2 * region bits + 32 when the regions are known.

    (fit()'s training accuracy is then meaningless for this run; validation and test keep
    plain labels, so best-epoch choice and every reported metric are as usual.)
    """
    codes = []
    for label, row in zip(dataset.labels, dataset.frame[list(REGIONS)].itertuples(index=False)):
        if any(pd.isna(v) for v in row):
            codes.append(label)
        else:
            codes.append(label + 2 * sum(int(bool(v)) << i for i, v in enumerate(row)) + 32)
    dataset.labels = codes


def build_loaders(split, opts: dict, seed: int, batch_size: int, workers: int):
    size = opts.get("image_size", 128)
    if opts.get("protocol") in ("leaky", "by_source"):  # leaky: the report's 4 copies, then split
        from fakeface_lib.experiments.leak import make_leaky_loaders, report_leaky_split

        copies = report_leaky_split(split.drop(columns="split"), seed=42,
                                    group_by_source=opts["protocol"] == "by_source")
        return make_leaky_loaders(copies, batch_size=batch_size, image_size=size, seed=seed,
                                  augment=opts.get("augment", "report"), num_workers=workers)
    return make_loaders(split, batch_size=batch_size, image_size=size, augment=opts.get("augment"),
                        num_workers=workers, seed=seed, progress=False, crop=opts.get("crop"))


def checkpoint_dir(args, name: str, seed: int) -> Path | None:
    """Where one run checkpoints with --checkpoint-dir (None without it)."""
    return args.checkpoint_dir / f"{name}_s{seed}" if args.checkpoint_dir else None


def run_one(name: str, spec: tuple, split, seed: int, args, device) -> dict:
    title, model_name, recipe, opts = spec
    seed_everything(seed)
    epochs = max(1, round(recipe.num_epochs * args.epochs_scale))
    cfg = dataclasses.replace(recipe, num_epochs=epochs, seed=seed, amp=args.amp,
                              amp_dtype="bfloat16", batch_size=args.batch_size)
    loaders = build_loaders(split, opts, seed, args.batch_size, args.num_workers)
    kwargs = {"weights": None} if model_name == "resnet18" else {}
    model = build_model(model_name, **kwargs)
    loss_fn = None
    if opts.get("region_aux"):
        loss_fn = RegionAuxLoss(model, opts["region_aux"])
        encode_regions(loaders["train"].dataset)
    model = model.to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    ckpt_dir = checkpoint_dir(args, name, seed)
    # fit() files the run under ckpt_dir/<its identity's key>/: it resumed if that one existed.
    before = set(ckpt_dir.glob(f"*/{CHECKPOINT_NAME}")) if ckpt_dir else set()
    history = fit(model, loaders, cfg, device=device, progress=False, loss_fn=loss_fn,
                  checkpoints=CheckpointPlan(ckpt_dir, resume=True) if ckpt_dir else None)
    resumed = bool(ckpt_dir) and run_folder(ckpt_dir, history.identity) / CHECKPOINT_NAME in before
    seconds = sum(h["seconds"] for h in history)  # every epoch's time, also across a resume
    preds = predict(model, loaders["test"], device, tta=bool(opts.get("tta")))
    metrics = compute_metrics(preds)
    # Flip TTA costs one more pass over the test set: measure it on every run's own weights.
    tta = metrics if opts.get("tta") else compute_metrics(predict(model, loaders["test"], device, tta=True))
    # Validation figures, so every choice (epoch, model, TTA or not) can be made without the
    # test set: the chosen epoch's row of fit()'s history (the figures that chose it), and the
    # validation set predicted as the test set is, with and without flip TTA.
    chosen = history[history.best_epoch - 1]
    val_plain = compute_metrics(predict(model, loaders["val"], device))
    val_tta = compute_metrics(predict(model, loaders["val"], device, tta=True))
    leaked = None
    if opts.get("protocol") in ("leaky", "by_source"):
        from fakeface_lib.experiments.leak import leaked_fraction

        leaked = leaked_fraction(pd.concat([loaders[k].dataset.frame for k in ("train", "test")]))
    return {
        "run": name, "title": title, "seed": seed, "epochs": epochs, "image_size": opts.get("image_size", 128),
        "region_aux": opts.get("region_aux"), "augment": opts.get("augment"), "crop": opts.get("crop"), "protocol": opts.get("protocol", "honest"), "tta": bool(opts.get("tta")),
        "params": count_parameters(model), "train_seconds": seconds,
        "weight_norm": float(torch.sqrt(sum((p.detach().float() ** 2).sum() for p in model.parameters()))),
        "stopped_early": history.stopped_early,
        "train_loss_by_epoch": [h["train_loss"] for h in history],
        "train_accuracy_by_epoch": [h["train_acc"] for h in history],
        "resumed": resumed,
        "load_average_after": list(os.getloadavg()),  # above the core count: the CPU was shared
        "epoch_seconds": [h["seconds"] for h in history], "best_epoch": history.best_epoch,
        "accuracy": metrics["accuracy"], "balanced_accuracy": metrics["balanced_accuracy"],
        "roc_auc": metrics["roc_auc"], "majority_baseline": metrics["majority_baseline"],
        "tta_accuracy": tta["accuracy"], "tta_balanced_accuracy": tta["balanced_accuracy"],
        "tta_roc_auc": tta["roc_auc"],
        "val_accuracy": chosen["val_acc"], "val_loss": chosen["val_loss"],
        "val_accuracy_by_epoch": [h["val_acc"] for h in history],
        "val_loss_by_epoch": [h["val_loss"] for h in history],
        "val_predict_accuracy": val_plain["accuracy"], "val_predict_roc_auc": val_plain["roc_auc"],
        "tta_val_accuracy": val_tta["accuracy"], "tta_val_roc_auc": val_tta["roc_auc"],
        "n_val": val_plain["n"],
        "confusion_matrix": [list(map(int, r)) for r in metrics["confusion_matrix"]],
        "n_test": metrics["n"], "leaked_fraction": leaked,
        "by_difficulty": by_difficulty(preds).reset_index().to_dict(orient="records"),
        "config": cfg.to_dict(),
    }


def cpu_model() -> str:
    """The CPU's model name (bf16 kernels, and so the figures, differ between CPU models)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def machine(device: torch.device) -> dict:
    gpu = torch.cuda.get_device_name(0) if device.type == "cuda" else None
    return {"platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "cpus": os.cpu_count(), "device": gpu or "cpu",
            "cpu_model": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch_threads": torch.get_num_threads()}


# The 160x160 copy of the real dataset: --data, FAKEFACE_REAL_DATA, or beside the repository.
REAL_DATA = Path(os.environ.get(
    "FAKEFACE_REAL_DATA", Path(__file__).resolve().parents[2] / "shared/data/real_and_fake_face_160"))


def no_real_data(path: Path) -> bool:
    """True, with a line saying so, when ``path`` holds no real dataset (the benchmark skips)."""
    if (path / "training_real").is_dir():
        return False
    print(f"Skipped: no real dataset at {path} (pass --data PATH or set FAKEFACE_REAL_DATA)")
    return True


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REAL_DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", nargs="+", default=DEFAULT_RUNS, help=f"of {list(SERIES) + list(ATTEMPTS) + list(LESSONS)}")
    parser.add_argument("--attempts", action="store_true", help="also run the accuracy attempts")
    parser.add_argument("--epochs-scale", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--amp", action="store_true",
                        help="bf16 autocast (CUDA, or a CPU with AMX / AVX512-BF16)")
    parser.add_argument("--channels-last", action="store_true",
                        help="channels-last weights (faster convolutions on CPUs and recent GPUs)")
    parser.add_argument("--limit", type=int, default=None, help="use only N images (a dry run)")
    parser.add_argument("--budget-seconds", type=float, default=float("inf"),
                        help="start no new run after this many seconds")
    parser.add_argument("--checkpoint-dir", type=Path, default=None,
                        help="checkpoint every epoch under DIR/RUN_sSEED and resume from there when "
                             "rerun (a Model 2 run is 65-80 min on a 2-core CPU); deleted once the run is saved")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results") / "real_series.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if no_real_data(args.data):
        return 0
    device = get_device()
    frame = index_dataset(args.data, validate=False)
    split = canonical_split(frame)
    if args.limit:
        split = split.groupby("split", group_keys=False).sample(frac=min(1.0, args.limit / len(split)), random_state=0)
    specs = {**SERIES, **ATTEMPTS, **LESSONS}
    unknown = set(args.runs) - set(specs)
    if unknown:
        raise SystemExit(f"unknown runs {sorted(unknown)}; choose from {list(specs)}")
    plan = [(n, s) for s in args.seeds for n in args.runs]
    if args.attempts:
        plan += [(n, args.seeds[0]) for n in ATTEMPTS]
    record = {"benchmark": "real_series", "command": " ".join([Path(sys.executable).name] + sys.argv),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(device),
              "data": str(args.data), "n_images": len(split), "amp": args.amp,
              "channels_last": args.channels_last,
              "split_sizes": split["split"].value_counts().to_dict(), "runs": [], "skipped": []}
    start = time.perf_counter()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name, seed in plan:
        if time.perf_counter() - start > args.budget_seconds:
            record["skipped"].append(f"{name} seed {seed} (time budget)")
            continue
        result = run_one(name, specs[name], split, seed, args, device)
        record["runs"].append(result)
        record["elapsed_seconds"] = time.perf_counter() - start
        args.out.write_text(json.dumps(record, indent=1, default=str))
        if args.checkpoint_dir:
            shutil.rmtree(checkpoint_dir(args, name, seed), ignore_errors=True)
        print(f"{name:24s} seed {seed}: acc {result['accuracy']:.3f} bal {result['balanced_accuracy']:.3f} "
              f"auc {result['roc_auc']:.3f} val {result['val_accuracy']:.3f} "
              f"({result['train_seconds']:.0f} s)", flush=True)
    args.out.write_text(json.dumps(record, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
