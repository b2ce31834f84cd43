"""The quiz widget of notebook 06, driven headless as a student drives it in a browser: clicks
(``real_button.click()``) at times set by an injected clock, and the display calls recorded."""

from __future__ import annotations

import json
import math
import re
import warnings

import nbformat
import pandas as pd
import pytest
from PIL import Image

from fakeface_lib.quiz import draw as q
from fakeface_lib.quiz import widget as qw


class Clock:
    """A clock the test sets: ``clock.now = 8.0`` is eight seconds after the widget was built."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def shown(monkeypatch) -> list:
    """What the widget displays: ("display", obj, display_id) and ("update", obj, display_id)."""
    calls = []
    monkeypatch.setattr(qw, "display", lambda obj, raw=False, display_id=None:
                        calls.append(("display", obj, display_id)))
    monkeypatch.setattr(qw, "update_display", lambda obj, display_id, raw=False:
                        calls.append(("update", obj, display_id)))
    return calls


@pytest.fixture(scope="module")
def demo_quiz(demo_root) -> q.Quiz:
    from fakeface_lib.data.index import index_dataset
    from fakeface_lib.data.splitting import canonical_split

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the demo data is not the canonical manifest's
        frame = canonical_split(index_dataset(demo_root))
        return q.draw_quiz(frame, n=6, seed=0)


def _click(ui: qw.QuizWidget, answer: str) -> None:
    (ui.real_button if answer == "real" else ui.fake_button).click()


def test_widget_driven_by_clicks_records_answers_and_finishes(demo_quiz, shown):
    clock = Clock()
    truth = demo_quiz.faces["truth"].tolist()
    network = q.record_answers(demo_quiz, "Model 1", truth)  # a network right on every face
    ui = qw.QuizWidget(demo_quiz, "ana", others={"Model 1": network}, clock=clock)
    ui._ipython_display_()
    first = demo_quiz.faces["path"].iloc[0]
    assert ui.image.value == open(first, "rb").read()  # the file's own bytes, its own size
    assert (ui.image.format, ui.image.width, ui.image.height) == ("jpeg", "128", "128")
    assert "Face 1 / 6" in ui.progress.value and ui.result.value == ""
    with pytest.raises(q.QuizNotFinished, match="0 of 6 faces answered"):
        ui.finished_answers()
    clicks = ["real", "fake", "fake", "real", "real", "fake"]
    for i, answer in enumerate(clicks):
        clock.now += 1.5
        _click(ui, answer)
        if i == 2:
            assert "Face 4 / 6" in ui.progress.value and len(ui.answers) == 3
            assert "Model 1" not in ui.result.value, "the network's score only at the end"
    clock.now += 1.5
    ui.fake_button.click()  # one click too many changes nothing
    answers = ui.finished_answers()
    assert answers["answer"].tolist() == clicks and answers["seconds"].tolist() == [1.5] * 6
    assert (answers["student"] == "ana").all() and answers["quiz_id"].iloc[0] == demo_quiz.quiz_id
    assert ui.real_button.disabled and ui.fake_button.disabled and "6 / 6" in ui.progress.value
    expected = q.format_scores({"ana": q.score(answers), "Model 1": q.score(network)})
    assert expected.loc["all", "ana"] in ui.result.value and "6/6 = 100%" in ui.result.value
    assert "Run after" in ui.result.value


def test_a_double_click_answers_one_face(demo_quiz, shown):
    """The second click of a double-click lands on the next face, which nobody has seen yet."""
    clock = Clock()
    ui = qw.QuizWidget(demo_quiz, "ana", clock=clock)
    ui._ipython_display_()
    states = []
    ui.real_button.observe(lambda change: states.append(change["new"]), names="disabled")
    clock.now = 2.0
    ui.real_button.click()
    clock.now = 2.02
    ui.real_button.click()
    assert len(ui.answers) == 1 and "Face 2 / 6" in ui.progress.value
    assert states == [True, False], "the buttons are disabled while the face changes"
    clock.now = 2.2
    ui.fake_button.click()  # still too soon after face 2 appeared
    assert len(ui.answers) == 1
    clock.now = 3.5
    ui.fake_button.click()  # a deliberate answer to face 2
    assert ui.answers["answer"].tolist() == ["real", "fake"]
    assert ui.answers["seconds"].tolist() == [2.0, 1.5], "face 2 timed from when it appeared"


def test_each_face_is_timed_from_when_it_is_shown(demo_quiz, shown):
    clock = Clock()
    ui = qw.QuizWidget(demo_quiz, "ana", clock=clock)  # built at 0 s...
    clock.now = 8.0
    ui._ipython_display_()  # ...shown at 8 s, once the cells above it have run
    clock.now = 8.8
    ui.real_button.click()
    clock.now = 10.0
    ui.fake_button.click()
    assert ui.answers["seconds"].tolist() == [0.8, 1.2]

    typing = qw.QuizWidget(demo_quiz, "", clock=clock)
    clock.now = 20.0
    typing._ipython_display_()
    clock.now = 25.0
    typing.name.value = "ana"  # typing the name is not looking at face 1: its clock starts again
    clock.now = 25.9
    typing.real_button.click()
    clock.now = 30.0
    typing.name.value = "ana b"  # once face 1 is answered, typing changes no time
    clock.now = 31.0
    typing.real_button.click()
    assert typing.answers["seconds"].tolist() == [0.9, 5.1]

    hidden = qw.QuizWidget(demo_quiz, "ana", clock=clock)  # shown as display(hidden.widget)
    clock.now = 50.0
    hidden.real_button.click()
    clock.now = 52.0
    hidden.real_button.click()
    first, second = hidden.answers["seconds"]
    assert math.isnan(first) and second == 2.0, "face 1's time is unknown, not a made-up one"


def _faces(tmp_path, sizes) -> q.Quiz:
    rows = []
    for i, (width, height) in enumerate(sizes):
        path = tmp_path / f"real_{i:05d}.jpg"
        Image.new("RGB", (width, height), (120, 90, 60)).save(path, quality=90)
        rows.append({"face": i + 1, "path": str(path), "filename": path.name, "truth": "real",
                     "difficulty": "real"})
    return q.Quiz(pd.DataFrame(rows), seed=0)


def test_a_large_face_is_shown_scaled_to_fit_a_laptop_screen(tmp_path, shown):
    quiz = _faces(tmp_path, [(600, 600), (600, 450), (450, 600)])
    clock = Clock()
    ui = qw.QuizWidget(quiz, "ana", clock=clock)
    ui._ipython_display_()
    sizes = []
    for path in quiz.faces["path"]:
        assert ui.image.value == open(path, "rb").read(), "the file's bytes, not a resized copy"
        sizes.append((ui.image.width, ui.image.height, ui.image.layout.width))
        clock.now += 1
        ui.real_button.click()
    assert sizes == [("420", "420", "420px"), ("560", "420", "560px"), ("315", "420", "315px")]
    assert ui.image.layout.height == "auto" and ui.image.layout.max_width == "100%"  # keeps aspect
    assert max(int(h) for _, h, _ in sizes) <= qw.MAX_SHOWN[1] <= 420  # + name, buttons: < 600 px
    assert qw.shown_size(128, 128) == (128, 128), "a small face is never enlarged"


def test_final_score_is_a_readable_table_and_a_plain_copy_for_the_saved_notebook(demo_quiz, shown):
    clock = Clock()
    network = q.record_answers(demo_quiz, "Model 1", demo_quiz.faces["truth"])
    ui = qw.QuizWidget(demo_quiz, "ana", others={"Model 1": network}, clock=clock)
    ui._ipython_display_()
    (_, widget, _), (_, placeholder, display_id) = shown
    assert widget is ui.widget and display_id
    assert placeholder == {"text/html": "", "text/plain": ""}, "an empty place below the quiz"
    for _ in range(len(demo_quiz)):
        clock.now += 1
        ui.real_button.click()
    kind, final, updated_id = shown[-1]
    assert (kind, updated_id) == ("update", display_id), "the placeholder below the widget is filled"
    table = ui.score_table()
    assert table in final["text/html"] and table in ui.result.value
    assert "Final score" in final["text/html"] and "6/6 = 100%" in final["text/plain"]
    cells = re.findall(r'<td style="padding:[^"]*">([^<]*)</td>', table)
    assert cells[:3] == ["all", q.format_scores({"ana": q.score(ui.answers)}).loc["all", "ana"],
                         "6/6 = 100% (61%-100%)"], "each score in its own padded cell"
    shown.clear()
    ui._ipython_display_()  # the finished quiz shown again: the copy is there at once
    assert table in shown[1][1]["text/html"]


def test_the_hints_name_the_menus_of_colab_jupyterlab_and_notebook_6(demo_quiz):
    for hint in (qw.DONE_HINT, qw.RUN_BELOW_TEXT):
        for menu in ("Runtime → Run after", "Run → Run Selected Cell and All Below",
                     "Cell → Run All Below"):
            assert menu in hint.replace("<i>", "").replace("</i>", "")
    ui = qw.QuizWidget(demo_quiz, "ana")
    with pytest.raises(q.QuizNotFinished) as error:
        ui.finished_answers()
    assert str(error.value).startswith("0 of 6 faces answered. Answer the 6 faces above, then")
    assert error.value._render_traceback_() == [str(error.value)], "IPython shows one line"


_BUILD = ("from PIL import Image\nimport pandas as pd\n"
          "from fakeface_lib.quiz.draw import Quiz\nfrom fakeface_lib.quiz.widget import QuizWidget\n"
          "Image.new('RGB', (600, 600)).save('face.jpg')\n"
          "quiz = Quiz(pd.DataFrame({'face': [1, 2], 'path': ['face.jpg'] * 2, "
          "'filename': ['a.jpg', 'b.jpg'], 'truth': ['real', 'fake'], "
          "'difficulty': ['real', 'easy']}), seed=0)\n"
          "ui = QuizWidget(quiz, 'ana')\nui")


def _execute(tmp_path, *sources: str) -> tuple[list[dict], Exception | None]:
    """Run the cells in a real kernel as the series runner does: the executed code cells, and
    the runner's NotebookFailed if a cell failed (None if none did)."""
    from fakeface_lib.runner.series import NotebookFailed, execute_notebook

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "quiz.ipynb")
    try:
        execute_notebook(tmp_path / "quiz.ipynb", tmp_path / "out", {})
        failure = None
    except NotebookFailed as err:
        failure = err
    cells = json.loads((tmp_path / "out" / "quiz.ipynb").read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "code"], failure


