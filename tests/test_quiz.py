"""The quiz of notebook 06: drawing, scoring beside a network, CSV files and pooling a class (the
widget that shows the faces: test_quiz_widget.py)."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from fakeface_lib.quiz import answer_files as qf
from fakeface_lib.quiz import draw as q
from fakeface_lib.runner.report import _quiz_line
from fakeface_lib.evaluation.results import save_summary


def _frame(n_real=30, easy=10, mid=20, hard=10, split="test") -> pd.DataFrame:
    """A split frame of named files only (no images): what draw_quiz reads."""
    rows = [{"filename": f"real_{i:05d}.jpg", "label": 1, "difficulty": "real"} for i in range(n_real)]
    for difficulty, count in (("easy", easy), ("mid", mid), ("hard", hard)):
        rows += [{"filename": f"{difficulty}_{i}_1000.jpg", "label": 0, "difficulty": difficulty}
                 for i in range(count)]
    frame = pd.DataFrame(rows).assign(split=split)
    return frame.assign(path="/data/" + frame["filename"])


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.concat([_frame(), _frame(split="train"), _frame(5, 2, 2, 2, split="val")],
                     ignore_index=True)


@pytest.fixture
def quiz(frame) -> q.Quiz:
    return q.draw_quiz(frame, n=20, seed=3)


def _counts(quiz: q.Quiz) -> dict[str, int]:
    return quiz.faces["difficulty"].value_counts().to_dict()


def test_draw_is_reproducible_balanced_and_from_the_test_split(frame, quiz):
    again = q.draw_quiz(frame.sample(frac=1, random_state=1), n=20, seed=3)  # rows in another order
    pd.testing.assert_frame_equal(quiz.faces, again.faces)
    assert quiz.quiz_id == again.quiz_id and len(quiz.quiz_id) == 8
    assert _counts(quiz) == {"real": 10, "easy": 3, "mid": 4, "hard": 3}
    test_names = set(frame.loc[frame["split"] == "test", "filename"])
    assert set(quiz.faces["filename"]) <= test_names and quiz.faces["filename"].is_unique
    assert quiz.faces["face"].tolist() == list(range(1, 21))
    assert (quiz.faces["truth"] == np.where(quiz.faces["difficulty"] == "real", "real", "fake")).all()
    assert quiz.faces["truth"].iloc[:10].nunique() == 2, "real and fake faces are shuffled"
    other = q.draw_quiz(frame, n=20, seed=4)
    assert other.quiz_id != quiz.quiz_id and _counts(other) == _counts(quiz)


def test_odd_quiz_has_one_more_real_face(frame):
    assert _counts(q.draw_quiz(frame, n=7, seed=0)) == {"real": 4, "easy": 1, "mid": 1, "hard": 1}


def test_short_split_gives_a_smaller_balanced_quiz_and_says_so():
    demo_like = _frame(n_real=15, easy=2, mid=5, hard=2)  # the demo dataset's test split
    with pytest.warns(q.QuizWarning, match="holds 18 faces, not 20"):
        short = q.draw_quiz(demo_like, n=20, seed=0)
    assert _counts(short) == {"real": 9, "easy": 2, "mid": 5, "hard": 2}
    assert q.quiz_size(demo_like, 20) == 18 and q.quiz_size(demo_like, 7) == 7
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # asked for what the split holds: no QuizWarning
        same = q.draw_quiz(demo_like, n=q.quiz_size(demo_like, 20), seed=0)
    assert same.quiz_id == short.quiz_id
    with pytest.raises(ValueError, match="real and fake"):
        q.draw_quiz(_frame(hard=0, easy=0, mid=0), n=20)
    with pytest.raises(ValueError, match="at least 2"):
        q.draw_quiz(demo_like, n=1)


@pytest.mark.parametrize("n, available, expected", [
    (10, {"easy": 24, "mid": 48, "hard": 24}, {"easy": 3, "mid": 4, "hard": 3}),
    (9, {"easy": 2, "mid": 5, "hard": 2}, {"easy": 2, "mid": 5, "hard": 2}),
    (4, {"easy": 0, "mid": 1, "hard": 9}, {"easy": 0, "mid": 1, "hard": 3}),
])
def test_fakes_spread_over_difficulties(n, available, expected):
    assert q._allocate(n, available) == expected


def _wilson(correct: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval by its formula, independent of scipy."""
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_score_overall_and_per_difficulty_hand_computed(quiz):
    faces = quiz.faces
    # Right on every real face, on the easy fakes and on one mid fake; wrong on the rest.
    first_mid = faces.index[faces["difficulty"] == "mid"][0]
    right = faces["difficulty"].isin(["real", "easy"]) | (faces.index == first_mid)
    answers = np.where(right, faces["truth"], np.where(faces["truth"] == "real", "fake", "real"))
    table = q.score(q.record_answers(quiz, "ana", answers))
    assert table.index.tolist() == ["all", "real", "easy", "mid", "hard"]
    assert table["n"].tolist() == [20, 10, 3, 4, 3]
    assert table["correct"].tolist() == [14, 10, 3, 1, 0]
    assert table["accuracy"].tolist() == pytest.approx([0.7, 1.0, 1.0, 0.25, 0.0])
    for group, row in table.iterrows():
        assert (row["low"], row["high"]) == pytest.approx(_wilson(row["correct"], row["n"])), group
    assert (table.loc["all", "low"], table.loc["all", "high"]) == pytest.approx((0.4810, 0.8545), abs=1e-4)
    assert table.loc["hard", "high"] == pytest.approx(0.5615, abs=1e-4)  # 0 of 3 still allows 56 %
    text = q.format_scores({"ana": table})
    assert text.loc["all", "ana"] == "14/20 = 70% (48%-85%)"


