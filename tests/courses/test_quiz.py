from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.completion import add_months, is_complete, valid_until
from courses.errors import CatalogueError, InvalidAnswers
from courses.loader import load_catalogue, read_catalogue, read_module
from courses.models import CatalogueModule, Question
from courses.quiz import (
    AnswersRefused,
    OrderIncomplete,
    display_options,
    draw_questions,
    locked_until,
    mark,
    parse_answers,
)

from .conftest import MODULE, QUESTIONS, write_module


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


# --- ordering questions ------------------------------------------------------------------------


def ordering(pk: int = 7, outcome: str = "LO3", steps: str = "abcd") -> Question:
    return Question(
        id=pk,
        qid=f"q{pk}",
        outcome=outcome,
        type="ordering",
        prompt="Put these in order",
        explanation="!",
        options=[{"id": s, "text": f"step {s}"} for s in steps],
        correct=list(steps),
    )


def reason_of(form: dict[str, list[str]], drawn: list[Question]) -> str:
    with pytest.raises(AnswersRefused) as exc:
        parse_answers(form, drawn)
    return exc.value.reason


def test_ordering_is_right_only_when_the_whole_order_matches() -> None:
    drawn = [ordering()]
    assert mark(drawn, parse_answers({"q7": ["a", "b", "c", "d"]}, drawn), 80).correct_count == 1
    assert mark(drawn, parse_answers({"q7": ["a", "b", "d", "c"]}, drawn), 80).correct_count == 0
    assert mark(drawn, parse_answers({"q7": ["d", "c", "b", "a"]}, drawn), 80).correct_count == 0
    assert mark(drawn, {}, 80).correct_count == 0  # unanswered


def test_malformed_orders_are_refused_with_a_reason() -> None:
    drawn = [ordering()]
    assert reason_of({"q7": ["a", "b", "b", "c"]}, drawn) == "malformed_order"  # duplicate
    assert reason_of({"q7": ["a", "b", "c"]}, drawn) == "malformed_order"  # step missing
    assert reason_of({"q7": ["a", "b", "c", "d", "a"]}, drawn) == "malformed_order"
    assert reason_of({"q7": ["a", "b", "c", "z"]}, drawn) == "unknown_option"
    assert reason_of({"q8": ["a", "b", "c", "d"]}, drawn) == "unknown_question"


def test_position_selects_become_an_order() -> None:
    drawn = [ordering()]
    form = {"q7-a": ["2"], "q7-b": ["4"], "q7-c": ["1"], "q7-d": ["3"]}
    assert parse_answers(form, drawn) == {7: ("c", "a", "d", "b")}
    right = {"q7-a": ["1"], "q7-b": ["2"], "q7-c": ["3"], "q7-d": ["4"]}
    assert mark(drawn, parse_answers(right, drawn), 80).passed
    # all left at "choose": unanswered, not an error
    assert parse_answers({f"q7-{s}": [""] for s in "abcd"}, drawn) == {}


def test_part_done_or_clashing_positions_ask_the_learner_to_finish() -> None:
    drawn = [ordering()]
    for form in (
        {"q7-a": ["1"], "q7-b": ["2"], "q7-c": [""], "q7-d": ["3"]},  # one left blank
        {"q7-a": ["1"], "q7-b": ["1"], "q7-c": ["2"], "q7-d": ["3"]},  # two in first place
        {"q7-a": ["1"], "q7-b": ["2"]},  # fields left out
    ):
        with pytest.raises(OrderIncomplete) as exc:
            parse_answers(form, drawn)
        assert exc.value.question_id == 7 and exc.value.reason == "order_incomplete"


def test_forged_position_fields_are_refused() -> None:
    drawn = [ordering(), BANK[0]]
    assert reason_of({"q7-z": ["1"]}, drawn) == "unknown_option"  # not one of its steps
    assert reason_of({"q1-a": ["1"]}, drawn) == "unknown_option"  # not an ordering question
    assert reason_of({"q7-a": ["5"]}, drawn) == "malformed_order"  # no fifth place
    assert reason_of({"q7-a": ["0"]}, drawn) == "malformed_order"
    assert reason_of({"q7-a": ["1", "2"]}, drawn) == "malformed_order"
    both = {"q7": ["a", "b", "c", "d"], **{f"q7-{s}": [str(i)] for i, s in enumerate("abcd", 1)}}
    assert reason_of(both, drawn) == "malformed_order"
    assert reason_of({"q1": ["a", "b"]}, drawn) == "several_answers"


def test_steps_are_shuffled_the_same_way_for_one_seed_and_never_in_the_right_order() -> None:
    question = ordering(steps="abc")
    orders = set()
    for seed in range(60):
        shown = [o["id"] for o in display_options(question, f"seed-{seed}")]
        assert shown == [o["id"] for o in display_options(question, f"seed-{seed}")]
        assert sorted(shown) == ["a", "b", "c"] and shown != ["a", "b", "c"]
        orders.add(tuple(shown))
    assert len(orders) > 1
    # other question types keep the written order
    assert [o["id"] for o in display_options(BANK[0], "seed")] == ["a", "b", "c", "d"]


