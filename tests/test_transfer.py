"""Notebook 04 writes transfer learning out in plain PyTorch (new ``fc``, ``requires_grad=False``,
two parameter groups); its cells, run here with ``WEIGHTS = None``, give exactly what the
library's ``build_resnet18`` and ``resnet18_param_groups`` give.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from fakeface_lib.models.resnet import build_resnet18, resnet18_param_groups
from fakeface_lib.utils import count_parameters, seed_everything

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "04_resnet18_finetuning.ipynb"
CELLS = ("resnet18-load", "resnet18-transfer", "resnet18-groups")  # the notebook's own lines


def _runnable(source: str) -> str:
    """A cell's source with IPython's magics (``%pip ...``) made plain Python."""
    return re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.M)


@pytest.fixture(scope="module")
def notebook() -> dict:
    """The namespace after notebook 04's setup imports, parameters (WEIGHTS = None) and CELLS."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    by_id = {cell["id"]: cell for cell in nb.cells}
    setup = next(c for c in nb.cells if c.cell_type == "code" and "pip install" in c.source)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    namespace: dict = {}
    exec(_runnable(setup.source), namespace)
    exec(params.source, namespace)
    namespace["WEIGHTS"] = None  # random weights: no download in tests
    for cell_id in CELLS:
        exec(by_id[cell_id].source, namespace)
    namespace["_sources"] = "\n".join(by_id[cell_id].source for cell_id in CELLS)
    return namespace


def _trainable(model) -> list[str]:
    return [name for name, param in model.named_parameters() if param.requires_grad]


def test_the_notebook_writes_the_lines_out_instead_of_calling_the_helpers(notebook):
    for helper in ("build_resnet18", "resnet18_param_groups", "freeze_backbone"):
        assert helper not in notebook["_sources"], helper
    assert "requires_grad = False" in notebook["_sources"]
    assert "nn.Linear(" in notebook["_sources"]


def test_the_notebooks_models_are_the_librarys(notebook):
    seed_everything(notebook["SEED"])  # the notebook seeds once, then builds both models
    library = {"frozen_model": build_resnet18(weights=None, freeze_backbone=True),
               "finetune_model": build_resnet18(weights=None)}
    for name, expected in library.items():
        model = notebook[name]
        assert _trainable(model) == _trainable(expected), name
        assert count_parameters(model, trainable_only=True) == count_parameters(
            expected, trainable_only=True), name
        assert count_parameters(model) == count_parameters(expected) == 11_177_538, name
        assert tuple(model.fc.weight.shape) == tuple(expected.fc.weight.shape) == (2, 512), name
        state, expected_state = model.state_dict(), expected.state_dict()
        assert state.keys() == expected_state.keys(), name
        for key in state:  # same seed, same draws: the same initial weights, new head included
            assert state[key].equal(expected_state[key]), f"{name}: {key}"
    assert _trainable(notebook["frozen_model"]) == ["fc.weight", "fc.bias"]
    assert count_parameters(notebook["frozen_model"], trainable_only=True) == 1_026


def test_the_notebooks_param_groups_are_the_librarys(notebook):
    model, groups = notebook["finetune_model"], notebook["groups"]
    expected = resnet18_param_groups(model, head_lr=notebook["HEAD_LR"],
                                     backbone_lr=notebook["BACKBONE_LR"])
    assert [g["lr"] for g in groups] == [g["lr"] for g in expected]
    for group, expected_group in zip(groups, expected, strict=True):
        assert [id(p) for p in group["params"]] == [id(p) for p in expected_group["params"]]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    backbone_lr, head_lr = (g["lr"] for g in groups)
    assert head_lr == pytest.approx(10 * backbone_lr)  # the backbone 10x slower
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in model.fc.parameters()}


def test_the_frozen_model_gives_one_group_the_head(notebook):
    groups = resnet18_param_groups(notebook["frozen_model"], head_lr=1e-3, backbone_lr=1e-4)
    assert len(groups) == 1 and groups[0]["lr"] == 1e-3
    assert sum(p.numel() for p in groups[0]["params"]) == 1_026
