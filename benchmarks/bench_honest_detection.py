"""How far honest detection goes: attempts aimed at the forgery rather than the face, on real
photographs, no pretrained weights, the canonical split, over several training seeds.

Every model of the series shrinks the face to 128 px, where an edited eye is a few pixels. Here:

- model1_128        Model 1 at 128 px, the reference (and a member for the ensembles)
- model1_native     Model 1 on a window of the files' own pixels, never resized (the whole image
                    when --image-size is not below the files' side: 160 px on the copy)
- model1_residual   the same, fed the fixed SRM noise residual (fakeface_lib.models.forensics)
- patches           a small patch net on squares of the files' own pixels around the four code
                    regions (not resized; rows recorded before this change resized them), trained
                    on the codes' region labels; an image's score is the max or the mean of its
                    patches' (fakeface_lib.experiments.patches), the pooling and the score it takes to call
                    an image fake (0.05 to 0.95) chosen on validation
- patches_residual  the same, fed the SRM residual
- ensemble          the mean fake-probability of the runs above of one seed, the members (two
                    or more) chosen on validation (fakeface_lib.evaluation.ensembles); ensemble_all: all of
                    them, no choice

Each run records what bench_real_series records (test: accuracy, balanced_accuracy, roc_auc,
tta_*; validation: val_accuracy / val_loss of the choice, val_predict_*, tta_val_*; best_epoch,
train_seconds ...) and every image's fake-probability on validation and test, from which the
ensembles are built (and can be rebuilt). For the patch runs val_accuracy / val_loss are the
images' (pooled, as on test); the patch-level figures that chose the epoch are val_patch_*.
Residual scales come from training images only. The test set is predicted once per run; every
choice (epoch, pooling and threshold, members) is made on validation. Not a test: run it by hand.

The real runs (3 seeds; a run cut short resumes from its last epoch, a finished one is kept;
the checkpoint folder is any scratch folder, kept between the sessions of a cut run):

    ckpt=$(mktemp -d)
    python benchmarks/bench_honest_detection.py --data ../shared/data/real_and_fake_face_160 \\
        --checkpoint-dir "$ckpt" --out benchmarks/results/honest_detection.json

Dry run (a few minutes; figures of 1 epoch on 64 images mean nothing, it checks the plumbing):

    python benchmarks/bench_honest_detection.py --limit 80 --epochs-scale 0.1 \\
        --out "$(mktemp -d)/dry.json"

Time of the real runs on this 2-core CPU (AMD EPYC, fp32), estimated from epoch times. The dry
run's epochs took 5-12 s for 64 training images (3 min for all 15 runs): too few images to
separate the per-epoch overhead, so one seed was also timed at ``--limit 400 --epochs-scale
0.2`` (320 training images, 2 epochs a run): 21-39 s an epoch, 0.08-0.10 s per training image
for every attempt (the residual filter costs little; Model 1 at 160 px and the four 48 px
patches cost about what Model 1 at 128 px does). Times 1632 training images and 10 epochs:
21-29 min a run, about 2 h 10 min a seed and 6.5 h for three seeds with the CPU shared as it
was then (load average 6-7: this process had 0.6 of a core); on the two cores alone (about 3x
that share) about 8 min a run, 40 min a seed and 2 h for three. Predicting and the ensembles
add a minute or two a seed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_real_series import REAL_DATA, machine, no_real_data  # noqa: E402  (shared with it)

from fakeface_lib.data.splitting import canonical_split
from fakeface_lib.data.index import index_dataset  #noqa: E402
from fakeface_lib.evaluation.ensembles import average_predictions, choose_ensemble  #noqa: E402
from fakeface_lib.evaluation.metrics import by_difficulty, compute_metrics  #noqa: E402
from fakeface_lib.experiments.attempts import (
    ATTEMPTS, model_size, native_side, patch_side, run_attempt,
)
from fakeface_lib.evaluation.predictions import log_loss, predictions_from_probs  #noqa: E402
from fakeface_lib.utils import get_device  #noqa: E402

ENSEMBLES = {"ensemble": "Ensemble of the attempts, members chosen on validation",
             "ensemble_all": "Ensemble of all the attempts (mean, no choice)"}


def run_one(name: str, split, seed: int, args, device) -> dict:
    spec = ATTEMPTS[name]
    epochs = max(1, round(spec.recipe.num_epochs * args.epochs_scale))
    cfg = dataclasses.replace(spec.recipe, num_epochs=epochs, seed=seed, amp=args.amp,
                              amp_dtype="bfloat16", batch_size=args.batch_size)
    ckpt_dir = args.checkpoint_dir / f"{name}_s{seed}" if args.checkpoint_dir else None
    run = run_attempt(name, split, cfg, window=args.full_size, patch_size=args.patch_size,
                      device=device, checkpoint_dir=ckpt_dir, progress=False,
                      num_workers=args.num_workers)
    history, model, kind, pooling = run.history, run.model, spec.kind, run.pooling
    chosen = history[history.best_epoch - 1]
    record = {
        "run": name, "title": spec.title, "kind": kind, "seed": seed, "epochs": epochs,
        "image_size": model_size(spec, args.full_size),
        "patch_size": args.patch_size if kind == "patch" else None,
        "residual": spec.residual, "residual_scale": run.residual_scale, "augment": None, "crop": None,
        "protocol": "honest", "tta": False, "params": run.params,
        "train_seconds": sum(h["seconds"] for h in history), "resumed": run.resumed,
        "weight_norm": float(torch.sqrt(sum((p.detach().float() ** 2).sum()
                                            for p in model.parameters()))),
        "stopped_early": history.stopped_early, "best_epoch": history.best_epoch,
        "epoch_seconds": [h["seconds"] for h in history],
        "train_loss_by_epoch": [h["train_loss"] for h in history],
        "train_accuracy_by_epoch": [h["train_acc"] for h in history],
        "load_average_after": list(os.getloadavg()), "config": cfg.to_dict(),
    }
    if kind == "image":  # the chosen epoch's row of fit()'s history: the figures that chose it
        record.update(val_accuracy=chosen["val_acc"], val_loss=chosen["val_loss"],
                      val_accuracy_by_epoch=[h["val_acc"] for h in history],
                      val_loss_by_epoch=[h["val_loss"] for h in history])
    else:  # epochs are chosen on the patches; the pooling, and what is compared, on the images
        record.update(val_accuracy=compute_metrics(run.val)["accuracy"], val_loss=log_loss(run.val),
                      val_patch_accuracy=chosen["val_acc"], val_patch_loss=chosen["val_loss"],
                      val_patch_accuracy_by_epoch=[h["val_acc"] for h in history],
                      val_patch_loss_by_epoch=[h["val_loss"] for h in history],
                      pooling=pooling[0], threshold=pooling[1],
                      val_by_pooling={k: list(v) for k, v in pooling[2].items()})
    return {**record, **figures(run.val, run.val_tta, run.test, run.test_tta)}


def figures(val, val_tta, test, test_tta) -> dict:
    """Test and validation metrics as bench_real_series records them, and the probabilities."""
    m, t, v, vt = (compute_metrics(f) for f in (test, test_tta, val, val_tta))
    return {
        "accuracy": m["accuracy"], "balanced_accuracy": m["balanced_accuracy"],
        "roc_auc": m["roc_auc"], "majority_baseline": m["majority_baseline"],
        "tta_accuracy": t["accuracy"], "tta_balanced_accuracy": t["balanced_accuracy"],
        "tta_roc_auc": t["roc_auc"],
        "val_predict_accuracy": v["accuracy"], "val_predict_roc_auc": v["roc_auc"],
        "tta_val_accuracy": vt["accuracy"], "tta_val_roc_auc": vt["roc_auc"], "n_val": v["n"],
        "confusion_matrix": m["confusion_matrix"], "n_test": m["n"], "leaked_fraction": None,
        "by_difficulty": by_difficulty(test).reset_index().to_dict(orient="records"),
        **{f"{key}_prob_fake": [round(float(p), 6) for p in frame["prob_fake"]]
           for key, frame in (("val", val), ("tta_val", val_tta), ("test", test),
                              ("tta_test", test_tta))},
    }


def frames_of(run: dict, split) -> dict[str, pd.DataFrame]:
    """A run's four predictions frames (val, tta_val, test, tta_test), rebuilt from its record."""
    out = {}
    for key in ("val", "tta_val", "test", "tta_test"):
        rows = split[split["split"] == key.removeprefix("tta_")].reset_index(drop=True)
        out[key] = predictions_from_probs(run[f"{key}_prob_fake"], rows["label"], rows)
    return out


