"""End-to-end time of `make demo` (the main job on the demo data, CPU-sized epochs).

    python benchmarks/bench_make_demo.py                 # this CPU as it is
    python benchmarks/bench_make_demo.py --as-avx2       # as on a CPU without AVX-512 or bfloat16

Each call adds (or replaces) one labelled run in benchmarks/results/make_demo.json. ``--as-avx2``
caps oneDNN at AVX2 (ONEDNN_MAX_CPU_ISA=AVX2) and leaves out `--amp`, which such a CPU turns
off anyway (no native bfloat16): the closest this machine gets to a laptop or CI runner without
AVX-512. The environment is assumed installed (a first `make demo` also builds .venv: minutes more).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).with_name("results") / "make_demo.json"
sys.path.insert(0, str(ROOT))
from fakeface_lib.runner.runs import folder_size  # noqa: E402
DONE = re.compile(r"^\[\d+/\d+\] (\S+)\.ipynb .*?$\n\s+done in ([\d.]+) s", re.M)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def cpu_isa() -> str:
    flags = set()
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    return ", ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags) or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-avx2", action="store_true",
                        help="cap oneDNN at AVX2 and run without --amp (a CPU without AVX-512)")
    args = parser.parse_args(argv)
    label = "as AVX2 (ONEDNN_MAX_CPU_ISA=AVX2, no --amp)" if args.as_avx2 else "this CPU"
    env = dict(os.environ)
    make = ["make", "demo"]
    if args.as_avx2:
        env["ONEDNN_MAX_CPU_ISA"] = "AVX2"
        make.append("DEMO_AMP=")
    start = time.perf_counter()
    proc = subprocess.run(make, cwd=ROOT, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    print(proc.stdout[-3000:], proc.stderr[-2000:] if proc.returncode else "")
    report = re.search(r"Report: (\S+report\.md)", proc.stdout)
    folder = Path(report.group(1)).parent if report else None
    command = "python benchmarks/bench_make_demo.py" + (" --as-avx2" if args.as_avx2 else "")
    record = {
        "command": command, "make": " ".join(make),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpu_model": cpu_model(), "cpu_isa": cpu_isa(), "cpus": os.cpu_count(),
                    "load_average_at_end": os.getloadavg()},
        "returncode": proc.returncode, "total_seconds": round(seconds, 1),
        "notebook_seconds": {name: float(t) for name, t in DONE.findall(proc.stdout)},
        "report": str(folder.relative_to(ROOT) / "report.md") if folder and folder.is_relative_to(ROOT)
        else (report.group(1) if report else None),
        "run_folder_bytes": folder_size(folder) if folder else None,
    }
    old = json.loads(OUT.read_text()) if OUT.exists() else {}
    runs = old.get("runs", {})
    runs[label] = record
    OUT.write_text(json.dumps({"benchmark": "make_demo", "runs": runs}, indent=1) + "\n")
    size = record["run_folder_bytes"]
    print(f"make demo ({label}): {seconds:.0f} s (exit {proc.returncode}), run folder "
          f"{size / 2**20 if size else float('nan'):.0f} MiB; wrote {OUT}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
