"""How long training waits on each notebook's training loader: measured on both sides.

For the training loader of each notebook's recipe (01 and 02: cached 128 px images, no
augmentation; 03a: the report's augmentation; 04: mild augmentation at 224 px), on the 160 px copy
of the dataset, it measures images per second of

- the pipeline alone, one epoch of batches drawn and thrown away: the DataLoaders without workers
  (a CPU run), with the workers make_loaders gave them on CUDA before batches were made on the
  GPU (``default_num_workers``), the device path (``make_loaders(device="cpu")``: DeviceBatches,
  the GPU's pipeline run on this CPU), and the device path's CPU share on a GPU (its per-image
  parameter draws, ``BatchAugment.draw``; the arithmetic then runs on the GPU);
- the model alone: ``train_one_epoch`` over batches already in memory, on this CPU (measured
  here), on an H100 (``throughput_cuda.json``, measured there, float32 and mixed precision), and
  on a T4 (estimated from the H100's float32 figure by peak FP32, 8.1 against 67.0 TFLOP/s).

and from those the share of training time spent waiting for data: where the loader and the model
take turns (no workers) load / (load + compute); where they run side by side (workers, or the
device path's draws ahead of the GPU's queue) max(0, load - compute) / max(load, compute). The
device path's own GPU time is not in it (it waits for a GPU run).

Run from the repository root (``OMP_NUM_THREADS=1``: one thread per process, as recorded)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_data_wait.py \\
        --data ../shared/data/real_and_fake_face_160
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
from torch import nn

from fakeface_lib.config import TrainConfig
from fakeface_lib.data.batch_augment import BatchAugment
from fakeface_lib.data.index import index_dataset
from fakeface_lib.data.loaders import default_num_workers, make_loaders
from fakeface_lib.data.splitting import canonical_split
from fakeface_lib.models.cnn import build_model
from fakeface_lib.training.loop import make_optimizer, train_one_epoch

RESULTS = Path(__file__).resolve().parent / "results"
T4_OVER_H100 = 8.1 / 67.0
BATCH_SIZE = 32
LOADERS = {  # notebook: (model whose compute it feeds, image size, augmentation)
    "01_model1": ("model1", 128, None),
    "02_model2_1": ("model2", 128, None),
    "03a_model2_2_augmentation": ("model2", 128, "report"),
    "04_resnet18_finetuning": ("resnet18", 224, "mild"),
}
MODEL_BATCHES = {"model1": 6, "model2": 2, "resnet18": 2}  # timed batches on this CPU


def pipeline_rate(loader) -> float:
    """Images per second over one epoch of batches (after one warm-up batch)."""
    batches = iter(loader)
    next(batches)
    count, start = 0, time.perf_counter()
    for images, _ in batches:
        count += len(images)
    return count / (time.perf_counter() - start) if count else float("nan")


def draw_rate(loader, repeats: int = 3) -> float:
    """Images per second of the device path's CPU work on a GPU: its parameter draws."""
    augment, n = BatchAugment(loader.dataset.transform), len(loader.dataset)
    start = time.perf_counter()
    for _ in range(repeats):
        augment.draw(n)
    return repeats * n / (time.perf_counter() - start)


def model_rate_here(model_name: str, size: int) -> float:
    """train_one_epoch's images per second on this CPU over batches already in memory."""
    torch.manual_seed(0)
    model = build_model(model_name, **({"weights": None} if model_name == "resnet18" else {}))
    g = torch.Generator().manual_seed(0)
    n = MODEL_BATCHES[model_name] + 1
    batches = [(torch.randn(BATCH_SIZE, 3, size, size, generator=g),
                torch.randint(0, 2, (BATCH_SIZE,), generator=g)) for _ in range(n)]
    optimizer = make_optimizer(model, TrainConfig())
    loss_fn = nn.CrossEntropyLoss()
    train_one_epoch(model, batches[:1], loss_fn, optimizer, "cpu", progress=False)  # warm-up
    start = time.perf_counter()
    train_one_epoch(model, batches[1:], loss_fn, optimizer, "cpu", progress=False)
    return (n - 1) * BATCH_SIZE / (time.perf_counter() - start)


