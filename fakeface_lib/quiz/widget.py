"""The quiz's ipywidgets UI: one face at a time (the file's own bytes, shown scaled down to fit a
laptop screen when large), Real / Fake buttons, the progress, and the score table at the end.
Runs on ipywidgets 7.7 (Colab) and 8 (current Jupyter); the logic is :mod:`fakeface_lib.quiz.draw`'s.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
from IPython.display import display, update_display
from PIL import Image

from fakeface_lib.quiz.draw import Quiz, QuizNotFinished, format_scores, record_answers, score, scores_html

try:
    import ipywidgets as widgets
except ModuleNotFoundError as err:  # not a base requirement: it would bring its own kernel
    raise ModuleNotFoundError(
        "The quiz widget needs ipywidgets, which Colab ships: elsewhere pip install "
        "'ipywidgets>=7.7' (or the project's dev extra, pip install -e '.[dev]').") from err

# Where to go once the quiz is done, in the three front ends students use. Colab's "Run after"
# and Jupyter's commands both start at the selected cell, so the student selects the cell below
# the quiz: rerunning the quiz's own cell would start it again, its answers lost.
RUN_BELOW = {"Colab": "Runtime → Run after",
             "JupyterLab, Notebook 7": "Run → Run Selected Cell and All Below",
             "Notebook 6": "Cell → Run All Below"}
RUN_BELOW_TEXT = "; ".join(f"{where}: {menu}" for where, menu in RUN_BELOW.items())
DONE_HINT = ("Done. Now click the cell below the quiz and run it and the ones after it ("
             + "; ".join(f"{where}: <i>{menu}</i>" for where, menu in RUN_BELOW.items()) + ").")
MAX_SHOWN = (560, 420)  # width, height in CSS px: a 600 px face, its buttons and the progress fit
MIN_SECONDS_SHOWN = 0.3  # clicks sooner after a face appears were aimed at the face before it


def face_image(path: str | Path) -> tuple[bytes, str, int, int]:
    """The file's own bytes (nothing resized or re-encoded), its format, width and height."""
    with Image.open(path) as img:
        kind, width, height = (img.format or "jpeg").lower(), img.width, img.height
    kind = {"mpo": "jpeg"}.get(kind, kind)  # camera JPEGs PIL reads as MPO are plain JPEG to a browser
    return Path(path).read_bytes(), kind, width, height


