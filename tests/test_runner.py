"""The main job's runner: epoch scaling, parameter injection, failing notebooks, the CLI."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

from fakeface_lib.runner.__main__ import main
from fakeface_lib.runner.series import (
    NotebookFailed, RunOptions, check_overrides, execute_notebook, notebook_parameters,
    parse_override, resolve_data, run_series, scaled_epochs, series_notebooks,
)
from fakeface_lib.runner.runs import prune_runs, run_folders, usage_note


def _notebook(path: Path, body: str, params: str = "DATA = 'demo'\nSMOKE = False\nEPOCHS = 20") -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("default, scale, expected", [(10, 1.0, 10), (20, 0.1, 2), (30, 0.05, 2),
                                                       (10, 0.01, 1), (10, 0.25, 3)])
def test_scaled_epochs(default, scale, expected):
    assert scaled_epochs(default, scale) == expected


@pytest.mark.parametrize("scale", [0, -1, float("nan")])
def test_scaled_epochs_rejects_bad_scale(scale):
    with pytest.raises(ValueError, match="epochs-scale"):
        scaled_epochs(10, scale)


def test_parameters_only_those_declared_and_epochs_scaled(tmp_path):
    nb = _notebook(tmp_path / "01_x.ipynb", "pass")
    opts = RunOptions(data="demo", smoke=False, epochs_scale=0.1)
    params = notebook_parameters(nb, opts, tmp_path / "results")
    assert params == {"DATA": "demo", "SMOKE": False, "EPOCHS": 2}
    smoke = notebook_parameters(nb, RunOptions(smoke=True), tmp_path / "results")
    assert smoke == {"DATA": "demo", "SMOKE": True}, "smoke notebooks choose their own epochs"


def test_notebook_without_parameters_cell_is_refused(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, tmp_path / "00_plain.ipynb")
    with pytest.raises(NotebookFailed, match="parameters"):
        notebook_parameters(tmp_path / "00_plain.ipynb", RunOptions(), tmp_path)


@pytest.mark.slow
def test_failing_notebook_stops_the_run_naming_notebook_and_error(tmp_path, capsys):
    good = _notebook(tmp_path / "00_good.ipynb", "print('fine')")
    bad = _notebook(tmp_path / "01_bad.ipynb", "raise ValueError('broken on purpose')")
    after = _notebook(tmp_path / "02_after.ipynb", "print('never')")
    opts = RunOptions(out=tmp_path / "out", notebooks=[good, bad, after])
    with pytest.raises(NotebookFailed) as err:
        run_series(opts)
    message = str(err.value)
    assert "01_bad.ipynb" in message and "ValueError" in message and "broken on purpose" in message
    assert (tmp_path / "out" / "00_good.ipynb").exists()
    assert not (tmp_path / "out" / "02_after.ipynb").exists()


def test_cli_reports_failure_with_exit_code(tmp_path, capsys, monkeypatch):
    def boom(opts):
        raise NotebookFailed("03_x.ipynb failed in cell 4: KeyError: 'y'")

    monkeypatch.setattr("fakeface_lib.runner.series.run_series", boom)
    assert main(["run", "--out", str(tmp_path)]) == 1
    assert "03_x.ipynb failed in cell 4" in capsys.readouterr().err


def test_cli_rejects_unknown_arguments():
    with pytest.raises(SystemExit):
        main(["run", "--epochs", "3"])


@pytest.mark.parametrize("data", ["demo", "kaggle", "1AbCdEfGhIjKlMnOpQrStUvWxYz",
                                  "https://drive.google.com/file/d/1AbCdEfGhIjKlMnOpQrStUvWxYz/view"])
def test_resolve_data_leaves_keywords_and_drive_sources_alone(tmp_path, data):
    assert resolve_data(data, tmp_path) == data


def test_resolve_data_makes_existing_paths_absolute(tmp_path):
    (tmp_path / "some").mkdir()
    (tmp_path / "some" / "archive.zip").write_bytes(b"PK")
    assert resolve_data("some/archive.zip", tmp_path) == str(tmp_path / "some" / "archive.zip")
    assert resolve_data("some", tmp_path) == str(tmp_path / "some")


@pytest.mark.parametrize("data", ["archive.zip", "some/folder"])
def test_resolve_data_refuses_a_missing_path_naming_where_it_looked(tmp_path, data):
    with pytest.raises(FileNotFoundError) as err:
        resolve_data(data, tmp_path)
    assert data in str(err.value) and str(tmp_path / data) in str(err.value)


def _capture_run(monkeypatch, notebooks: list[Path],
                 fail_on: str | None = None) -> list[tuple[str, dict, Path]]:
    """run_series with the series replaced by ``notebooks`` and nothing executed: the calls it makes
    (the notebook named ``fail_on`` raises NotebookFailed)."""
    calls = []

    def fake_execute(path, out_dir, params, cwd=None, pythonpath=()):
        if "SCRATCH_DIR" in params:
            assert Path(params["SCRATCH_DIR"]).is_dir(), "the scratch folder exists while notebooks run"
        calls.append((Path(path).name, params, Path(out_dir)))
        if Path(path).name == fail_on:
            raise NotebookFailed(f"{fail_on} failed")
        return 0.0

    checkout = notebooks[0].parent / "notebooks"  # the runner runs in a checkout: found from here
    checkout.mkdir(exist_ok=True)
    (checkout / "00_series.ipynb").write_text(notebooks[0].read_text())
    monkeypatch.setattr("fakeface_lib.runner.series.series_notebooks", lambda folder: notebooks)
    monkeypatch.setattr("fakeface_lib.runner.series.execute_notebook", fake_execute)
    monkeypatch.setattr("fakeface_lib.runner.report.write_report", lambda *a, **k: None)
    return calls


def test_cli_relative_paths_are_taken_from_where_the_command_runs(tmp_path, monkeypatch):
    nb = _notebook(tmp_path / "00_x.ipynb", "pass",
                   params="DATA = 'demo'\nDATA_DIR = 'data'\nRESULTS_DIR = 'results'")
    calls = _capture_run(monkeypatch, [nb])
    here = tmp_path / "elsewhere"
    (here / "some").mkdir(parents=True)
    (here / "some" / "archive.zip").write_bytes(b"PK")
    monkeypatch.chdir(here)
    assert main(["run", "--data", "some/archive.zip", "--out", "out", "--data-dir", "cache"]) == 0
    [(name, params, out_dir)] = calls
    assert params == {"DATA": str(here / "some" / "archive.zip"), "DATA_DIR": str(here / "cache"),
                      "RESULTS_DIR": str(here / "out" / "results")}
    assert out_dir == here / "out"


def test_cli_missing_data_path_stops_before_any_notebook(tmp_path, monkeypatch, capsys):
    calls = _capture_run(monkeypatch, [_notebook(tmp_path / "00_x.ipynb", "pass")])
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--data", "missing/archive.zip", "--out", "out"]) == 1
    err = capsys.readouterr().err
    assert "missing/archive.zip" in err and str(tmp_path / "missing" / "archive.zip") in err
    assert calls == [] and not (tmp_path / "out").exists()


@pytest.mark.parametrize("smoke, checkpoints, expected", [
    (True, None, False), (False, None, "absent"), (True, True, True), (False, False, False)])
def test_checkpoint_off_in_smoke_mode_unless_forced(tmp_path, smoke, checkpoints, expected):
    nb = _notebook(tmp_path / "01_x.ipynb", "pass", params="SMOKE = False\nCHECKPOINT = True")
    plain = _notebook(tmp_path / "02_y.ipynb", "pass", params="SMOKE = False")
    opts = RunOptions(smoke=smoke, checkpoints=checkpoints)
    assert notebook_parameters(nb, opts, tmp_path).get("CHECKPOINT", "absent") == expected
    assert "CHECKPOINT" not in notebook_parameters(plain, opts, tmp_path)


@pytest.mark.parametrize("flags, expected", [([], None), (["--no-checkpoints"], False),
                                             (["--checkpoints"], True)])
def test_cli_checkpoints_flag(monkeypatch, flags, expected):
    seen = []
    monkeypatch.setattr("fakeface_lib.runner.series.run_series", lambda opts: seen.append(opts) or Path("x"))
    monkeypatch.setattr("fakeface_lib.runner.runs.usage_note", lambda root: None)
    assert main(["run", "--smoke", *flags]) == 0
    assert seen[0].checkpoints is expected


def test_amp_reaches_only_the_notebooks_that_declare_it(tmp_path, monkeypatch):
    model2 = _notebook(tmp_path / "02_x.ipynb", "pass", params="SMOKE = False\nAMP = False")
    plain = _notebook(tmp_path / "01_y.ipynb", "pass", params="SMOKE = False")
    assert notebook_parameters(model2, RunOptions(amp=True), tmp_path)["AMP"] is True
    assert "AMP" not in notebook_parameters(model2, RunOptions(), tmp_path)
    assert "AMP" not in notebook_parameters(plain, RunOptions(amp=True), tmp_path)
    seen = []
    monkeypatch.setattr("fakeface_lib.runner.series.run_series", lambda opts: seen.append(opts) or Path("x"))
    monkeypatch.setattr("fakeface_lib.runner.runs.usage_note", lambda root: None)
    assert main(["run", "--amp"]) == 0 and seen[0].amp is True


def test_set_reaches_only_the_notebooks_that_declare_it(tmp_path, monkeypatch):
    leak = _notebook(tmp_path / "03_x.ipynb", "pass", params="SMOKE = False\nEXPERIMENT_MODEL = 'model2'")
    plain = _notebook(tmp_path / "01_y.ipynb", "pass", params="SMOKE = False")
    opts = RunOptions(overrides={"EXPERIMENT_MODEL": "model1"})
    assert notebook_parameters(leak, opts, tmp_path)["EXPERIMENT_MODEL"] == "model1"
    assert "EXPERIMENT_MODEL" not in notebook_parameters(plain, opts, tmp_path)
    seen = []
    monkeypatch.setattr("fakeface_lib.runner.series.run_series", lambda opts: seen.append(opts) or Path("x"))
    monkeypatch.setattr("fakeface_lib.runner.runs.usage_note", lambda root: None)
    assert main(["run", "--set", "EXPERIMENT_MODEL=model1", "--set", "COPIES=2",
                 "--set", "LEAK_EPOCHS=None"]) == 0
    assert seen[0].overrides == {"EXPERIMENT_MODEL": "model1", "COPIES": 2, "LEAK_EPOCHS": None}


def test_the_series_runs_in_course_order_and_make_demo_sets_what_it_declares():
    """03a before 03b, between 02 and 04; every --set of the Makefile's DEMO_SET is declared, the
    leak experiment's network by the leak notebook."""
    import papermill as pm

    root = Path(__file__).resolve().parents[1]
    names = [p.stem for p in series_notebooks(root / "notebooks")]
    assert names[2:6] == ["02_model2_1", "03a_model2_2_augmentation", "03b_the_leak", "04_resnet18_finetuning"]
    demo_set = re.search(r"^DEMO_SET \?= (.*)$", (root / "Makefile").read_text(), re.M).group(1)
    overrides = dict(parse_override(text) for text in re.findall(r"--set (\S+)", demo_set))
    assert overrides == {"EXPERIMENT_MODEL": "model1"}
    check_overrides(series_notebooks(root / "notebooks"), overrides)
    assert "EXPERIMENT_MODEL" in pm.inspect_notebook(str(root / "notebooks" / "03b_the_leak.ipynb"))


