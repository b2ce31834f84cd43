"""The report's figures, each traced to its line of the report's text, and a run set beside them.

``REPORT_FIGURES`` holds every figure the series quotes from the report (memoria_es.txt): its
value, the line it is printed on, its text as printed there, the report's own words (short)
and what the figure is. ``REPORT_LOGS`` holds the three training logs, one tuple per epoch
line. What the series derives from them (test accuracies from the matrices, the pooled
"overall" 94.8 %, the batch counts the log implies) is computed here, from those numbers, by
``pooled_overall`` and ``implied_batches``. ``compare_with_report`` writes the paragraph that
closes notebooks 01, 02 and 03a.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fakeface_lib.evaluation.confidence import accuracy_interval
from fakeface_lib.evaluation.metrics import compute_metrics


@dataclass(frozen=True)
class Figure:
    """One figure of the report: value, line in memoria_es.txt, text as printed, words, meaning."""

    value: Any
    line: int  # 1-based line of memoria_es.txt; a matrix's rows continue on the following lines
    printed: str  # the figure's text on that line ("\n" separates consecutive lines)
    words: str  # the report's own wording, short
    what: str  # what the figure is

    def cite(self) -> str:
        return f"\u201c{self.words}\u201d (line {self.line})"


def _matrix(rows, line, printed, model):  # rows true (fake, real), columns predicted, as printed
    return Figure(rows, line, printed, printed, f"{model}'s test confusion matrix")


REPORT_FIGURES: dict[str, Figure] = {
    "model1_params": Figure(8_408_386, 98, "8,408,386", "Total params: 8,408,386",
                            "Model 1's parameter count, from its torchsummary table"),
    "adadelta_lr": Figure(0.1, 140, "0.1", "este último (con $lr=0.1$) resultó con resultados mejores",
                          "AdaDelta's learning rate, the best of the report's optimizer trials"),
    "adam_lr": Figure(0.001, 147, "0.001", "con tasa de aprendizaje de 0.001",
                      "Adam's learning rate (Model 1; Model 2.1 gives none of its own)"),
    "model1_epochs": Figure(10, 148, "10", "Numero de epocas = 10", "Model 1's epochs"),
    "model1_quoted": Figure((0.728, 0.566), 183, "72.8%, overall 56.6%",
                            "en el conjunto de training: 72.8%, overall 56.6%",
                            "the last epoch's training accuracy (72.86 %, cut to 72.8) and its "
                            "validation accuracy (56.59 %), not a test accuracy"),
    "model1_matrix": _matrix(((59, 41), (47, 57)), 190, "[[59 41]\n [47 57]]", "Model 1"),
    "model1_called_test": Figure(0.566, 205, "56.6%", "en el conjunto de prueba es del 56.6%",
                                 "the same validation figure, called a test accuracy"),
    "model2_params": Figure(134_608_002, 254, "134,608,002", "Total params: 134,608,002",
                            "Model 2's parameter count, from its torchsummary table"),
    "model2_1_quoted": Figure((0.789, 0.546), 292, "78.9%, overall 54.6%",
                              "en el conjunto de test: 78.9%, overall 54.6%",
                              "the last epoch's training accuracy (78.98 %) and validation "
                              "accuracy (54.63 %), though the text says test"),
    "model2_1_matrix": _matrix(((46, 44), (51, 63)), 299, "[[46 44]\n [51 63]]", "Model 2.1"),
    "n_train_images": Figure(1632, 340, "1632", "de 1632 a 6531 instancias en train_size",
                             "training images before the copies: 80 % of the 2,041"),
    "copies_sizes": Figure((6531, 816, 817), 352, "6531\n816\n817", "6531\n816\n817",
                           "train / validation / test items of the augmented copies (printed sizes)"),
    "model2_2_quoted": Figure((0.956, 0.948), 395, "95.6%, overall 94.8%",
                              "en el conjunto de train: 95.6%, overall 94.8%",
                              "the last epoch's training accuracy (95.62 %) and the accuracy "
                              "pooled over all 8,164 items, training ones included"),
    "model2_2_matrix": _matrix(((354, 41), (52, 370)), 402, "[[354  41]\n [ 52 370]]", "Model 2.2"),
}

# The logs, one tuple per epoch, in the order printed: train loss, train accuracy (%), valid
# loss, valid accuracy (%). Model 2.1 printed sums and averages: train sum, train average,
# train accuracy, valid sum, valid average, valid accuracy. Model 2.2 printed averages only.
REPORT_LOGS: dict[str, tuple[int, tuple[tuple[float, ...], ...]]] = {
    "model1": (151, (
        (0.9628, 51.90, 0.6900, 53.17), (0.6915, 53.12, 0.6892, 53.17), (0.6862, 56.31, 0.6745, 53.66),
        (0.6692, 59.38, 0.7005, 51.22), (0.6482, 63.24, 0.6694, 57.07), (0.6286, 65.87, 0.6545, 56.10),
        (0.6045, 68.75, 0.6647, 58.54), (0.5881, 68.38, 0.6423, 58.54), (0.5625, 72.00, 0.6648, 55.61),
        (0.5295, 72.86, 0.6609, 56.59))),
    "model2_1": (267, (
        (168.1274, 9.8898, 49.20, 2.0850, 0.6950, 50.73), (11.7798, 0.6929, 52.08, 2.0964, 0.6988, 50.73),
        (11.7933, 0.6937, 53.25, 2.0934, 0.6978, 51.71), (11.7102, 0.6888, 53.74, 2.1198, 0.7063, 51.22),
        (11.7278, 0.6899, 54.72, 2.1329, 0.7110, 50.73), (11.8341, 0.6961, 55.76, 2.1807, 0.7269, 50.24),
        (11.6302, 0.6841, 56.19, 2.1705, 0.7235, 45.85), (11.6777, 0.6869, 55.45, 7.3760, 2.4587, 49.27),
        (14.6824, 0.8637, 55.58, 2.1743, 0.7248, 50.73), (12.2641, 0.7214, 58.52, 2.1735, 0.7245, 52.20),
        (11.0318, 0.6489, 63.85, 2.1469, 0.7156, 49.27), (10.9124, 0.6419, 65.87, 2.1252, 0.7084, 50.24),
        (10.6305, 0.6253, 65.20, 2.1940, 0.7313, 50.24), (9.9233, 0.5837, 69.73, 2.5841, 0.8614, 53.66),
        (9.9528, 0.5855, 68.50, 2.0644, 0.6881, 51.71), (9.2399, 0.5435, 72.67, 2.2604, 0.7535, 54.63),
        (8.6114, 0.5066, 74.14, 2.4259, 0.8086, 56.59), (7.2447, 0.4262, 79.66, 3.5445, 1.1815, 52.68),
        (7.1476, 0.4204, 81.50, 5.1770, 1.7257, 52.68), (8.7645, 0.5156, 78.98, 3.0480, 1.0160, 54.63))),
    "model2_2": (360, (
        (0.6932, 54.11, 0.6944, 51.47), (0.6709, 60.19, 0.6469, 61.40), (0.6608, 62.21, 0.6917, 59.56),
        (0.6430, 63.71, 0.6265, 64.95), (0.6596, 65.14, 0.6618, 58.70), (0.6558, 67.13, 0.6304, 65.44),
        (0.5846, 69.28, 0.5819, 69.49), (0.5500, 72.10, 0.5833, 68.38), (0.5158, 74.37, 0.5681, 68.75),
        (0.4975, 76.01, 0.5525, 70.22), (0.4599, 78.53, 0.5167, 73.53), (0.4117, 81.09, 0.4868, 75.49),
        (0.4017, 82.04, 0.6021, 71.45), (0.3937, 83.63, 0.5536, 70.96), (0.3171, 86.34, 0.3637, 83.46),
        (0.3103, 86.99, 0.3226, 86.40), (0.2805, 88.72, 0.6744, 71.08), (0.2643, 89.53, 0.4341, 79.78),
        (0.2453, 90.31, 0.4005, 81.74), (0.2287, 90.87, 0.3615, 84.31), (0.2079, 91.79, 0.3266, 86.40),
        (0.1958, 92.42, 0.2327, 91.42), (0.1982, 92.41, 0.2194, 91.67), (0.1704, 93.65, 0.2013, 92.52),
        (0.1637, 93.74, 0.2054, 92.77), (0.1555, 94.26, 0.1829, 93.87), (0.1266, 95.35, 0.2098, 91.67),
        (0.1333, 95.41, 0.2186, 92.16), (0.1246, 95.47, 0.1664, 93.38), (0.1229, 95.62, 0.1694, 94.00))),
}
N_IMAGES = 2041  # the Kaggle dataset's images (1,081 real, 960 fake): not printed by the report


def report_history(model: str) -> list[dict]:
    """A report log as fit()'s history rows (mean losses, accuracies as fractions), with its line."""
    first, rows = REPORT_LOGS[model]
    if model == "model2_1":
        rows = [(r[1], r[2], r[4], r[5]) for r in rows]
    return [{"epoch": i + 1, "train_loss": tl, "train_acc": ta / 100, "val_loss": vl, "val_acc": va / 100,
             "line": first + i} for i, (tl, ta, vl, va) in enumerate(rows)]


