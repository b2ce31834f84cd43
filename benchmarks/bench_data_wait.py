"""How long a T4 would wait on data: each notebook's training loader, as before (no workers) and now.

For the training loader of each notebook's recipe (01 and 02: cached 128 px images, no
augmentation; 03: the report's augmentation; 04: mild augmentation at 224 px), times one epoch of
batches on this machine's CPU (2 cores, as Colab's 2 vCPUs) with ``num_workers=0`` (the default
before) and with what ``make_loaders`` now chooses on CUDA (``default_num_workers``), and sets it
against the GPU's compute per epoch on a T4, estimated from the H100 throughput of
``throughput_cuda.json`` (peak FP32 8.1 against 67.0 TFLOP/s; by pixels for 224 px):

- without workers the loader and the GPU take turns: waiting share = load / (load + compute);
- with workers the loader runs beside the GPU: waiting share = max(0, load - compute) / max(load, compute).

An estimate of a T4 run, not a measurement on one. Needs the 160 px copy of the dataset.

    python benchmarks/bench_data_wait.py --data ../shared/data/real_and_fake_face_160
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from fakeface_lib.data.splitting import canonical_split
from fakeface_lib.data.index import index_dataset
from fakeface_lib.data.loaders import default_num_workers, make_loaders

RESULTS = Path(__file__).resolve().parent / "results"
T4_OVER_H100 = 8.1 / 67.0
LOADERS = {  # notebook: (model whose compute it feeds, image size, augmentation)
    "01_model1": ("model1", 128, None),
    "02_model2_1": ("model2", 128, None),
    "03_model2_2_augmentation": ("model2", 128, "report"),
    "04_resnet18_finetuning": ("resnet18", 224, "mild"),
}


def epoch_seconds(loader) -> float:
    """Seconds to draw every batch of one epoch (after one warm-up batch)."""
    batches = iter(loader)
    next(batches)
    start = time.perf_counter()
    for _ in batches:
        pass
    return time.perf_counter() - start


def t4_compute_seconds(model: str, size: int, images: int) -> float:
    data = json.loads((RESULTS / "throughput_cuda.json").read_text())
    speed = next(r["train_one_epoch_images_per_s"] for r in data["results"]
                 if r["model"] == model and not r["amp"] and r["image_size"] == 128)
    return images / (speed * T4_OVER_H100 * (128 / size) ** 2)


def measure(frame, name: str, batch_size: int = 32) -> dict:
    model, size, augment = LOADERS[name]
    row = {"notebook": name, "model": model, "image_size": size, "augment": augment}
    for label, workers in (("before", 0), ("now", None)):
        chosen = default_num_workers("train", augmented=augment is not None, cuda=True) \
            if workers is None else workers
        loaders = make_loaders(frame, batch_size=batch_size, image_size=size, augment=augment,
                               num_workers=chosen, seed=0, progress=False)
        load = epoch_seconds(loaders["train"])
        compute = t4_compute_seconds(model, size, len(loaders["train"].dataset))
        wait = load / (load + compute) if chosen == 0 else max(0.0, load - compute) / max(load, compute)
        row[label] = {"num_workers": chosen, "load_seconds": load, "t4_compute_seconds": compute,
                      "t4_wait_share": wait}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the 160 px copy of the dataset")
    parser.add_argument("--out", type=Path, default=RESULTS / "data_wait.json")
    args = parser.parse_args()
    frame = canonical_split(index_dataset(args.data))
    rows = [measure(frame, name) for name in LOADERS]
    record = {"benchmark": "data_wait",
              "command": f"python benchmarks/bench_data_wait.py --data {args.data}",
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                          "load_average_at_start": list(os.getloadavg())},
              "rows": rows}
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    for row in rows:
        print(f"{row['notebook']}: wait share before {row['before']['t4_wait_share']:.0%} "
              f"({row['before']['load_seconds']:.1f} s load vs {row['before']['t4_compute_seconds']:.1f} s "
              f"compute), now {row['now']['t4_wait_share']:.0%} with {row['now']['num_workers']} workers "
              f"({row['now']['load_seconds']:.1f} s load)")


if __name__ == "__main__":
    main()
