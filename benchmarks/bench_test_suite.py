"""How long `make test`'s pytest takes, and where the time goes (pytest --durations=25).

    .venv/bin/python benchmarks/bench_test_suite.py --label after --out benchmarks/results/test_suite.json

Runs the suite as `make test` does (two xdist workers, --dist loadgroup) in a fresh process,
install excluded, and records the wall time, pytest's summary line and the 25 slowest phases.
Measure on quiet cores: other jobs on a 2-core machine stretch every figure. Each run is added
to the JSON's "runs" under its --label (a label measured again replaces its entry).
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
DURATION = re.compile(r"^([\d.]+)s (setup|call|teardown)\s+(\S+)$")


def run_suite(workers: int) -> dict:
    cmd = [sys.executable, "-m", "pytest", "-n", str(workers), "--dist", "loadgroup",
           "--durations=25", "-q", "-p", "no:cacheprovider"]
    load_before = os.getloadavg()
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    lines = proc.stdout.splitlines()
    slowest = [{"seconds": float(m[1]), "phase": m[2], "test": m[3]}
               for m in map(DURATION.match, lines) if m]
    summary = next((ln.strip("= ") for ln in reversed(lines) if " passed" in ln or " failed" in ln), "")
    return {"command": " ".join(["python"] + cmd[1:]), "returncode": proc.returncode,
            "wall_seconds": round(wall, 1), "summary": summary, "slowest": slowest,
            "load_average_before": list(load_before), "load_average_after": list(os.getloadavg())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="what this run measures, e.g. after")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "test_suite.json"))
    args = parser.parse_args()
    out = Path(args.out)
    record = json.loads(out.read_text()) if out.exists() else {"benchmark": "test_suite", "runs": {}}
    run = run_suite(args.workers)
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                         text=True).stdout.strip()
    record["runs"][args.label] = {**run, "commit": git,
                                  "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                  "machine": {"platform": platform.platform(),
                                              "python": platform.python_version(),
                                              "cpu_count": os.cpu_count()}}
    record["command"] = "python benchmarks/bench_test_suite.py --label LABEL"
    out.write_text(json.dumps(record, indent=1))
    print(f"{args.label}: {run['wall_seconds']:.0f} s, {run['summary']} (exit {run['returncode']})")
    return run["returncode"]


if __name__ == "__main__":
    sys.exit(main())
