"""The library's import graph, built from the source with ``ast`` (imports inside functions,
``TYPE_CHECKING`` blocks and the root's lazy table included): no cycle, no lower layer importing
a higher one, and one address per public name.

Layers, lowest first (a module may import its own layer and the ones below):

0. ``config`` (the dataset's vocabulary, TrainConfig) and ``utils`` (seeds, device, counts):
   the base everything stands on.
1. ``data``      2. ``models``      3. ``training``      4. ``evaluation``
5. ``plots``: figures of the metrics and runs of evaluation, so above it.
6. ``colab`` (where things are saved; its checkpoint plan is training's CheckpointPlan) and
   ``setup`` (a notebook's first cells: device, seeds, the series' data): the glue the notebooks
   call first, above the core they use.
7. ``experiments`` and ``quiz``: chapter material, built on the core (never on each other).
8. ``runner``: executes the notebooks; nothing in the library imports it.

The package root (``fakeface_lib/__init__.py``) re-exports the core path and sits above
layers 0-6 (it may not reach 7-8); no module imports the root, so there is no cycle through it.
Subpackage ``__init__`` files hold a docstring only.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import fakeface_lib

PACKAGE = Path(fakeface_lib.__file__).resolve().parent
ROOT = "fakeface_lib"
LAYERS = {
    "config": 0, "utils": 0, "data": 1, "models": 2, "training": 3, "evaluation": 4, "plots": 5,
    "colab": 6, "setup": 6, "experiments": 7, "quiz": 7, "runner": 8,
}
ROOT_LAYER = 6.5  # above the core it re-exports, below the chapter material and the runner
SIBLINGS_APART = {"experiments", "quiz"}  # one layer, but neither imports the other


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p, package): p for p in sorted(package.rglob("*.py"))}


def _resolve(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """The package modules ``name`` imports anywhere in its source (functions included); a
    ``from package import module`` counts as importing that module. The root's lazy table
    (``_API``, module names as strings) counts as imports too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node, name, path.name == "__init__.py")
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules}
        elif (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            found.add(node.args[0].value)
        elif (isinstance(node, ast.Assign) and name == ROOT
              and any(getattr(t, "id", None) == "_API" for t in node.targets)):
            found |= {k.value for k in node.value.keys}
    return {m for m in found if m in modules and m != name}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = source_modules(package)
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def area(module: str) -> str:
    return module.split(".")[1] if "." in module else ROOT


def layer(module: str) -> float:
    return ROOT_LAYER if module == ROOT else LAYERS[area(module)]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for importer, targets in graph.items():
        for target in targets:
            a, b = area(importer), area(target)
            if target == ROOT:
                wrong.append(f"{importer} imports the package root (import from the defining module)")
            elif layer(target) > layer(importer) or (a != b and {a, b} <= SIBLINGS_APART):
                wrong.append(f"{importer} (layer {layer(importer)}) imports {target} "
                             f"(layer {layer(target)})")
    return sorted(wrong)


def _top_level_names(tree: ast.Module) -> tuple[set[str], dict[str, ast.AST]]:
    defined, imported = set(), {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        defined.add(leaf.id)
        elif isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(ROOT)):
            for alias in node.names:
                imported[alias.asname or alias.name] = node
    return defined, imported


def addresses(package: Path = PACKAGE) -> tuple[dict[str, list[str]], list[str]]:
    """Each public name's defining modules, and the re-exports: a package name imported into a
    module that never uses it (a forwarder), a name listed in ``__all__`` that the module does not
    define, or any import in a subpackage ``__init__``. The root's re-exports are its job."""
    defined_in: dict[str, list[str]] = {}
    forwarders = []
    for name, path in source_modules(package).items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined, imported = _top_level_names(tree)
        for public in sorted(n for n in defined if not n.startswith("_")):
            defined_in.setdefault(public, []).append(name)
        if name == ROOT:
            continue
        if path.name == "__init__.py" and imported:
            forwarders.append(f"{name}: a subpackage __init__ imports {sorted(imported)}")
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
                and not isinstance(n.ctx, ast.Store)}
        used |= {n.value.id for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                 and isinstance(n.value, ast.Name)}
        forwarders += [f"{name} re-exports {n}" for n in sorted(set(imported) - used)]
        if "__getattr__" in defined:
            forwarders.append(f"{name} defines a module __getattr__ (names served from elsewhere)")
        exported = next((node.value for node in tree.body if isinstance(node, ast.Assign)
                         and any(getattr(t, "id", None) == "__all__" for t in node.targets)), None)
        if exported is not None:
            listed = {e.value for e in getattr(exported, "elts", []) if isinstance(e, ast.Constant)}
            forwarders += [f"{name} lists {n} in __all__ without defining it"
                           for n in sorted(listed - defined)]
    return defined_in, sorted(forwarders)


GRAPH = import_graph()


