"""Can you spot the fake? The quiz of notebook 06: draw test faces, record and score a student's
answers beside a network's on the same faces. Answer files: :mod:`fakeface_lib.quiz.answer_files`;
the widget that shows the faces: :mod:`fakeface_lib.quiz.widget`; this module needs no display.
"""

from __future__ import annotations

import hashlib
import html
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fakeface_lib.config import DIFFICULTIES
from fakeface_lib.evaluation.confidence import accuracy_interval

ANSWERS = ("fake", "real")  # label 0 is fake, 1 is real (ImageFolder order)
ANSWER_COLUMNS = ("quiz_id", "student", "face", "filename", "difficulty", "truth", "answer",
                  "seconds")
GROUPS = ("all", "real", *DIFFICULTIES)  # the rows of a score table, in this order
SIMULATED_STUDENT = "simulated student"


class QuizWarning(UserWarning):
    """The quiz was drawn smaller than asked: the split has too few faces of a kind."""


class QuizFileError(ValueError):
    """A quiz answers CSV is malformed or belongs to another quiz draw (the message names it)."""


class QuizNotFinished(RuntimeError):
    """Answers were asked for before every face of the quiz was answered.

    Raised in the cell after the quiz, it stops *Run all* there (the cell fails, so Jupyter and
    Colab run no further cell) but IPython shows only its message, as plain text: waiting for
    the student is no crash, and a traceback would look like one.
    """

    def _render_traceback_(self) -> list[str]:
        return [str(self)]  # what IPython shows in place of the traceback


@dataclass(frozen=True)
class Quiz:
    """The faces of one quiz draw, in the order shown (columns face, path, filename, truth,
    difficulty), and the seed that drew them."""

    faces: pd.DataFrame
    seed: int

    @property
    def quiz_id(self) -> str:
        """Eight hex digits naming this draw: the same faces in the same order, the same id."""
        names = "\n".join(self.faces["filename"].astype(str))
        return hashlib.sha1(names.encode("utf-8")).hexdigest()[:8]

    def __len__(self) -> int:
        return len(self.faces)


def _allocate(n: int, available: Mapping[str, int]) -> dict[str, int]:
    """``n`` faces spread over groups as evenly as their sizes allow; ties go to larger groups."""
    counts = dict.fromkeys(available, 0)
    order = list(available)
    for _ in range(n):
        open_groups = [g for g in order if counts[g] < available[g]]
        if not open_groups:
            break
        counts[min(open_groups, key=lambda g: (counts[g], -available[g], order.index(g)))] += 1
    return counts


