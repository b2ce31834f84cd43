"""The public API: every name a notebook uses comes from the package itself, cheaply."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import fakeface_lib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("**/*.ipynb"))
MAX_MODULES = 3  # fakeface_lib's own modules a notebook may import from


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


def _fakeface_modules(path: Path) -> set[str]:
    modules = set()
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            code = "\n".join(re.sub(r"^(\s*)[%!].*$", r"\1pass", line)
                             for line in cell.source.splitlines())
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fakeface_lib"):
                    modules.add(node.module)
                elif isinstance(node, ast.Import):
                    modules |= {a.name for a in node.names if a.name.startswith("fakeface_lib")}
    return modules


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_import_from_a_handful_of_modules(path):
    modules = _fakeface_modules(path)
    assert len(modules) <= MAX_MODULES, f"{path.name} imports from {sorted(modules)}"