def test_every_module_is_in_a_layer():
    assert {area(m) for m in GRAPH} - {ROOT} <= set(LAYERS)


def test_the_import_graph_has_no_cycle():
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH))


def test_no_lower_layer_imports_a_higher_one():
    assert upward_imports(GRAPH) == []


def test_each_public_name_has_one_address():
    defined_in, forwarders = addresses()
    twice = {name: places for name, places in defined_in.items() if len(places) > 1}
    assert twice == {}, "defined at two addresses"
    assert forwarders == [], "re-exported outside the package root"


def _imported_names(path: Path) -> list[tuple[str, str, int]]:
    """(module, name, line) of every ``from fakeface_lib... import name`` in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.module, alias.name, node.lineno) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and not node.level
            and (node.module or "").split(".")[0] == ROOT for alias in node.names]


def wrong_addresses(paths: list[Path], package: Path = PACKAGE) -> list[str]:
    """Imports that take a name from another module than the one defining it (the root's
    exports excepted): a second address in use."""
    defined_in, _ = addresses(package)
    modules = set(source_modules(package))
    wrong = []
    for path in paths:
        for module, name, line in _imported_names(path):
            if (f"{module}.{name}" in modules or name.startswith("_")
                    or (module == ROOT and name in fakeface_lib.__all__)):
                continue
            if defined_in.get(name) != [module]:
                wrong.append(f"{path.name}:{line} imports {name} from {module}, defined in "
                             f"{defined_in.get(name)}")
    return wrong


def test_library_tests_and_benchmarks_import_each_name_from_its_definition():
    repo = PACKAGE.parent
    paths = [*PACKAGE.rglob("*.py"), *(repo / "tests").rglob("*.py"), *(repo / "benchmarks").glob("*.py")]
    assert wrong_addresses([p for p in paths if p.name != "test_import_graph.py"]) == []


def test_the_root_reexports_only_core_definitions_and_its_two_tables_agree():
    """The lazy table (what runs) and the TYPE_CHECKING imports (what editors read) name the
    same modules and names, and each name is defined where it is said to be."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If)
                 and getattr(n.test, "id", None) == "TYPE_CHECKING")
    typed = {(node.module, a.name) for node in block.body for a in node.names}
    lazy = {(module, name) for module, names in fakeface_lib._API.items() for name in names}
    assert typed == lazy
    defined_in, _ = addresses()
    for module, name in lazy:
        assert defined_in.get(name) == [module], (name, module, defined_in.get(name))
        assert layer(module) < ROOT_LAYER, f"{module} is chapter material or the runner"
        assert getattr(importlib.import_module(module), name) is getattr(fakeface_lib, name)
    assert len(lazy) <= 60, f"the root exports {len(lazy)} names: keep it to the core path"


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "fakeface_lib" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "fakeface_lib"


def test_the_checks_catch_a_cycle_an_upward_import_and_a_forwarder(tmp_path):
    package = _write(tmp_path, {
        "__init__.py": "",
        "data/__init__.py": '"""data"""\n',
        "data/index.py": "def index_dataset():\n"
                         "    from fakeface_lib.models.cnn import Model1  # upward, in a function\n"
                         "    return Model1\n",
        "models/__init__.py": '"""models"""\n',
        "models/cnn.py": "from fakeface_lib.data.index import index_dataset\n"
                         "from fakeface_lib.data import index as forwarded  # noqa\n"
                         "class Model1:\n    data = index_dataset\n",
        "training/__init__.py": "from fakeface_lib.training.fit import fit\n",
        "training/fit.py": "def fit():\n    pass\n\ndef index_dataset():\n    pass\n\n"
                           "def __getattr__(name):\n    return fit\n",
    })
    graph = import_graph(package)
    assert find_cycle(graph) == ["fakeface_lib.data.index", "fakeface_lib.models.cnn",
                                 "fakeface_lib.data.index"]
    assert upward_imports(graph) == ["fakeface_lib.data.index (layer 1) imports "
                                     "fakeface_lib.models.cnn (layer 2)"]
    defined_in, forwarders = addresses(package)
    assert defined_in["index_dataset"] == ["fakeface_lib.data.index", "fakeface_lib.training.fit"]
    assert wrong_addresses([package / "models" / "cnn.py"], package) == [
        "cnn.py:1 imports index_dataset from fakeface_lib.data.index, defined in "
        "['fakeface_lib.data.index', 'fakeface_lib.training.fit']"]
    assert forwarders == ["fakeface_lib.models.cnn re-exports forwarded",
                          "fakeface_lib.training re-exports fit",
                          "fakeface_lib.training.fit defines a module __getattr__ (names served "
                          "from elsewhere)",
                          "fakeface_lib.training: a subpackage __init__ imports ['fit']"]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: module_name(p))
def test_each_module_says_what_it_owns_in_about_300_lines(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{path.name} opens without a docstring"
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 330, f"{module_name(path)} has {lines} lines: split it by job"
