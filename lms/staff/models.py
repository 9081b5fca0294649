"""Tables of the staff area: uploaded import files awaiting confirmation, and reminders sent."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from courses.db import Base, UTCDateTime


class ImportStatus(enum.StrEnum):
    PENDING = "pending"  # previewed, waiting for "Import N staff"
    IMPORTED = "imported"


class ImportBatch(Base):
    """A staff CSV as uploaded, kept server-side between the preview and the confirmation.

    The confirmation imports exactly these bytes (checked against `sha256`), re-validated
    against the database as it is at that moment. A batch is used once and expires.
    """

    __tablename__ = "staff_import_batches"
    __table_args__ = (CheckConstraint("status IN ('pending', 'imported')", name="status_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(43), unique=True)  # random, used in the URL
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default=ImportStatus.PENDING.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    imported_count: Mapped[int | None] = mapped_column(Integer)


class ReminderKind(enum.StrEnum):
    EXPIRING = "expiring"  # to the worker, at each 90/60/30-day mark within the org threshold
    MISSING = "missing"  # to the worker, once per requirement (never completed)
    EXPIRED = "expired"  # to the worker, once per expiry date
    ESCALATION = "escalation"  # to each manager, once per worker, module and expiry date
    DIGEST = "digest"  # to each manager, once per ISO week


class ReminderState(enum.StrEnum):
    SENDING = "sending"  # claimed by a run; the e-mail is being handed to the SMTP server
    SENT = "sent"
    FAILED = "failed"  # the SMTP server could not take it; the next run tries again


class ReminderSent(Base):
    """One reminder, claimed before it is sent so that no run sends it twice.

    The unique key is the reminder's identity: who it goes to, which worker and module it is
    about, which cycle (the expiry date, "missing", or the ISO week of a digest) and which
    threshold (90/60/30 days; 0 where there is none). A run inserts the row (its own
    transaction) before sending; a second run, even one running at the same time, fails to
    insert it and skips it. See lms/staff/reminders.py for failures and retries.
    """

    __tablename__ = "reminders_sent"
    __table_args__ = (
        UniqueConstraint(
            "org_id",
            "recipient_id",
            "subject_user_id",
            "module_code",
            "kind",
            "cycle",
            "threshold",
            name="uq_reminders_sent_identity",
        ),
        CheckConstraint(
            "kind IN ('expiring', 'missing', 'expired', 'escalation', 'digest')",
            name="kind_known",
        ),
        CheckConstraint("state IN ('sending', 'sent', 'failed')", name="state_known"),
        Index("ix_reminders_sent_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    subject_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    module_code: Mapped[str] = mapped_column(String(16))  # "" for a digest
    kind: Mapped[str] = mapped_column(String(12))
    cycle: Mapped[str] = mapped_column(String(20))  # "2027-03-01", "missing", "2026-W49"
    threshold: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(8), default=ReminderState.SENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    # False after a permanent refusal (SMTP 5xx): then retries stop after MAX_ATTEMPTS.
    retryable: Mapped[bool] = mapped_column(Boolean, default=True)
