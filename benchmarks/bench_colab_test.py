"""How long `make colab-test` takes: the Colab environment's build and each notebook under it.

    python benchmarks/bench_colab_test.py                  # runs make colab-test, then records it
    python benchmarks/bench_colab_test.py --from-log LOG   # records a run already made (its output)

Writes benchmarks/results/colab_test.json. The figures depend on what else the machine is
doing: the record keeps the load average beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).with_name("results") / "colab_test.json"
TOTALS = re.compile(r"Totals: environment (\d+) s \(([^)]*)\), notebooks (\d+) s")
NOTEBOOK = re.compile(r"^\s+([\d.]+) s\s+(ok|FAILED|\w+)\s+(\S+)$", re.M)


def parse(log: str) -> dict:
    """The environment's and the notebooks' seconds, and each notebook's status, from the output."""
    totals = TOTALS.search(log)
    if totals is None:
        raise ValueError("no 'Totals:' line: is this the output of make colab-test?")
    return {"environment_seconds": int(totals.group(1)), "environment": totals.group(2),
            "notebook_seconds": int(totals.group(3)),
            "notebooks": {name: {"seconds": float(s), "status": status}
                          for s, status, name in NOTEBOOK.findall(log)},
            "passed": "make colab-test FAILED" not in log}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-log", type=Path, help="the saved output of a make colab-test run")
    parser.add_argument("--note", default="", help="what else the machine was doing, say")
    args = parser.parse_args(argv)
    if args.from_log:
        log, command = args.from_log.read_text(), "make colab-test (output recorded with --from-log)"
    else:
        proc = subprocess.run(["make", "colab-test"], cwd=ROOT, capture_output=True, text=True)
        log, command = proc.stdout + proc.stderr, "python benchmarks/bench_colab_test.py"
    record = {"benchmark": "colab_test", "command": command,
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "load_average_at_record": [round(x, 1) for x in os.getloadavg()]},
              "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                       capture_output=True, text=True).stdout.strip(),
              "note": args.note, **parse(log)}
    OUT.write_text(json.dumps(record, indent=1) + "\n")
    print(f"make colab-test: environment {record['environment_seconds']} s "
          f"({record['environment']}), notebooks {record['notebook_seconds']} s; wrote {OUT}")
    return 0 if record["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