def gpu_rates(model_name: str, size: int) -> dict:
    """The model's training images per second on GPUs: H100 measured, T4 estimated."""
    rows = json.loads((RESULTS / "throughput_cuda.json").read_text())["results"]
    measured = {row["amp"]: row["train_one_epoch_images_per_s"] for row in rows
                if row["model"] == model_name and row["image_size"] == 128}
    pixels = (128 / size) ** 2  # measured at 128 px; larger images cost more in proportion
    return {"h100_float32": {"images_per_s": measured[False] * pixels, "measured": size == 128},
            "h100_mixed": {"images_per_s": measured[True] * pixels, "measured": size == 128},
            "t4_float32": {"images_per_s": measured[False] * pixels * T4_OVER_H100,
                           "measured": False}}


def turns(load_rate: float, model_rate: float) -> float:
    """Waiting share when loading and training take turns."""
    return (1 / load_rate) / (1 / load_rate + 1 / model_rate)


def side_by_side(load_rate: float, model_rate: float) -> float:
    """Waiting share when loading runs beside training."""
    load, compute = 1 / load_rate, 1 / model_rate
    return max(0.0, load - compute) / max(load, compute)


def measure(frame, name: str) -> dict:
    model_name, size, augment = LOADERS[name]
    workers = default_num_workers("train", augmented=augment is not None, cuda=True)
    options = {"batch_size": BATCH_SIZE, "image_size": size, "augment": augment, "seed": 0,
               "progress": False}
    device = make_loaders(frame, device="cpu", **options)["train"]
    pipeline = {"dataloader_no_workers": pipeline_rate(make_loaders(frame, num_workers=0,
                                                                    **options)["train"]),
                "dataloader_workers": pipeline_rate(make_loaders(frame, num_workers=workers,
                                                                 **options)["train"]),
                "num_workers": workers,
                "device_path_on_cpu": pipeline_rate(device),
                "device_path_draws": draw_rate(device)}
    models = {"this_cpu": {"images_per_s": model_rate_here(model_name, size), "measured": True},
              **gpu_rates(model_name, size)}
    with_workers = turns if workers == 0 else side_by_side
    wait = {"this_cpu_dataloaders": turns(pipeline["dataloader_no_workers"],
                                          models["this_cpu"]["images_per_s"]),
            "this_cpu_device_path": turns(pipeline["device_path_on_cpu"],
                                          models["this_cpu"]["images_per_s"])}
    for gpu in ("h100_float32", "h100_mixed", "t4_float32"):
        rate = models[gpu]["images_per_s"]
        wait[f"{gpu}_dataloaders"] = with_workers(pipeline["dataloader_workers"], rate)
        wait[f"{gpu}_device_path_draws"] = side_by_side(pipeline["device_path_draws"], rate)
    return {"notebook": name, "model": model_name, "image_size": size, "augment": augment,
            "train_images": len(device.dataset), "pipeline_images_per_s": pipeline,
            "model_images_per_s": models, "wait_share": wait}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the 160 px copy of the dataset")
    parser.add_argument("--out", type=Path, default=RESULTS / "data_wait.json")
    args = parser.parse_args()
    frame = canonical_split(index_dataset(args.data))
    load_at_start = list(os.getloadavg())
    rows = [measure(frame, name) for name in LOADERS]
    threads = os.environ.get("OMP_NUM_THREADS")
    record = {"benchmark": "data_wait",
              "command": (f"{'OMP_NUM_THREADS=' + threads + ' ' if threads else ''}"
                          f"python benchmarks/bench_data_wait.py --data {args.data}"),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                          "load_average_at_start": load_at_start,
                          "load_average_at_end": list(os.getloadavg())},
              "batch_size": BATCH_SIZE, "rows": rows}
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    for row in rows:
        p, w = row["pipeline_images_per_s"], row["wait_share"]
        print(f"{row['notebook']}: pipeline {p['dataloader_no_workers']:.0f} img/s (no workers), "
              f"{p['dataloader_workers']:.0f} ({p['num_workers']} workers), "
              f"{p['device_path_on_cpu']:.0f} (device path on this CPU), draws "
              f"{p['device_path_draws']:.0f}; model here "
              f"{row['model_images_per_s']['this_cpu']['images_per_s']:.1f} img/s; wait: CPU "
              f"{w['this_cpu_dataloaders']:.0%}, H100 mixed {w['h100_mixed_dataloaders']:.0%} "
              f"(DataLoaders) / {w['h100_mixed_device_path_draws']:.0%} (device path draws)")


if __name__ == "__main__":
    main()
