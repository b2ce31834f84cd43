"""The Python half of ``make colab-test`` (tests/colab/colab_test.sh): run by the Colab-versions
environment's own interpreter, never by the project's .venv.

Subcommands (each prints what the shell script needs, and nothing else, on stdout):

``constraints FREEZE``
    Colab's freeze as a pip constraints file: the filtering of tests/test_colab_install.py
    (comments, URL lines and the CUDA wheels out, local version tags such as ``+cu128`` cut).
``preinstalled FREEZE``
    What Colab has before a notebook's install cell runs and this test needs: the base
    dependencies Colab ships, the kernel and the notebook executor (nbclient).
``wheel DIR``
    Builds the project's wheel from a copy of its sources into DIR (as test_colab_install.py
    does; the repository stays untouched) and prints its path.
``check FREEZE``
    Fails naming every installed package that Colab has at another version.
``run``
    Executes the series, then its solutions, in smoke mode under the stand-in ``google.colab``
    of tests/colab_sim/: every notebook on a fresh simulated machine, all of them on one
    simulated Drive, with nbclient in a kernel of this interpreter. Fails on a cell error and
    on a warning a student would see whose source is the project's code (see ``run``'s help).
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TESTS, SIM = ROOT / "tests", ROOT / "tests" / "colab_sim"
NOTEBOOKS = ROOT / "notebooks"
# Colab's kernel and what drives the notebooks here (Colab has no papermill: nbclient executes).
# pytest and packaging: test_colab_install.py, whose freeze filtering this script imports.
DRIVER = ["ipykernel", "ipython", "jupyter-client", "ipywidgets", "nbclient", "nbformat",
          "packaging", "pytest"]
# What test_colab_simulation.py passes every notebook, and what the series runner adds for
# notebook 06 (nobody is there to click the quiz). Only the names a notebook declares are set.
PARAMS = {"DATA": "demo", "SMOKE": True, "CHECKPOINT": True, "INTERACTIVE": False}
CELL_TIMEOUT = int(os.environ.get("COLAB_TEST_CELL_TIMEOUT", "3600"))  # seconds per cell


def _freeze_module():
    """tests/test_colab_install.py: colab_versions(), constraints(), is_cuda_wheel()."""
    sys.path.insert(0, str(TESTS))
    import test_colab_install

    return test_colab_install


# --- the environment -------------------------------------------------------------------------

def cmd_constraints(freeze: Path) -> int:
    tci = _freeze_module()
    sys.stdout.write(tci.constraints(tci.colab_versions(freeze.read_text())))
    return 0


def cmd_preinstalled(freeze: Path) -> int:
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    colab = _freeze_module().colab_versions(freeze.read_text())
    base = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = [canonicalize_name(Requirement(r).name) for r in base]
    names = [n for n in names if n in colab] + [canonicalize_name(n) for n in DRIVER]
    missing = sorted(n for n in names if n not in colab)
    if missing:
        print(f"Colab's freeze {freeze} lacks {missing}: the test cannot install them at "
              "Colab's versions", file=sys.stderr)
        return 1
    print("\n".join(dict.fromkeys(names)))
    return 0


def cmd_wheel(dest: Path) -> int:
    dest.mkdir(parents=True, exist_ok=True)
    print(_freeze_module().build_wheel(dest))
    return 0


def cmd_check(freeze: Path) -> int:
    """Every installed distribution Colab also has must be at Colab's version."""
    from importlib.metadata import distributions

    from packaging.utils import canonicalize_name
    from packaging.version import Version

    tci = _freeze_module()
    colab = tci.colab_versions(freeze.read_text())
    changed = []
    for dist in distributions():
        name = canonicalize_name(dist.metadata["Name"])
        if name in colab and not tci.is_cuda_wheel(name) and \
                Version(dist.version.split("+", 1)[0]) != Version(colab[name]):
            changed.append(f"{name} {dist.version} (Colab has {colab[name]})")
    if changed:
        print("Not at Colab's versions: " + ", ".join(sorted(changed)), file=sys.stderr)
        return 1
    return 0


# --- executing the notebooks -----------------------------------------------------------------

def declared_parameters(nb) -> tuple[int, set[str]]:
    """(index of the cell tagged "parameters", the names it assigns)."""
    for index, cell in enumerate(nb.cells):
        if "parameters" in cell.metadata.get("tags", []):
            names = {t.id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)
                     for t in node.targets if isinstance(t, ast.Name)}
            return index, names
    raise ValueError("no cell tagged 'parameters'")