def log_line_figures(model: str, epoch: int) -> list[str]:
    """The texts an epoch line of a log prints, as the report formats them."""
    row = REPORT_LOGS[model][1][epoch - 1]
    return [f"{v:.2f}%" if i in ((2, 5) if model == "model2_1" else (1, 3)) else f"{v:.4f}"
            for i, v in enumerate(row)]


def pooled_overall() -> dict:
    """Model 2.2's "overall" 94.8 % recomputed: last-epoch training and validation accuracy and the
    test matrix's correct items, pooled over all the copies."""
    n_train, n_val, n_test = REPORT_FIGURES["copies_sizes"].value
    last = report_history("model2_2")[-1]
    correct_test = _correct(REPORT_FIGURES["model2_2_matrix"].value)
    correct = last["train_acc"] * n_train + last["val_acc"] * n_val + correct_test
    n = n_train + n_val + n_test
    return {"train_acc": last["train_acc"], "n_train": n_train, "val_acc": last["val_acc"], "n_val": n_val,
            "correct_test": correct_test, "n_test": n_test, "n": n, "accuracy": correct / n,
            "arithmetic": f"({last['train_acc']:.4f} \u00d7 {n_train} + {last['val_acc']:.4f} \u00d7 {n_val} + "
                          f"{correct_test}) / {n:,} = {correct / n:.2%}"}


