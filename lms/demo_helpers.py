"""What the areas' demo seeds (lms/<area>/demo.py, run by `flask --app wsgi demo`) share.

Development instances only. Everything goes through the real services, and running a seed again
never duplicates anything.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import learning
from .issuance import IssuanceContext
from .models import Organisation, QuizAttempt, User


def pass_quiz(
    session: Session,
    ctx: IssuanceContext,
    learner: User,
    org: Organisation,
    code: str,
    now: datetime,
    *,
    due_in: timedelta,
    rng_seed: int | str,
) -> None:
    """Assign module `code` to the learner (due `due_in` from now); unless they have already
    passed its quiz here, they read every lesson and pass the quiz with the right answers."""
    enrolment = learning.enrol(session, learner.id, org.id, code, now, due_on=now + due_in)
    module = learning.current_module(session, code)
    passed = session.scalar(
        select(QuizAttempt.id).where(
            QuizAttempt.user_id == learner.id,
            QuizAttempt.org_id == org.id,
            QuizAttempt.module_id == module.id,
            QuizAttempt.passed.is_(True),
        )
    )
    if passed is not None:
        return
    for lesson in module.lessons:
        learning.mark_lesson_read(session, learner.id, lesson, now)
    attempt = learning.open_attempt(
        session,
        learner.id,
        enrolment,
        module,
        random.Random(rng_seed),  # noqa: S311 - demo data, not security
        now,
    )
    answers = {f"q{q.id}": list(q.correct) for q in learning.attempt_questions(module, attempt)}
    learning.submit_attempt(session, ctx, learner.id, attempt.id, answers, now)
