"""Care Certificate records: a manager's sign-off of one standard for one worker.

The award itself is a `Completion` (source "award", module CC-CERT) with its credential; the
standards are signed off one by one first ("phased sign-off"). A sign-off is never edited or
deleted: withdrawing it sets `withdrawn_at` and clears `active`, and a new one may follow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from courses.db import Base, UTCDateTime

from ..models import User


class StandardSignoff(Base):
    """One standard of one worker's Care Certificate, signed off by a manager of the employer.

    `active` is True while the sign-off stands and NULL once withdrawn, so the unique
    constraint allows one active sign-off per (organisation, worker, version, standard) and any
    number of withdrawn ones, on SQLite and PostgreSQL alike (NULLs are never equal).
    """

    __tablename__ = "carecert_signoffs"
    __table_args__ = (
        UniqueConstraint(
            "org_id", "user_id", "version", "standard", "active", name="uq_carecert_signoffs_active"
        ),
        CheckConstraint("standard BETWEEN 1 AND 16", name="standard_known"),
        CheckConstraint("version IN ('2015', '2025')", name="version_known"),
        CheckConstraint("active IS NULL OR active", name="active_true_or_null"),
        CheckConstraint(
            "(active IS NULL) = (withdrawn_at IS NOT NULL)", name="withdrawn_not_active"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    version: Mapped[str] = mapped_column(String(8))
    standard: Mapped[int] = mapped_column(Integer)
    signed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)
    # What evidenced each criterion when it was signed: {"1.1": "quiz CC-01 LO1", ...}.
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool | None] = mapped_column(Boolean, default=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)

    signed_by: Mapped[User] = relationship(foreign_keys=[signed_by_id])
