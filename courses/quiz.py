"""Quiz rules: draw questions for an attempt, validate submitted answers, mark on the server,
and how many failed attempts a learner may make before a cooling-off period.

Pure functions over catalogue rows; the random source, the clock and the submitted form are
parameters. The correct answers never leave this module except inside a `Marking` after
submission.

Answer fields (from the HTML form or the offline JSON queue):

- `q<id>`: the chosen option ids (single, true/false, multiple), or for an ordering question
  the whole order, first step first.
- `q<id>-<option>`: for an ordering question, the position ("1", "2", ...) given to one step
  by the page's position selects; "" when the learner left it unchosen.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .errors import InvalidAnswers
from .models import Question

MAX_SELECTED = 6
_FIELD = re.compile(r"^q(\d{1,12})(?:-([a-z]{1,5}))?$")


class AnswersRefused(InvalidAnswers):
    """A submission naming questions, options or orders that were not offered.

    `reason` is a stable code for the audit trail: unknown_question, unknown_option,
    several_answers, malformed_order, order_incomplete.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class OrderIncomplete(AnswersRefused):
    """An ordering question's position selects were left part-chosen or give two steps the
    same place: a slip by the learner, not a forgery. `question_id` names the question."""

    def __init__(self, message: str, question_id: int) -> None:
        super().__init__(message, "order_incomplete")
        self.question_id = question_id


@dataclass(frozen=True)
class QuestionResult:
    question_id: int
    outcome: str
    chosen: tuple[str, ...]
    correct: bool


@dataclass(frozen=True)
class Marking:
    correct_count: int
    total: int
    pass_mark: int
    results: tuple[QuestionResult, ...]

    @property
    def score_percent(self) -> int:
        return (100 * self.correct_count) // self.total if self.total else 0

    @property
    def passed(self) -> bool:
        # Compare exactly (no rounding): 8 of 10 at an 80 % pass mark passes, 7 of 9 does not.
        return self.total > 0 and self.correct_count * 100 >= self.pass_mark * self.total

    def outcomes_to_review(self) -> list[str]:
        return sorted({r.outcome for r in self.results if not r.correct})

    def outcome_feedback(self) -> list[tuple[str, bool]]:
        """(outcome id, met) for every outcome this attempt asked about, in outcome order.

        An outcome is met when every question drawn for it was answered right. Nothing here
        says which question or option was right: questions can be drawn again.
        """
        outcomes = {r.outcome for r in self.results}
        review = set(self.outcomes_to_review())
        return [(o, o not in review) for o in sorted(outcomes, key=_outcome_key)]


def _outcome_key(outcome: str) -> tuple[int, str]:
    digits = outcome.removeprefix("LO")
    return (int(digits), outcome) if digits.isdigit() else (10**6, outcome)


def draw_questions(
    questions: Sequence[Question], per_outcome: int, rng: random.Random
) -> list[int]:
    """Pick `per_outcome` questions at random for each learning outcome, in a shuffled order."""
    by_outcome: dict[str, list[Question]] = {}
    for q in questions:
        by_outcome.setdefault(q.outcome, []).append(q)
    drawn: list[int] = []
    for outcome in sorted(by_outcome):
        pool = sorted(by_outcome[outcome], key=lambda q: q.id)
        drawn.extend(q.id for q in rng.sample(pool, min(per_outcome, len(pool))))
    rng.shuffle(drawn)
    return drawn


def parse_answers(
    form: Mapping[str, Sequence[str]], drawn: Sequence[Question]
) -> dict[int, tuple[str, ...]]:
    """Turn form fields into chosen option ids, refusing anything not offered.

    Unanswered questions are allowed (they score zero). A field for a question that was not
    drawn for this attempt, an option id the question does not have, two options for a
    single-answer question, or an order that repeats, leaves out or invents a step raise
    AnswersRefused. Position selects left part-chosen (or two steps given the same place)
    raise OrderIncomplete, so the page can ask the learner to finish that question.
    """
    by_id = {q.id: q for q in drawn}
    answers: dict[int, tuple[str, ...]] = {}
    positions: dict[int, dict[str, str]] = {}
    for key, values in form.items():
        if not key.startswith("q"):
            continue
        match = _FIELD.match(key)
        if match is None or int(match.group(1)) not in by_id:
            raise AnswersRefused(
                f"The answer field {key[:20]!r} is not one of this quiz's questions.",
                "unknown_question",
            )
        question = by_id[int(match.group(1))]
        option_ids = [o["id"] for o in question.options]
        step = match.group(2)
        if step is not None:
            if question.type != "ordering" or step not in option_ids:
                raise AnswersRefused(
                    "An answer names an option that the question does not have.",
                    "unknown_option",
                )
            positions.setdefault(question.id, {})[step] = _position(values, len(option_ids))
            continue
        given = tuple(v for v in values if v)
        if question.type == "ordering":
            if given:
                answers[question.id] = _check_order(given, option_ids)
            continue
        chosen = tuple(dict.fromkeys(given))
        if len(chosen) > MAX_SELECTED or any(c not in option_ids for c in chosen):
            raise AnswersRefused(
                "An answer names an option that the question does not have.", "unknown_option"
            )
        if question.type != "multiple" and len(chosen) > 1:
            raise AnswersRefused(
                "A question with one right answer was given several answers.", "several_answers"
            )
        answers[question.id] = chosen
    for question_id, placed in positions.items():
        if question_id in answers:
            raise AnswersRefused(
                "An ordering question was answered twice in different ways.", "malformed_order"
            )
        order = _order_from_positions(by_id[question_id], placed)
        if order:
            answers[question_id] = order
    return answers


