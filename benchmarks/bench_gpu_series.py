"""The notebook series timed as a student runs it on Colab, on a GPU: per notebook its wall time,
the GPU's peak memory and busy share, and the bytes it wrote to a simulated Google Drive.

Each notebook runs as tests/colab_sim/simulate.py runs it: on a fresh machine (a new /content),
with the stand-in google.colab on the kernel's path and Drive a folder where every written byte
counts, replaced versions included. The data is a Kaggle-layout zip
(``real_and_fake_face/training_real/*.jpg``, ``real_and_fake_face/training_fake/*.jpg``) built
from a folder holding training_real/ and training_fake/ (or a zip given as is), extracted once
into a data folder the notebooks share. Parameters: DATA=<the zip>, SMOKE, CHECKPOINT=True,
DATA_DIR, and AMP for the notebooks that declare it (``--amp``: "auto", the default, gives them
None, mixed precision on CUDA as the library's default is; "off" False; "as-is" their own value);
at the full recipe every notebook trains for its own EPOCHS. The notebooks' loaders make their
batches as make_loaders does by default: on the GPU (DeviceBatches) on CUDA.
Paths in the JSON under the temporary working folder read ``$WORK/...``.

Measured per notebook:
- wall time: papermill's, the kernel's start included (``wall_seconds``);
- peak GPU memory: torch.cuda.max_memory_allocated()/max_memory_reserved() in the kernel, written
  when it exits by tests/colab_sim/sitecustomize.py (FAKEFACE_SIM_GPU_STATS); null on CPU;
- busy share: the mean of ``nvidia-smi --query-gpu=utilization.gpu`` sampled every 0.5 s while
  the notebook runs, divided by 100; null where nvidia-smi is absent;
- bytes written to Drive: simulate.py's ledger.

Time box: before each notebook, if the budget is spent or what is left is below the notebook's
rough estimate (ESTIMATE_SECONDS, full recipe only), it and the rest are recorded as
"not run (time box)"; a notebook still running when the budget ends is stopped and recorded as
"stopped (time box)". The JSON is rewritten after every notebook, so a killed run keeps what
finished.

Without a GPU (CPU, smoke mode, a few minutes), from the repository root::

    .venv/bin/python benchmarks/bench_gpu_series.py --data ../shared/data/real_and_fake_face_160 \\
        --smoke --out runs/gpu_smoke.json

A GPU machine gets a copy of the repository but not the data (outside it), and may lack the
packages the runner needs (it may have torch but not papermill or ipykernel, and no network). So
first, on a machine with the data and the network, once::

    bash benchmarks/run_gpu.sh --prepare   # data/real160/ (the 16 MB 160 px copy) and .whl/ (wheels)

(both git-ignored, so copy them with the repository; the data part alone is
``mkdir -p data/real160 && cp -r ../shared/data/real_and_fake_face_160/training_* data/real160/``),
then on the GPU machine, within 600 s::

    bash benchmarks/run_gpu.sh data/real160 OUT_DIR

run_gpu.sh installs the wheels, runs the GPU tests, then this script at the full recipe with the
time left (480 s at most), and leaves gpu_series.json, gpu_tests.log, run_gpu.log and
executed_notebooks.zip in OUT_DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLAB_SIM = ROOT / "tests" / "colab_sim"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(COLAB_SIM))

CLASSES = ("training_real", "training_fake")
KAGGLE_PREFIX = "real_and_fake_face"  # the top folder of Kaggle's archive
ZIP_NAME = "real_and_fake_face_160.zip"
DEFAULT_BUDGET, DEFAULT_SMOKE_BUDGET = 480.0, 1800.0
SAMPLE_SECONDS = 0.5
# Rough full-recipe wall times on an H100/H200 (seconds): kernel start and imports, plus the
# training images each notebook processes over bench_throughput.py's H100 figures, plus Model 2's
# checkpoint writes; used only to decide whether a notebook can still fit in the budget.
ESTIMATE_SECONDS = {"00_preprocessing": 30, "01_model1": 30, "02_model2_1": 60,
                    "03a_model2_2_augmentation": 90, "03b_the_leak": 75, "04_resnet18_finetuning": 75,
                    "05_results_and_explanations": 45}
NOTES = ("No pretrained weights", "Training Model 1 here", "trains a stand-in", "Training a stand-in")
NOT_RUN, STOPPED = "not run (time box)", "stopped (time box)"


# --- the data ---------------------------------------------------------------------------------

def kaggle_zip(data: Path, work: Path) -> tuple[Path, dict]:
    """The zip the notebooks get, and what it holds: ``data`` itself if it is a .zip, else a zip
    of its training_real/ and training_fake/ under real_and_fake_face/ (Kaggle's layout)."""
    if data.is_file():
        with zipfile.ZipFile(data) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith((".jpg", ".jpeg", ".png"))]
        counts = {c: sum(f"{c}/" in n for n in names) for c in CLASSES}
        return data, {"source": str(data), "zip": str(data), "zip_bytes": data.stat().st_size,
                      "images": counts}
    missing = [c for c in CLASSES if not (data / c).is_dir()]
    if missing:
        raise SystemExit(f"--data {data}: no {', '.join(missing)}/ in it (give the folder that holds "
                         "training_real/ and training_fake/, or a zip of the dataset)")
    archive = work / "zip" / ZIP_NAME
    archive.parent.mkdir(parents=True, exist_ok=True)
    counts = {}
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:  # JPEGs do not compress
        for name in CLASSES:
            files = sorted(p for p in (data / name).iterdir() if p.is_file())
            counts[name] = len(files)
            for path in files:
                zf.write(path, f"{KAGGLE_PREFIX}/{name}/{path.name}")
    return archive, {"source": str(data), "zip": str(archive), "zip_bytes": archive.stat().st_size,
                     "layout": f"{KAGGLE_PREFIX}/<class>/<file>", "images": counts}