@pytest.mark.parametrize("text", ["EXPERIMENT_MODEL", "=model1", "2x=1"])
def test_set_without_name_and_value_stops_saying_how(text, capsys):
    assert main(["run", "--set", text]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err


def test_set_of_an_undeclared_parameter_stops_before_any_notebook(tmp_path, monkeypatch, capsys):
    calls = _capture_run(monkeypatch, [_notebook(tmp_path / "00_x.ipynb", "pass")])
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--set", "EXPERIMNT_MODEL=model1", "--out", "out"]) == 1
    err = capsys.readouterr().err
    assert "EXPERIMNT_MODEL" in err and "EPOCHS" in err  # names the typo and what is declared
    assert calls == [] and not (tmp_path / "out").exists()


@pytest.mark.parametrize("fail", [False, True])
def test_one_scratch_folder_per_job_removed_at_the_end(tmp_path, monkeypatch, capsys, fail):
    params = "SMOKE = False\nSCRATCH_DIR = None"
    notebooks = [_notebook(tmp_path / "01_a.ipynb", "pass", params=params),
                 _notebook(tmp_path / "02_b.ipynb", "pass", params="SMOKE = False"),
                 _notebook(tmp_path / "03_c.ipynb", "pass", params=params)]
    calls = _capture_run(monkeypatch, notebooks, fail_on="03_c.ipynb" if fail else None)
    if fail:
        with pytest.raises(NotebookFailed):
            run_series(RunOptions(out=tmp_path / "out"))
    else:
        run_series(RunOptions(out=tmp_path / "out"))
    scratch = {c[1].get("SCRATCH_DIR") for c in calls}
    assert len(calls) == 3 and "SCRATCH_DIR" not in calls[1][1] and len(scratch - {None}) == 1
    folder = Path((scratch - {None}).pop())
    assert folder.name.startswith("fakeface-scratch-") and not folder.exists()
    shown = capsys.readouterr()
    assert "scratch" not in shown.out + shown.err, "nothing said about it when it goes"


def test_scratch_folder_that_cannot_be_removed_is_reported(tmp_path, monkeypatch, capsys):
    _capture_run(monkeypatch, [_notebook(tmp_path / "01_a.ipynb", "pass")])
    removed = []

    def stuck(path):
        removed.append(Path(path))
        raise PermissionError("busy")

    monkeypatch.setattr("fakeface_lib.runner.series.shutil.rmtree", stuck)
    capsys.readouterr()
    run_series(RunOptions(out=tmp_path / "out"))
    err = capsys.readouterr().err
    assert "busy" in err and str(removed[0]) in err
    removed[0].rmdir()


def _fake_run(root: Path, name: str, mb: int, mtime: float) -> Path:
    folder = root / name
    (folder / "results").mkdir(parents=True)
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "last.pt").write_bytes(b"\0" * (mb * 1024 * 1024))
    os.utime(folder, (mtime, mtime))
    return folder


