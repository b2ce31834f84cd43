"""Model 2.1's recipe at the report's batch (96, the 17 batches its log implies) against the
series' 32, on the real photographs: the first epochs, step by step.

Each run trains Model 2 with MODEL2_1_RECIPE (Adam, lr 0.001) on the canonical split. Its first
epoch goes through ``trace_steps`` (each step's loss, fc1's silent units on the batch, each
layer's update-to-weight ratio); after every epoch the validation set is evaluated and checked
for a collapse (``diagnose_collapse``: one answer for every image, fc1 units silent for every
image). Not a test: run it by hand (Model 2 on a CPU trains at about 5-16 images a second):

    python benchmarks/bench_batch_size.py --amp --epochs 3 --seeds 0 1 2

With the first seed it also runs the first epoch of two other recipes at the series' batch of 32
(--recipes): Adam at lr 0.0001 (notebook 02's remedy) and AdaDelta at lr 0.1.
Results go to one JSON file, rewritten after every epoch, so a run cut short keeps what it finished.
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
from torch import nn

from fakeface_lib.config import MODEL2_1_RECIPE
from fakeface_lib.data.index import index_dataset
from fakeface_lib.data.loaders import make_loaders
from fakeface_lib.data.splitting import canonical_split
from fakeface_lib.evaluation.diagnostics import diagnose_collapse, trace_steps
from fakeface_lib.models.cnn import Model2
from fakeface_lib.training.loop import evaluate, make_optimizer, train_one_epoch
from fakeface_lib.utils import get_device, seed_everything

# The 160x160 copy of the real dataset: --data, FAKEFACE_REAL_DATA, or beside the repository.
REAL_DATA = Path(os.environ.get(
    "FAKEFACE_REAL_DATA", Path(__file__).resolve().parents[2] / "shared/data/real_and_fake_face_160"))
RATIO_LAYERS = ("conv1", "conv2", "conv3", "conv4", "fc1", "fc2")


def epoch_row(model: nn.Module, loaders: dict, loss_fn: nn.Module, device, amp: bool, epoch: int,
              train: dict, seconds: float) -> dict:
    """One epoch's figures: training (from the loop), validation, and the collapse check."""
    val = evaluate(model, loaders["val"], loss_fn, device, amp=amp, amp_dtype=torch.bfloat16)
    found = diagnose_collapse(model, loaders["val"], device)
    row = {"epoch": epoch, "train_loss": train["loss"], "train_acc": train["acc"], "val_loss": val["loss"],
           "val_acc": val["acc"], "val_one_class_share": found["one_class_share"],
           "val_prob_fake_std": found["prob_fake_std"], "fc1_dead_on_val": found["dead_units"] / found["n_units"],
           "collapsed": found["collapsed"], "seconds": seconds}
    print(f"  epoch {epoch}: train loss {row['train_loss']:.3f} acc {row['train_acc']:.1%}, val acc "
          f"{row['val_acc']:.1%}, one answer for {row['val_one_class_share']:.1%}, fc1 silent on val "
          f"{row['fc1_dead_on_val']:.0%}, collapsed {row['collapsed']} ({seconds:.0f} s)", flush=True)
    return row


# The first epoch of two other recipes at the series' batch, beside the report's (--recipes):
# the remedy of notebook 02 and AdaDelta at lr 0.1 (the report's optimizer for Model 2.2).
OTHER_RECIPES = {"adam_lr1e-4": {"lr": 1e-4}, "adadelta_lr0.1": {"optimizer": "adadelta", "lr": 0.1}}


