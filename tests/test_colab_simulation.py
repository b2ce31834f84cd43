"""The series as a student runs it on Colab: one fresh machine per notebook, results found on Drive,
and every byte written to Drive (replaced versions included, as Drive's Trash keeps them) counted.

At the demo's sizes with checkpoints on; Model 2 at the smoke size (34 M parameters, its checkpoint
still above Drive's limit: tests/test_models.py) takes the path a real run takes. The full
recipe's figure is worked out in benchmarks/results.md (bench_drive_budget.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakeface_lib.evaluation.results import load_runs

# The series runs once, in conftest.executed_series; its xdist group keeps it on one worker.
pytestmark = pytest.mark.xdist_group("series")
GB = 1024**3
DRIVE_WRITTEN_BUDGET, DRIVE_LEFT_BUDGET = 2 * GB, 1 * GB


def _outputs(base: Path, name: str) -> str:
    executed = json.loads((base / "executed" / f"{name}.ipynb").read_text())
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{name}: {errors[0]['ename']}: {errors[0]['evalue']}"
    texts = [o.get("text", "") for c in executed["cells"] for o in c.get("outputs", [])]
    return "".join("".join(t) if isinstance(t, list) else t for t in texts)


@pytest.mark.slow
def test_each_notebook_on_its_own_machine_finds_the_others_results_on_drive(executed_series):
    base = executed_series.base
    drive = base / "drive" / "fakeface"
    names = sorted(p.stem for p in (drive / "results" / "smoke-demo").glob("*.json"))
    assert {"model1", "model2_1", "model2_2", "resnet18_finetune", "resnet18_frozen"} <= set(names)
    out = _outputs(base, "05_results_and_explanations")
    assert "Loaded notebook 01's Model 1 from" in out and "Training Model 1 here" not in out
    saved = load_runs(drive / "results" / "smoke-demo")  # what notebooks 01-04 saved
    assert f"Comparing {len(saved)} run(s) on demo data, SMOKE runs" in out
    for name in ("00_preprocessing", "01_model1", "02_model2_1", "03a_model2_2_augmentation",
                 "03b_the_leak", "04_resnet18_finetuning", "06_spot_the_fake"):
        assert "Mounted at" in _outputs(base, name), f"{name} did not mount Drive"
    quiz = _outputs(base, "06_spot_the_fake")  # the quiz's opponent comes from Drive too
    assert "chosen on validation" in quiz and "stand-in" not in quiz
    assert list((drive / "results" / "smoke-demo").glob("quiz_*/quiz_*_simulated-student.csv"))


@pytest.mark.slow
def test_drive_stays_within_the_budget_and_model2_never_goes_there(executed_series):
    base, use = executed_series.base, executed_series.use
    assert not use.unseen, f"files on Drive written behind the ledger's back: {use.unseen}"
    assert use.total_written <= DRIVE_WRITTEN_BUDGET, use.written
    assert use.left <= DRIVE_LEFT_BUDGET
    assert use.written["02_model2_1"] < 10 * 2**20  # results only: Model 2's state is local
    assert use.written["03a_model2_2_augmentation"] < 10 * 2**20  # three Model 2 runs, results only
    assert 0 < use.written["06_spot_the_fake"] < 2**20  # the quiz's answers, summary and section 7's predictions: kB
    assert use.written["01_model1"] > 100 * 2**20  # Model 1's checkpoint does go to Drive
    checkpoints = base / "drive" / "fakeface" / "checkpoints"
    assert not any(p.name.startswith("model2_1") or p.name in ("model2_2", "model2_2_strong_blur")
                   for p in checkpoints.iterdir())
    out = _outputs(base, "02_model2_1")
    assert "(runtime disk)" in out and "/content/" not in out.split("(runtime disk)")[0][-10:]
