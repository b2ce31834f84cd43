"""The quiz's answer files: one CSV per student and quiz, saved, checked when loaded, and pooled
across a class."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fakeface_lib.quiz.draw import ANSWER_COLUMNS, ANSWERS, QuizFileError, score


def answers_path(folder: str | os.PathLike, quiz_id: str, student: str) -> Path:
    """``folder/quiz_<id>_<student>.csv``, the student's name made safe for a file name."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", student).strip("-")[:40] or "anonymous"
    return Path(folder) / f"quiz_{quiz_id}_{slug}.csv"


def save_answers(answers: pd.DataFrame, folder: str | os.PathLike) -> Path:
    """Write one student's answers as a small CSV in ``folder``; returns its path (replaced if
    it exists)."""
    for column in ("quiz_id", "student"):
        if answers[column].nunique() != 1:
            raise ValueError(f"save one student's answers to one quiz per file ({column} varies)")
    path = answers_path(folder, answers["quiz_id"].iloc[0], answers["student"].iloc[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    answers[list(ANSWER_COLUMNS)].to_csv(path, index=False)
    return path


def _check_answers(frame: pd.DataFrame, quiz_id: str | None) -> str | None:
    """What is wrong with one file's answers, in words; None when nothing is."""
    missing = [c for c in ANSWER_COLUMNS if c not in frame.columns]
    if missing:
        return f"lacks column(s) {missing} (a quiz answers file has {list(ANSWER_COLUMNS)})"
    if frame.empty:
        return "holds no answers"
    for column in ("truth", "answer"):
        bad = sorted(set(frame[column].astype(str)) - set(ANSWERS))
        if bad:
            return f"has {column} values {bad[:3]}; only 'real' and 'fake' are allowed"
    for column in ("quiz_id", "student"):
        if frame[column].nunique() != 1:
            return f"mixes several values of {column}: one student and one quiz per file"
    if not pd.api.types.is_integer_dtype(frame["face"]) or frame["face"].duplicated().any():
        return "has face numbers that are not whole numbers, each once"
    seconds = pd.to_numeric(frame["seconds"], errors="coerce")
    if (seconds < 0).any() or (seconds.isna() & frame["seconds"].notna()).any():
        return "has seconds that are not numbers of 0 or more"
    if quiz_id is not None and str(frame["quiz_id"].iloc[0]) != quiz_id:
        return (f"is for quiz {frame['quiz_id'].iloc[0]}, not {quiz_id}: another draw (other "
                "seed, number of faces or data)")
    return None


def load_answers(path: str | os.PathLike, quiz_id: str | None = None) -> pd.DataFrame:
    """One student's answers CSV, checked; QuizFileError naming the file if it is malformed or,
    with ``quiz_id``, for another quiz draw."""
    try:
        # Text stays text (a student called "NA", an id of digits); only an empty time is missing.
        frame = pd.read_csv(path, dtype={"quiz_id": str, "student": str}, keep_default_na=False,
                            na_values={"seconds": [""]})
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise QuizFileError(f"{path}: not a readable CSV ({type(err).__name__}: {err})") from None
    problem = _check_answers(frame, quiz_id)
    if problem:
        raise QuizFileError(f"{path} {problem}.")
    return frame[list(ANSWER_COLUMNS)]


@dataclass(frozen=True)
class PooledAnswers:
    """A class's answers: every row, one score per student, and the class's score table."""

    answers: pd.DataFrame
    students: pd.DataFrame  # index student: n, correct, accuracy, low, high
    scores: pd.DataFrame  # score() of every answer pooled


def _answer_files(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)) and Path(paths).is_dir():
        found = sorted(Path(paths).glob("quiz_*.csv"))
        if not found:
            raise FileNotFoundError(f"No quiz answers (quiz_*.csv) in {paths}.")
        return found
    files = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    if not files:
        raise ValueError("pool_answers needs at least one answers file or a folder of them")
    return files


def pool_answers(paths: str | os.PathLike | Iterable[str | os.PathLike],
                 quiz_id: str | None = None) -> PooledAnswers:
    """Pool a class's answers CSVs (a folder's ``quiz_*.csv``, or a list of files).

    Every file must be for one quiz draw (``quiz_id``, or the first file's) and each student in
    one file only. The class interval treats every answer as independent; the students all
    answered the same few faces, so it understates how much a new set of faces could change it.
    """
    frames, seen = [], {}
    for path in _answer_files(paths):
        frame = load_answers(path, quiz_id)
        quiz_id = quiz_id or frame["quiz_id"].iloc[0]
        student = frame["student"].iloc[0]
        if student in seen:
            raise QuizFileError(f"{path} holds answers of {student!r}, as does {seen[student]}: "
                                "one file per student (rename one of them).")
        seen[student] = path
        frames.append(frame)
    answers = pd.concat(frames, ignore_index=True)
    students = pd.DataFrame({student: score(group).loc["all"]
                             for student, group in answers.groupby("student", sort=True)}).T
    students = students.astype({"n": int, "correct": int})
    students.index.name = "student"
    return PooledAnswers(answers, students, score(answers))
