"""Demo data of this area, called by `flask --app wsgi demo` (development instances only).

The demo learner has "Assisting and moving people" (AMP-01) assigned, its lessons read and its
quiz passed, and is waiting for observed practice: the demo mentor (mentor@example.com) can
open Observations on a phone and record it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ..demo_helpers import pass_quiz
from ..issuance import IssuanceContext
from ..models import Organisation, Role, User

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
    pass_quiz(
        session, ctx, learner, org, DEMO_OBSERVED, now, due_in=timedelta(days=21), rng_seed=11
    )