def test_outcome_feedback_says_met_or_review_per_outcome_only() -> None:
    drawn = [BANK[0], BANK[1], BANK[3], ordering(outcome="LO10")]
    marking = mark(drawn, parse_answers({"q1": ["a"], "q2": ["b"], "q4": ["b"]}, drawn), 80)
    assert marking.outcome_feedback() == [("LO1", True), ("LO2", False), ("LO10", False)]


# --- attempt limits ----------------------------------------------------------------------------

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def test_locked_after_max_failures_until_the_cooling_off_has_passed_exactly() -> None:
    fails = [T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=10)]
    opens = fails[-1] + DAY
    assert locked_until(fails[:2], 3, DAY, T0 + timedelta(minutes=11)) is None
    assert locked_until(fails, 3, DAY, fails[-1]) == opens
    assert locked_until(fails, 3, DAY, opens - timedelta(microseconds=1)) == opens
    assert locked_until(fails, 3, DAY, opens) is None  # at the boundary it opens


def test_a_new_count_starts_when_the_cooling_off_ends() -> None:
    first = [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    reopened = first[-1] + DAY
    later = [reopened + timedelta(hours=1), reopened + timedelta(hours=2)]
    assert locked_until(first + later, 3, DAY, reopened + timedelta(hours=3)) is None
    third = reopened + timedelta(hours=3)
    assert locked_until([*first, *later, third], 3, DAY, third) == third + DAY
    # a failure sent while the quiz was closed (drawn earlier) counts in neither period
    during = first[-1] + timedelta(hours=1)
    assert locked_until([*first, during, *later], 3, DAY, reopened + timedelta(hours=3)) is None


def test_one_attempt_allowed_locks_after_the_first_failure() -> None:
    assert locked_until([T0], 1, timedelta(hours=2), T0 + timedelta(hours=1)) == T0 + timedelta(
        hours=2
    )
    assert locked_until([], 1, timedelta(hours=2), T0) is None


# --- quiz settings and ordering questions in the catalogue format ------------------------------


def test_quiz_settings_are_loaded_with_their_defaults(tmp_path: Path, session: Session) -> None:
    write_module(tmp_path)  # quiz: pass_mark and per_outcome only
    module = copy.deepcopy(MODULE)
    module["id"] = "TST-02"
    module["quiz"] = {"pass_mark": 70, "per_outcome": 1, "max_attempts": 5, "cooling_off_hours": 2}
    write_module(tmp_path, module)
    load_catalogue(session, read_catalogue(tmp_path), T0)
    rows = {m.code: m for m in session.scalars(select(CatalogueModule))}
    assert (rows["TST-01"].max_attempts, rows["TST-01"].cooling_off_hours) == (3, 24)
    got = rows["TST-02"]
    assert (got.pass_mark, got.per_outcome, got.max_attempts, got.cooling_off_hours) == (
        70,
        1,
        5,
        2,
    )


def test_changing_a_quiz_setting_changes_the_content_hash(tmp_path: Path) -> None:
    before = read_module(write_module(tmp_path / "one")).content_hash
    module = copy.deepcopy(MODULE)
    module["quiz"] = {**module["quiz"], "max_attempts": 4}
    assert read_module(write_module(tmp_path / "two", module)).content_hash != before
    module["quiz"] = {**MODULE["quiz"], "cooling_off_hours": 48}
    assert read_module(write_module(tmp_path / "three", module)).content_hash != before


def test_bad_quiz_settings_are_named(tmp_path: Path) -> None:
    module = copy.deepcopy(MODULE)
    module["quiz"] = {"max_attempts": 0, "cooling_off_hours": 1000}
    with pytest.raises(CatalogueError) as exc:
        read_module(write_module(tmp_path, module))
    text = " | ".join(exc.value.problems)
    assert "quiz.max_attempts:" in text and "quiz.cooling_off_hours:" in text


def ordering_spec(correct: list[str], steps: str = "abc") -> dict[str, Any]:
    return {
        "id": "q9",
        "outcome": "LO1",
        "type": "ordering",
        "prompt": "Put these steps in order.",
        "options": [{"id": s, "text": f"Step {s}"} for s in steps],
        "correct": correct,
        "explanation": "Because it is so.",
    }


def test_an_ordering_question_lists_every_step_in_the_written_order(tmp_path: Path) -> None:
    ok = {"questions": [*QUESTIONS["questions"], ordering_spec(["a", "b", "c"])]}
    folder = read_module(write_module(tmp_path / "ok", questions=ok))
    assert [q.type for q in folder.bank.questions][-1] == "ordering"
    for correct, steps, expected in (
        (["b", "a", "c"], "abc", "in the order the options are written"),
        (["a", "b"], "abc", "in the order the options are written"),
        (["a", "b"], "ab", "at least 3 steps"),
    ):
        bank = {"questions": [*QUESTIONS["questions"], ordering_spec(correct, steps)]}
        with pytest.raises(CatalogueError) as exc:
            read_module(write_module(tmp_path / f"bad{len(steps)}{correct[0]}", questions=bank))
        assert any(expected in p for p in exc.value.problems), exc.value.problems


def test_the_catalogue_has_ordering_questions_where_order_matters() -> None:
    modules = {m.spec.id: m for m in read_catalogue()}
    with_ordering = {
        code for code, m in modules.items() if any(q.type == "ordering" for q in m.bank.questions)
    }
    assert {"IPC-01", "FIRE-01", "BLS-01"} <= with_ordering