# --- the machine and the GPU ------------------------------------------------------------------

def nvidia_smi(*query: str, timeout: float = 10.0) -> list[list[str]] | None:
    """Rows of ``nvidia-smi --query-gpu=<query>`` (one per GPU), or None without nvidia-smi."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={','.join(query)}",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True,
                             timeout=timeout, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return [[cell.strip() for cell in line.split(",")] for line in out.splitlines() if line.strip()]


def machine_info() -> dict:
    """Platform, Python, torch and the GPU, read in a child process (this one never touches CUDA)."""
    probe = ("import json, torch; c = torch.cuda.is_available(); print(json.dumps({'torch': "
             "torch.__version__, 'cuda': torch.version.cuda, 'cuda_available': c, 'device_name': "
             "torch.cuda.get_device_name(0) if c else None}))")
    try:
        torch_info = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True,
                                               text=True, timeout=120, check=True).stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as err:
        torch_info = {"torch_error": str(err)}
    gpus = nvidia_smi("name", "memory.total", "driver_version")
    return {"platform": platform.platform(), "python": platform.python_version(),
            "executable": Path(sys.executable).name, "cpu_count": os.cpu_count(), **torch_info,
            "nvidia_smi": None if gpus is None else
            [{"name": g[0], "memory_total_mib": g[1], "driver": g[2]} for g in gpus],
            "load_average_at_start": list(os.getloadavg())}


class GpuSampler:
    """Samples GPU 0's utilisation and memory use with nvidia-smi every SAMPLE_SECONDS in a thread."""

    def __init__(self, interval: float = SAMPLE_SECONDS):
        self.interval, self.util, self.memory = interval, [], []
        self.available = shutil.which("nvidia-smi") is not None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> GpuSampler:
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)

    def _loop(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            rows = nvidia_smi("utilization.gpu", "memory.used", timeout=5.0)
            try:
                if rows:
                    self.util.append(float(rows[0][0]))
                    self.memory.append(float(rows[0][1]))
            except (ValueError, IndexError):
                pass  # "[N/A]" and the like: no sample
            next_tick += self.interval
            self._stop.wait(max(0.0, next_tick - time.monotonic()))

    def summary(self) -> dict:
        if not self.available:
            return {"gpu_busy_share": None, "gpu_util_samples": 0, "gpu_memory_used_peak_bytes": None}
        return {"gpu_busy_share": round(sum(self.util) / len(self.util) / 100, 4) if self.util else None,
                "gpu_util_samples": len(self.util),
                "gpu_memory_used_peak_bytes": int(max(self.memory) * 2**20) if self.memory else None}


def gpu_stats(path: Path) -> dict:
    """Peak GPU memory from the lines sitecustomize.py appended when the kernel's processes exited."""
    lines = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                pass
    cuda = [r for r in lines if r.get("cuda_initialized")]
    return {"gpu_stats_handler_ran": bool(lines),
            "gpu_peak_memory_allocated_bytes": max((r["max_memory_allocated"] for r in cuda), default=None),
            "gpu_peak_memory_reserved_bytes": max((r["max_memory_reserved"] for r in cuda), default=None),
            **({"gpu_stats_errors": [r["error"] for r in lines if "error" in r]}
               if any("error" in r for r in lines) else {})}


# --- one notebook -----------------------------------------------------------------------------

def run_one(args: argparse.Namespace) -> int:
    """Child mode: one notebook on a fresh simulated Colab machine; writes --result."""
    from simulate import run_on_fresh_machine

    from fakeface_lib.runner.series import NotebookFailed

    params = json.loads(Path(args.params).read_text())
    os.environ.pop("MPLBACKEND", None)  # figures drawn inline, as on Colab (Agg would skip them)
    result: dict = {"status": "failed"}
    try:
        run = run_on_fresh_machine(Path(args.base), Path(args.run_one), params,
                                   extra_env={"FAKEFACE_SIM_GPU_STATS": args.stats})
        result = {"status": "ok", "wall_seconds": round(run.seconds, 2),
                  "drive_bytes_written": run.written}
    except NotebookFailed as err:
        result["error"] = str(err)
    except Exception as err:  # noqa: BLE001 - recorded, and the series goes on to the JSON
        result["error"] = f"{type(err).__name__}: {err}"
    Path(args.result).write_text(json.dumps(result))
    return 0 if result["status"] == "ok" else 1


def ledger_bytes(base: Path, stem: str) -> int:
    """Bytes a notebook wrote to Drive so far (as simulate.py counts them), from its ledger."""
    from simulate import read_ledger

    counted, pending, _ = read_ledger(base / f"ledger-{stem}.tsv")
    return counted + sum(Path(p).stat().st_size for p in pending if Path(p).exists())


def _kill_leftovers(marker: str) -> list[int]:
    """SIGKILL the processes this run started whose environment holds ``marker`` (the kernel and
    its workers, which jupyter starts in sessions of their own); returns their pids."""
    killed, needle = [], marker.encode()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if int(proc.name) != os.getpid() and needle in (proc / "environ").read_bytes():
                os.kill(int(proc.name), signal.SIGKILL)
                killed.append(int(proc.name))
        except (OSError, ValueError):
            pass
    return killed


def _notes(executed: Path) -> list[str]:
    """Lines of the executed notebook's output worth knowing beside its time (fallbacks)."""
    if not executed.exists():
        return []
    try:
        cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return []
    found = []
    for cell in cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "")
            for line in ("".join(text) if isinstance(text, list) else text).splitlines():
                if any(n in line for n in NOTES) and line.strip() not in found:
                    found.append(line.strip())
    return found[:5]


