"""Every exercise has a hint or an expected outcome, a cost, and a solution that runs.

Chapter notebook ``notebooks/NN_name.ipynb`` (or ``NNa_name``) ends with a "## Exercises" cell of numbered items;
each item says ``*Hint:*`` or ``*Expect:*`` and ``*Cost:* about N min on a T4``. Its solutions
are ``notebooks/solutions/NN_name_solutions.ipynb``, one "## Exercise k" section per item,
run here in smoke mode through the series runner, as ``make demo`` runs the chapters.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from fakeface_lib.colab import colab_url

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))
SOLUTIONS = ROOT / "notebooks" / "solutions"


def _exercises(name: str) -> dict[int, str]:
    """{number: text} of the items of a chapter's "## Exercises" cell."""
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    cells = [c.source for c in nb.cells
             if c.cell_type == "markdown" and c.source.startswith("## Exercises")]
    assert len(cells) == 1, f"{name}: one markdown cell starting '## Exercises'"
    items = re.split(r"^(\d+)\. ", cells[0], flags=re.M)[1:]
    return {int(number): text for number, text in zip(items[::2], items[1::2])}


def _solutions(name: str) -> nbformat.NotebookNode:
    path = SOLUTIONS / f"{name}_solutions.ipynb"
    assert path.is_file(), f"{name}: its exercises need solutions in {path.relative_to(ROOT)}"
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_exercise_has_a_hint_a_cost_and_a_solution(name):
    exercises = _exercises(name)
    assert exercises, f"{name}: no numbered exercises"
    for number, text in exercises.items():
        assert "*Hint:*" in text or "*Expect:*" in text, f"{name}, exercise {number}: hint or outcome"
        assert re.search(r"\*Cost:\* [^\n]*\d+ min", text), f"{name}, exercise {number}: a cost in min"
    headings = [int(m) for c in _solutions(name).cells if c.cell_type == "markdown"
                for m in re.findall(r"^## Exercise (\d+)\b", c.source, flags=re.M)]
    assert headings == sorted(exercises), f"{name}: one '## Exercise k' section per exercise"


@pytest.mark.parametrize("name", CHAPTERS)
def test_solutions_follow_the_series_convention(name):
    nb = _solutions(name)
    assert colab_url(f"solutions/{name}_solutions.ipynb") in nb.cells[0].source
    assert [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])], "a parameters cell"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: strip outputs"


def test_one_solutions_notebook_per_chapter():
    assert sorted(p.name for p in SOLUTIONS.glob("*_solutions.ipynb")) == [
        f"{name}_solutions.ipynb" for name in CHAPTERS]


@pytest.mark.slow
@pytest.mark.xdist_group("solutions")  # a worker of its own from the start (conftest.LONG_GROUPS)
def test_every_solution_runs_in_smoke_mode(tmp_path):
    """All in one job, in order, as a class would run them: later solutions find the runs of
    earlier ones instead of training stand-ins (split per chapter, the suite took longer)."""
    from fakeface_lib.runner.series import RunOptions, run_series

    notebooks = sorted(SOLUTIONS.glob("*_solutions.ipynb"))
    out = run_series(RunOptions(data="demo", smoke=True, out=tmp_path / "run",
                                data_dir=tmp_path / "data", notebooks=notebooks))
    for path in notebooks:
        executed = nbformat.read(out / path.name, as_version=4)
        errors = [o for c in executed.cells if c.cell_type == "code"
                  for o in c.outputs if o.get("output_type") == "error"]
        assert not errors, f"{path.name}: {errors[0]['ename']}: {errors[0]['evalue']}"
