"""Quiz rules: draw questions for an attempt, validate submitted answers, mark on the server.

Pure functions over catalogue rows; the random source and the submitted form are parameters.
The correct answers never leave this module except inside a `Marking` after submission.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .errors import InvalidAnswers
from .models import Question

MAX_SELECTED = 6


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
    """Turn form fields `q<id>` into chosen option ids, refusing anything not offered.

    Unanswered questions are allowed (they score zero). A field for a question that was not
    drawn for this attempt, an option id the question does not have, or two options for a
    single-answer question raise InvalidAnswers.
    """
    by_id = {q.id: q for q in drawn}
    answers: dict[int, tuple[str, ...]] = {}
    for key, values in form.items():
        if not key.startswith("q"):
            continue
        raw_id = key[1:]
        if not raw_id.isdigit() or int(raw_id) not in by_id:
            raise InvalidAnswers(
                f"The answer field {key[:20]!r} is not one of this quiz's questions."
            )
        question = by_id[int(raw_id)]
        chosen = tuple(dict.fromkeys(v for v in values if v))
        option_ids = {o["id"] for o in question.options}
        if len(chosen) > MAX_SELECTED or any(c not in option_ids for c in chosen):
            raise InvalidAnswers("An answer names an option that the question does not have.")
        if question.type != "multiple" and len(chosen) > 1:
            raise InvalidAnswers("A question with one right answer was given several answers.")
        answers[question.id] = chosen
    return answers


def mark(
    drawn: Sequence[Question], answers: Mapping[int, Sequence[str]], pass_mark: int
) -> Marking:
    results = []
    for q in drawn:
        chosen = tuple(answers.get(q.id, ()))
        results.append(
            QuestionResult(q.id, q.outcome, chosen, bool(chosen) and set(chosen) == set(q.correct))
        )
    return Marking(sum(r.correct for r in results), len(results), pass_mark, tuple(results))
