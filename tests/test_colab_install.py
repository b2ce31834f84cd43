"""Would installing the library in a Colab notebook keep every package Colab already has?

A notebook's install cell on Colab runs ``%pip install "fakeface @ git+...@RELEASE"``: the
base install, no extras. The registry test resolves exactly that with pip against Colab's
published freeze (tests/colab/, a dated snapshot), every package Colab has pinned at its
version as a constraint:

    python -m pip install --dry-run --ignore-installed --report REPORT.json \\
        --python-version 3.13 --only-binary=:all: --find-links WHEELS \\
        -c CONSTRAINTS.txt --use-feature=fast-deps fakeface-<version>-py3-none-any.whl

- CONSTRAINTS is the freeze less the CUDA wheels (``nvidia-*``, ``cuda-*``, ``triton``: Colab
  takes them from the PyTorch index with its torch, which the install keeps), the lines
  that are URLs, and local version tags (``torch==2.11.0+cu128`` -> ``torch==2.11.0``, the
  same release on PyPI, so torch and torchvision are resolved at Colab's versions too).
- Python 3.13 is Colab's (here it is 3.11). pip then takes wheels only, so the project is
  built into a wheel first, and a dependency published as an sdist only (grad-cam) is
  built here into WHEELS when pip asks for it. pip still evaluates environment markers
  against the Python that runs it.
- It fails naming the package(s) when pip cannot resolve, when the install would bring a
  version of a package Colab has at another one, or when it would touch Colab's kernel.

It asks the package index (marker ``registry``) and skips, saying why, when the index is out
of reach (it must list Colab's torch); with FAKEFACE_REQUIRE_REGISTRY=1 (.ci/run) that is a
failure instead. It takes about 25 s here, nearly all of it pip fetching metadata; the other
tests here are offline.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
FREEZE = ROOT / "tests" / "colab" / "pip-freeze-gpu-2026-08.txt"
COLAB_PYTHON = "3.13"
# What runs a Colab notebook: the base install must leave all of it alone.
KERNEL = {"ipykernel", "ipython", "jupyter-client", "jupyter-core", "traitlets", "tornado",
          "pyzmq"}


def is_cuda_wheel(name: str) -> bool:
    """nvidia-*, cuda-* and triton: the CUDA wheels that come with Colab's torch build."""
    name = canonicalize_name(name)
    return name.startswith(("nvidia-", "cuda-")) or name == "triton"


def colab_versions(freeze_text: str) -> dict[str, str]:
    """{canonical name: version without its local tag} for each ``name==version`` line."""
    versions = {}
    for line in freeze_text.splitlines():
        line = line.strip()
        if line.startswith("#") or "==" not in line or "@" in line or "://" in line:
            continue
        name, version = (part.strip() for part in line.split("==", 1))
        versions[canonicalize_name(name)] = version.split("+", 1)[0]
    return versions


def constraints(versions: dict[str, str]) -> str:
    """A pip constraints file pinning every package of ``versions`` but the CUDA wheels."""
    return "".join(f"{name}=={version}\n" for name, version in sorted(versions.items())
                   if not is_cuda_wheel(name))


def conflicting_packages(pip_output: str) -> list[str]:
    """The packages a failed ``pip install`` names: its conflict block, or no version found."""
    name = r"([A-Za-z0-9][A-Za-z0-9._-]*)"
    names = set(re.findall(rf"satisfies the requirement {name}", pip_output))
    block = re.search(r"The conflict is caused by:\n(.*?)(?:\n\s*\n|\Z)", pip_output, re.S)
    for line in block.group(1).splitlines() if block else []:
        names.update(re.findall(rf"(?:depends on|requested(?: \(constraint\))?) {name}", line))
    return sorted({canonicalize_name(n) for n in names})


