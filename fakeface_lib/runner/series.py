"""The main job: execute the notebook series with papermill, then write the report.

Each notebook gets its ``parameters`` cell overridden (DATA, SMOKE, EPOCHS scaled from the
notebook's own default, RESULTS_DIR, DATA_DIR, CHECKPOINT, SCRATCH_DIR, AMP, INTERACTIVE=False:
nobody is there to click notebook 06's quiz, and any other with ``--set NAME=VALUE``); executed copies land in the output folder, and every
kernel runs the interpreter that runs the job.
"""

from __future__ import annotations

import ast
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from fakeface_lib.runner.repo import SERIES_PATTERN, find_repo

KERNEL_NAME = "fakeface-python"  # the kernelspec the runner writes for sys.executable
KEYWORD_SOURCES = ("demo", "kaggle")


class NotebookFailed(RuntimeError):
    """A notebook of the series raised: names the notebook, the cell and the error."""


@dataclass
class RunOptions:
    data: str = "demo"                 # "demo", "kaggle", a Drive id, a zip or folder path
    smoke: bool = False                # seconds per notebook (tests)
    out: Path | None = None            # default <repo>/runs/<data>-<timestamp>/
    epochs_scale: float = 1.0          # multiplies each notebook's own EPOCHS
    seed: int = 42
    data_dir: Path | None = None       # default <repo>/data
    notebooks: list[Path] = field(default_factory=list)  # default: <repo>/notebooks/[0-9][0-9]*_*.ipynb
    checkpoints: bool | None = None    # None: off with smoke, the notebook's default otherwise
    amp: bool = False                  # AMP=True for the notebooks that declare it (Model 2's)
    repo: Path | None = None           # the checkout (default: found from the current folder)
    overrides: dict[str, object] = field(default_factory=dict)  # --set NAME=VALUE: any parameter


def series_notebooks(folder: Path | None = None) -> list[Path]:
    """The numbered notebooks of the series, in order (default: those of the checkout the
    current folder is in, see :func:`~fakeface_lib.runner.repo.find_repo`)."""
    folder = Path(folder) if folder is not None else find_repo() / "notebooks"
    found = sorted(folder.glob(SERIES_PATTERN))
    if not found:
        raise FileNotFoundError(
            f"no notebooks like 00_*.ipynb in {folder}: run from a clone of the repository "
            "(git clone ...; pip install -e .), where notebooks/ sits beside fakeface_lib/")
    return found


def default_out(data: str, root: Path) -> Path:
    """``root/<data>-<time>/``: a new run folder under the checkout's runs/."""
    tag = data if data in KEYWORD_SOURCES else Path(data).stem or "data"
    return root / f"{tag}-{datetime.now():%Y%m%d-%H%M%S}"


def resolve_data(data: str, cwd: Path | None = None) -> str:
    """``data`` made absolute from ``cwd`` (default: the current directory) when it names an existing
    file or folder; "demo", "kaggle" and Drive ids or links unchanged.

    Raises FileNotFoundError for a path (a .zip, or a value with a path separator) that is not there.
    """
    text = str(data)
    if text.lower() in KEYWORD_SOURCES or "://" in text or "google.com" in text:
        return text
    base = Path(cwd) if cwd is not None else Path.cwd()
    full = base / Path(text).expanduser()
    if full.exists():
        return str(full.resolve())
    separators = [s for s in (os.sep, os.altsep, "/") if s]
    if text.lower().endswith(".zip") or any(s in text for s in separators):
        raise FileNotFoundError(
            f"--data {text}: no such file or folder (looked for {full}; a relative path is "
            f"taken from the folder the command runs in, {base})")
    return text


def resolve_paths(opts: RunOptions, cwd: Path | None = None) -> RunOptions:
    """A copy of ``opts`` with repo, data, out and data_dir absolute, relative ones taken from
    ``cwd``; the repo found from ``cwd`` unless given, data_dir defaulting to its data/.

    Needed because every notebook runs with the output folder as its working directory.
    """
    base = Path(cwd) if cwd is not None else Path.cwd()

    def absolute(path: Path | None) -> Path | None:
        return None if path is None else (base / Path(path).expanduser()).resolve()

    data = resolve_data(opts.data, base)  # a missing --data stops before anything else
    repo = find_repo(absolute(opts.repo) or base)
    return replace(opts, repo=repo, data=data, out=absolute(opts.out),
                   data_dir=absolute(opts.data_dir) or repo / "data")