def time_notebook(path: Path, base: Path, params_file: Path, deadline: float) -> dict:
    """Run one notebook in a child process, sampling the GPU; stop it at ``deadline``."""
    stem = path.stem
    stats, result = base / f"gpu-{stem}.jsonl", base / f"result-{stem}.json"
    for leftover in (stats, result):
        leftover.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--run-one", str(path), "--base", str(base),
           "--params", str(params_file), "--stats", str(stats), "--result", str(result)]
    record: dict = {"notebook": stem}
    start = time.perf_counter()
    with GpuSampler() as sampler:
        child = subprocess.Popen(cmd, start_new_session=True)
        try:
            child.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
            time.sleep(2)  # an orphaned kernel notices its parent is gone within a second or so
            leftovers = _kill_leftovers(f"FAKEFACE_SIM_GPU_STATS={stats}")
            record.update(status=STOPPED, killed_leftovers=leftovers)
    record["process_seconds"] = round(time.perf_counter() - start, 2)
    if "status" not in record:
        if result.exists():
            record.update(json.loads(result.read_text()))
        else:
            record.update(status="failed", error=f"the runner exited with {child.returncode} "
                                                 "without a result (see its output above)")
    record.setdefault("wall_seconds", record["process_seconds"])
    record.setdefault("drive_bytes_written", ledger_bytes(base, stem))
    record.update(gpu_stats(stats), **sampler.summary())
    record["notes"] = _notes(base / "executed" / path.name)
    for machine in base.glob("machine-*"):  # the runtime is gone; Model 2's checkpoints with it
        shutil.rmtree(machine, ignore_errors=True)
    return record