def shown_size(width: int, height: int, box: tuple[int, int] = MAX_SHOWN) -> tuple[int, int]:
    """The size a face is shown at: its own, or scaled down (never up) to fit ``box``, keeping
    its aspect. Only the browser scales it: the bytes sent are the file's."""
    scale = min(1.0, box[0] / width, box[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


class QuizWidget:
    """Shows a quiz's faces one at a time and records the answers and the seconds each took.

    ``others``: answers of others on the same quiz (a network's, from ``quiz.model_answers``),
    shown beside the student's score once every face is answered, never before. Display it as
    the last line of a cell, or with ``display(ui)``; tests drive it with ``real_button.click()``
    and an injected ``clock`` (seconds, like ``time.monotonic``).

    Each face is timed from when it is shown. A click less than ``MIN_SECONDS_SHOWN`` after a
    face appeared is ignored: it is the second click of a double-click, aimed at the face before.
    """

    def __init__(self, quiz: Quiz, student: str = "", *,
                 others: Mapping[str, pd.DataFrame] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.quiz, self.others, self._clock = quiz, dict(others or {}), clock
        self._answers: list[str] = []
        self._seconds: list[float] = []
        self._displayed = False
        self._score_id = f"quiz-score-{uuid.uuid4().hex}"  # the plain copy of the final score
        self.name = widgets.Text(value=student, description="Your name:",
                                 placeholder="it names your answers file")
        self.name.observe(self._name_typed, names="value")
        self.progress = widgets.HTML()
        self.image = widgets.Image(layout=widgets.Layout(height="auto", max_width="100%"))
        self.real_button = widgets.Button(description="Real", button_style="success")
        self.fake_button = widgets.Button(description="Fake", button_style="danger")
        self.real_button.on_click(lambda _: self.answer("real"))
        self.fake_button.on_click(lambda _: self.answer("fake"))
        self.result = widgets.HTML()
        self.widget = widgets.VBox([self.name, self.progress, self.image,
                                    widgets.HBox([self.real_button, self.fake_button]),
                                    self.result])
        self._show_face()
        # Face 1 is not on screen yet: building the widget is not showing it (under *Run all*
        # the cells before the quiz may still be running). Its clock starts when the widget is
        # displayed (_ipython_display_), and again whenever the student edits the name before
        # answering, since typing is not looking at the face.
        self._shown_at: float | None = None

    @property
    def finished(self) -> bool:
        return len(self._answers) == len(self.quiz)

    @property
    def answers(self) -> pd.DataFrame:
        """The answers given so far (columns quiz.ANSWER_COLUMNS)."""
        return record_answers(self.quiz, self.name.value, self._answers, self._seconds)

    def finished_answers(self) -> pd.DataFrame:
        """Every answer; until then raises QuizNotFinished, which stops *Run all* at this cell
        and shows only what to do, not a traceback."""
        if not self.finished:
            total = len(self.quiz)
            raise QuizNotFinished(
                f"{len(self._answers)} of {total} faces answered. Answer the {total} faces above, "
                f"then click this cell and run it and the ones below ({RUN_BELOW_TEXT}).")
        return self.answers

    def answer(self, answer: str) -> None:
        """Record ``answer`` ("real" or "fake") for the face shown, then show the next one."""
        if self.finished:
            return  # a late click on a finished quiz
        now = self._clock()
        if self._shown_at is None:  # shown without _ipython_display_ (display(ui.widget)):
            seconds = math.nan       # when face 1 appeared is unknown, so is its time
        elif now - self._shown_at < MIN_SECONDS_SHOWN:
            return  # the face changed under the pointer: nobody has seen this one yet
        else:
            seconds = round(now - self._shown_at, 2)
        self._seconds.append(seconds)
        self._answers.append(answer)
        self._show_face()

    def _name_typed(self, _change) -> None:
        if not self._answers and self._shown_at is not None:
            self._shown_at = self._clock()

    def _show_face(self) -> None:
        done, total = len(self._answers), len(self.quiz)
        if done == total:
            self._finish()
            return
        buttons = (self.real_button, self.fake_button)
        for button in buttons:  # no click reaches a half-swapped face
            button.disabled = True
        value, kind, width, height = face_image(self.quiz.faces["path"].iloc[done])
        shown_width, shown_height = shown_size(width, height)
        self.image.format, self.image.value = kind, value
        self.image.width, self.image.height = str(shown_width), str(shown_height)
        self.image.layout.width = f"{shown_width}px"
        self.progress.value = f"<b>Face {done + 1} / {total}</b>: real or fake?"
        for button in buttons:
            button.disabled = False
        self._shown_at = self._clock()

    def _finish(self) -> None:
        for control in (self.real_button, self.fake_button, self.name):
            control.disabled = True
        self.image.layout.display = "none"
        self.progress.value = f"<b>{len(self.quiz)} / {len(self.quiz)}</b> answered."
        self.result.value = f"{self.score_table()}<p>{DONE_HINT}</p>"
        if self._displayed:
            update_display(self._plain_score(), display_id=self._score_id, raw=True)

    def _scores(self) -> dict[str, pd.DataFrame]:
        scores = {self.answers["student"].iloc[0]: score(self.answers)}
        scores.update({who: score(a) for who, a in self.others.items()})
        return scores

    def score_table(self) -> str:
        """The student's score beside the others', as an HTML table (once every face is answered)."""
        return scores_html(self._scores())

    def _plain_score(self) -> dict[str, str]:
        """The final score as plain output below the widget (HTML, and text for text-only
        viewers), empty until the end: a saved notebook keeps it, where the widget itself shows
        only "model not found" once its kernel is gone."""
        if not self.finished:
            return {"text/html": "", "text/plain": ""}
        title = f"Final score, quiz {self.quiz.quiz_id}"
        return {"text/html": f"<p><b>{title}</b> (a copy of the table above that stays in the "
                             f"saved notebook):</p>{self.score_table()}",
                "text/plain": f"{title}:\n{format_scores(self._scores()).to_string()}"}

    def _ipython_display_(self) -> None:
        display(self.widget)
        display(self._plain_score(), raw=True, display_id=self._score_id)  # filled in at the end
        if not self._displayed and not self.finished:
            self._shown_at = self._clock()  # face 1 is on screen from now
        self._displayed = True
