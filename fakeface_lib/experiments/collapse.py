"""Notebook 02's runs of one recipe side by side: each run's curves and collapse figures in one row
(``collapse_table``), and the first epoch's step traces of ``trace_steps`` in one row per recipe
(``trace_table``). Validation figures only: the chapter's test set is looked at once, elsewhere."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

COLLAPSE_FORMAT = {"epoch-1 training loss": "{:.3f}", "best validation accuracy": "{:.1%}",
                   "last training accuracy": "{:.1%}", "validation images, one answer": "{:.1%}",
                   "fc1 units silent": "{:.0%}"}
SILENT = ["fc1 silent, last step", "fc1 silent, highest"]  # trace_table's shares of silent units


def collapse_row(history: Sequence[Mapping[str, float]], found: Mapping) -> dict:
    """One run's row: its curves (``history``, with ``best_epoch``, as fit() returns it) and the
    validation figures of ``diagnose_collapse`` (``found``)."""
    best = history[history.best_epoch - 1]
    return {"epoch-1 training loss": history[0]["train_loss"], "best epoch": history.best_epoch,
            "best validation accuracy": best["val_acc"], "last training accuracy": history[-1]["train_acc"],
            "validation images, one answer": found["one_class_share"],
            "fc1 units silent": found["dead_units"] / found["n_units"], "collapsed": bool(found["collapsed"])}


def collapse_table(runs: Mapping[str, tuple[Sequence[Mapping[str, float]], Mapping]]):
    """``{name: (history, diagnose_collapse figures)}`` as a styled table, one row per run
    (the frame itself is ``.data``)."""
    table = pd.DataFrame({name: collapse_row(history, found) for name, (history, found) in runs.items()}).T
    return table.style.format(COLLAPSE_FORMAT)


def trace_table(traces: Mapping[str, pd.DataFrame]):
    """``{recipe: trace_steps(...) frame}`` as a styled table, one row per recipe: fc1's
    update-to-weight ratio at step 1, each layer's median ratio over the steps, the share of fc1
    units silent for a whole batch at the last step and at its highest, and the last step's loss
    (the frame itself is ``.data``)."""
    rows = {}
    for name, trace in traces.items():
        ratios = trace.drop(columns=["loss", "acc", "fc1_dead"])
        rows[name] = ({"fc1, step 1": trace["fc1"].iloc[0]} | ratios.median().add_suffix(", median").to_dict()
                      | {SILENT[0]: trace["fc1_dead"].iloc[-1], SILENT[1]: trace["fc1_dead"].max(),
                         "loss, last step": trace["loss"].iloc[-1]})
    table = pd.DataFrame(rows).T
    return (table.style.format("{:.1e}").format("{:.0%}", subset=SILENT)
            .format("{:.3f}", subset=["loss, last step"]))