def changed_versions(report: dict, versions: dict[str, str]) -> list[str]:
    """One line per package of pip's install report that Colab has at another version."""
    changed = []
    for item in report["install"]:
        name, new = canonicalize_name(item["metadata"]["name"]), item["metadata"]["version"]
        old = versions.get(name)
        public = Version(new.split("+", 1)[0])  # Colab's builds carry local tags (+cu128)
        if old is not None and not is_cuda_wheel(name) and public != Version(old):
            changed.append(f"{name}: Colab has {old}, the install would bring {new}")
    return changed


def added_packages(report: dict, versions: dict[str, str]) -> list[str]:
    """'name version' for each package of the report that Colab lacks (CUDA wheels aside)."""
    items = [item["metadata"] for item in report["install"]]
    return [f"{m['name']} {m['version']}" for m in items
            if canonicalize_name(m["name"]) not in versions and not is_cuda_wheel(m["name"])]


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                          timeout=300)


def registry_problem(torch_version: str) -> str | None:
    """Why the package index cannot serve the check, or None when it lists Colab's torch."""
    try:
        out = _pip("index", "versions", "torch", "--retries", "0", "--timeout", "10")
    except subprocess.TimeoutExpired:
        return "the package index is out of reach: `pip index versions torch` timed out"
    listed = re.search(r"Available versions: (.*)", out.stdout)
    if listed and torch_version in [v.strip() for v in listed.group(1).split(",")]:
        return None
    errors = [ln for ln in out.stderr.splitlines() if ln.strip() and "is ignored" not in ln]
    said = listed.group(0) if listed else (errors or ["nothing"])[-1]
    return (f"the package index is out of reach: `pip index versions torch` does not list "
            f"Colab's torch {torch_version} ({said})")


