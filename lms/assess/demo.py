"""Demo data of this area, called by `flask --app wsgi demo` (development instances only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..issuance import IssuanceContext
from ..models import Organisation, Role, User


def seed(
    session: Session,
    ctx: IssuanceContext,
    org: Organisation,
    users: dict[Role, User],
    now: datetime,
) -> None:
    """Create (or keep) this area's demo records. Safe to run again: never duplicates."""