# --- the series -------------------------------------------------------------------------------

def scrub(value, work: Path, shown: str):
    """``value`` with the working folder's absolute path written as ``shown`` in every string."""
    if isinstance(value, str):
        return value.replace(str(work), shown)
    if isinstance(value, dict):
        return {k: scrub(v, work, shown) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, work, shown) for v in value]
    return value


def write_json(out: Path, report: dict, work: Path, shown: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(json.dumps(scrub(report, work, shown), indent=1) + "\n")
    partial.replace(out)


AMP_PARAMS = {"auto": None, "off": False}  # --amp: the AMP given to notebooks that declare it


def notebook_params(path: Path, params: dict, amp: str, work: Path) -> tuple[Path, dict]:
    """One notebook's parameters file: the shared ones, plus AMP where the notebook declares it
    (unless ``amp`` is "as-is"); and what was added."""
    import papermill as pm

    added = {}
    if amp != "as-is" and "AMP" in pm.inspect_notebook(str(path)):
        added["AMP"] = AMP_PARAMS[amp]
    file = work / f"params-{path.stem}.json"
    file.write_text(json.dumps({**params, **added}))
    return file, added


def add_to_zip(archive: Path | None, executed: Path) -> None:
    if archive is not None and executed.exists():
        archive.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as zf:
            zf.write(executed, executed.name)


def series(args: argparse.Namespace) -> dict:
    from simulate import drive_state

    from fakeface_lib.runner.series import series_notebooks

    t0 = time.monotonic()
    budget = args.budget_seconds or (DEFAULT_SMOKE_BUDGET if args.smoke else DEFAULT_BUDGET)
    deadline = t0 + budget
    notebooks = series_notebooks()
    if args.notebooks:
        notebooks = [p for p in notebooks if any(p.stem.startswith(n) for n in args.notebooks)]
    work = Path(args.work or tempfile.mkdtemp(prefix="fakeface-gpu-series-")).resolve()
    shown = args.work or "$WORK"  # a temporary folder is no path to record
    base = work / "colab"
    base.mkdir(parents=True, exist_ok=True)
    out = Path(args.out).resolve()
    executed_zip = Path(args.executed_zip).resolve() if args.executed_zip else None
    if executed_zip is not None:
        executed_zip.unlink(missing_ok=True)

    archive, data = kaggle_zip(Path(args.data).expanduser().resolve(), work)
    data["source"] = args.data  # as given, as in the command: no machine's absolute path
    params = {"DATA": str(archive), "SMOKE": args.smoke, "CHECKPOINT": True,
              "DATA_DIR": str(work / "data")}  # one data folder: the zip is extracted once
    report = {"benchmark": "gpu_series", "command": " ".join([Path(sys.executable).name, *sys.argv]),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": machine_info(), "smoke": args.smoke, "budget_seconds": budget,
              "estimate_seconds": None if args.smoke else ESTIMATE_SECONDS,
              "gpu_tests_exit_code": args.gpu_tests_exit_code, "data": data, "params": params,
              "amp": args.amp, "loaders": "make_loaders' default: DeviceBatches on CUDA",
              "work": str(work), "notebooks": [], "finished": False}
    write_json(out, report, work, shown)
    stop_reason = None
    for i, path in enumerate(notebooks, 1):
        left = deadline - time.monotonic()
        estimate = 0 if args.smoke else ESTIMATE_SECONDS.get(path.stem, 0)
        if stop_reason is None and (left <= 0 or left < estimate):
            stop_reason = (f"{left:.0f} s of the {budget:.0f} s budget left before {path.stem}, "
                           f"estimated at {estimate} s")
        if stop_reason is not None:
            report["notebooks"].append({"notebook": path.stem, "status": NOT_RUN,
                                        "estimate_seconds": estimate})
            continue
        print(f"[{i}/{len(notebooks)}] {path.name} ({left:.0f} s of the budget left) ...", flush=True)
        params_file, added = notebook_params(path, params, args.amp, work)
        record = time_notebook(path, base, params_file, deadline)
        record.update(estimate_seconds=estimate, params_added=added)
        report["notebooks"].append(record)
        add_to_zip(executed_zip, base / "executed" / path.name)
        print(f"      {record['status']} in {record['wall_seconds']:.1f} s, Drive "
              f"{record['drive_bytes_written'] / 2**20:.1f} MiB, GPU peak "
              f"{_mib(record['gpu_peak_memory_reserved_bytes'])} reserved, busy "
              f"{record['gpu_busy_share']}" + (f"; {record.get('error', '')[:300]}"
                                               if record["status"] == "failed" else ""), flush=True)
        if record["status"] == STOPPED:
            stop_reason = f"{path.stem} ran past the {budget:.0f} s budget"
        left_bytes, unseen = drive_state(base)
        report["totals"] = _totals(report["notebooks"], left_bytes, unseen, t0)
        write_json(out, report, work, shown)
    left_bytes, unseen = drive_state(base)
    report["totals"] = _totals(report["notebooks"], left_bytes, unseen, t0)
    report.update(finished=True, time_box=stop_reason)
    write_json(out, report, work, shown)
    if not args.keep_work and not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return report


def _mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.0f} MiB"


