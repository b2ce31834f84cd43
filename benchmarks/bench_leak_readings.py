"""The report's leaky protocol in both readings of the code it does not show, on real photographs.

The report prints its transforms and the sizes 6531 / 816 / 817, not the code that made its four
copies of every photograph. "fixed": each copy one seeded draw, made once (``make_copies``), as if
the augmented dataset had been saved; "fresh": a new draw at every access, as a transform attached
to a dataset concatenated four times and cut by ``random_split`` gives (notebook 03b writes those
lines out). Each reading is trained on the report's leaky split and on the same copies split by
source image (the canonical split), so its leak is the gap between the two. Model 1 (cheap on a
CPU) with the Model 2.2 recipe (AdaDelta, lr 0.1) and the report's augmentation preset. Results go
to one JSON file, rewritten after every run. Not a test: run it by hand.

    python benchmarks/bench_leak_readings.py --data ../shared/data/real_and_fake_face_160
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from fakeface_lib.config import MODEL2_2_RECIPE
from fakeface_lib.data.index import index_dataset
from fakeface_lib.data.splitting import canonical_split
from fakeface_lib.evaluation.metrics import compute_metrics
from fakeface_lib.evaluation.predictions import predict
from fakeface_lib.experiments.leak import (
    DRAWS, cache_sources, leaked_fraction, make_copies, make_leaky_loaders, report_leaky_split,
)
from fakeface_lib.models.cnn import build_model
from fakeface_lib.training.fit import fit
from fakeface_lib.utils import get_device, seed_everything

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = Path(os.environ.get("FAKEFACE_REAL_DATA", ROOT.parent / "shared/data/real_and_fake_face_160"))
PROTOCOLS = ("leaky", "by_source")
SPLIT_SEED = 42  # the copies' split, the same for every training seed (notebook 03b's SEED)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REAL_DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=5, help="epochs over the 4x copies")
    parser.add_argument("--augment", default="report", help="the copies' preset")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit", type=int, default=None, help="use only N photographs (a dry run)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: the per-image augmentations of fresh draws stay cheap)")
    parser.add_argument("--budget-seconds", type=float, default=float("inf"),
                        help="start no new run after this many seconds")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/leak_readings_model1.json")
    return parser.parse_args(argv)


def train_one(frame, draws: str, shared: dict, seed: int, args, device) -> dict:
    """One run of Model 1 on one split of the copies; its test figures and training curve."""
    cfg = dataclasses.replace(MODEL2_2_RECIPE, num_epochs=args.epochs, seed=seed,
                              batch_size=args.batch_size)
    loaders = make_leaky_loaders(frame, batch_size=args.batch_size, seed=seed,
                                 augment=args.augment, draws=draws, **shared)
    seed_everything(seed)
    model = build_model("model1").to(device)
    history = fit(model, loaders, cfg, device=device, progress=False)
    metrics = compute_metrics(predict(model, loaders["test"], device))
    return {"seed": seed, "draws": draws, "epochs": args.epochs, "best_epoch": history.best_epoch,
            "accuracy": metrics["accuracy"], "balanced_accuracy": metrics["balanced_accuracy"],
            "roc_auc": metrics["roc_auc"], "majority_baseline": metrics["majority_baseline"],
            "n_test": metrics["n"], "leaked_fraction": leaked_fraction(frame),
            "confusion_matrix": [list(map(int, row)) for row in metrics["confusion_matrix"]],
            "train_accuracy_by_epoch": [h["train_acc"] for h in history],
            "val_accuracy_by_epoch": [h["val_acc"] for h in history],
            "train_seconds": sum(h["seconds"] for h in history),
            "load_average_after": list(os.getloadavg()),  # above the core count: the CPU was shared
            "config": cfg.to_dict()}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (args.data / "training_real").is_dir():
        print(f"Skipped: no real dataset at {args.data} (pass --data PATH or set FAKEFACE_REAL_DATA)")
        return 0
    torch.set_num_threads(args.threads)
    device = get_device()
    split = canonical_split(index_dataset(args.data, validate=False))
    if args.limit:
        split = split.groupby("split", group_keys=False).sample(
            frac=min(1.0, args.limit / len(split)), random_state=0)
    frames = {"leaky": report_leaky_split(split.drop(columns="split"), seed=SPLIT_SEED),
              "by_source": report_leaky_split(split, seed=SPLIT_SEED, group_by_source=True)}
    sources = cache_sources(frames["leaky"])  # both frames number the photographs alike
    data = args.data.resolve()
    record = {"benchmark": "leak_readings", "command": " ".join([Path(sys.executable).name] + sys.argv),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": {"platform": platform.platform(), "torch": torch.__version__,
                          "cpus": os.cpu_count(), "device": str(device),
                          "torch_threads": torch.get_num_threads(),
                          "load_average_at_start": list(os.getloadavg())},
              "data": str(data.relative_to(ROOT.parent)) if data.is_relative_to(ROOT.parent) else data.name,
              "model": "model1", "recipe": "MODEL2_2_RECIPE (AdaDelta, lr 0.1)",
              "augment": args.augment, "split_seed": SPLIT_SEED, "n_images": len(split),
              "split_sizes": {name: frame["split"].value_counts().to_dict() for name, frame in frames.items()},
              "runs": [], "skipped": []}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for seed in args.seeds:  # the two readings on the leaky split first: the comparison itself
        copies = make_copies(sources, 4, args.augment, seed=seed)
        shared = {"fixed": {"copies": copies}, "fresh": {"sources": sources}}
        for protocol, draws in [(p, d) for p in PROTOCOLS for d in DRAWS]:
            if time.perf_counter() - start > args.budget_seconds:
                record["skipped"].append(f"seed {seed} {draws} {protocol} (time budget)")
                continue
            result = {"protocol": protocol,
                      **train_one(frames[protocol], draws, shared[draws], seed, args, device)}
            record["runs"].append(result)
            record["elapsed_seconds"] = time.perf_counter() - start
            args.out.write_text(json.dumps(record, indent=1))
            print(f"seed {seed} {draws:5s} {protocol:9s}: acc {result['accuracy']:.3f} "
                  f"bal {result['balanced_accuracy']:.3f} auc {result['roc_auc']:.3f} "
                  f"({result['train_seconds']:.0f} s)", flush=True)
    args.out.write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