@pytest.mark.slow
def test_unfinished_quiz_stops_run_all_with_one_plain_line(tmp_path):
    """In a real kernel the cell after the quiz fails, so *Run all* stops there, but its output
    is one line saying what to do, not a traceback."""
    cells, failure = _execute(tmp_path, _BUILD, "answers = ui.finished_answers()", "print('ran on')")
    assert "QuizNotFinished: 0 of 2 faces answered" in str(failure)
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for o in cells[0]["outputs"])
    (error,) = cells[1]["outputs"]
    assert error["output_type"] == "error" and error["ename"] == "QuizNotFinished"
    assert error["traceback"] == [error["evalue"]], "no traceback, just what to do"
    assert error["evalue"].startswith("0 of 2 faces answered. Answer the 2 faces above")
    assert cells[2]["execution_count"] is None and cells[2]["outputs"] == [], "Run all stopped"


@pytest.mark.slow
def test_finished_quiz_leaves_its_score_in_the_saved_notebook(tmp_path):
    """Once the last face is answered, the quiz's own cell gains the score as plain output (a
    display update from the kernel), which a saved notebook keeps without the widget."""
    clicks = "import time\nfor _ in range(2):\n    time.sleep(0.35)\n    ui.real_button.click()"
    cells, failure = _execute(tmp_path, _BUILD, clicks, "answers = ui.finished_answers()\nlen(answers)")
    assert failure is None
    plain = [o for o in cells[0]["outputs"] if "application/vnd.jupyter.widget-view+json"
             not in o.get("data", {})]
    assert len(plain) == 1
    html, text = ("".join(plain[0]["data"][kind]) for kind in ("text/html", "text/plain"))
    assert "Final score, quiz" in html and "1/2 = 50%" in html and "<td style=\"padding" in html
    assert "1/2 = 50%" in text
    assert cells[2]["outputs"][0]["data"]["text/plain"] == ["2"]
