"""The public API: the core path from the package root, cheaply; chapter material from its module."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import fakeface_lib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("**/*.ipynb"))
# A notebook walks the root's core path and its chapter's own subpackages. Modules are small (one
# job each), so a chapter that spells out its experiment reaches several modules of the same
# subpackage (notebook 06: the quiz's three, the attempts' three); the places it draws on stay few.
MAX_MODULES = 12
MAX_PLACES = 6  # the root, setup, and a chapter's subpackages (06: evaluation, experiments, models, quiz)


def test_importing_the_package_loads_no_torch():
    code = "import sys, fakeface_lib; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_public_name_resolves_to_its_modules_object():
    from fakeface_lib.training import fit as training

    for name in fakeface_lib.__all__:
        assert getattr(fakeface_lib, name) is not None, name
    assert fakeface_lib.fit is training.fit
    assert set(fakeface_lib.__all__) <= set(dir(fakeface_lib))
    with pytest.raises(AttributeError, match="no_such_name"):
        fakeface_lib.no_such_name  # noqa: B018


def _fakeface_imports(path: Path) -> dict[str, set[str]]:
    """The fakeface_lib modules a notebook imports from, each with the names it takes."""
    modules: dict[str, set[str]] = {}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            code = "\n".join(re.sub(r"^(\s*)[%!].*$", r"\1pass", line)
                             for line in cell.source.splitlines())
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fakeface_lib"):
                    modules.setdefault(node.module, set()).update(a.name for a in node.names)
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        if alias.name.startswith("fakeface_lib"):
                            modules.setdefault(alias.name, set())
    return modules


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_import_from_a_handful_of_modules(path):
    modules = _fakeface_imports(path)
    places = {".".join(module.split(".")[:2]) for module in modules}
    assert len(modules) <= MAX_MODULES, f"{path.name} imports from {sorted(modules)}"
    assert len(places) <= MAX_PLACES, f"{path.name} draws on {sorted(places)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_take_the_core_from_the_root_and_the_rest_from_its_module(path):
    """One spelling per name: what the root exports is imported from the root, and a name from
    a module is imported from the module that defines it."""
    for module, names in _fakeface_imports(path).items():
        if module == "fakeface_lib":
            assert names <= set(fakeface_lib.__all__), sorted(names - set(fakeface_lib.__all__))
            continue
        assert not names & set(fakeface_lib.__all__), f"{path.name}: {sorted(names)} from the root"
        defining = importlib.import_module(module)
        for name in names:
            assert getattr(getattr(defining, name), "__module__", module) == module, name