def ensemble_runs(runs: list[dict], split, seed: int) -> list[dict]:
    """The ensemble rows of one seed: members chosen on validation, and all members."""
    members = [r for r in runs if r["seed"] == seed and r["run"] in ATTEMPTS]
    if len(members) < 2:
        return []
    frames = {r["run"]: frames_of(r, split) for r in members}
    choice = choose_ensemble({n: f["val"] for n, f in frames.items()},
                             {n: f["test"] for n, f in frames.items()}, min_members=2)
    rows = []
    for name, chosen in (("ensemble", list(choice.members)), ("ensemble_all", list(frames))):
        mean = {k: average_predictions([frames[m][k] for m in chosen]) for k in frames[chosen[0]]}
        used = [r for r in members if r["run"] in chosen]
        rows.append({
            "run": name, "title": ENSEMBLES[name], "kind": "ensemble", "seed": seed,
            "members": chosen, "epochs": max(r["epochs"] for r in used), "best_epoch": None,
            "protocol": "honest", "tta": False, "params": sum(r["params"] for r in used),
            "train_seconds": sum(r["train_seconds"] for r in used),
            "val_accuracy": compute_metrics(mean["val"])["accuracy"],
            "val_loss": log_loss(mean["val"]),
            "candidates": [{**c, "members": list(c["members"])}
                           for c in choice.candidates.head(10).to_dict(orient="records")]
            if name == "ensemble" else None,
            **figures(mean["val"], mean["tta_val"], mean["test"], mean["tta_test"])})
    return rows