def test_scores_html_is_a_padded_table_with_one_cell_per_score(quiz):
    you = q.score(q.simulate_answers(quiz, accuracy=1.0))
    net = q.score(q.simulate_answers(quiz, accuracy=0.0))
    page = q.scores_html({"<b>ana</b>": you, "Model 1": net})
    rows = re.findall(r"<tr>(.*?)</tr>", page)
    cells = [re.findall(r"<t[hd] style=\"([^\"]*)\">(.*?)</t[hd]>", row) for row in rows]
    assert [text for _, text in cells[0]] == ["faces", "&lt;b&gt;ana&lt;/b&gt;", "Model 1"]  # escaped
    assert [text for _, text in cells[1]] == ["all", "20/20 = 100% (84%-100%)", "0/20 = 0% (0%-16%)"]
    assert [row[0][1] for row in cells[1:]] == ["all", "real", "easy", "mid", "hard"]
    assert all("padding:" in style and "border-bottom:" in style for row in cells for style, _ in row)
    assert "border-collapse:collapse" in page


def test_model_on_the_same_faces_matched_by_file_name(frame, quiz):
    test = frame[frame["split"] == "test"].sample(frac=1, random_state=0)  # another order
    preds = test.assign(pred=0)[["filename", "pred"]]  # a network that calls everything fake
    model = q.model_answers(quiz, preds, "always fake")
    assert model["filename"].tolist() == quiz.faces["filename"].tolist()
    table = q.score(model)
    assert table.loc["all", "correct"] == 10 and table.loc["real", "correct"] == 0
    assert table.loc["mid", "accuracy"] == 1.0
    with pytest.raises(ValueError, match="lack 1 of the quiz's faces"):
        q.model_answers(quiz, preds[preds["filename"] != quiz.faces["filename"].iloc[4]], "net")


def test_paired_comparison_counts_disagreements_and_tests_them(quiz):
    truth = quiz.faces["truth"].to_numpy()
    flip = np.where(truth == "real", "fake", "real")
    a_right = np.arange(20) < 14  # faces 1-14
    b_right = (np.arange(20) < 9) | ((np.arange(20) >= 14) & (np.arange(20) < 17))  # 1-9, 15-17
    a = q.record_answers(quiz, "ana", np.where(a_right, truth, flip))
    b = q.record_answers(quiz, "net", np.where(b_right, truth, flip))
    result = q.paired_comparison(a, b)
    assert {k: result[k] for k in ("both", "only_a", "only_b", "neither")} == \
        {"both": 9, "only_a": 5, "only_b": 3, "neither": 3}
    assert result["p_value"] == pytest.approx(2 * (56 + 28 + 8 + 1) / 256)  # P(>= 5 of 8) twice
    assert q.paired_comparison(a, a)["p_value"] == 1.0
    with pytest.raises(ValueError, match="same faces"):
        q.paired_comparison(a, b.iloc[:5])


def test_simulated_student_is_deterministic_and_follows_its_accuracy(quiz):
    first = q.simulate_answers(quiz, accuracy=0.6, seed=7)
    pd.testing.assert_frame_equal(first, q.simulate_answers(quiz, accuracy=0.6, seed=7))
    assert not first.equals(q.simulate_answers(quiz, accuracy=0.6, seed=8))
    assert q.score(q.simulate_answers(quiz, accuracy=1.0)).loc["all", "accuracy"] == 1.0
    assert q.score(q.simulate_answers(quiz, accuracy=0.0)).loc["all", "accuracy"] == 0.0
    per_group = q.simulate_answers(quiz, accuracy={"real": 1, "easy": 1, "mid": 0, "hard": 0})
    assert q.score(per_group)["accuracy"].to_dict() == {"all": 13 / 20, "real": 1, "easy": 1,
                                                        "mid": 0, "hard": 0}
    assert first["seconds"].between(2, 8).all() and (first["student"] == q.SIMULATED_STUDENT).all()


def test_record_answers_refuses_what_is_no_answer(quiz):
    with pytest.raises(ValueError, match="'real' or 'fake'"):
        q.record_answers(quiz, "ana", ["real", "maybe"])
    with pytest.raises(ValueError, match="21 answers"):
        q.record_answers(quiz, "ana", ["real"] * 21)
    assert q.record_answers(quiz, "  ", ["Real "])["answer"].tolist() == ["real"]