def scaled_epochs(default: int, scale: float) -> int:
    """``default * scale`` rounded half up, never below one epoch."""
    if scale <= 0 or not math.isfinite(scale):
        raise ValueError(f"--epochs-scale must be a positive number, got {scale}")
    return max(1, math.floor(default * scale + 0.5))


def notebook_parameters(path: Path, opts: RunOptions, results_dir: Path,
                        scratch_dir: Path | None = None) -> dict:
    """The values injected into one notebook's ``parameters`` cell (only those it declares)."""
    import papermill as pm

    declared = pm.inspect_notebook(str(path))
    if not declared:
        raise NotebookFailed(f"{path.name} has no cell tagged 'parameters'")
    params = {"DATA": opts.data, "SMOKE": opts.smoke, "SEED": opts.seed,
              "RESULTS_DIR": str(results_dir), "DATA_DIR": str(opts.data_dir),
              "INTERACTIVE": False}  # unattended: a simulated student answers the quiz
    if "EPOCHS" in declared and not opts.smoke:  # smoke notebooks set their own tiny budget
        default = int(ast.literal_eval(declared["EPOCHS"]["default"]))
        params["EPOCHS"] = scaled_epochs(default, opts.epochs_scale)
    checkpoint = opts.checkpoints if opts.checkpoints is not None else (False if opts.smoke else None)
    if checkpoint is not None:
        params["CHECKPOINT"] = checkpoint
    if scratch_dir is not None:
        params["SCRATCH_DIR"] = str(scratch_dir)
    if opts.amp:
        params["AMP"] = True
    params.update(opts.overrides)
    return {k: v for k, v in params.items() if k in declared}


def parse_override(text: str) -> tuple[str, object]:
    """``"NAME=VALUE"`` -> (NAME, VALUE): a Python literal (3, 0.5, True, None, "x") or else the text.

    Raises ValueError naming the fix when there is no ``=`` or NAME is not an identifier.
    """
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise ValueError(f"--set {text!r}: write NAME=VALUE, e.g. --set EXPERIMENT_MODEL=model1")
    try:
        return name, ast.literal_eval(value.strip())
    except (ValueError, SyntaxError):
        return name, value.strip()


def check_overrides(notebooks: Sequence[Path], overrides: dict[str, object]) -> None:
    """Fail before anything runs when an override names a parameter no notebook declares."""
    import papermill as pm

    if not overrides:
        return
    declared = {name for path in notebooks for name in pm.inspect_notebook(str(path))}
    unknown = sorted(set(overrides) - declared)
    if unknown:
        raise ValueError(f"--set {', '.join(unknown)}: no notebook of this run declares it in its "
                         f"parameters cell (they declare: {', '.join(sorted(declared))})")


@contextmanager
def prepended_env(var: str, entries: Sequence[str | os.PathLike]) -> Iterator[None]:
    """``os.environ[var]`` with ``entries`` in front (``os.pathsep``-joined) while the block runs."""
    old = os.environ.get(var)
    if entries:
        os.environ[var] = os.pathsep.join([*(os.fspath(e) for e in entries), *([old] if old else [])])
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = old


@contextmanager
def this_python_kernel() -> Iterator[str]:
    """A kernelspec for ``sys.executable`` that jupyter finds while the block runs; yields its name."""
    with tempfile.TemporaryDirectory(prefix="fakeface-kernel-") as tmp:
        spec = Path(tmp) / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": f"Python ({sys.executable})", "language": "python"}))
        with prepended_env("JUPYTER_PATH", [tmp]):  # searched before every other kernel folder
            yield KERNEL_NAME


