"""What notebooks 05 and 06 lean on: the validation set of their own split, which decides the runs
they rank, whatever runs on other images share the results folder."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

from fakeface_lib.data.index import index_dataset
from fakeface_lib.data.loaders import make_loaders
from fakeface_lib.data.splitting import canonical_split
from fakeface_lib.evaluation.predictions import predict
from fakeface_lib.evaluation.results import (
    choose_best, comparable_runs, load_runs, save_run, split_validation_set,
)
from fakeface_lib.setup import smoke_subset
from fakeface_lib.training.history import History
from fakeface_lib.training.identity import data_identity


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