def test_prune_keeps_the_newest_runs_and_leaves_other_folders_alone(tmp_path):
    old = _fake_run(tmp_path, "demo-20260101-000000", 2, 1_000)
    mid = _fake_run(tmp_path, "demo-20260102-000000", 1, 2_000)
    new = _fake_run(tmp_path, "demo-20260103-000000", 1, 3_000)
    mine = tmp_path / "my_notes"
    mine.mkdir()  # no results/: not a run, never pruned
    assert run_folders(tmp_path) == [old, mid, new]

    listed = prune_runs(tmp_path, keep=1, dry_run=True)
    assert [p for p, _ in listed] == [old, mid] and old.exists() and mid.exists()

    removed = prune_runs(tmp_path, keep=1)
    assert removed == [(old, 2 * 1024 * 1024), (mid, 1024 * 1024)]
    assert not old.exists() and not mid.exists() and new.exists() and mine.exists()
    assert prune_runs(tmp_path, keep=1) == []


@pytest.mark.parametrize("keep", [-1, 1.5, True])
def test_prune_rejects_a_bad_keep(tmp_path, keep):
    with pytest.raises(ValueError, match="keep"):
        prune_runs(tmp_path, keep=keep)


def test_usage_note_only_when_runs_take_much_space(tmp_path):
    _fake_run(tmp_path, "demo-a", 3, 1_000)
    assert usage_note(tmp_path, warn_above=4 * 1024 * 1024) is None
    assert "checkpoints/ folder can go" in usage_note(tmp_path, warn_above=1024 * 1024)
    _fake_run(tmp_path, "demo-b", 3, 2_000)
    note = usage_note(tmp_path, warn_above=4 * 1024 * 1024)
    assert "2 run(s)" in note and "prune --keep 1" in note


