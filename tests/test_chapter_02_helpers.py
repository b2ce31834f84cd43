"""Notebook 02's side-by-side tables (fakeface_lib.experiments.collapse): each run's row holds its
own figures, and the trace table summarises trace_steps' frames as the chapter reads them."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fakeface_lib.config import TrainConfig
from fakeface_lib.evaluation.diagnostics import diagnose_collapse, trace_steps
from fakeface_lib.experiments.collapse import COLLAPSE_FORMAT, collapse_row, collapse_table, trace_table
from fakeface_lib.training.history import History


def history(val_accs, train_accs, best_epoch):
    rows = [{"epoch": k + 1, "train_loss": 5.0 - k, "train_acc": t, "val_loss": 0.7, "val_acc": v}
            for k, (v, t) in enumerate(zip(val_accs, train_accs))]
    return History(rows, best_epoch=best_epoch)


FOUND = {"one_class_share": 0.75, "dead_units": 3, "n_units": 12, "collapsed": False, "n_images": 8}


def test_a_row_takes_the_best_epoch_for_validation_and_the_last_for_training():
    row = collapse_row(history([0.5, 0.8, 0.6], [0.55, 0.7, 0.9], best_epoch=2), FOUND)
    assert row == {"epoch-1 training loss": 5.0, "best epoch": 2, "best validation accuracy": 0.8,
                   "last training accuracy": 0.9, "validation images, one answer": 0.75,
                   "fc1 units silent": 0.25, "collapsed": False}
    assert set(COLLAPSE_FORMAT) <= set(row)


def test_the_table_keeps_one_row_per_run_in_order():
    runs = {"batch 32": (history([0.5], [0.6], 1), FOUND | {"collapsed": True, "one_class_share": 1.0}),
            "batch 96": (history([0.5, 0.7], [0.6, 0.8], 2), FOUND)}
    table = collapse_table(runs).data
    assert list(table.index) == ["batch 32", "batch 96"]
    assert table.loc["batch 32", "collapsed"] is True and table.loc["batch 96", "collapsed"] is False
    assert table.loc["batch 96", "best validation accuracy"] == 0.7
    assert "100.0%" in collapse_table(runs).to_html()  # the share of one answer, as a percentage


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 2))

    def forward(self, x):
        return self.classifier(x)


def traced(lr: float) -> pd.DataFrame:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(15, 3, 2, 2, generator=g), torch.arange(15) % 2)
    return trace_steps(Tiny(), DataLoader(data, batch_size=5), TrainConfig(lr=lr))


def test_the_trace_table_summarises_each_recipes_steps():
    traces = {"Adam, lr 0.1": traced(0.1), "Adam, lr 0.0001": traced(1e-4)}
    table = trace_table(traces).data
    assert list(table.index) == list(traces)
    for name, trace in traces.items():
        assert table.loc[name, "fc1, step 1"] == trace["fc1"].iloc[0]
        assert table.loc[name, "fc2, median"] == pytest.approx(trace["fc2"].median())
        assert table.loc[name, "fc1 silent, last step"] == trace["fc1_dead"].iloc[-1]
        assert table.loc[name, "fc1 silent, highest"] == trace["fc1_dead"].max()
        assert table.loc[name, "loss, last step"] == trace["loss"].iloc[-1]
    # Adam's first step is about lr for every weight: a thousandth of the lr, a thousandth of the ratio
    ratio = table.loc["Adam, lr 0.1", "fc1, step 1"] / table.loc["Adam, lr 0.0001", "fc1, step 1"]
    assert ratio == pytest.approx(1000, rel=0.2)


def test_collapse_row_reads_diagnose_collapse_as_it_returns():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    loader = DataLoader(TensorDataset(torch.randn(8, 3, 2, 2, generator=g), torch.arange(8) % 2), batch_size=4)
    found = diagnose_collapse(Tiny(), loader)
    row = collapse_row(history([0.5], [0.5], 1), found)
    assert row["fc1 units silent"] == found["dead_units"] / 6
    assert row["validation images, one answer"] == found["one_class_share"]