def _kernel_stopped(path: Path, copy: Path, err: Exception) -> NotebookFailed | None:
    """The NotebookFailed for a kernel that died or a cell that timed out; None for other errors."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    if isinstance(err, CellTimeoutError):
        why, machine = f"a cell ran past its time limit ({err})", "a faster machine"
    elif isinstance(err, DeadKernelError) or (isinstance(err, RuntimeError)
                                               and "kernel died" in str(err).lower()):
        why, machine = "the kernel died (most often it ran out of memory)", "a machine with more memory"
    else:
        return None
    where = (f"the executed copy up to that cell is {copy}" if copy.exists()
             else "no executed copy was written")
    return NotebookFailed(f"{path.name} stopped: {why}. Rerun with --smoke, a smaller "
                          f"--epochs-scale, or on {machine}; {where}")


def execute_notebook(path: Path, out_dir: Path, params: dict, cwd: Path | None = None,
                     pythonpath: Sequence[Path] = ()) -> float:
    """Execute one notebook with papermill into ``out_dir/<name>``; return its wall time in seconds.

    The kernel runs ``sys.executable`` in ``cwd`` (default ``out_dir``) and inherits this process's
    environment, with the ``pythonpath`` folders first on its PYTHONPATH, e.g. a stand-in package::

        execute_notebook(nb, tmp / "out", {"SMOKE": True}, cwd=tmp / "work", pythonpath=[tmp / "stubs"])

    (the same as prepending to ``os.environ["PYTHONPATH"]`` around the call). Raises
    :class:`NotebookFailed` when a cell raises, the kernel dies or a cell times out.
    """
    import papermill as pm

    out_dir, copy = Path(out_dir), Path(out_dir) / Path(path).name
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        with this_python_kernel() as kernel, prepended_env("PYTHONPATH", pythonpath):
            pm.execute_notebook(str(path), str(copy), parameters=params,
                                cwd=str(cwd or out_dir), kernel_name=kernel,
                                progress_bar=sys.stderr.isatty(), log_output=False,
                                # the kernel's own chatter: start-up, and the KeyboardInterrupt
                                # jupyter_client sends every kernel it shuts down
                                extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
    except pm.PapermillExecutionError as err:
        raise NotebookFailed(
            f"{Path(path).name} failed in cell {err.exec_count}: {err.ename}: {err.evalue}\n"
            f"The executed copy with the traceback is {copy}") from None
    except Exception as err:
        stopped = _kernel_stopped(Path(path), copy, err)
        if stopped is None:
            raise
        raise stopped from None
    return time.perf_counter() - start


def _remove_scratch(scratch: Path) -> None:
    """Delete the job's scratch folder; say so only when it cannot be deleted."""
    try:
        shutil.rmtree(scratch)
    except OSError as err:
        print(f"Could not delete the scratch folder {scratch} ({err}); delete it by hand.",
              file=sys.stderr)


def _run_notebooks(notebooks: list[Path], opts: RunOptions, out_dir: Path,
                   scratch: Path) -> dict[str, float]:
    """Execute the notebooks in order, printing progress; return their wall times by stem."""
    timings: dict[str, float] = {}
    total = time.perf_counter()
    for i, path in enumerate(notebooks, 1):
        params = notebook_parameters(path, opts, out_dir / "results", scratch)
        shown = ", ".join(f"{k}={v}" for k, v in params.items() if k in ("DATA", "SMOKE", "EPOCHS"))
        print(f"[{i}/{len(notebooks)}] {path.name} ({shown}) ...", flush=True)
        timings[path.stem] = execute_notebook(path, out_dir, params)
        print(f"      done in {timings[path.stem]:.1f} s "
              f"(total {time.perf_counter() - total:.0f} s)", flush=True)
    return timings


def run_series(opts: RunOptions) -> Path:
    """Execute every notebook in order, then write report.md/report.html; return the folder.

    Relative paths in ``opts`` are taken from the current directory. Notebooks that declare
    SCRATCH_DIR share one temporary folder, deleted when the job ends, whatever the outcome.
    """
    from fakeface_lib.runner.report import write_report

    opts = resolve_paths(opts)
    notebooks = opts.notebooks or series_notebooks(opts.repo / "notebooks")
    check_overrides(notebooks, opts.overrides)
    out_dir = opts.out or default_out(opts.data, opts.repo / "runs")
    results_dir = out_dir / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="fakeface-scratch-"))
    try:
        timings = _run_notebooks(notebooks, opts, out_dir, scratch)
    finally:
        _remove_scratch(scratch)
    write_report(out_dir, results_dir, opts=opts, timings=timings)
    return out_dir
