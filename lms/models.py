"""People, organisations, learning records, keys and issued credentials.

Typed SQLAlchemy 2.0 models on the shared `courses.db.Base` metadata. No model commits: the
view (or CLI command) that owns the request commits once.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from courses.db import Base, UTCDateTime
from courses.models import CatalogueModule


class OrgKind(enum.StrEnum):
    CARE_PROVIDER = "care_provider"
    TRAINING_PROVIDER = "training_provider"
    INDIVIDUAL_EMPLOYER = "individual_employer"


class Role(enum.StrEnum):
    LEARNER = "learner"
    MENTOR = "mentor"
    MANAGER = "manager"
    ADMIN = "admin"


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(24))
    # Registered identifiers, shown to verifiers through the trust list.
    cqc_provider_id: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint(
            "kind IN ('care_provider', 'training_provider', 'individual_employer')",
            name="kind_known",
        ),
    )


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def roles_in(self, org_id: int) -> set[str]:
        return {m.role for m in self.memberships if m.org_id == org_id}


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "org_id", "role", name="uq_memberships_user_org_role"),
        CheckConstraint("role IN ('learner', 'mentor', 'manager', 'admin')", name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))

    user: Mapped[User] = relationship(back_populates="memberships")
    organisation: Mapped[Organisation] = relationship()


class Enrolment(Base):
    """A module assigned to a worker by an organisation (by module code: the current version)."""

    __tablename__ = "enrolments"
    __table_args__ = (
        UniqueConstraint("user_id", "org_id", "module_code", name="uq_enrolments_user_org_module"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    module_code: Mapped[str] = mapped_column(String(16))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_on: Mapped[datetime | None] = mapped_column(Date)

    organisation: Mapped[Organisation] = relationship()


class LessonProgress(Base):
    __tablename__ = "lesson_progress"
    __table_args__ = (
        UniqueConstraint("user_id", "lesson_id", name="uq_lesson_progress_user_lesson"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("catalogue_lessons.id"))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AttemptStatus(enum.StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    EXPIRED = "expired"  # left open too long; never marked


class QuizAttempt(Base):
    """One sitting of a quiz, bound to the questions drawn for it when it started."""

    __tablename__ = "quiz_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    module_id: Mapped[int] = mapped_column(ForeignKey("catalogue_modules.id"), index=True)
    question_ids: Mapped[list[int]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default=AttemptStatus.OPEN.value)
    # Idempotency key of the submission that closed the attempt (an offline device sends the
    # same key every time it retries); NULL for a submission from the online form.
    submission_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answers: Mapped[dict[str, list[str]] | None] = mapped_column(JSON)
    correct_count: Mapped[int | None] = mapped_column(Integer)
    total: Mapped[int | None] = mapped_column(Integer)
    score_percent: Mapped[int | None] = mapped_column(Integer)
    passed: Mapped[bool | None] = mapped_column(Boolean)

    module: Mapped[CatalogueModule] = relationship()


class Completion(Base):
    """A finished module. Kept forever: a later completion never overwrites an earlier one."""

    __tablename__ = "completions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    module_id: Mapped[int] = mapped_column(ForeignKey("catalogue_modules.id"))
    attempt_id: Mapped[int] = mapped_column(ForeignKey("quiz_attempts.id"), unique=True)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    module: Mapped[CatalogueModule] = relationship()


class KeyPurpose(enum.StrEnum):
    ISSUER = "issuer"  # signs an organisation's credentials
    ROOT = "root"  # signs this instance's trust list


class SigningKey(Base):
    """An ES256 key pair. The private half is stored only encrypted (see credentials.keys)."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        CheckConstraint("purpose IN ('issuer', 'root')", name="purpose_known"),
        CheckConstraint("(purpose = 'root') = (org_id IS NULL)", name="root_has_no_org"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(8))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSON)
    private_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when the private key may have leaked: anything it signed from then on is refused.
    compromised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    organisation: Mapped[Organisation | None] = relationship()


class StatusPurpose(enum.StrEnum):
    REVOCATION = "revocation"  # permanent
    SUSPENSION = "suspension"  # temporary; can be reinstated


class StatusList(Base):
    """One W3C Bitstring Status List of an issuer (131,072 entries), served at a stable URL.

    Lists come in pairs (revocation + suspension) sharing `number`; a credential holds the same
    index in both. The bits are kept here and re-signed when published.
    """

    __tablename__ = "status_lists"
    __table_args__ = (
        UniqueConstraint("org_id", "purpose", "number", name="uq_status_lists_org_purpose_number"),
        CheckConstraint("purpose IN ('revocation', 'suspension')", name="purpose_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(12))
    number: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    bits: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    organisation: Mapped[Organisation] = relationship()


class IssuedCredential(Base):
    """A signed OpenBadgeCredential (VC-JWT). One per completion, enforced by the database."""

    __tablename__ = "issued_credentials"
    __table_args__ = (
        UniqueConstraint(
            "org_id", "status_list_number", "status_index", name="uq_issued_credentials_status_slot"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    credential_id: Mapped[str] = mapped_column(String(64), unique=True)  # urn:uuid:...
    short_id: Mapped[str] = mapped_column(String(12), unique=True)
    completion_id: Mapped[int] = mapped_column(ForeignKey("completions.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("catalogue_modules.id"))
    kid: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(Text)
    qr_text: Mapped[str | None] = mapped_column(Text)  # compact COSE credential (CC1:...)
    # The QR as a PNG, encoded once on first use (choosing the best mask is slow) and reused.
    qr_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    credential_json: Mapped[dict[str, Any]] = mapped_column(JSON)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Status-list position (random index, unique per issuer and list pair).
    status_list_number: Mapped[int | None] = mapped_column(Integer)
    status_index: Mapped[int | None] = mapped_column(Integer)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revocation_reason: Mapped[str | None] = mapped_column(String(500))
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspension_reason: Mapped[str | None] = mapped_column(String(500))

    module: Mapped[CatalogueModule] = relationship()
    organisation: Mapped[Organisation] = relationship()
    user: Mapped[User] = relationship()

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.suspended_at is not None:
            return "suspended"
        return "active"