def _split_rows(split_frame: pd.DataFrame, split: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(real rows, fake rows) of ``split``, in file-name order."""
    rows = split_frame[split_frame["split"] == split] if "split" in split_frame else split_frame
    rows = rows.sort_values("filename", kind="stable")
    return rows[rows["label"] == 1], rows[rows["label"] == 0]


def _halves(n: int, n_reals: int, n_fakes: int) -> tuple[int, int]:
    """(real, fake) faces of a quiz of ``n``: half each, equal halves when the split is short."""
    n_fake = min(n // 2, n_fakes, n_reals)
    return (min(n - n // 2, n_reals) if n_fake == n // 2 else n_fake), n_fake


def quiz_size(split_frame: pd.DataFrame, n: int = 20, split: str = "test") -> int:
    """The faces ``draw_quiz(split_frame, n, split=split)`` holds: ``n``, or fewer, still half real
    and half fake, when the split is short of real or fake faces (the demo data's test split
    holds 18 of 20). Asking ``draw_quiz`` for this many faces draws that same quiz, without a
    QuizWarning.
    """
    return sum(_halves(n, *map(len, _split_rows(split_frame, split))))


def draw_quiz(split_frame: pd.DataFrame, n: int = 20, seed: int = 0, split: str = "test") -> Quiz:
    """``n`` faces of ``split``, half real and half fake, the fakes spread over the difficulties.

    The same frame and seed draw the same faces in the same order on any machine. When the
    split has too few faces of a kind the quiz holds fewer, still balanced (a QuizWarning says
    so; ask for ``quiz_size(split_frame, n)`` faces to get the same quiz without it).
    """
    if n < 2:
        raise ValueError(f"A quiz needs at least 2 faces (one real, one fake), got n={n}")
    reals, fakes = _split_rows(split_frame, split)
    groups = [g for g in DIFFICULTIES if (fakes["difficulty"] == g).any()]
    groups += sorted(set(fakes["difficulty"]) - set(groups))  # e.g. "unknown" names
    n_real, n_fake = _halves(n, len(reals), len(fakes))
    if n_fake == 0:
        raise ValueError(f"The {split!r} split needs real and fake faces for a quiz; it has "
                         f"{len(reals)} real and {len(fakes)} fake.")
    counts = {"real": n_real,
              **_allocate(n_fake, {g: int((fakes["difficulty"] == g).sum()) for g in groups})}
    if n_real + n_fake < n:
        warnings.warn(f"The {split!r} split has {len(reals)} real and {len(fakes)} fake faces: "
                      f"the quiz holds {n_real + n_fake} faces, not {n}.", QuizWarning,
                      stacklevel=2)
    rng = np.random.default_rng(seed)
    picked = [group.iloc[np.sort(rng.choice(len(group), size=counts[name], replace=False))]
              for name, group in [("real", reals), *((g, fakes[fakes["difficulty"] == g])
                                                     for g in groups)]]
    faces = pd.concat(picked).iloc[rng.permutation(sum(counts.values()))]
    faces = faces.assign(truth=[ANSWERS[label] for label in faces["label"]],
                         difficulty=faces["difficulty"].astype(str))
    faces.insert(0, "face", np.arange(1, len(faces) + 1))
    return Quiz(faces[["face", "path", "filename", "truth", "difficulty"]].reset_index(drop=True),
                seed)


def record_answers(quiz: Quiz, student: str, answers: Sequence[str],
                   seconds: Sequence[float] | None = None) -> pd.DataFrame:
    """One row per face answered (the first ``len(answers)`` faces), columns ANSWER_COLUMNS."""
    answers = [str(a).strip().lower() for a in answers]
    bad = sorted(set(answers) - set(ANSWERS))
    if bad:
        raise ValueError(f"answers must be 'real' or 'fake', got {bad}")
    if len(answers) > len(quiz):
        raise ValueError(f"{len(answers)} answers for a quiz of {len(quiz)} faces")
    seconds = [float("nan")] * len(answers) if seconds is None else [float(s) for s in seconds]
    if len(seconds) != len(answers):
        raise ValueError(f"{len(answers)} answers but {len(seconds)} times")
    faces = quiz.faces.iloc[:len(answers)]
    return pd.DataFrame({"quiz_id": quiz.quiz_id, "student": str(student).strip() or "anonymous",
                         "face": faces["face"].to_numpy(), "filename": faces["filename"].to_numpy(),
                         "difficulty": faces["difficulty"].to_numpy(),
                         "truth": faces["truth"].to_numpy(), "answer": answers, "seconds": seconds},
                        columns=list(ANSWER_COLUMNS))


def simulate_answers(quiz: Quiz, accuracy: float | Mapping[str, float] = 0.6, seed: int = 0,
                     student: str = SIMULATED_STUDENT) -> pd.DataFrame:
    """A student right with probability ``accuracy`` on each face (or per difficulty: a mapping
    with keys real, easy, mid, hard), taking 2-8 s per face; the same seed, the same answers."""
    rng = np.random.default_rng(seed)
    faces = quiz.faces
    p = np.array([accuracy[g] if isinstance(accuracy, Mapping) else accuracy
                  for g in faces["difficulty"]], dtype=float)
    right = rng.random(len(faces)) < p
    other = {"real": "fake", "fake": "real"}
    answers = [t if ok else other[t] for t, ok in zip(faces["truth"], right)]
    return record_answers(quiz, student, answers, np.round(rng.uniform(2, 8, len(faces)), 1))


def model_answers(quiz: Quiz, preds: pd.DataFrame, name: str) -> pd.DataFrame:
    """A network's answers on the quiz's faces, from its test predictions (matched by file name:
    ``predict`` output, or a saved run's ``run["preds"]``)."""
    by_name = preds.drop_duplicates("filename").set_index("filename")["pred"]
    missing = [f for f in quiz.faces["filename"] if f not in by_name.index]
    if missing:
        raise ValueError(f"The predictions of {name!r} lack {len(missing)} of the quiz's faces "
                         f"({', '.join(missing[:5])}): they were made on another test set.")
    answers = [ANSWERS[int(by_name[f])] for f in quiz.faces["filename"]]
    return record_answers(quiz, name, answers)


def score(answers: pd.DataFrame) -> pd.DataFrame:
    """Accuracy overall and per difficulty, with the 95 % Wilson interval of each.

    Index: the groups of GROUPS that have faces; columns n, correct, accuracy, low, high.
    """
    right = answers["answer"].eq(answers["truth"])
    rows = {}
    for group in GROUPS:
        mask = slice(None) if group == "all" else answers["difficulty"].eq(group)
        n, correct = int(right[mask].size), int(right[mask].sum())
        if n:
            rows[group] = {"n": n, "correct": correct, "accuracy": correct / n,
                           **dict(zip(("low", "high"), accuracy_interval(correct, n)))}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["n", "correct", "accuracy",
                                                                   "low", "high"])
    return table.astype({"n": int, "correct": int})


def paired_comparison(a: pd.DataFrame, b: pd.DataFrame) -> dict[str, float]:
    """Two answerers on the same faces: how many each got right alone, and the exact McNemar
    test of that (two-sided binomial test on the faces only one of them got right).

    Returns both, only_a, only_b, neither (face counts) and p_value.
    """
    from scipy.stats import binomtest

    pairs = a.merge(b, on=["quiz_id", "face"], suffixes=("_a", "_b"))
    if not len(pairs) == len(a) == len(b):
        raise ValueError("paired_comparison needs two sets of answers to the same faces of one quiz")
    right_a, right_b = pairs["answer_a"].eq(pairs["truth_a"]), pairs["answer_b"].eq(pairs["truth_b"])
    only_a, only_b = int((right_a & ~right_b).sum()), int((right_b & ~right_a).sum())
    p_value = binomtest(only_a, only_a + only_b).pvalue if only_a + only_b else 1.0
    return {"both": int((right_a & right_b).sum()), "only_a": only_a, "only_b": only_b,
            "neither": int((~right_a & ~right_b).sum()), "p_value": float(p_value)}


def format_scores(scores: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Score tables side by side as text, "14/20 = 70 % (48-85 %)", one column per answerer."""
    def cells(s: pd.DataFrame) -> pd.Series:
        return pd.Series([f"{int(r.correct)}/{int(r.n)} = {r.accuracy:.0%} ({r.low:.0%}-{r.high:.0%})"
                          for r in s.itertuples()], index=s.index)

    table = pd.DataFrame({who: cells(s) for who, s in scores.items()})
    table = table.reindex([g for g in GROUPS if g in table.index])
    table.index.name = "faces"
    return table.fillna("")


_CELL = "padding:3px 12px;border-bottom:1px solid #ccc;text-align:{align};white-space:nowrap"


def scores_html(scores: Mapping[str, pd.DataFrame]) -> str:
    """format_scores as an HTML table that is readable wherever it lands (a widget, a saved
    notebook): every cell padded and ruled by its own inline style, no stylesheet needed."""
    table = format_scores(scores)

    def row(cells: Iterable[str], tag: str, first_align: str = "left") -> str:
        return "<tr>" + "".join(
            f'<{tag} style="{_CELL.format(align=first_align if i == 0 else "right")}">'
            f"{html.escape(str(cell))}</{tag}>" for i, cell in enumerate(cells)) + "</tr>"

    head = row([table.index.name, *table.columns], "th")
    body = "".join(row([group, *cells], "td") for group, cells in zip(table.index, table.to_numpy()))
    return (f'<table style="border-collapse:collapse;margin:6px 0"><thead>{head}</thead>'
            f"<tbody>{body}</tbody></table>")


def plot_scores(scores: Mapping[str, pd.DataFrame], ax=None):
    """Accuracy per group for each answerer, bars with their 95 % intervals; returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    groups = [g for g in GROUPS if any(g in s.index for s in scores.values())]
    width = 0.8 / max(1, len(scores))
    for i, (who, s) in enumerate(scores.items()):
        s = s.reindex(groups)
        x = np.arange(len(groups)) + (i - (len(scores) - 1) / 2) * width
        ax.bar(x, s["accuracy"], width, label=who)
        ax.errorbar(x, s["accuracy"], yerr=[s["accuracy"] - s["low"], s["high"] - s["accuracy"]],
                    fmt="none", ecolor="black", capsize=3, lw=1)
    ax.axhline(0.5, color="grey", ls="--", lw=1, label="guessing")
    ax.set(xticks=np.arange(len(groups)), xticklabels=groups, ylim=(0, 1.05), ylabel="accuracy",
           title="Accuracy on the quiz's faces (whiskers: 95 % interval)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax.figure


def quiz_summary(scores: Mapping[str, pd.DataFrame], quiz: Quiz) -> dict:
    """What the report shows of a quiz: per answerer its overall correct, n, accuracy, interval."""
    return {"quiz_id": quiz.quiz_id, "seed": quiz.seed, "faces": len(quiz),
            "scores": {who: {k: s.loc["all", k] for k in ("correct", "n", "accuracy", "low", "high")}
                       for who, s in scores.items()}}