def implied_batches() -> dict:
    """Batches per epoch in Model 2.1's log (sum over average loss, epoch 1) and the batch sizes
    that split its training and validation images into that many batches."""
    train_sum, train_avg, _, val_sum, val_avg, _ = REPORT_LOGS["model2_1"][1][0]
    n_train = REPORT_FIGURES["n_train_images"].value
    n_test = sum(map(sum, REPORT_FIGURES["model2_1_matrix"].value))
    n_val = N_IMAGES - n_train - n_test
    train, val = round(train_sum / train_avg), round(val_sum / val_avg)
    sizes = [b for b in range(1, n_train + 1) if math.ceil(n_train / b) == train and math.ceil(n_val / b) == val]
    return {"train_ratio": train_sum / train_avg, "val_ratio": val_sum / val_avg, "train_batches": train,
            "val_batches": val, "n_train": n_train, "n_val": n_val, "batch_sizes": (min(sizes), max(sizes)),
            "arithmetic": f"{train_sum:.4f} / {train_avg:.4f} = {train_sum / train_avg:.1f} training batches and "
                          f"{val_sum:.4f} / {val_avg:.4f} = {val_sum / val_avg:.1f} validation batches"}


def traced_table() -> pd.DataFrame:
    """Every traced figure: its line, the report's words and what it is (for display)."""
    return pd.DataFrame([{"figure": k, "line": f.line, "the report's words": f.words, "what it is": f.what}
                         for k, f in REPORT_FIGURES.items()]).set_index("figure")


def _correct(matrix) -> int:
    return matrix[0][0] + matrix[1][1]


