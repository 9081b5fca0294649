from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from courses.completion import add_months, is_complete, valid_until
from courses.errors import InvalidAnswers
from courses.models import Question
from courses.quiz import draw_questions, mark, parse_answers


def q(pk: int, outcome: str, correct: list[str], type_: str = "single") -> Question:
    return Question(
        id=pk,
        qid=f"q{pk}",
        outcome=outcome,
        type=type_,
        prompt="?",
        explanation="!",
        options=[{"id": o, "text": o} for o in "abcd"],
        correct=correct,
    )


BANK = [
    q(1, "LO1", ["a"]),
    q(2, "LO1", ["b"]),
    q(3, "LO1", ["c"]),
    q(4, "LO2", ["a"]),
    q(5, "LO2", ["a", "c"], "multiple"),
    q(6, "LO2", ["d"]),
]


def test_draw_takes_n_per_outcome_without_repeats() -> None:
    for seed in range(20):
        drawn = draw_questions(BANK, 2, random.Random(seed))
        by_id = {x.id: x for x in BANK}
        assert len(drawn) == len(set(drawn)) == 4
        assert sorted(by_id[i].outcome for i in drawn) == ["LO1", "LO1", "LO2", "LO2"]


def test_draw_varies_between_attempts() -> None:
    draws = {tuple(sorted(draw_questions(BANK, 2, random.Random(s)))) for s in range(30)}
    assert len(draws) > 1


def test_forged_question_id_is_refused() -> None:
    with pytest.raises(InvalidAnswers):
        parse_answers({"q99": ["a"]}, BANK[:2])
    with pytest.raises(InvalidAnswers):
        parse_answers({"q1x": ["a"]}, BANK[:2])


def test_option_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidAnswers):
        parse_answers({"q1": ["e"]}, BANK[:2])


def test_two_answers_to_a_single_choice_question_are_refused() -> None:
    with pytest.raises(InvalidAnswers):
        parse_answers({"q1": ["a", "b"]}, BANK[:2])


def test_marking_multiple_choice_needs_the_exact_set() -> None:
    drawn = [BANK[4]]
    assert mark(drawn, parse_answers({"q5": ["a", "c"]}, drawn), 80).correct_count == 1
    assert mark(drawn, parse_answers({"q5": ["a"]}, drawn), 80).correct_count == 0
    assert mark(drawn, parse_answers({"q5": ["a", "c", "d"]}, drawn), 80).correct_count == 0


def test_pass_mark_boundary_is_exact() -> None:
    bank = [q(i, "LO1", ["a"]) for i in range(1, 11)]
    eight = {f"q{i}": ["a"] for i in range(1, 9)}
    result = mark(bank, parse_answers(eight, bank), 80)
    assert (result.score_percent, result.passed) == (80, True)
    nine = [q(i, "LO1", ["a"]) for i in range(1, 10)]
    seven = {f"q{i}": ["a"] for i in range(1, 8)}
    result = mark(nine, parse_answers(seven, nine), 80)
    assert (result.score_percent, result.passed) == (77, False)
    assert result.outcomes_to_review() == ["LO1"]


def test_unanswered_counts_as_wrong() -> None:
    result = mark(BANK[:2], {}, 80)
    assert (result.correct_count, result.passed) == (0, False)


def test_expiry_months_clamp_to_month_end() -> None:
    assert add_months(datetime(2028, 2, 29, tzinfo=UTC), 12) == datetime(2029, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert valid_until(datetime(2026, 11, 23, tzinfo=UTC), 36) == datetime(2029, 11, 23, tzinfo=UTC)
    assert valid_until(datetime(2026, 11, 23, tzinfo=UTC), 0) is None


def test_complete_needs_lessons_and_a_pass() -> None:
    assert is_complete([1, 2], [1, 2], True)
    assert not is_complete([1, 2], [1], True)
    assert not is_complete([1, 2], [1, 2], False)