def run_one(split, batch_size: int, seed: int, args, device: torch.device, epochs: int,
            save, recipe: str = "report") -> dict:
    """One run; ``save(run)`` is called after every epoch with what it has so far."""
    cfg = dataclasses.replace(MODEL2_1_RECIPE, batch_size=batch_size, seed=seed, amp=args.amp,
                              amp_dtype="bfloat16", **OTHER_RECIPES.get(recipe, {}))
    seed_everything(seed)
    model = Model2().to(device)
    loaders = make_loaders(split, batch_size=batch_size, seed=seed, progress=False)
    optimizer = make_optimizer(model, cfg)
    loss_fn = nn.CrossEntropyLoss()
    print(f"{recipe}, batch {batch_size}, seed {seed}: {len(loaders['train'])} steps an epoch", flush=True)
    start = time.perf_counter()
    trace = trace_steps(model, loaders["train"], cfg, optimizer=optimizer, device=device)
    n_train = len(loaders["train"].dataset)  # the batches' sizes, without drawing the loader again
    sizes = torch.tensor([min(batch_size, n_train - i * batch_size) for i in range(len(trace))],
                         dtype=torch.float64)
    train = {"loss": float((torch.tensor(trace["loss"].values) * sizes).sum() / sizes.sum()),
             "acc": float((torch.tensor(trace["acc"].values) * sizes).sum() / sizes.sum())}
    run = {"recipe": recipe, "optimizer": cfg.optimizer, "lr": cfg.lr, "batch_size": batch_size, "seed": seed,
           "steps_per_epoch": len(loaders["train"]), "epochs_planned": epochs,
           "epochs": [epoch_row(model, loaders, loss_fn, device, args.amp, 1, train, time.perf_counter() - start)],
           "trace": {"loss": trace["loss"].tolist(), "fc1_dead": trace["fc1_dead"].tolist(),
                     **{f"ratio_{name}": trace[name].tolist() for name in RATIO_LAYERS}}}
    save(run)
    for epoch in range(2, epochs + 1):
        start = time.perf_counter()
        train = train_one_epoch(model, loaders["train"], loss_fn, optimizer, device, amp=args.amp,
                                amp_dtype=torch.bfloat16, progress=False)
        run["epochs"].append(epoch_row(model, loaders, loss_fn, device, args.amp, epoch, train,
                                       time.perf_counter() - start))
        save(run)
    return run


def machine(device: torch.device) -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    return {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpus": os.cpu_count(), "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
            "cpu_model": cpu, "torch_threads": torch.get_num_threads()}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REAL_DATA)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 96])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (the recipe's is 20)")
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast (on CPUs with AVX512-BF16/AMX)")
    parser.add_argument("--recipes", nargs="*", default=list(OTHER_RECIPES), choices=list(OTHER_RECIPES),
                        help="the first epoch of these recipes too, at batch 32 and the first seed")
    parser.add_argument("--limit", type=int, default=None, help="use only N images (a dry run)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results") / "batch_size_model2_1.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (args.data / "training_real").is_dir():
        print(f"Skipped: no real dataset at {args.data} (pass --data PATH or set FAKEFACE_REAL_DATA)")
        return 0
    device = get_device()
    split = canonical_split(index_dataset(args.data))
    if args.limit:
        split = split.groupby("split", group_keys=False).head(args.limit // 3)
    data = os.path.relpath(args.data, Path(__file__).resolve().parents[1])
    record = {"benchmark": "batch_size", "command": "python " + " ".join(
                  [Path(sys.argv[0]).as_posix()] + [a if not Path(a).is_absolute() else os.path.relpath(a)
                                                   for a in sys.argv[1:]]),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(device),
              "data": data, "amp": args.amp, "recipe": MODEL2_1_RECIPE.to_dict(), "epochs_run": args.epochs,
              "split_sizes": split["split"].value_counts().to_dict(), "runs": []}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record["recipe_runs"] = []

    def saver(where: list):
        def save(run: dict) -> None:  # the run so far, in its list, and the file rewritten
            if not where or where[-1] is not run:
                where.append(run)
            args.out.write_text(json.dumps(record, indent=1, default=str))
        return save

    for seed in args.seeds:
        for batch_size in args.batch_sizes:
            run_one(split, batch_size, seed, args, device, args.epochs, saver(record["runs"]))
        if seed == args.seeds[0]:
            for recipe in args.recipes:
                run_one(split, 32, seed, args, device, 1, saver(record["recipe_runs"]), recipe)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
