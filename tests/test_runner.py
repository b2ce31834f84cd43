"""The main job's runner: epoch scaling, parameter injection, failing notebooks, the CLI."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from fakeface_lib.__main__ import main
from fakeface_lib.runner import (NotebookFailed, RunOptions, notebook_parameters,
                                 run_series, scaled_epochs)
from fakeface_lib.runs import prune_runs, run_folders, usage_note


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

    monkeypatch.setattr("fakeface_lib.runner.run_series", boom)
    assert main(["run", "--out", str(tmp_path)]) == 1
    assert "03_x.ipynb failed in cell 4" in capsys.readouterr().err


def test_cli_rejects_unknown_arguments():
    with pytest.raises(SystemExit):
        main(["run", "--epochs", "3"])


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
