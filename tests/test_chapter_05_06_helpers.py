"""What notebooks 05 and 06 lean on: the validation set of their own split, which decides the runs
they rank, whatever runs on other images share the results folder; and notebook 06's section 7,
whose attempts read the files' own pixels, never resampled, one of them written out by hand."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

from fakeface_lib.config import MODEL1_RECIPE, REGIONS
from fakeface_lib.data.index import index_dataset
from fakeface_lib.data.loaders import make_loaders
from fakeface_lib.data.splitting import canonical_split
from fakeface_lib.evaluation.predictions import predict
from fakeface_lib.evaluation.results import (
    choose_best, comparable_runs, load_runs, save_run, split_validation_set,
)
from fakeface_lib.experiments.attempts import (
    ATTEMPTS, build_attempt, native_side, patch_side, residual_scale, run_attempt, train_attempt,
)
from fakeface_lib.experiments.patches import (
    FACE, WINDOW_BOXES, make_patch_loaders, read_patches, window_origin,
)
from fakeface_lib.models.cnn import Model1
from fakeface_lib.models.forensics import ResidualInput
from fakeface_lib.setup import smoke_subset
from fakeface_lib.training.history import History
from fakeface_lib.training.identity import data_identity
from fakeface_lib.utils import seed_everything


@pytest.fixture(scope="module")
def demo_split(demo_root) -> pd.DataFrame:
    return canonical_split(index_dataset(demo_root))


def test_the_split_validation_set_is_what_fit_records(demo_split):
    small = smoke_subset(demo_split, n_per_split=32)
    loaders = make_loaders(small, batch_size=8, image_size=16)
    seen = data_identity(loaders)["val"]  # what fit() files under the run's identity
    assert split_validation_set(small) == {**seen, "copies": None}
    assert split_validation_set(small.sample(frac=1, random_state=1)) == split_validation_set(small)
    assert split_validation_set(smoke_subset(demo_split, n_per_split=8)) != split_validation_set(small)
    with pytest.raises(ValueError, match="split"):
        split_validation_set(small.drop(columns="split"))


def _run(folder, name: str, val_acc: float, loaders: dict, model: nn.Module) -> None:
    history = History([{"epoch": 1, "train_loss": 0.7, "train_acc": 0.5, "val_loss": 0.6,
                        "val_acc": val_acc}], identity={"data": data_identity(loaders)})
    save_run(folder, name, title=name, model=model, history=history,
             preds=predict(model, loaders["test"]), data="demo", smoke=True)


def test_a_run_on_another_validation_set_is_never_chosen(demo_split, tmp_path):
    """Notebook 06 in smoke mode: runs made on 8-image subsets, the majority of the folder and
    better on their own validation, lack the quiz's faces; only a run on the quiz's split counts."""
    ours, theirs = (smoke_subset(demo_split, n_per_split=n) for n in (32, 8))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 2))
    for name, frame, val_acc in (("ours", ours, 0.6), ("small_a", theirs, 0.9),
                                 ("small_b", theirs, 0.95)):
        _run(tmp_path, name, val_acc, make_loaders(frame, batch_size=8, image_size=16), model)
    runs = load_runs(tmp_path)
    assert choose_best(runs)["name"] == "small_b"  # the most common validation set wins by default
    best = choose_best(runs, validated_on=split_validation_set(ours))
    assert best["name"] == "ours"
    assert set(ours.loc[ours["split"] == "test", "filename"]) == set(best["preds"]["filename"])
    ranked, left_out = comparable_runs(runs, validated_on=split_validation_set(ours))
    assert [run["name"] for run in ranked] == ["ours"]
    assert set(left_out) == {"small_a", "small_b"}
    assert all(why.startswith("validated on other images") for why in left_out.values())
    assert choose_best(runs, validated_on=split_validation_set(
        smoke_subset(demo_split, n_per_split=16))) is None  # nobody validated on those: no choice


# Notebook 06, section 7: the attempts read the files' own pixels, never resampled.

def _file_pixels(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def test_patches_and_the_face_window_are_the_files_pixels_at_their_coordinates(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "face.jpg"  # noise: any resampling would change almost every pixel
    Image.fromarray(rng.integers(0, 256, (600, 600, 3), dtype=np.uint8)).save(path, quality=90)
    pixels = _file_pixels(path)
    patches = read_patches(path, 180, (*REGIONS, FACE))
    for j, region in enumerate((*REGIONS, FACE)):
        left, top = window_origin(WINDOW_BOXES[region], 180, 600, 600)
        assert np.array_equal(patches[j], pixels[top:top + 180, left:left + 180].transpose(2, 0, 1))
    face = read_patches(path, 320, [FACE])[0]
    left, top = window_origin(WINDOW_BOXES[FACE], 320, 600, 600)
    assert (left, top) == (140, 212)  # centred on the face crop, (0.5, 0.62) of the frame
    assert np.array_equal(face, pixels[212:532, 140:460].transpose(2, 0, 1))
    assert np.array_equal(read_patches(path, 600, [FACE])[0], pixels.transpose(2, 0, 1))  # all of it
    with pytest.raises(ValueError, match="never resized"):
        read_patches(path, 601, [FACE])


@pytest.fixture(scope="module")
def small_split(demo_split) -> pd.DataFrame:
    return (demo_split.groupby(["split", "label"], group_keys=False).head(6)
            .sort_values(["label", "filename"]).reset_index(drop=True))


@pytest.mark.parametrize("name", ["model1_native", "model1_residual", "patches"])
def test_the_attempts_loaders_hold_the_files_pixels(small_split, name):
    window = 96
    loaders, model, _ = build_attempt(ATTEMPTS[name], small_split, seed=0, window=window, batch_size=4)
    dataset = loaders["val"].dataset
    regions = dataset.preprocessing.regions
    side = window if name != "patches" else patch_side(native_side(small_split))
    assert regions == ((FACE,) if name != "patches" else REGIONS)
    for i in (0, len(dataset.frame) - 1):
        pixels = _file_pixels(dataset.frame.loc[i, "path"])
        for j, region in enumerate(regions):
            left, top = window_origin(WINDOW_BOXES[region], side, *pixels.shape[1::-1])
            expected = pixels[top:top + side, left:left + side].transpose(2, 0, 1)
            assert np.array_equal(dataset.images[i, j].numpy(), expected)
    if name != "patches":
        assert model(next(iter(loaders["val"]))[0]).shape[1] == 2


def test_section_7s_attempt_written_out_is_the_librarys(small_split, tmp_path):
    """The notebook's lines for model1_residual give run_attempt's predictions; saved, a rerun
    loads them, and a changed attempt (another filter) trains anew."""
    cfg = dataclasses.replace(MODEL1_RECIPE, num_epochs=1, batch_size=16, seed=3)
    window = 64
    library = run_attempt("model1_residual", small_split, cfg, window=window, progress=False)

    def by_hand(kind: str):
        seed_everything(cfg.seed)
        windows = make_patch_loaders(small_split, batch_size=cfg.batch_size, patch_size=window,
                                     regions=["face"], seed=cfg.seed)
        network = ResidualInput(Model1(image_size=window), kind=kind,
                                scale=residual_scale(windows, kind))
        return train_attempt("model1_residual", network, windows, cfg, results_dir=tmp_path,
                             progress=False)

    hand = by_hand("srm")
    assert hand.model is not None and hand.residual_scale == library.residual_scale
    for frame in ("val", "test"):
        assert np.allclose(getattr(hand, frame)["prob_fake"], getattr(library, frame)["prob_fake"], atol=1e-6)
    again = by_hand("srm")
    assert again.model is None and again.resumed  # loaded, not trained
    assert by_hand("blur").model is not None  # another filter: another attempt


# Notebooks 05 and 06 as classes (issue 27): they read in about 20 minutes, smoke mode stays in the
# setup call, and test figures are read once.
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {"05": "05_results_and_explanations", "06": "06_spot_the_fake"}
PATHS = [ROOT / "notebooks" / f"{n}.ipynb" for n in NOTEBOOKS.values()] + [
    ROOT / "notebooks" / "solutions" / f"{n}_solutions.ipynb" for n in NOTEBOOKS.values()]


def _code(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_smoke_appears_only_in_the_parameters_and_the_setup_call(path):
    cells = _code(path)
    uses = [cell for cell in cells if re.search(r"\bSMOKE\b", cell)]
    assert sum(len(re.findall(r"\bSMOKE\b", cell)) for cell in cells) <= 2
    assert len(uses) == 2 and "setup_chapter(" in uses[1]
    assert "load_series_data(" not in "\n".join(cells) and "n_per_split" not in "\n".join(cells)


@pytest.mark.parametrize("name", NOTEBOOKS.values())
def test_reads_in_about_twenty_minutes(name):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    assert sum(len(c.source.split()) for c in nb.cells if c.cell_type == "markdown") <= 2500


def test_05_compares_every_chapters_test_figures_once_among_runs_on_its_own_images():
    code = "\n".join(_code(ROOT / "notebooks" / f"{NOTEBOOKS['05']}.ipynb"))
    assert code.count("results_table(") == 1 and "summarize_metrics(" not in code
    assert "choose_best(runs, validated_on=own_val)" in code


def test_06_chooses_on_its_own_split_and_tests_one_attempt_once():
    for path in PATHS[1::2]:
        assert "validated_on=" in "\n".join(_code(path)), path.name  # the quiz's own split
    code = "\n".join(_code(ROOT / "notebooks" / f"{NOTEBOOKS['06']}.ipynb"))
    assert code.count("chosen_test(") == 1 and "test_accuracy" not in code
    assert "train_attempt(" in code and "ResidualInput(" in code  # one attempt written out
