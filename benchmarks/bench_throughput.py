"""Training throughput (images/s) of each model, and the overhead of train_one_epoch over a bare loop.

Both paths train the same model on the same DataLoader of cached synthetic tensors for the
same number of batches; warm-up batches are excluded; the two are timed alternately.
Writes benchmarks/results/throughput_<device>.json. Not a test.

    .venv/bin/python benchmarks/bench_throughput.py                  # CPU: small, ~5 min
    .venv/bin/python benchmarks/bench_throughput.py --amp            # CPU: fp32 and bf16 rows
    python benchmarks/bench_throughput.py --amp --resnet224          # CUDA: fp32 and fp16 AMP rows

The optimizer is the library's (make_optimizer: Adam, fused where this torch supports it).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

from fakeface_lib.config import TrainConfig
from fakeface_lib.models.cnn import build_model
from fakeface_lib.training.amp import autocast_context
from fakeface_lib.training.loop import make_optimizer, train_one_epoch
from fakeface_lib.utils import get_device

RESULTS = Path(__file__).resolve().parent / "results"


def shown_executable() -> str:
    """The interpreter as the recorded command shows it: relative to the current folder when it
    lies under it (``.venv/bin/python``), else its name, never a machine's absolute path."""
    path = Path(sys.executable)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return path.name
# Batches per timed pass: Model 2 (134 M parameters) is slow on a CPU.
DEFAULT_BATCHES = {"cpu": {"model1": 8, "model2": 2, "resnet18": 4},
                   "cuda": {"model1": 200, "model2": 60, "resnet18": 150}}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["model1", "model2", "resnet18"])
    parser.add_argument("--batches", type=int, default=None,
                        help="timed batches per pass, every model (default: per model and device)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=None, help="untimed batches (CPU 1, CUDA 10)")
    parser.add_argument("--repeats", type=int, default=None, help="timed passes per path (CPU 2, CUDA 5)")
    parser.add_argument("--resnet224", action="store_true", help="also time ResNet18 at 224x224")
    parser.add_argument("--amp", action="store_true",
                        help="also time with mixed precision (CUDA fp16, CPU bf16)")
    parser.add_argument("--no-progress", action="store_true", help="train_one_epoch without tqdm")
    parser.add_argument("--device", default=None, help="cpu / cuda (default: the best available)")
    parser.add_argument("--out", type=Path, default=None)
    return parser.parse_args(argv)


def synthetic_loader(n_batches: int, batch_size: int, size: int) -> DataLoader:
    """Cached normalised images in memory, reshuffled every pass.

    Whole batches are indexed at once (no per-image collation), so the timing measures the
    training loop rather than the loader.
    """
    g = torch.Generator().manual_seed(0)
    n = n_batches * batch_size
    dataset = TensorDataset(torch.rand(n, 3, size, size, generator=g) * 2 - 1,
                            torch.randint(0, 2, (n,), generator=g))
    sampler = BatchSampler(RandomSampler(dataset, generator=torch.Generator().manual_seed(0)),
                           batch_size, drop_last=False)
    return DataLoader(dataset, sampler=sampler, batch_size=None)


def bare_epoch(model, loader, loss_fn, optimizer, device, scaler, amp: bool,
               dtype: torch.dtype) -> None:
    """The minimum training loop: what train_one_epoch adds on top is the overhead measured."""
    model.train()
    for images, labels in loader:
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        with autocast_context(device, amp, dtype):
            loss = loss_fn(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()


def timed(fn: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def bench_model(name: str, size: int, amp: bool, device: torch.device,
                args: argparse.Namespace) -> dict:
    """Time `repeats` alternating passes of the bare loop and train_one_epoch."""
    n_batches = args.batches or DEFAULT_BATCHES[device.type].get(name, 10)
    torch.manual_seed(0)
    kwargs = {"weights": None} if name == "resnet18" else {}
    model = build_model(name, **kwargs).to(device)
    optimizer = make_optimizer(model, TrainConfig(lr=1e-4))
    loss_fn = nn.CrossEntropyLoss()
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    scaler = torch.amp.GradScaler("cuda") if amp and device.type == "cuda" else None
    loader = synthetic_loader(n_batches, args.batch_size, size)
    warm = list(itertools.islice(loader, args.warmup))
    bare = lambda data=loader: bare_epoch(model, data, loss_fn, optimizer, device, scaler, amp, dtype)  # noqa: E731
    ours = lambda data=loader: train_one_epoch(model, data, loss_fn, optimizer, device,  # noqa: E731
                                               scaler=scaler, amp=amp, amp_dtype=dtype,
                                               progress=not args.no_progress)
    timed(lambda: (bare(warm), ours(warm)), device)  # warm-up, not counted
    bare_s, ours_s = [], []
    for _ in range(args.repeats):
        bare_s.append(timed(bare, device))
        ours_s.append(timed(ours, device))
    images = n_batches * args.batch_size
    bare_med, ours_med = statistics.median(bare_s), statistics.median(ours_s)
    row = {"model": name, "image_size": size, "amp": amp, "batch_size": args.batch_size,
           "amp_dtype": str(dtype).removeprefix("torch.") if amp else None,
           "fused_adam": bool(optimizer.defaults.get("fused")),
           "batches": n_batches, "warmup_batches": args.warmup, "repeats": args.repeats,
           "bare_seconds": bare_s, "train_one_epoch_seconds": ours_s,
           "bare_images_per_s": images / bare_med,
           "train_one_epoch_images_per_s": images / ours_med,
           "overhead_percent": 100 * (ours_med - bare_med) / bare_med,
           "overhead_percent_min": 100 * (min(ours_s) - min(bare_s)) / min(bare_s)}
    print(f"{name:9s} {size}px amp={str(amp):5s} bare {row['bare_images_per_s']:8.1f} img/s  "
          f"train_one_epoch {row['train_one_epoch_images_per_s']:8.1f} img/s  "
          f"overhead {row['overhead_percent']:+.1f}% (min-based {row['overhead_percent_min']:+.1f}%)",
          flush=True)
    del model, optimizer
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return row


def machine_info(device: torch.device) -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "torch": torch.__version__, "device": str(device),
            "torch_threads": torch.get_num_threads()}
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
    if hasattr(os, "getloadavg"):
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    device = torch.device(args.device) if args.device else get_device()
    args.warmup = args.warmup if args.warmup is not None else (10 if device.type == "cuda" else 1)
    args.repeats = args.repeats or (5 if device.type == "cuda" else 2)
    runs = [(m, 128) for m in args.models]
    if args.resnet224 and "resnet18" in args.models:
        runs.append(("resnet18", 224))
    amps = [False, True] if args.amp else [False]
    info = machine_info(device)
    print(f"device {device} ({info.get('device_name', platform.processor() or 'cpu')}), "
          f"load average {info.get('load_average_at_start')}", flush=True)
    rows = [bench_model(name, size, amp, device, args) for amp in amps for name, size in runs]
    record = {"benchmark": "throughput",
              "command": " ".join(shlex.quote(a) for a in [shown_executable(), *sys.argv]),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": info, "progress_bar": not args.no_progress, "results": rows}
    out = args.out or RESULTS / f"throughput_{device.type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