def _position(values: Sequence[str], steps: int) -> str:
    chosen = [v for v in values if v]
    if len(chosen) > 1:
        raise AnswersRefused("A step was given more than one position.", "malformed_order")
    if chosen and chosen[0] not in {str(n) for n in range(1, steps + 1)}:
        raise AnswersRefused("A step was given a position that does not exist.", "malformed_order")
    return chosen[0] if chosen else ""


def _check_order(given: Sequence[str], option_ids: Sequence[str]) -> tuple[str, ...]:
    if any(g not in option_ids for g in given):
        raise AnswersRefused(
            "An answer names an option that the question does not have.", "unknown_option"
        )
    if len(set(given)) != len(given):
        raise AnswersRefused("An order lists the same step twice.", "malformed_order")
    if len(given) != len(option_ids):
        raise AnswersRefused("An order leaves out some of the steps.", "malformed_order")
    return tuple(given)


def _order_from_positions(question: Question, placed: Mapping[str, str]) -> tuple[str, ...]:
    option_ids = [o["id"] for o in question.options]
    chosen = {step: placed.get(step, "") for step in option_ids}
    if not any(chosen.values()):
        return ()  # left unanswered
    if not all(chosen.values()):
        raise OrderIncomplete("Give every step a position.", question.id)
    if len(set(chosen.values())) != len(chosen):
        raise OrderIncomplete("Give each step a different position.", question.id)
    return tuple(sorted(option_ids, key=lambda step: int(chosen[step])))


def display_options(question: Question, seed: str) -> list[dict[str, Any]]:
    """The options in the order to show them. An ordering question's steps are written in the
    right order, so they are shuffled, the same way every time for one `seed` (keep the seed
    secret: it must not let anyone undo the shuffle), and never left in the right order."""
    options = [dict(o) for o in question.options]
    if question.type != "ordering" or len(options) < 2:
        return options
    shuffled = list(options)
    random.Random(f"{seed}:{question.id}").shuffle(shuffled)  # noqa: S311 - not for secrecy
    if [o["id"] for o in shuffled] == [o["id"] for o in options]:
        shuffled = shuffled[1:] + shuffled[:1]
    return shuffled


def mark(
    drawn: Sequence[Question], answers: Mapping[int, Sequence[str]], pass_mark: int
) -> Marking:
    results = []
    for q in drawn:
        chosen = tuple(answers.get(q.id, ()))
        if q.type == "ordering":  # right only when the whole order matches
            right = bool(chosen) and chosen == tuple(q.correct)
        else:
            right = bool(chosen) and set(chosen) == set(q.correct)
        results.append(QuestionResult(q.id, q.outcome, chosen, right))
    return Marking(sum(r.correct for r in results), len(results), pass_mark, tuple(results))


def locked_until(
    failed_at: Sequence[datetime], max_attempts: int, cooling_off: timedelta, now: datetime
) -> datetime | None:
    """When a learner may next open the quiz, or None if they may now.

    `failed_at` are the submission times of failed attempts since the count last started
    again (the caller starts it after a pass or a manager's reset). After `max_attempts`
    failures the quiz is closed until `cooling_off` after the last of them; at that moment
    it opens and a new count starts. Failures sent during a closed period (an attempt drawn
    earlier) belong to no count.
    """
    count = 0
    cycle_start: datetime | None = None
    for at in sorted(failed_at):
        if cycle_start is not None and at < cycle_start:
            continue
        count += 1
        if count >= max_attempts:
            opens = at + cooling_off
            if now < opens:
                return opens
            count, cycle_start = 0, opens
    return None
