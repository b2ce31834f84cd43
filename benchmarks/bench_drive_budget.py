"""Drive use of the series on Colab: measured at the demo's sizes, worked out for the full recipe.

Runs notebooks 00-05 as tests/test_colab_simulation.py does (a fresh machine per notebook, a
stand-in google.colab, Drive a folder where every written byte counts, replaced versions
included: Drive's Trash keeps them), then extends the measurement to the full recipe: a run
whose checkpoint goes to Drive writes it DRIVE_WRITES_PER_RUN times whatever its epochs (at
most once in smoke mode), each about colab.checkpoint_size(); results files are small.

    python benchmarks/bench_drive_budget.py --out benchmarks/results/drive_budget.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "colab_sim"))
from simulate import read_ledger, simulate_colab  # noqa: E402

from fakeface_lib import colab  #noqa: E402
from fakeface_lib.models.cnn import Model1
from fakeface_lib.models.resnet import build_resnet18  #noqa: E402

MiB = 2**20
# The runs whose checkpoints go to Drive at the full recipe (checkpoint_plan: small enough).
DRIVE_RUNS = {"01_model1": {"model1": (Model1, "adam"), "model1_face_crop": (Model1, "adam")},
              "04_resnet18_finetuning": {"resnet18_frozen": ("frozen", "adam"),
                                         "resnet18_finetune": ("all", "adam")}}


def _model(kind):
    if kind is Model1:
        return Model1()
    model = build_resnet18(weights=None)
    if kind == "frozen":
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("fc."))
    return model


def measured_by_kind(base: Path) -> dict[str, dict[str, int]]:
    """Bytes counted per notebook, split into checkpoint files and everything else."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"checkpoints": 0, "other": 0})
    for ledger in sorted(base.glob("ledger-*.tsv")):
        name = ledger.stem.removeprefix("ledger-")
        for line in ledger.read_text().splitlines():
            kind, size, path = line.split("\t", 2)
            if kind == "count":
                out[name]["checkpoints" if path.endswith(".pt") and "/checkpoints/" in path
                          else "other"] += int(size)
        counted, pending, _ = read_ledger(ledger)
        out[name]["other"] += sum(Path(p).stat().st_size for p in pending if Path(p).exists())
    return dict(out)


def full_recipe(measured: dict[str, dict[str, int]]) -> dict[str, dict[str, float]]:
    """Per notebook: MiB written and MiB left at the full recipe (checkpoints as planned)."""
    rows = {}
    for name, parts in measured.items():
        sizes = [colab.checkpoint_size(_model(kind), opt) for kind, opt in DRIVE_RUNS.get(name, {}).values()]
        written = parts["other"] + colab.DRIVE_WRITES_PER_RUN * sum(sizes)
        rows[name] = {"written_mib": written / MiB, "left_mib": (parts["other"] + sum(sizes)) / MiB,
                      "checkpointed_runs": list(DRIVE_RUNS.get(name, {}))}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "drive_budget.json")
    args = parser.parse_args()
    from fakeface_lib.data.demo import make_demo_dataset

    with tempfile.TemporaryDirectory(prefix="fakeface-drive-") as tmp:
        base = Path(tmp)
        make_demo_dataset(base / "data" / "demo")
        params = {"DATA": "demo", "SMOKE": True, "CHECKPOINT": True, "DATA_DIR": str(base / "data")}
        use = simulate_colab(base, params)
        measured = measured_by_kind(base)
        for name in use.written:  # a notebook that wrote nothing left no ledger
            measured.setdefault(name, {"checkpoints": 0, "other": 0})
    record = {
        "benchmark": "drive_budget", "command": "python benchmarks/bench_drive_budget.py",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "torch": torch.__version__,
        "demo_smoke": {"written_mib": {k: v / MiB for k, v in use.written.items()},
                       "total_written_mib": use.total_written / MiB, "left_mib": use.left / MiB,
                       "by_kind_mib": {k: {kk: vv / MiB for kk, vv in v.items()} for k, v in measured.items()}},
        "full_recipe": full_recipe(measured),
        "drive_writes_per_run": colab.DRIVE_WRITES_PER_RUN,
        "drive_checkpoint_limit_mib": colab.DRIVE_CHECKPOINT_LIMIT / MiB,
    }
    full = record["full_recipe"]
    record["full_recipe_total"] = {"written_mib": sum(r["written_mib"] for r in full.values()),
                                   "left_mib": sum(r["left_mib"] for r in full.values())}
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record["full_recipe_total"]), "->", args.out)


if __name__ == "__main__":
    main()
