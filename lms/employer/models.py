"""Employer-area tables: the daily compliance snapshots behind the chart over time."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from courses.db import Base, UTCDateTime


class ComplianceSnapshot(Base):
    """An organisation's (or one site's) % compliant on one day.

    `scope` is "org" for the whole organisation or "site:<id>" for one site, so one row per
    scope and day is enforced by the database (a nullable site id could not be).
    """

    __tablename__ = "compliance_snapshots"
    __table_args__ = (
        Index("uq_compliance_snapshots_org_scope_day", "org_id", "scope", "day", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    scope: Mapped[str] = mapped_column(String(24))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    day: Mapped[date] = mapped_column(Date)
    percent: Mapped[int | None] = mapped_column(Integer)  # None: nothing required yet
    compliant: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"active": n, "expiring": n, ...}
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