def settings(args) -> dict:
    """What a finished run kept under --checkpoint-dir must match to be reused."""
    return {"data": str(args.data), "limit": args.limit, "epochs_scale": args.epochs_scale,
            "amp": args.amp, "batch_size": args.batch_size, "full_size": args.full_size,
            "patch_size": args.patch_size}


def run_or_reuse(name: str, split, seed: int, args, device) -> dict:
    """A finished run saved under --checkpoint-dir with the same settings, or a new run."""
    done = args.checkpoint_dir / f"{name}_s{seed}.json" if args.checkpoint_dir else None
    if done and done.is_file():
        saved = json.loads(done.read_text())
        if saved.get("settings") == settings(args):
            print(f"{name} seed {seed}: finished before, kept ({done})")
            return {**saved, "reused": True}
    result = {**run_one(name, split, seed, args, device), "settings": settings(args)}
    if done:
        done.write_text(json.dumps(result, default=str))
        shutil.rmtree(args.checkpoint_dir / f"{name}_s{seed}", ignore_errors=True)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REAL_DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", nargs="+", default=list(ATTEMPTS) + list(ENSEMBLES),
                        help=f"of {list(ATTEMPTS) + list(ENSEMBLES)} (an ensemble averages the "
                             "other runs of its seed)")
    parser.add_argument("--epochs-scale", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--image-size", dest="full_size", type=int, default=None,
                        help="the side of the window the image models read from each file, "
                             "never resized (default: the files' own side)")
    parser.add_argument("--patch-size", type=int, default=None,
                        help="patch side in the files' pixels (default: 0.3 x their side, 48 px at 160)")
    parser.add_argument("--amp", action="store_true",
                        help="bf16 autocast (CUDA, or a CPU with AMX / AVX512-BF16)")
    parser.add_argument("--limit", type=int, default=None, help="use only N images (a dry run)")
    parser.add_argument("--checkpoint-dir", type=Path, default=None,
                        help="checkpoint every epoch under DIR/RUN_sSEED and resume from there "
                             "when rerun; a finished run is kept as DIR/RUN_sSEED.json")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).with_name("results") / "honest_detection.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if no_real_data(args.data):
        return 0
    unknown = set(args.runs) - set(ATTEMPTS) - set(ENSEMBLES)
    if unknown:
        raise SystemExit(f"unknown runs {sorted(unknown)}; choose from {list(ATTEMPTS) + list(ENSEMBLES)}")
    device = get_device()
    split = canonical_split(index_dataset(args.data, validate=False))
    if args.limit:
        split = split.groupby("split", group_keys=False).sample(
            frac=min(1.0, args.limit / len(split)), random_state=0)
    split = split.sort_values(["label", "filename"]).reset_index(drop=True)  # the loaders' order
    args.full_size = args.full_size or native_side(split)
    args.patch_size = args.patch_size or patch_side(native_side(split))
    if args.checkpoint_dir:
        args.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    # Its own benchmark name: make_results_md.py folds "real_series" runs into the choice of the
    # best model, and these runs make further choices on validation (pooling and threshold of the
    # patch scores, an ensemble's members), so they are reported on their own.
    record = {"benchmark": "honest_detection", "suite": "honest_detection",
              "command": " ".join([Path(sys.executable).name] + sys.argv),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": machine(device), "data": str(args.data), "n_images": len(split),
              "amp": args.amp, "channels_last": False, "full_size": args.full_size,
              "patch_size": args.patch_size, "limit": args.limit,
              "split_sizes": split["split"].value_counts().to_dict(), "runs": []}
    start = time.perf_counter()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for name in [n for n in args.runs if n in ATTEMPTS]:
            save(record, [run_or_reuse(name, split, seed, args, device)], args.out, start)
        rows = ensemble_runs(record["runs"], split, seed)
        save(record, [r for r in rows if r["run"] in args.runs], args.out, start)
    return 0


def save(record: dict, runs: list[dict], out: Path, start: float) -> None:
    """Add runs to the record and rewrite the file (a run cut short keeps what it finished)."""
    record["runs"] += runs
    record["elapsed_seconds"] = time.perf_counter() - start
    out.write_text(json.dumps(record, indent=1, default=str))
    for run in runs:
        print(f"{run['run']:18s} seed {run['seed']}: acc {run['accuracy']:.3f} "
              f"auc {run['roc_auc']:.3f} val {run['val_accuracy']:.3f} "
              f"({run['train_seconds']:.0f} s)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
