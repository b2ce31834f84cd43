"""The notebook series: the shared convention, stored stripped, and one smoke run of all of it.

The smoke run goes through the same code path as `make demo` (the runner), once per session.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from fakeface_lib.colab import GITHUB_REPO, colab_url

ROOT = Path(__file__).resolve().parents[1]
SERIES = ["00_preprocessing", "01_model1", "02_model2_1", "03a_model2_2_augmentation", "03b_the_leak",
          "04_resnet18_finetuning", "05_results_and_explanations", "06_spot_the_fake"]
TRAINING = SERIES[1:6]


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)


def _parameters_cell(nb) -> nbformat.NotebookNode:
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "exactly one cell must be tagged 'parameters'"
    return cells[0]


def test_the_series_is_complete():
    found = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))
    assert found == SERIES


@pytest.mark.parametrize("name", SERIES)
def test_stored_without_outputs(name):
    for cell in _read(name).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, \
                f"{name}: strip outputs before committing (jupyter nbconvert --clear-output)"


@pytest.mark.parametrize("name", SERIES)
def test_first_cell_title_chapter_and_badge_to_itself(name):
    first = _read(name).cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    badge = re.search(r"\((https://colab\.research\.google\.com/github/[^)]+)\)", first.source)
    assert badge, f"{name}: the first cell needs an 'Open in Colab' badge"
    assert badge.group(1) == colab_url(f"{name}.ipynb")
    assert "report" in first.source.lower(), f"{name}: say which chapter of the report it mirrors"


@pytest.mark.parametrize("name", SERIES)
def test_setup_installs_only_on_colab(name):
    nb = _read(name)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    installs = [ln for ln in code.splitlines() if re.search(r"(%|!)pip install", ln)]
    assert installs, f"{name}: the setup cell must install the library on Colab"
    setup = next(c.source for c in nb.cells if c.cell_type == "code" and "pip install" in c.source)
    assert '"google.colab" in sys.modules' in setup
    assert GITHUB_REPO in setup
    assert re.search(r"setup_(notebook|chapter)\(", code), \
        f"{name}: show the device with setup_notebook() or setup_chapter()"


@pytest.mark.parametrize("name", SERIES)
def test_parameters_cell(name):
    source = _parameters_cell(_read(name)).source
    for param in ("DATA", "SMOKE", "BATCH_SIZE", "SEED", "RESULTS_DIR", "DATA_DIR"):
        assert re.search(rf"^{param}\s*=", source, re.M), f"{name}: parameters cell lacks {param}"
    if name in TRAINING:
        assert re.search(r"^EPOCHS\s*=\s*\d+", source, re.M), f"{name}: EPOCHS must be a literal"


@pytest.mark.parametrize("name", SERIES)
def test_ends_with_exercises(name):
    markdown = [c.source for c in _read(name).cells if c.cell_type == "markdown"]
    assert any("exercise" in m.lower() for m in markdown[-3:]), f"{name}: end with exercises"


# A class per notebook (issue 27): these chapters already keep to it; the rest join as they do.
ONE_CLASS = ["00_preprocessing", "01_model1", "02_model2_1", "03a_model2_2_augmentation", "03b_the_leak",
             "04_resnet18_finetuning", "05_results_and_explanations", "06_spot_the_fake"]
MAX_WORDS = 2500  # about 20 minutes of reading
TEST_ONCE = ["01_model1", "02_model2_1", "03a_model2_2_augmentation",
             "04_resnet18_finetuning"]  # chapters whose chosen model meets the test set


def _prose_words(nb) -> int:
    return sum(len(c.source.split()) for c in nb.cells if c.cell_type == "markdown")


def _code(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("name", ONE_CLASS)
def test_a_class_reads_in_about_twenty_minutes(name):
    assert _prose_words(_read(name)) <= MAX_WORDS, f"{name}: move what goes beyond the lesson out"


@pytest.mark.parametrize("path", [ROOT / "notebooks" / f"{n}.ipynb" for n in ONE_CLASS]
                         + [ROOT / "notebooks" / "solutions" / f"{n}_solutions.ipynb" for n in ONE_CLASS],
                         ids=lambda p: p.stem)
def test_smoke_mode_stays_out_of_the_lesson(path):
    """SMOKE in the parameters cell and once after it: the setup call keeps the rest."""
    nb = nbformat.read(path, as_version=4)
    params = _parameters_cell(nb)
    outside = [c for c in nb.cells if c.cell_type == "code" and c is not params]
    uses = sum(len(re.findall(r"\bSMOKE\b", c.source)) for c in outside)
    assert uses <= 1, f"{path.name}: SMOKE appears {uses} times after the parameters cell"
    assert "checkpoint_plan(" not in _code(nb) and "smoke_subset(" not in _code(nb)


@pytest.mark.parametrize("name", TEST_ONCE)
def test_the_chosen_model_meets_the_test_set_once(name):
    code = _code(_read(name))
    for call in ("summarize_metrics(", "plot_test_summary("):
        assert code.count(call) == 1, f"{name}: {call} should show the chosen model's test figures once"


@pytest.mark.xdist_group("series")  # one worker runs the series once (make test: -n 2)
@pytest.mark.slow
@pytest.mark.parametrize("name", SERIES)
def test_notebook_executes_without_errors(executed_series, name):
    executed = executed_series.notebook(name)
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{name}: {errors[0]['ename']}: {errors[0]['evalue']}"


@pytest.mark.xdist_group("series")
@pytest.mark.slow
def test_report_lists_every_model(executed_series):
    report = executed_series.report.read_text()
    assert (executed_series.base / "report.html").read_text().startswith("<!doctype html>")
    for model in ("Model 1", "Model 2.1", "Model 2.2", "ResNet18"):
        assert re.search(rf"^\| {re.escape(model)}", report, re.M), f"report table lacks {model}"
    assert "NO (leaky)" in report, "the leaky protocol's run must be in the table, marked"


@pytest.mark.xdist_group("series")
@pytest.mark.slow
def test_quiz_notebook_pits_a_simulated_student_against_the_chosen_network(executed_series):
    """In smoke mode nobody clicks: notebook 06's simulated student answers, beside the run
    chosen on validation from those 01-04 saved, and the report shows both scores."""
    executed = executed_series.notebook("06_spot_the_fake")
    printed = "".join("".join(o.get("text", "")) for c in executed["cells"] for o in c.get("outputs", []))
    assert "chosen on validation" in printed and "stand-in" not in printed
    assert "The simulated student answered" in printed
    assert list(executed_series.results.glob("quiz_*/quiz_*_simulated-student.csv"))
    report = executed_series.report.read_text()
    assert re.search(r"^\*\*Spot the fake \(notebook 06, quiz [0-9a-f]{8}, \d+ test faces\):\*\* "
                     r"simulated student \d+/\d+ = ", report, re.M), "the report lacks the quiz"


@pytest.mark.xdist_group("series")
@pytest.mark.slow
def test_resnet18_notebook_fine_tunes_pretrained_weights_unedited(executed_series):
    """Notebook 04's online path, run offline: the weights file sits in the torch hub cache, as
    after a download (executed_series puts it there), and the notebook uses it (no fallback
    notice, runs marked pretrained). The offline fallback is tests/test_models.py's."""
    name = "04_resnet18_finetuning"
    assert "No pretrained weights" not in (executed_series.executed / f"{name}.ipynb").read_text()
    for run in ("resnet18_frozen", "resnet18_finetune"):
        record = json.loads((executed_series.results / f"{run}.json").read_text())
        assert record["pretrained"] is True, run
        assert "no pretrained weights" not in record["title"], record["title"]
    frozen = json.loads((executed_series.results / "resnet18_frozen.json").read_text())
    assert frozen["params"] == 11_177_538 and frozen["trained"] == "head only"


@pytest.mark.slow
def test_quiz_notebook_waits_for_the_student_when_interactive(tmp_path):
    """With someone to click (INTERACTIVE, no smoke) the quiz widget is shown and *Run all* stops
    at the next cell, saying what to do, instead of scoring an unfinished quiz."""
    from fakeface_lib.runner.series import NotebookFailed, execute_notebook

    name = "06_spot_the_fake"
    params = {"DATA": "demo", "SMOKE": False, "INTERACTIVE": True, "EPOCHS": 1,
              "DATA_DIR": str(tmp_path / "data"), "RESULTS_DIR": str(tmp_path / "results")}
    with pytest.raises(NotebookFailed, match="QuizNotFinished: 0 of 18 faces answered"):
        execute_notebook(ROOT / "notebooks" / f"{name}.ipynb", tmp_path / "out", params)
    executed = json.loads((tmp_path / "out" / f"{name}.ipynb").read_text())
    outputs = [o for c in executed["cells"] for o in c.get("outputs", [])]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    assert not list((tmp_path / "results").rglob("quiz_*.csv")), "nothing saved before the end"