def build_wheel(dest: Path) -> Path:
    """A wheel of this project, built from a copy of its sources (the repo stays untouched)."""
    src = dest / "src"
    shutil.copytree(ROOT / "fakeface_lib", src / "fakeface_lib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for path in [ROOT / "pyproject.toml", ROOT / "README.md", *ROOT.glob("LICEN[CS]E*")]:
        shutil.copy(path, src)
    out = _pip("wheel", "--no-deps", "--quiet", "-w", str(dest / "dist"), str(src))
    assert out.returncode == 0, f"building the project's wheel failed:\n{out.stderr[-3000:]}"
    return next((dest / "dist").glob("fakeface-*.whl"))


def resolve_on_colab(project: Path, constraints_file: Path, wheels: Path, report: Path) -> dict:
    """pip's install report for ``project`` on Colab's Python, or AssertionError naming why.

    A requirement pip finds no wheel for is built here into ``wheels`` (once), then retried.
    fast-deps reads each wheel's metadata by HTTP range requests where the index serves no
    metadata files (this one: 20 MB instead of 2 GB of torch and CUDA wheels).
    """
    built: set[str] = set()
    fast = ["--use-feature=fast-deps"]
    while True:
        out = _pip("install", "--dry-run", "--ignore-installed", "--report", str(report),
                   "--python-version", COLAB_PYTHON, "--only-binary=:all:",
                   "--find-links", str(wheels), "-c", str(constraints_file), *fast,
                   "--progress-bar", "off", str(project))
        if out.returncode == 0:
            return json.loads(report.read_text())
        text = out.stdout + out.stderr
        if fast and "invalid choice: 'fast-deps'" in out.stderr:
            fast = []  # a pip without it: whole wheels instead of their metadata
            continue
        missing = re.search(r"satisfies the requirement (.+?) \(from ", text)
        if "ResolutionImpossible" in text or not missing or missing.group(1) in built:
            names = ", ".join(conflicting_packages(text)) or "see pip's output"
            errors = "\n".join(ln for ln in text.splitlines() if "is ignored" not in ln)
            raise AssertionError(f"pip cannot install the base on Colab ({names}):\n"
                                 f"{errors[-3000:]}")
        built.add(missing.group(1))
        wheel = _pip("wheel", "--no-deps", "--quiet", "-w", str(wheels), "-c",
                     str(constraints_file), missing.group(1))
        assert wheel.returncode == 0, f"{missing.group(1)}: no wheel for Python " \
            f"{COLAB_PYTHON} and none builds here:\n{wheel.stderr[-3000:]}"


@pytest.mark.registry
def test_installing_on_colab_keeps_colab_packages(tmp_path):
    versions = colab_versions(FREEZE.read_text())
    problem = registry_problem(versions["torch"])
    if problem and os.environ.get("FAKEFACE_REQUIRE_REGISTRY") == "1":
        pytest.fail(problem)
    if problem:
        pytest.skip(problem)
    constraints_file = tmp_path / "constraints.txt"
    constraints_file.write_text(constraints(versions))
    (tmp_path / "wheels").mkdir()
    report = resolve_on_colab(build_wheel(tmp_path / "project"), constraints_file,
                              tmp_path / "wheels", tmp_path / "report.json")
    changed = changed_versions(report, versions)
    assert not changed, "installing on Colab would change:\n" + "\n".join(changed)
    touched = sorted(KERNEL & {canonicalize_name(i["metadata"]["name"]) for i in report["install"]})
    assert not touched, f"the base install reaches Colab's kernel: {touched}"
    print("Colab would add:", ", ".join(added_packages(report, versions)))


# The offline parts, on small samples.

SAMPLE_FREEZE = """\
# generated by pip freeze
Markdown==3.10.3
numpy==2.1.3
torch==2.11.0+cu128
nvidia-cublas-cu12==12.8.4.1
cuda-python==12.9.7
triton==3.6.0
google-colab @ file:///colabtools/dist/google_colab-1.0.0.tar.gz
cucim-cu12  (installed from a direct URL, omitted here)
"""

PIP_CONFLICT = """\
ERROR: Cannot install fakeface==0.2.0 because these package versions have conflicting dependencies.

The conflict is caused by:
    fakeface 0.2.0 depends on numpy>=2.2
    grad-cam 1.5.7 depends on opencv_python_headless
    The user requested (constraint) numpy==2.1.3

To fix this you could try to:
1. loosen the range of package versions you've specified
ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/
"""


def test_colab_versions_drop_comments_urls_and_local_tags():
    assert colab_versions(SAMPLE_FREEZE) == {
        "markdown": "3.10.3", "numpy": "2.1.3", "torch": "2.11.0",
        "nvidia-cublas-cu12": "12.8.4.1", "cuda-python": "12.9.7", "triton": "3.6.0"}


def test_constraints_leave_out_the_cuda_wheels():
    assert constraints(colab_versions(SAMPLE_FREEZE)) == (
        "markdown==3.10.3\nnumpy==2.1.3\ntorch==2.11.0\n")
    real = constraints(colab_versions(FREEZE.read_text())).splitlines()
    assert "torch==2.11.0" in real and "torchvision==0.26.0" in real
    assert not [ln for ln in real if is_cuda_wheel(ln.split("==")[0]) or "+" in ln]


def test_conflicting_packages_are_named():
    assert conflicting_packages(PIP_CONFLICT) == ["numpy", "opencv-python-headless"]
    missing = ("ERROR: Could not find a version that satisfies the requirement grad-cam>=1.5.4 "
               "(from fakeface) (from versions: 1.0.0)")
    assert conflicting_packages(missing) == ["grad-cam"]
    assert conflicting_packages("ERROR: something else") == []


def test_changed_and_added_packages():
    versions = colab_versions(SAMPLE_FREEZE)
    report = {"install": [{"metadata": {"name": n, "version": v}} for n, v in [
        ("numpy", "2.2.0"), ("torch", "2.11.0"), ("Markdown", "3.10.3"),
        ("nvidia-cublas-cu12", "13.1.0.3"), ("ttach", "0.0.3"), ("nvidia-nccl-cu13", "2.28.9")]]}
    assert changed_versions(report, versions) == [
        "numpy: Colab has 2.1.3, the install would bring 2.2.0"]
    assert added_packages(report, versions) == ["ttach 0.0.3"]