def test_cli_prune(tmp_path, capsys):
    old = _fake_run(tmp_path, "demo-a", 1, 1_000)
    new = _fake_run(tmp_path, "demo-b", 1, 2_000)
    assert main(["prune", "--root", str(tmp_path), "--keep", "1"]) == 0
    out = capsys.readouterr().out
    assert "deleted" in out and "demo-a" in out and "1 run(s)" in out
    assert not old.exists() and new.exists()
    assert main(["prune", "--root", str(tmp_path), "--keep", "-2"]) == 1
    assert "keep must be" in capsys.readouterr().err


@pytest.mark.parametrize("error, says", [
    ("dead", "the kernel died (most often it ran out of memory)"),
    ("died at start", "the kernel died"), ("timeout", "a cell ran past its time limit")])
def test_kernel_failures_become_notebook_failed(tmp_path, monkeypatch, error, says):
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    raised = {"dead": DeadKernelError("Kernel died"), "timeout": CellTimeoutError("Cell timed out"),
              "died at start": RuntimeError("Kernel died before replying to kernel_info")}[error]

    def fail(*args, **kwargs):
        raise raised

    monkeypatch.setattr("papermill.execute_notebook", fail)
    nb = _notebook(tmp_path / "03_x.ipynb", "pass")
    with pytest.raises(NotebookFailed, match=rf"^03_x\.ipynb stopped: {re.escape(says)}.*--smoke"):
        execute_notebook(nb, tmp_path / "out", {})


