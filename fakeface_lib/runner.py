"""The main job: execute the notebook series with papermill, then write the report.

Each notebook gets its ``parameters`` cell overridden (DATA, SMOKE, EPOCHS scaled from the
notebook's own default, RESULTS_DIR, DATA_DIR); executed copies land in the output folder.
"""

from __future__ import annotations

import ast
import math
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .runs import RUNS_ROOT

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


class NotebookFailed(RuntimeError):
    """A notebook of the series raised: names the notebook, the cell and the error."""


@dataclass
class RunOptions:
    data: str = "demo"                 # "demo", "kaggle", a Drive id, a zip or folder path
    smoke: bool = False                # seconds per notebook (tests)
    out: Path | None = None            # default runs/<data>-<timestamp>/
    epochs_scale: float = 1.0          # multiplies each notebook's own EPOCHS
    seed: int = 42
    data_dir: Path = REPO_ROOT / "data"
    notebooks: list[Path] = field(default_factory=list)  # default: notebooks/[0-9][0-9]_*.ipynb


def series_notebooks(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The numbered notebooks of the series, in order."""
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(
            f"no notebooks like 00_*.ipynb in {folder}: run from a clone of the repository "
            "(git clone ...; pip install -e .), where notebooks/ sits beside fakeface_lib/")
    return found


def default_out(data: str, root: Path = RUNS_ROOT) -> Path:
    tag = data if data in ("demo", "kaggle") else Path(data).stem or "data"
    return root / f"{tag}-{datetime.now():%Y%m%d-%H%M%S}"


def scaled_epochs(default: int, scale: float) -> int:
    """``default * scale`` rounded half up, never below one epoch."""
    if scale <= 0 or not math.isfinite(scale):
        raise ValueError(f"--epochs-scale must be a positive number, got {scale}")
    return max(1, math.floor(default * scale + 0.5))


def notebook_parameters(path: Path, opts: RunOptions, results_dir: Path) -> dict:
    """The values injected into one notebook's ``parameters`` cell."""
    import papermill as pm

    declared = pm.inspect_notebook(str(path))
    if not declared:
        raise NotebookFailed(f"{path.name} has no cell tagged 'parameters'")
    params = {"DATA": opts.data, "SMOKE": opts.smoke, "SEED": opts.seed,
              "RESULTS_DIR": str(results_dir), "DATA_DIR": str(opts.data_dir)}
    if "EPOCHS" in declared and not opts.smoke:  # smoke notebooks set their own tiny budget
        default = int(ast.literal_eval(declared["EPOCHS"]["default"]))
        params["EPOCHS"] = scaled_epochs(default, opts.epochs_scale)
    return {k: v for k, v in params.items() if k in declared}


def execute_one(path: Path, out_dir: Path, params: dict) -> float:
    """Run one notebook; return its wall time or raise :class:`NotebookFailed`."""
    import papermill as pm

    start = time.perf_counter()
    try:
        pm.execute_notebook(str(path), str(out_dir / path.name), parameters=params,
                            cwd=str(out_dir), kernel_name="python3",
                            progress_bar=sys.stderr.isatty(), log_output=False,
                            # the kernel's own start-up chatter (it talks to us over localhost)
                            extra_arguments=["--IPKernelApp.log_level=ERROR"])
    except pm.PapermillExecutionError as err:
        raise NotebookFailed(
            f"{path.name} failed in cell {err.exec_count}: {err.ename}: {err.evalue}\n"
            f"The executed copy with the traceback is {out_dir / path.name}") from None
    return time.perf_counter() - start


def run_series(opts: RunOptions) -> Path:
    """Execute every notebook in order, then write report.md/report.html; return the folder."""
    from .report import write_report

    notebooks = opts.notebooks or series_notebooks()
    out_dir = Path(opts.out or default_out(opts.data)).resolve()
    results_dir = out_dir / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    total = time.perf_counter()
    for i, path in enumerate(notebooks, 1):
        params = notebook_parameters(path, opts, results_dir)
        shown = ", ".join(f"{k}={v}" for k, v in params.items() if k in ("DATA", "SMOKE", "EPOCHS"))
        print(f"[{i}/{len(notebooks)}] {path.name} ({shown}) ...", flush=True)
        timings[path.stem] = execute_one(path, out_dir, params)
        print(f"      done in {timings[path.stem]:.1f} s "
              f"(total {time.perf_counter() - total:.0f} s)", flush=True)
    write_report(out_dir, results_dir, opts=opts, timings=timings)
    return out_dir
