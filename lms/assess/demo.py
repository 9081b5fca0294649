"""Demo data of this area, called by `flask --app wsgi demo` (development instances only).

The demo learner has "Assisting and moving people" (AMP-01) assigned, its lessons read and its
quiz passed, and is waiting for observed practice: the demo mentor (mentor@example.com) can
open Observations on a phone and record it.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import learning
from ..issuance import IssuanceContext
from ..models import Organisation, QuizAttempt, Role, User

DEMO_OBSERVED = "AMP-01"


def seed(
    session: Session,
    ctx: IssuanceContext,
    org: Organisation,
    users: dict[Role, User],
    now: datetime,
) -> None:
    """Create (or keep) this area's demo records. Safe to run again: never duplicates."""
    learner = users[Role.LEARNER]
    enrolment = learning.enrol(
        session, learner.id, org.id, DEMO_OBSERVED, now, due_on=now + timedelta(days=21)
    )
    module = learning.current_module(session, DEMO_OBSERVED)
    passed = session.scalar(
        select(QuizAttempt.id).where(
            QuizAttempt.user_id == learner.id,
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
        random.Random(11),  # noqa: S311 - demo data, not security
        now,
    )
    answers = {f"q{q.id}": list(q.correct) for q in learning.attempt_questions(module, attempt)}
    learning.submit_attempt(session, ctx, learner.id, attempt.id, answers, now)
