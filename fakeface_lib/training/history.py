"""A training run's history (the per-epoch rows fit() returns, with the best epoch and early
stopping it decided) and the rule that says which epoch, or which saved run, is best."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def epoch_score(row: Mapping[str, Any], monitor: str = "val_acc") -> tuple[float, float]:
    """Higher is better: val_acc with lower val_loss breaking ties, or the reverse
    (``monitor="val_loss"``). The one "best" rule of fit(), save_run and choose_best."""
    acc, loss = float(row.get("val_acc") or 0.0), float(row.get("val_loss") or 0.0)
    return (acc, -loss) if monitor == "val_acc" else (-loss, acc)


class History(list):
    """fit()'s result: one dict per epoch (epoch, train_loss, train_acc, val_loss, val_acc, lr,
    seconds), a list as plot_history and save_run take it, which also keeps:

    - ``best_epoch``: the epoch whose weights fit() left in the model (``epoch_score``);
    - ``stopped_early``: whether early stopping ended the run;
    - ``identity``: the run's identity (fakeface_lib.training.identity), which save_run records;
    - ``amp_dtype``: the dtype mixed precision ran in ("float16", "bfloat16"), None when off.
    """

    def __init__(self, rows: Iterable[dict] = (), *, best_epoch: int | None = None,
                 stopped_early: bool = False, identity: dict | None = None,
                 amp_dtype: str | None = None) -> None:
        super().__init__(rows)
        self.best_epoch = best_epoch
        self.stopped_early = stopped_early
        self.identity = identity
        self.amp_dtype = amp_dtype

    def record(self, row: dict, monitor: str, patience: int | None, num_epochs: int) -> bool:
        """Append ``row``; return whether it is the best epoch so far, and set ``stopped_early``
        once ``patience`` epochs have passed without a better one (never on the last epoch)."""
        self.append(row)
        best_row = self[self.best_epoch - 1] if self.best_epoch else None
        improved = best_row is None or epoch_score(row, monitor) > epoch_score(best_row, monitor)
        if improved:
            self.best_epoch = row["epoch"]
        self.stopped_early = (patience is not None and row["epoch"] < num_epochs
                              and row["epoch"] - self.best_epoch >= patience)
        return improved
