"""Training done elsewhere, recorded by a manager: the detail behind an "external" completion.

The completion itself (source "external") carries what counts toward requirements: the date,
validity, provider, delivery mode and whether it was accredited. This row adds what only an
external record has (the variant, the evidence and certificate number) and its withdrawal. A
record is never edited or deleted: a mistake is corrected by withdrawing it, with a reason,
and recording a new one. A withdrawn record's completion stops counting
(see `lms.external.service.withdrawn_completion_ids`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from courses.db import Base, UTCDateTime

from ..models import Completion, User


class ExternalRecord(Base):
    __tablename__ = "external_records"
    __table_args__ = (
        CheckConstraint(
            "(withdrawn_at IS NULL) = (withdrawn_reason IS NULL)", name="withdrawn_has_reason"
        ),
        CheckConstraint(
            "evidence_content_type IS NULL OR evidence_content_type IN "
            "('image/jpeg', 'image/png', 'application/pdf')",
            name="evidence_type_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    completion_id: Mapped[int] = mapped_column(ForeignKey("completions.id"), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    module_code: Mapped[str] = mapped_column(String(16))
    # e.g. "Tier 1" / "Tier 2" for the Oliver McGowan live session (module.external.variants)
    variant: Mapped[str | None] = mapped_column(String(60))
    # What the manager saw: "elfh certificate seen, copy in HR file" (always allowed)...
    evidence_ref: Mapped[str | None] = mapped_column(String(300))
    certificate_number: Mapped[str | None] = mapped_column(String(100))
    # ...and/or an uploaded copy (checked and cleaned by lms.evidence), stored outside the web
    # root under a random name.
    evidence_stored_name: Mapped[str | None] = mapped_column(String(64), unique=True)
    evidence_content_type: Mapped[str | None] = mapped_column(String(40))
    evidence_size: Mapped[int | None] = mapped_column(Integer)
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    evidence_original_name: Mapped[str | None] = mapped_column(String(120))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)

    completion: Mapped[Completion] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id])
    withdrawn_by: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by_id])

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None