@dataclass(frozen=True)
class ReportResult:
    """One model's test figures as the report printed them, with what its headline figures are."""

    title: str
    key: str  # the model's prefix in REPORT_FIGURES

    @property
    def quoted(self) -> Figure:
        return REPORT_FIGURES[f"{self.key}_quoted"]

    @property
    def matrix(self) -> Figure:
        return REPORT_FIGURES[f"{self.key}_matrix"]

    @property
    def confusion_matrix(self) -> tuple[tuple[int, int], tuple[int, int]]:
        return self.matrix.value

    @property
    def train_accuracy(self) -> float:  # the last epoch's training accuracy, from the log
        return report_history(self.key)[-1]["train_acc"]

    @property
    def n(self) -> int:
        return sum(map(sum, self.confusion_matrix))

    @property
    def correct(self) -> int:
        return _correct(self.confusion_matrix)

    @property
    def n_real(self) -> int:
        return sum(self.confusion_matrix[1])

    @property
    def accuracy(self) -> float:
        return self.correct / self.n

    @property
    def majority_baseline(self) -> float:
        return max(self.n_real, self.n - self.n_real) / self.n


REPORT_RESULTS = {key: ReportResult(title, key) for key, title in
                  (("model1", "Model 1"), ("model2_1", "Model 2.1"), ("model2_2", "Model 2.2"))}


def reading(model: str) -> str:
    """Markdown: what the report's headline figures for ``model`` are, with the arithmetic."""
    report = REPORT_RESULTS[model]
    last = report_history(model)[-1]
    first_line = REPORT_LOGS[model][0]
    said = f"The report printed {report.quoted.cite()} for {report.title}: "
    if model == "model2_2":
        pooled = pooled_overall()
        return said + (f"{report.quoted.value[0]:.1%} is the last epoch's training accuracy "
                       f"({last['train_acc']:.2%}, line {last['line']}), and \"overall\" is the accuracy pooled over all "
                       f"{pooled['n']:,} items, training copies included: {pooled['arithmetic']}.")
    return said + (f"they are the last epoch's training accuracy ({last['train_acc']:.2%}) and validation "
                   f"accuracy ({last['val_acc']:.2%}) of its log (line {last['line']}; the log starts at line "
                   f"{first_line}), not a test accuracy.")


def verdict(low: float, high: float, baseline: float) -> str:
    """Where an accuracy's interval lies against a baseline, in words."""
    if low > baseline:
        return "above"
    return "below" if high < baseline else "not distinguishable from"


def compare_with_report(model: str, preds: pd.DataFrame, history: Sequence[dict] = (), *,
                        data: str = "", smoke: bool = False) -> str:
    """Markdown: the report's figures for ``model`` (a key of REPORT_RESULTS), what each one is,
    its test accuracy recomputed from its confusion matrix, then this run's test figures, each
    against its majority baseline.
    """
    if model not in REPORT_RESULTS:
        raise ValueError(f"no report figures for {model!r}; choose from {sorted(REPORT_RESULTS)}")
    report = REPORT_RESULTS[model]
    metrics = compute_metrics(preds)
    r_low, r_high = accuracy_interval(report.correct, report.n)
    low, high = accuracy_interval(int(preds["correct"].sum()), len(preds))
    caveat = ("**SMOKE run: these numbers mean nothing.** " if smoke else "") + (
        "*The demo data is generated and far easier than the real photos: compare with the "
        "report only on the Kaggle data.*\n\n" if data == "demo" else "")
    ours_trained = (f" Training accuracy reached {max(r['train_acc'] for r in history):.1%}."
                    if history else "")
    epochs = f", epochs trained: {len(history)}" if history else ""
    return caveat + (
        f"{reading(model).replace('The report', '**The report**', 1)} Its test confusion matrix "
        f"{[list(row) for row in report.confusion_matrix]} (line {report.matrix.line}) gives "
        f"{report.correct}/{report.n} = **{report.accuracy:.1%}** (95% interval {r_low:.1%} to {r_high:.1%}), "
        f"{verdict(r_low, r_high, report.majority_baseline)} the majority baseline of its test "
        f"set, {report.majority_baseline:.1%} ({report.n_real} real faces of {report.n}).\n\n"
        f"**This run** ({data or 'this'} data{epochs}): test accuracy **{metrics['accuracy']:.1%}** "
        f"(95% interval {low:.1%} to {high:.1%}), {verdict(low, high, metrics['majority_baseline'])} "
        f"the majority baseline of {metrics['majority_baseline']:.1%}; balanced accuracy "
        f"{metrics['balanced_accuracy']:.1%}, ROC AUC {metrics['roc_auc']:.3f} (0.5 = chance)."
        + ours_trained)
