"""Where notebooks save: Drive on Colab for what is small, the runtime's disk for what is not."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch import nn

from fakeface_lib import colab
from fakeface_lib.config import TrainConfig
from fakeface_lib.models.cnn import Model1, Model2


@pytest.fixture
def on_colab(tmp_path, monkeypatch):
    """A Colab runtime whose /content is tmp_path and whose Drive is already mounted."""
    monkeypatch.setenv("FAKEFACE_COLAB_CONTENT", str(tmp_path))
    (tmp_path / "drive" / "MyDrive").mkdir(parents=True)
    monkeypatch.setattr(colab, "in_colab", lambda: True)
    return tmp_path


def test_results_dir_is_local_off_colab_on_drive_in_colab_and_scoped_by_data(tmp_path, monkeypatch, on_colab):
    drive = on_colab / "drive" / "MyDrive" / "fakeface"
    assert colab.results_dir("results") == drive / "results"
    assert colab.results_dir("results", data="kaggle") == drive / "results" / "kaggle"
    assert colab.results_dir("results", data="demo", smoke=True) == drive / "results" / "smoke-demo"
    absolute = tmp_path / "elsewhere"
    assert colab.results_dir(absolute) == absolute and absolute.is_dir()
    monkeypatch.setattr(colab, "in_colab", lambda: False)
    monkeypatch.chdir(tmp_path)
    assert colab.results_dir("results", data="demo") == Path("results/demo") and Path("results/demo").is_dir()


@pytest.mark.parametrize("data, scope", [
    ("kaggle", "kaggle"), ("demo", "demo"), ("/content/drive/MyDrive/real_and_fake_face/", "data-real_and_fake_face"),
    ("archive.zip", "data-archive"), ("1AbC-dEf_2", "data-1AbC-dEf_2")])
def test_data_scope_names_a_folder_per_data_source(data, scope):
    assert colab.data_scope(data) == scope
    assert colab.data_scope(data, smoke=True) == f"smoke-{scope}"


def test_declining_drive_keeps_results_on_the_runtime_disk(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FAKEFACE_COLAB_CONTENT", str(tmp_path))
    monkeypatch.setattr(colab, "in_colab", lambda: True)

    def declined():
        raise ValueError("mount failed")

    monkeypatch.setattr(colab, "drive_folder", declined)
    assert colab.results_dir("results", data="kaggle") == tmp_path / "fakeface" / "results" / "kaggle"
    assert "stays on this runtime's disk" in capsys.readouterr().out


def test_model1_checkpoints_go_to_drive_twice_per_run_model2_stays_on_the_runtime_disk(on_colab):
    cfg = TrainConfig(num_epochs=10)
    small = colab.checkpoint_plan("model1", Model1(), cfg)
    assert small.where == "drive" and small.every == 5
    assert small.dir == on_colab / "drive" / "MyDrive" / "fakeface" / "checkpoints" / "model1"
    assert 120 * colab.MiB < small.size < 140 * colab.MiB  # weights, Adam's two buffers, best weights
    big = colab.checkpoint_plan("model2_2", Model2(), TrainConfig(num_epochs=30, optimizer="adadelta", lr=0.1))
    assert big.where == "runtime disk" and big.every == colab.LOCAL_EVERY
    assert big.dir == on_colab / "fakeface" / "checkpoints" / "model2_2" and big.size > 2000 * colab.MiB
    assert "runtime disk" in str(big)


def test_off_colab_small_checkpoints_every_epoch_large_ones_skipped_under_the_runner(tmp_path, monkeypatch):
    monkeypatch.setattr(colab, "in_colab", lambda: False)
    cfg = TrainConfig(num_epochs=3)
    plan = colab.checkpoint_plan("tiny", nn.Linear(4, 2), cfg, local_root=tmp_path / "ckpt")
    assert plan.dir == tmp_path / "ckpt" / "tiny" and plan.every == 1 and plan.where == "local"
    big = colab.checkpoint_plan("model2_1", Model2(), cfg, local_root=tmp_path / "ckpt")
    assert big.dir == tmp_path / "ckpt" / "model2_1" and big.every == 3  # LOCAL_EVERY, capped
    runner = colab.checkpoint_plan("model2_1", Model2(), cfg, scratch_dir=tmp_path / "scratch")
    assert runner.dir is None and runner.where == "skipped" and not (tmp_path / "scratch").exists()
    assert str(runner).startswith("Checkpoints skipped: about 2,0") and "deletes" in str(runner)
    small = colab.checkpoint_plan("tiny", nn.Linear(4, 2), cfg, scratch_dir=tmp_path / "scratch",
                                  local_root=tmp_path / "ckpt")
    assert small.dir == tmp_path / "ckpt" / "tiny"  # small ones are kept in the run folder
    off = colab.checkpoint_plan("tiny", nn.Linear(4, 2), cfg, enabled=False)
    assert off.dir is None and str(off).startswith("Checkpoints off")


def test_frozen_backbone_needs_no_optimizer_state_for_it():
    model = nn.Sequential(nn.Linear(1000, 1000), nn.Linear(1000, 2))
    for p in model[0].parameters():
        p.requires_grad_(False)
    weights = sum(p.numel() for p in model.parameters()) * 4
    head = sum(p.numel() for p in model[1].parameters()) * 4
    assert colab.checkpoint_size(model, "adam") == 2 * weights + 2 * head


def test_a_skipped_plan_trains_without_resuming_as_the_notebooks_call_fit(tmp_path, monkeypatch, noise_loaders):
    from fakeface_lib.training.fit import fit

    monkeypatch.setattr(colab, "in_colab", lambda: False)
    monkeypatch.setattr(colab, "DRIVE_CHECKPOINT_LIMIT", 0)  # any model counts as large here
    model = nn.Sequential(nn.Flatten(), nn.LazyLinear(2))
    model(next(iter(noise_loaders["train"]))[0])
    cfg = TrainConfig(num_epochs=1, batch_size=8)
    plan = colab.checkpoint_plan("tiny", model, cfg, scratch_dir=tmp_path / "scratch")
    assert plan.where == "skipped" and not plan.resume
    history = fit(model, noise_loaders, cfg, checkpoints=plan, progress=False)  # the notebooks' call
    assert len(history) == 1 and not list(tmp_path.rglob("*.pt"))
    kept = colab.checkpoint_plan("tiny", model, cfg, local_root=tmp_path / "ckpt")
    assert kept.resume and kept.dir == tmp_path / "ckpt" / "tiny"


def test_notebooks_hand_fit_their_plan_not_the_checkpoint_switch():
    import nbformat

    root = Path(__file__).resolve().parents[1] / "notebooks"
    for path in sorted(root.glob("**/*.ipynb")):
        code = "\n".join(c.source for c in nbformat.read(path, 4).cells if c.cell_type == "code")
        assert "resume=CHECKPOINT" not in code, f"{path.name}: pass checkpoints=<plan> to fit()"
        assert "checkpoint_dir=" not in code, f"{path.name}: pass checkpoints=<plan> to fit()"