def inject_parameters(nb, params: dict) -> dict:
    """Papermill's way: a cell tagged "injected-parameters" right after the "parameters" one,
    setting those of ``params`` the notebook declares; returns what it set."""
    import nbformat

    index, declared = declared_parameters(nb)
    chosen = {k: v for k, v in params.items() if k in declared}
    source = "# Parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in chosen.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(index + 1, cell)
    return chosen


class CellFailed(RuntimeError):
    """A notebook stopped: a cell raised, timed out, or the kernel died."""


def execute_with_nbclient(path: Path, out_dir: Path, params: dict, cwd: Path | None = None,
                          pythonpath=()) -> float:
    """fakeface_lib.runner.series.execute_notebook's contract, with nbclient instead of papermill.

    The kernel runs this interpreter in ``cwd``, ``pythonpath`` first on its PYTHONPATH; the
    executed copy goes to ``out_dir/<name>`` whatever happens. Returns the wall time.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    from fakeface_lib.runner.series import prepended_env, this_python_kernel

    out_dir.mkdir(parents=True, exist_ok=True)
    copy = out_dir / path.name
    nb = nbformat.read(path, as_version=4)
    inject_parameters(nb, params)
    start = time.perf_counter()
    try:
        with this_python_kernel() as kernel, prepended_env("PYTHONPATH", pythonpath):
            NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=kernel,
                           resources={"metadata": {"path": str(cwd or out_dir)}},
                           # the kernel's start-up chatter, as the series runner silences it
                           extra_arguments=["--IPKernelApp.log_level=CRITICAL"]).execute()
    except CellExecutionError as err:
        cell = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and any(
            o.get("output_type") == "error" for o in c.get("outputs", []))), None)
        count = nb.cells[cell].execution_count if cell is not None else "?"
        raise CellFailed(f"cell {cell} of the executed copy [{count}]: {err.ename}: {err.evalue}"
                         ) from None
    except CellTimeoutError as err:
        raise CellFailed(f"a cell ran past {CELL_TIMEOUT} s ({err})") from None
    except DeadKernelError as err:
        raise CellFailed(f"the kernel died ({err})") from None
    finally:
        nbformat.write(nb, copy)
    return time.perf_counter() - start


# Python's warnings as a kernel prints them: "FILE:LINE: CATEGORY: message", then, indented,
# the line of source that warned.
WARNING_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<category>[A-Za-z_][\w.]*): ")
NOTEBOOK_CODE = re.compile(r"ipykernel_\d+[/\\]\d+\.py$|^<ipython-input-")


@dataclass
class Warned:
    text: str
    source: str  # "project": fakeface_lib or a notebook's cell; "third-party"; "unknown"
    expected: str = ""  # why a project warning is expected here (then it does not fail)


def _source(filename: str) -> str:
    parts = Path(filename).parts
    return "project" if "fakeface_lib" in parts or NOTEBOOK_CODE.search(filename) else "third-party"


def stderr_warnings(text: str) -> list[Warned]:
    """The warnings in one stream of stderr text: Python's warnings with where they come from,
    and any other line containing "Warning" (source unknown)."""
    found: list[Warned] = []
    current: list[str] | None = None  # lines of the warning being read
    echoed = False  # its indented source line seen: what follows is no longer part of it
    for line in text.splitlines():
        match = WARNING_LINE.match(line)
        if match and match.group("category").rsplit(".", 1)[-1].endswith("Warning"):
            current, echoed = [line], False
            found.append(Warned(line, _source(match.group("file"))))
        elif current is not None and (not echoed or line.startswith((" ", "\t"))):
            echoed = echoed or line.startswith((" ", "\t"))
            current.append(line)
            found[-1].text = "\n".join(current)
        else:
            current = None
            if "Warning" in line:
                found.append(Warned(line, "unknown"))
    return found


def notebook_warnings(copy: Path) -> list[Warned]:
    import nbformat

    nb = nbformat.read(copy, as_version=4)
    return [w for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.get("output_type") == "stream" and o.get("name") == "stderr"
            for w in stderr_warnings(o.get("text", ""))]


def expected_reason(warned: Warned, has_gpu: bool) -> str:
    """Why a project warning is right to show on this machine, or ""."""
    from fakeface_lib.setup import NO_GPU_HINT

    if not has_gpu and NO_GPU_HINT in warned.text:
        return "this machine has no GPU; Colab's GPU runtime does not show it"
    return ""


@dataclass
class Outcome:
    name: str
    seconds: float = 0.0
    drive_mib: float = 0.0
    error: str = ""
    warnings: list[Warned] = field(default_factory=list)

    @property
    def blocking(self) -> list[Warned]:
        return [w for w in self.warnings if w.source != "third-party" and not w.expected]


def run_series(base: Path, notebooks: list[Path]) -> list[Outcome]:
    """Each notebook on its own fresh machine, one Drive for all, in order."""
    import torch

    sys.path.insert(0, str(SIM))
    import simulate
    from fakeface_lib.data.demo import make_demo_dataset

    has_gpu = torch.cuda.is_available()
    data = base / "data"
    make_demo_dataset(data / "demo")  # made once: every machine "downloads" the same data
    params = {**PARAMS, "DATA_DIR": str(data)}
    outcomes = []
    for i, path in enumerate(notebooks, 1):
        out = Outcome(path.stem)
        print(f"[{i:2}/{len(notebooks)}] {path.relative_to(ROOT)} ...", flush=True)
        start = time.perf_counter()
        try:
            run = simulate.run_on_fresh_machine(base, path, params, execute=execute_with_nbclient)
            out.drive_mib = run.written / 2**20  # the simulation, nbclient in papermill's place
        except CellFailed as err:
            out.error = str(err)
        out.seconds = time.perf_counter() - start
        copy = base / "executed" / path.name
        out.warnings = notebook_warnings(copy) if copy.exists() else []
        for w in out.warnings:
            if w.source == "project":
                w.expected = expected_reason(w, has_gpu)
        verdict = f"FAILED: {out.error}" if out.error else "ok"
        print(f"        {verdict}  {out.seconds:.1f} s, {out.drive_mib:.1f} MiB written to Drive",
              flush=True)
        for w in out.warnings:
            label = (f"allowed, {w.source}" if w.source == "third-party" else
                     f"allowed, {w.source}: {w.expected}" if w.expected else
                     f"FAILS, {w.source}")
            print(f"        warning ({label}):\n" + _indent(w.text, 12), flush=True)
        outcomes.append(out)
    return outcomes


def _indent(text: str, n: int) -> str:
    return "\n".join(" " * n + line for line in text.splitlines())


def cmd_run(keep: bool, only: list[str]) -> int:
    chapters = sorted(NOTEBOOKS.glob("[0-9][0-9]*_*.ipynb"))
    solutions = sorted((NOTEBOOKS / "solutions").glob("[0-9][0-9]*_*.ipynb"))
    notebooks = [p for p in chapters + solutions if not only or any(s in p.stem for s in only)]
    # ipykernel 6's debugger (debugpy) otherwise prints a note on Python's frozen modules into
    # this terminal at every kernel start; no notebook shows it.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    base = Path(tempfile.mkdtemp(prefix="fakeface-colab-test-"))
    print(f"Python {sys.version.split()[0]} ({sys.executable}); simulated Colab in {base}")
    start = time.perf_counter()
    outcomes = run_series(base, notebooks)
    total = time.perf_counter() - start
    print(f"\nNotebooks: {len(outcomes)} in {total:.0f} s")
    for out in outcomes:
        mark = "FAILED" if out.error or out.blocking else "ok"
        print(f"  {out.seconds:7.1f} s  {mark:6}  {out.name}")
    problems = [f"{o.name}: {o.error}" for o in outcomes if o.error]
    problems += [f"{o.name}: a warning from the project's code:\n{_indent(w.text, 4)}"
                 for o in outcomes for w in o.blocking]
    if problems:
        print(f"\n{len(problems)} problem(s); executed copies kept in {base / 'executed'}:")
        print("\n".join(f"- {p}" for p in problems))
        return 1
    if keep:
        print(f"Kept: {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("constraints", "preinstalled", "check"):
        sub.add_parser(name).add_argument("freeze", type=Path)
    sub.add_parser("wheel").add_argument("dest", type=Path)
    run = sub.add_parser("run", help="fails on a cell error, and on a warning shown on stderr "
                         "whose source is fakeface_lib or a notebook's cell (or cannot be told); "
                         "third-party warnings are printed and allowed")
    run.add_argument("--keep", action="store_true", help="keep the simulated machines' folder")
    run.add_argument("only", nargs="*", help="run only notebooks whose name contains one of these")
    args = parser.parse_args(argv)
    if args.command == "constraints":
        return cmd_constraints(args.freeze)
    if args.command == "preinstalled":
        return cmd_preinstalled(args.freeze)
    if args.command == "wheel":
        return cmd_wheel(args.dest)
    if args.command == "check":
        return cmd_check(args.freeze)
    return cmd_run(args.keep, args.only)


if __name__ == "__main__":
    sys.exit(main())