def test_other_errors_pass_through_unchanged(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("something else")

    monkeypatch.setattr("papermill.execute_notebook", fail)
    with pytest.raises(RuntimeError, match="^something else$"):
        execute_notebook(_notebook(tmp_path / "03_x.ipynb", "pass"), tmp_path / "out", {})


@pytest.mark.slow
def test_dead_kernel_stops_the_run_naming_notebook_and_what_to_do(tmp_path):
    dying = _notebook(tmp_path / "01_dying.ipynb", "import os; os._exit(1)")
    after = _notebook(tmp_path / "02_after.ipynb", "print('never')")
    with pytest.raises(NotebookFailed) as err:
        run_series(RunOptions(out=tmp_path / "out", notebooks=[dying, after]))
    message = str(err.value)
    copy = tmp_path / "out" / "01_dying.ipynb"
    assert message.startswith("01_dying.ipynb stopped: the kernel died") and "memory" in message
    assert "--smoke" in message and "--epochs-scale" in message and str(copy) in message
    assert copy.exists() and not (tmp_path / "out" / "02_after.ipynb").exists()


@pytest.mark.slow
def test_kernel_is_this_interpreter_in_the_given_cwd_with_extra_pythonpath(tmp_path, monkeypatch):
    decoy = tmp_path / "decoy" / "kernels" / "python3"  # what kernel_name="python3" would find first
    decoy.mkdir(parents=True)
    (decoy / "kernel.json").write_text('{"argv": ["/nonexistent/python", "-m", "ipykernel_launcher", '
                                       '"-f", "{connection_file}"], "display_name": "decoy", '
                                       '"language": "python"}')
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "decoy"))
    monkeypatch.setenv("FAKEFACE_TEST_MARK", "inherited")
    stubs = tmp_path / "stubs" / "stub_pkg"
    stubs.mkdir(parents=True)
    (stubs / "__init__.py").write_text("NAME = 'stub'")
    body = ("import os, sys, json, stub_pkg\n"
            "json.dump([sys.executable, os.getcwd(), stub_pkg.NAME, os.environ['FAKEFACE_TEST_MARK'], X],"
            " open('seen.json', 'w'))")
    nb = _notebook(tmp_path / "00_where.ipynb", body, params="X = 0")
    work = tmp_path / "work"
    work.mkdir()
    pythonpath_before = os.environ.get("PYTHONPATH")
    seconds = execute_notebook(nb, tmp_path / "out", {"X": 7}, cwd=work, pythonpath=[tmp_path / "stubs"])
    assert seconds > 0 and (tmp_path / "out" / "00_where.ipynb").exists()
    seen = json.loads((work / "seen.json").read_text())
    assert seen == [sys.executable, str(work.resolve()), "stub", "inherited", 7]
    assert os.environ["JUPYTER_PATH"] == str(tmp_path / "decoy"), "the environment is restored"
    assert os.environ.get("PYTHONPATH") == pythonpath_before
    copy = json.loads((tmp_path / "out" / "00_where.ipynb").read_text())
    assert copy["metadata"]["kernelspec"]["name"] == "python3", "the copy opens with the usual kernel"


