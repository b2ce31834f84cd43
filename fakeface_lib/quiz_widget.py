"""The quiz's ipywidgets UI: one face at a time at its file's own pixels, Real / Fake buttons, the
progress, and the score table at the end. Runs on ipywidgets 7.7 (Colab) and 8 (current Jupyter);
the logic is :mod:`fakeface_lib.quiz`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
from PIL import Image

from .quiz import Quiz, QuizNotFinished, format_scores, record_answers, score

try:
    import ipywidgets as widgets
except ModuleNotFoundError as err:  # not a base requirement: it would bring its own kernel
    raise ModuleNotFoundError(
        "The quiz widget needs ipywidgets, which Colab ships: elsewhere pip install "
        "'ipywidgets>=7.7' (or the project's dev extra, pip install -e '.[dev]').") from err

DONE_HINT = ("Done. Now run the cells below this one to compare and save (Colab: click this "
             "cell, then <i>Runtime → Run after</i>; Jupyter: click the next cell, then "
             "<i>Run → Run Selected Cell and All Below</i>).")


def face_image(path: str | Path) -> tuple[bytes, str, int, int]:
    """The file's own bytes (nothing resized or re-encoded), its format, width and height."""
    with Image.open(path) as img:
        kind, width, height = (img.format or "jpeg").lower(), img.width, img.height
    kind = {"mpo": "jpeg"}.get(kind, kind)  # camera JPEGs PIL reads as MPO are plain JPEG to a browser
    return Path(path).read_bytes(), kind, width, height


class QuizWidget:
    """Shows a quiz's faces one at a time and records the answers and the seconds each took.

    ``others``: answers of others on the same quiz (a network's, from ``quiz.model_answers``),
    shown beside the student's score once every face is answered, never before. Display it as
    the last line of a cell; tests drive it with ``real_button.click()``.
    """

    def __init__(self, quiz: Quiz, student: str = "", *,
                 others: Mapping[str, pd.DataFrame] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.quiz, self.others, self._clock = quiz, dict(others or {}), clock
        self._answers: list[str] = []
        self._seconds: list[float] = []
        self.name = widgets.Text(value=student, description="Your name:",
                                 placeholder="it names your answers file")
        self.progress = widgets.HTML()
        self.image = widgets.Image()
        self.real_button = widgets.Button(description="Real", button_style="success")
        self.fake_button = widgets.Button(description="Fake", button_style="danger")
        self.real_button.on_click(lambda _: self.answer("real"))
        self.fake_button.on_click(lambda _: self.answer("fake"))
        self.result = widgets.HTML()
        self.widget = widgets.VBox([self.name, self.progress, self.image,
                                    widgets.HBox([self.real_button, self.fake_button]),
                                    self.result])
        self._show_face()

    @property
    def finished(self) -> bool:
        return len(self._answers) == len(self.quiz)

    @property
    def answers(self) -> pd.DataFrame:
        """The answers given so far (columns quiz.ANSWER_COLUMNS)."""
        return record_answers(self.quiz, self.name.value, self._answers, self._seconds)

    def finished_answers(self) -> pd.DataFrame:
        """Every answer; raises QuizNotFinished (which stops *Run all* here) until then."""
        if not self.finished:
            raise QuizNotFinished(
                f"{len(self._answers)} of {len(self.quiz)} faces answered: finish the quiz "
                "above, then run this cell and the ones below again.")
        return self.answers

    def answer(self, answer: str) -> None:
        """Record ``answer`` ("real" or "fake") for the face shown, then show the next one."""
        if self.finished:
            return  # a late click on a finished quiz
        self._seconds.append(round(self._clock() - self._shown_at, 2))
        self._answers.append(answer)
        self._show_face()

    def _show_face(self) -> None:
        done, total = len(self._answers), len(self.quiz)
        if done == total:
            self._finish()
            return
        value, kind, width, height = face_image(self.quiz.faces["path"].iloc[done])
        self.image.format, self.image.value = kind, value
        self.image.width, self.image.height = str(width), str(height)
        self.progress.value = f"<b>Face {done + 1} / {total}</b>: real or fake?"
        self._shown_at = self._clock()

    def _finish(self) -> None:
        for control in (self.real_button, self.fake_button, self.name):
            control.disabled = True
        self.image.layout.display = "none"
        self.progress.value = f"<b>{len(self.quiz)} / {len(self.quiz)}</b> answered."
        scores = {self.answers["student"].iloc[0]: score(self.answers)}
        scores.update({who: score(a) for who, a in self.others.items()})
        table = format_scores(scores).to_html(border=0)
        self.result.value = f"{table}<p>{DONE_HINT}</p>"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
