"""End-to-end time of `make demo` (the main job on the demo data, CPU-sized epochs).

    python benchmarks/bench_make_demo.py        # writes benchmarks/results/make_demo.json

The environment is assumed installed (a first `make demo` also builds .venv: minutes more).
"""

from __future__ import annotations

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
sys.path.insert(0, str(ROOT))
from fakeface_lib.runner.runs import folder_size  #noqa: E402
DONE = re.compile(r"^\[\d+/\d+\] (\S+)\.ipynb .*?$\n\s+done in ([\d.]+) s", re.M)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> int:
    start = time.perf_counter()
    proc = subprocess.run(["make", "demo"], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    print(proc.stdout[-3000:], proc.stderr[-2000:] if proc.returncode else "")
    report = re.search(r"Report: (\S+report\.md)", proc.stdout)
    record = {
        "benchmark": "make_demo", "command": "python benchmarks/bench_make_demo.py",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpu_model": cpu_model(), "cpus": os.cpu_count(),
                    "load_average_at_end": os.getloadavg()},
        "returncode": proc.returncode, "total_seconds": seconds,
        "notebook_seconds": {name: float(t) for name, t in DONE.findall(proc.stdout)},
        "report": report.group(1) if report else None,
        "run_folder_bytes": folder_size(Path(report.group(1)).parent) if report else None,
    }
    out = Path(__file__).with_name("results") / "make_demo.json"
    out.write_text(json.dumps(record, indent=1))
    size = record["run_folder_bytes"]
    print(f"make demo: {seconds:.0f} s (exit {proc.returncode}), run folder "
          f"{size / 2**20 if size else float('nan'):.0f} MiB; wrote {out}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