def _totals(records: list[dict], left: int, unseen: list[str], t0: float) -> dict:
    ran = [r for r in records if r["status"] != NOT_RUN]
    return {"notebooks_ok": sum(r["status"] == "ok" for r in records),
            "notebooks_run": len(ran), "notebooks": len(records),
            "wall_seconds": round(sum(r["wall_seconds"] for r in ran), 2),
            "series_seconds": round(time.monotonic() - t0, 2),
            "drive_bytes_written": sum(r["drive_bytes_written"] for r in ran),
            "drive_bytes_left": left, "drive_files_unseen": unseen[:20]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="a folder holding training_real/ and training_fake/, or a zip")
    parser.add_argument("--smoke", action="store_true", help="the notebooks' SMOKE mode (seconds each)")
    parser.add_argument("--budget-seconds", type=float, default=None,
                        help=f"wall time for the series (default {DEFAULT_BUDGET:.0f}; "
                             f"{DEFAULT_SMOKE_BUDGET:.0f} with --smoke)")
    parser.add_argument("--out", help="the JSON to write (rewritten after every notebook)")
    parser.add_argument("--executed-zip", help="also keep the executed notebooks in this zip")
    parser.add_argument("--notebooks", nargs="*", help="only these (name prefixes, e.g. 00 01)")
    parser.add_argument("--work", help="working folder (default: a temporary one, deleted)")
    parser.add_argument("--keep-work", action="store_true", help="keep the temporary working folder")
    parser.add_argument("--amp", choices=("auto", "off", "as-is"), default="auto",
                        help="AMP for the notebooks that declare it: auto (None: on CUDA), off "
                             "(False), as-is (their own)")
    parser.add_argument("--gpu-tests-exit-code", type=int, default=None,
                        help="recorded in the JSON (run_gpu.sh runs the GPU tests first)")
    for hidden in ("--run-one", "--base", "--params", "--stats", "--result"):  # child mode
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_one:
        return run_one(args)
    if not args.data or not args.out:
        parser.error("--data and --out are required")
    report = series(args)
    for r in report["notebooks"]:
        print(f"{r['notebook']:30s} {r['status']:20s} " + (
            f"{r['wall_seconds']:8.1f} s  Drive {r['drive_bytes_written'] / 2**20:8.1f} MiB  "
            f"GPU peak {_mib(r['gpu_peak_memory_reserved_bytes'])}  busy {r['gpu_busy_share']}"
            if r["status"] != NOT_RUN else ""))
    print(f"wrote {args.out}")
    return 0 if report["totals"]["notebooks_ok"] == len(report["notebooks"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
