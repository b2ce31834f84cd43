"""Packaging: what each install holds, that Colab keeps its own packages, and one release.

The base install is what the notebooks and the library import; the runner and the tests are
extras. Colab installs the base only, from ``INSTALL_SPEC``, and opens ``colab_url()``: both
name ``GITHUB_REPO`` at ``RELEASE``, so a notebook and the library it installs are one release.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from test_colab_install import FREEZE, colab_versions

import fakeface_lib
from fakeface_lib.colab import GITHUB_REPO, INSTALL_SPEC, RELEASE, colab_url

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))
# Imported only by `python -m fakeface_lib.runner run`: its needs are the runner extra.
RUNNER = ROOT / "fakeface_lib" / "runner"  # the runner's package: its own extra
# The runner's needs that nothing imports: papermill's kernel, pandas' to_markdown.
RUNNER_UNIMPORTED = {"ipykernel", "nbformat", "tabulate"}
# There in any Jupyter or Colab kernel (google.colab only on Colab): never installed by us.
# ipywidgets (notebook 06's quiz) too: Colab ships it, the dev extra installs it for local
# Jupyter, and as a base requirement it would pull in the kernel (ipykernel, ipython) that
# test_colab_install.py keeps the base install away from.
KERNEL_MODULES = {"IPython", "google", "ipywidgets"}
COLAB_BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _names(reqs: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in reqs}


def _sections() -> dict[str, list[str]]:
    """requirements.txt by section: lines before the first '# extra NAME' are 'base'."""
    sections, current = {"base": []}, "base"
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        header = re.match(r"# extra (\w+)", line)
        if header:
            current = header.group(1)
            sections[current] = []
        elif line.strip() and not line.startswith("#"):
            sections[current].append(line.strip())
    return sections


def _all_requirements() -> list[str]:
    project = _project()
    return [*project["dependencies"], *sum(project["optional-dependencies"].values(), [])]


def test_requirements_txt_mirrors_pyproject_section_by_section():
    project = _project()
    own = canonicalize_name(project["name"])
    expected = {"base": project["dependencies"]} | {
        extra: [r for r in reqs if canonicalize_name(Requirement(r).name) != own]
        for extra, reqs in project["optional-dependencies"].items()}
    assert {k: sorted(v) for k, v in _sections().items()} == \
        {k: sorted(v) for k, v in expected.items()}


def test_extras_runner_and_dev():
    extras = _project()["optional-dependencies"]
    assert set(extras) == {"runner", "dev"}
    assert "fakeface[runner]" in extras["dev"], "the tests run the series: dev holds runner"
    assert {"pytest", "jupyter", "ipywidgets"} <= _names(extras["dev"])


def test_ranges_only_never_pins():
    for req in map(Requirement, _all_requirements()):
        assert not any(s.operator in ("==", "===") for s in req.specifier), \
            f"{req}: a pin replaces whatever the user already has; use a range"


def test_base_admits_colab_versions():
    """Colab keeps its build of everything the base names: no floor above it, no ceiling."""
    colab = colab_versions(FREEZE.read_text())
    for req in map(Requirement, _project()["dependencies"]):
        version = colab.get(canonicalize_name(req.name))
        if version is None:
            continue
        assert req.specifier.contains(Version(version), prereleases=True), \
            f"{req}: Colab has {req.name} {version}; installing would replace it"
        assert not any(s.operator in ("<", "<=", "~=") for s in req.specifier), \
            f"{req}: an upper bound would replace Colab's {req.name} when Colab updates it"


def _imports(source: str) -> set[str]:
    """Top-level modules imported anywhere in ``source`` (IPython magics skipped)."""
    code = re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.M)
    found = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _distributions(modules: set[str]) -> set[str]:
    """The installed distributions providing third-party ``modules``."""
    third_party = modules - set(sys.stdlib_module_names) - KERNEL_MODULES - {"fakeface_lib"}
    dists = packages_distributions()
    missing = sorted(m for m in third_party if m not in dists)
    assert not missing, f"imported but not installed here: {missing}"
    return {canonicalize_name(d) for m in third_party for d in dists[m]}


def _cell_sources(path: Path, kind: str | None = None) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if kind is None or c["cell_type"] == kind]


def test_base_is_what_notebooks_and_library_import():
    library = [p for p in (ROOT / "fakeface_lib").rglob("*.py") if RUNNER not in p.parents]
    sources = [p.read_text() for p in library]
    sources += [s for nb in NOTEBOOKS for s in _cell_sources(nb, "code")]
    imported = _distributions(set().union(*map(_imports, sources)))
    assert imported == _names(_project()["dependencies"]), \
        "[project].dependencies must be what the notebooks and the library import (left)"


def test_runner_extra_is_what_the_runner_needs_beyond_the_base():
    runner = [p.read_text() for p in RUNNER.rglob("*.py")]
    imported = _distributions(set().union(*map(_imports, runner)))
    base = _names(_project()["dependencies"])
    assert (imported - base) | RUNNER_UNIMPORTED == \
        _names(_project()["optional-dependencies"]["runner"])


def test_one_version_one_release():
    assert fakeface_lib.__version__ == _project()["version"]
    assert RELEASE == f"v{fakeface_lib.__version__}", "RELEASE is the tag of this version"
    assert INSTALL_SPEC == f"{_project()['name']} @ git+https://github.com/{GITHUB_REPO}@{RELEASE}"
    assert colab_url("01_model1.ipynb") == (
        f"https://colab.research.google.com/github/{GITHUB_REPO}/blob/{RELEASE}"
        "/notebooks/01_model1.ipynb")


def test_importing_the_package_stays_cheap():
    code = ("import sys, fakeface_lib; "
            "print(sorted({'torch', 'numpy', 'pandas'} & sys.modules.keys()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == "[]", "fakeface_lib/__init__.py must not import heavy modules"


def test_canonical_manifest_is_package_data():
    manifest = ROOT / "fakeface_lib" / "data" / "manifests" / "real_and_fake_face.csv"
    assert manifest.is_file() and not manifest.is_symlink(), \
        "the split manifest must ship inside the package for pip installs"
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["fakeface_lib.data"] == \
        ["manifests/*.csv"]


# The notebooks install and link the release: INSTALL_SPEC, colab_url(), GITHUB_REPO.

INSTALL_HEADER = [
    "import importlib.util",
    "import sys",
    'if "google.colab" in sys.modules and importlib.util.find_spec("fakeface_lib") is None:',
]


def test_the_series_exists():
    assert len(NOTEBOOKS) >= 6, f"notebooks/[0-9][0-9]*_*.ipynb: found {NOTEBOOKS}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_code_cell_installs_the_release_on_colab_only(path):
    cell = _cell_sources(path, "code")[0]
    install = f'%pip install -q "{INSTALL_SPEC}"'
    assert cell.count(install) == 1, f"{path.name}: the first code cell must run {install} once"
    header = "\n".join(INSTALL_HEADER) + f"\n    {install}"
    assert cell.startswith(header) and re.match(r"[ \t]*(#.*)?(\n|$)", cell[len(header):]), \
        f"{path.name}: the first code cell must open with\n{header}"
    urls = re.findall(r"git\+https://[^\s\"']+", cell)
    assert urls == [INSTALL_SPEC.split(" @ ", 1)[1]], f"{path.name}: other git URLs: {urls}"


def _texts() -> dict[str, str]:
    """README.md and every cell of every notebook, by where they come from."""
    texts = {"README.md": (ROOT / "README.md").read_text()}
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        texts.update({f"{nb.name} cell {i}": s for i, s in enumerate(_cell_sources(nb))})
    return texts


def _colab_links(text: str) -> list[str]:
    links = re.findall(r"https?://colab\.research\.google\.com/[^\s)\"'<>\]]+", text)
    return [link for link in links if link != COLAB_BADGE_IMAGE]


def test_every_colab_link_opens_an_existing_notebook_at_the_release():
    existing = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    for where, text in _texts().items():
        for link in _colab_links(text):
            name = link.rsplit("/", 1)[-1]
            assert name in existing, f"{where}: {link} opens {name}, not in notebooks/"
            assert link == colab_url(name), f"{where}: {link} is not colab_url({name!r})"


def test_readme_opens_every_notebook_in_colab():
    linked = {link.rsplit("/", 1)[-1] for link in _colab_links((ROOT / "README.md").read_text())}
    assert linked == {p.name for p in NOTEBOOKS}, "one Colab badge per notebook of the series"


def test_every_github_mention_is_the_project_repo():
    for where, text in _texts().items():
        for repo in re.findall(r"github\.com/([\w.-]+/[\w.-]+)", text):
            assert repo.removesuffix(".git") == GITHUB_REPO, \
                f"{where}: github.com/{repo} is not GITHUB_REPO ({GITHUB_REPO})"