def test_csv_round_trip(tmp_path, quiz):
    answers = q.simulate_answers(quiz, seed=1, student="Ana María")
    path = qf.save_answers(answers, tmp_path / "answers")
    assert path.name == f"quiz_{quiz.quiz_id}_Ana-Mar-a.csv"
    assert path.read_text().splitlines()[0] == ",".join(q.ANSWER_COLUMNS)
    assert path.stat().st_size < 4096
    pd.testing.assert_frame_equal(qf.load_answers(path, quiz.quiz_id), answers)
    network = q.record_answers(quiz, "NA", quiz.faces["truth"])  # no times; a name pandas reads as NaN
    pd.testing.assert_frame_equal(qf.load_answers(qf.save_answers(network, tmp_path)), network)


def _class(tmp_path, quiz, names=("ana", "ben", "cleo")):
    answers = [q.simulate_answers(quiz, seed=i, student=name) for i, name in enumerate(names)]
    return answers, [qf.save_answers(a, tmp_path) for a in answers]


def test_pooling_a_class(tmp_path, quiz):
    answers, paths = _class(tmp_path, quiz)
    (tmp_path / "model1_preds.csv").write_text("filename,pred\n")  # a run's file in the same folder
    pooled = qf.pool_answers(tmp_path, quiz.quiz_id)
    assert len(pooled.answers) == 60 and pooled.students.index.tolist() == ["ana", "ben", "cleo"]
    for name, own in zip(("ana", "ben", "cleo"), answers):
        assert pooled.students.loc[name, "correct"] == q.score(own).loc["all", "correct"]
    correct = sum(q.score(a).loc["all", "correct"] for a in answers)
    assert pooled.scores.loc["all", "n"] == 60 and pooled.scores.loc["all", "correct"] == correct
    assert (pooled.scores.loc["all", "low"], pooled.scores.loc["all", "high"]) == \
        pytest.approx(_wilson(correct, 60))
    assert qf.pool_answers(paths[:2]).students.index.tolist() == ["ana", "ben"]


@pytest.mark.parametrize("damage, message", [
    (lambda f: f.drop(columns="answer"), r"lacks column\(s\) \['answer'\]"),
    (lambda f: f.assign(answer="maybe"), "answer values \\['maybe'\\]"),
    (lambda f: f.iloc[:0], "holds no answers"),
    (lambda f: f.assign(face=1), "face numbers"),
    (lambda f: f.assign(seconds=-1.0), "seconds"),
    (lambda f: f.assign(student=["ana", "ben"] * 10), "mixes several values of student"),
    (lambda f: f.assign(quiz_id="0badf00d"), "is for quiz 0badf00d, not"),
])
def test_malformed_csv_is_refused_naming_the_file(tmp_path, quiz, damage, message):
    path = tmp_path / "quiz_x_ana.csv"
    damage(q.simulate_answers(quiz, student="ana")).to_csv(path, index=False)
    with pytest.raises(q.QuizFileError, match=message) as error:
        qf.pool_answers([path], quiz.quiz_id)
    assert str(path) in str(error.value)


def test_pooling_refuses_other_draws_duplicates_and_unreadable_files(tmp_path, frame, quiz):
    _class(tmp_path, quiz, names=("ana", "ben"))
    other = q.draw_quiz(frame, n=20, seed=99)
    stray = qf.save_answers(q.simulate_answers(other, student="zoe"), tmp_path)
    with pytest.raises(q.QuizFileError, match=f"{stray.name} is for quiz {other.quiz_id}, not "
                                              f"{quiz.quiz_id}: another draw"):
        qf.pool_answers(tmp_path, quiz.quiz_id)
    with pytest.raises(q.QuizFileError, match="is for quiz"):
        qf.pool_answers(tmp_path)  # without an id, the first file's
    stray.unlink()
    twin = tmp_path / "quiz_copy_of_ana.csv"
    twin.write_text((tmp_path / f"quiz_{quiz.quiz_id}_ana.csv").read_text())
    with pytest.raises(q.QuizFileError, match="holds answers of 'ana', as does"):
        qf.pool_answers(tmp_path)
    twin.write_bytes(b"")
    with pytest.raises(q.QuizFileError, match="quiz_copy_of_ana.csv: not a readable CSV"):
        qf.pool_answers(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="No quiz answers"):
        qf.pool_answers(empty)


def test_summary_plot_and_report_line(tmp_path, quiz):
    you = q.score(q.simulate_answers(quiz, accuracy=1.0))
    net = q.score(q.simulate_answers(quiz, accuracy=0.0, student="net"))
    summary = q.quiz_summary({"you": you, "Model 1": net}, quiz)
    save_summary(tmp_path, "quiz", summary)
    line = _quiz_line(tmp_path)[0]
    assert f"quiz {quiz.quiz_id}, 20 test faces" in line
    assert "you 20/20 = 100 % (95 % interval 84-100 %)" in line and "Model 1 0/20 = 0 %" in line
    fig = q.plot_scores({"you": you, "Model 1": net})
    assert len(fig.axes[0].patches) == 2 * 5  # a bar per answerer and group
    assert _quiz_line(tmp_path / "elsewhere") == []
