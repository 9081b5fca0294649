"""Accepting transferred training: the trust lists an organisation chose, uploads under review,
and the credentials it accepted.

- `OrgTrustList`: a signed trust list (`trust.json`) an organisation's manager chose to trust,
  pinned by its root thumbprint (the anchor). One per organisation and anchor; a newer list from
  the same root replaces the held one, an older one is refused (rollback protection).
  `is_instance` marks "this CareCred instance": it is rebuilt fresh at every check, so revocations
  made on this instance are seen at once.
- `TransferReview`: one upload (passport, PDF, credential file, QR) for one worker, with what the
  verifier said about each credential in it (`TransferItem`). Kept as a log even when nothing in
  it could be accepted; nothing else changes until a manager decides.
- `AcceptedCredential`: the evidence behind a `Completion` of source TRANSFER: the original signed
  credential, who issued it and the verification result at the moment it was accepted. One per
  organisation, worker and credential id (the same credential cannot be accepted twice).
"""

from __future__ import annotations

import enum
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

from ..models import Completion, Requirement, User


class OrgTrustList(Base):
    __tablename__ = "org_trust_lists"
    __table_args__ = (
        UniqueConstraint("org_id", "root_thumbprint", name="uq_org_trust_lists_org_root"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    root_thumbprint: Mapped[str] = mapped_column(String(64))  # the anchor
    trust_list_text: Mapped[str] = mapped_column(Text)  # the signed file, as uploaded
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    is_instance: Mapped[bool] = mapped_column(Boolean, default=False)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())

    added_by: Mapped[User | None] = relationship()


class InputKind(enum.StrEnum):
    PASSPORT = "passport"
    PDF = "pdf"
    TOKEN = "token"  # a .jwt credential file  # noqa: S105
    QR_IMAGE = "qr_image"
    QR_TEXT = "qr_text"


class ItemStatus(enum.StrEnum):
    REFUSED = "refused"  # did not verify: shown with the reason, nothing to decide
    PENDING = "pending"  # verified; waiting for the manager's decision
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class TransferReview(Base):
    __tablename__ = "transfer_reviews"
    __table_args__ = (
        CheckConstraint(
            "input_kind IN ('passport', 'pdf', 'token', 'qr_image', 'qr_text')",
            name="input_kind_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    input_kind: Mapped[str] = mapped_column(String(12))
    file_name: Mapped[str | None] = mapped_column(String(120))  # sanitised, for display only
    file_sha256: Mapped[str] = mapped_column(String(64))
    # Another e-mail address the worker said she used with the issuer (checked against the hash).
    other_email: Mapped[str | None] = mapped_column(String(254))
    # Status lists stapled to a passport, kept to re-check revocation when deciding.
    status_lists: Mapped[list[str]] = mapped_column(JSON, default=list)

    worker: Mapped[User] = relationship(foreign_keys=[worker_id])
    uploaded_by: Mapped[User | None] = relationship(foreign_keys=[uploaded_by_id])
    items: Mapped[list[TransferItem]] = relationship(
        back_populates="review", order_by="TransferItem.position", cascade="all, delete-orphan"
    )


class TransferItem(Base):
    """One credential of an upload, with the verifier's verdict and our policy checks."""

    __tablename__ = "transfer_items"
    __table_args__ = (
        UniqueConstraint("review_id", "position", name="uq_transfer_items_review_position"),
        CheckConstraint(
            "status IN ('refused', 'pending', 'accepted', 'rejected')", name="status_known"
        ),
        CheckConstraint("kind IN ('jwt', 'qr')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("transfer_reviews.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(4))  # 'jwt' (VC-JWT) or 'qr' (CC1: text)
    credential_text: Mapped[str] = mapped_column(Text)  # the original, kept as evidence
    credential_id: Mapped[str | None] = mapped_column(String(255), index=True)
    issuer_id: Mapped[str | None] = mapped_column(String(500))
    issuer_name: Mapped[str | None] = mapped_column(String(500))
    learner_name: Mapped[str | None] = mapped_column(String(500))
    achievement_name: Mapped[str | None] = mapped_column(String(500))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid: Mapped[bool] = mapped_column(Boolean)
    reason_code: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    verification: Mapped[dict[str, Any]] = mapped_column(JSON)  # VerificationResult.to_json()
    # [{"check": ..., "ok": bool, "message": ...}] (ownership, match, policy)
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    requirement_id: Mapped[int | None] = mapped_column(ForeignKey("requirements.id"))
    acceptable: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(Text)
    completion_id: Mapped[int | None] = mapped_column(ForeignKey("completions.id"))

    review: Mapped[TransferReview] = relationship(back_populates="items")
    requirement: Mapped[Requirement | None] = relationship()
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class AcceptedCredential(Base):
    """The evidence behind an accepted transfer (a `Completion` with source TRANSFER)."""

    __tablename__ = "accepted_credentials"
    __table_args__ = (
        UniqueConstraint(
            "org_id", "user_id", "credential_id", name="uq_accepted_credentials_org_user_cred"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    completion_id: Mapped[int] = mapped_column(ForeignKey("completions.id"), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("transfer_items.id"), unique=True)
    credential_id: Mapped[str] = mapped_column(String(255))
    issuer_id: Mapped[str] = mapped_column(String(500))
    issuer_name: Mapped[str] = mapped_column(String(500))
    achievement_name: Mapped[str] = mapped_column(String(500))
    token: Mapped[str] = mapped_column(Text)  # the original signed credential (VC-JWT)
    verification: Mapped[dict[str, Any]] = mapped_column(JSON)  # at the moment of acceptance
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)

    completion: Mapped[Completion] = relationship()
    accepted_by: Mapped[User | None] = relationship(foreign_keys=[accepted_by_id])