def test_the_runner_finds_the_checkout_from_where_it_runs_not_from_the_package(tmp_path, monkeypatch,
                                                                               capsys):
    from fakeface_lib.runner.repo import find_repo

    clone = tmp_path / "clone"
    (clone / "notebooks").mkdir(parents=True)
    (clone / "notebooks" / "00_a.ipynb").write_text("{}")
    (clone / "docs" / "deep").mkdir(parents=True)
    assert find_repo(clone / "docs" / "deep") == clone
    monkeypatch.chdir(clone / "docs")
    assert find_repo() == clone
    assert series_notebooks() == [clone / "notebooks" / "00_a.ipynb"]
    monkeypatch.chdir(tmp_path)  # no checkout here nor above: say so, name the fix
    with pytest.raises(FileNotFoundError, match="--repo"):
        find_repo()
    assert main(["prune", "--dry-run"]) == 1 and "--repo" in capsys.readouterr().err
    runner = Path(find_repo.__code__.co_filename).parent
    assert not [p.name for p in runner.glob("*.py") if "__file__" in p.read_text()], \
        "the runner never computes paths from where the package is installed"


def test_report_page_fits_a_phone_and_wide_tables_scroll_in_their_box(tmp_path):
    import pandas as pd
    from torch import nn

    from fakeface_lib.evaluation.results import save_run
    from fakeface_lib.runner.report import write_report

    preds = pd.DataFrame({"path": list("abcd"), "label": [0, 0, 1, 1], "pred": [0, 1, 1, 1],
                          "difficulty": ["easy", "hard", "real", "real"],
                          "prob_fake": [0.9, 0.4, 0.3, 0.2]})
    history = [{"epoch": 1, "train_loss": 0.7, "train_acc": 0.5, "val_loss": 0.6, "val_acc": 0.5,
                "seconds": 1.0}]
    save_run(tmp_path / "results", "m1", title="Model 1", model=nn.Linear(3, 2), history=history,
             preds=preds)
    write_report(tmp_path, tmp_path / "results", opts=RunOptions(data="demo"), timings={"01": 1.0})
    html = (tmp_path / "report.html").read_text()
    assert "name='viewport' content='width=device-width" in html
    tables = re.findall(r"<table>", html)
    assert tables and len(re.findall(r"<div class='scroll'><table>", html)) == len(tables)
    assert ".scroll{overflow-x:auto}" in html
