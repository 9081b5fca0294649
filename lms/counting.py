"""What training counts toward requirements: one rule for every place that asks.

A completion counts unless
- it is an external record a manager withdrew (recorded in error), or
- the credential we issued for it is revoked (for good) or suspended (for now): a verifier
  refuses it, so the matrix, the exports, reminders, "My learning" and the Care Certificate
  tracker must not count it either.

The completion itself is kept (history is never deleted); it just stops counting, and counts
again if a suspension is lifted. Used by lms.compliance (matrix, evidence pack, ASC-WDS export,
reminders, API), lms.learning and lms.carecert.
"""

from __future__ import annotations

import enum

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from .external.models import ExternalRecord
from .models import Completion, IssuedCredential


class NotCounting(enum.StrEnum):
    WITHDRAWN = "withdrawn"
    REVOKED = "revoked"
    SUSPENDED = "suspended"


def _invalid() -> ColumnElement[bool]:
    return or_(IssuedCredential.revoked_at.is_not(None), IssuedCredential.suspended_at.is_not(None))


def not_counting(session: Session, org_id: int | None = None) -> dict[int, NotCounting]:
    """Completion id -> why it does not count (in one organisation, or everywhere)."""
    withdrawn = select(ExternalRecord.completion_id).where(ExternalRecord.withdrawn_at.is_not(None))
    creds = select(
        IssuedCredential.completion_id, IssuedCredential.revoked_at, IssuedCredential.suspended_at
    ).where(_invalid())
    if org_id is not None:
        withdrawn = withdrawn.where(ExternalRecord.org_id == org_id)
        creds = creds.where(IssuedCredential.org_id == org_id)
    out = {cid: NotCounting.WITHDRAWN for cid in session.scalars(withdrawn)}
    for cid, revoked_at, _suspended_at in session.execute(creds):
        out[cid] = NotCounting.REVOKED if revoked_at is not None else NotCounting.SUSPENDED
    return out


def counts() -> ColumnElement[bool]:
    """A WHERE clause for queries over Completion: only completions that count."""
    withdrawn = select(ExternalRecord.id).where(
        ExternalRecord.completion_id == Completion.id, ExternalRecord.withdrawn_at.is_not(None)
    )
    invalid = select(IssuedCredential.id).where(
        IssuedCredential.completion_id == Completion.id, _invalid()
    )
    return and_(~withdrawn.exists(), ~invalid.exists())
