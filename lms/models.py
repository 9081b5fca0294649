"""People, organisations, learning records, keys and issued credentials.

Typed SQLAlchemy 2.0 models on the shared `courses.db.Base` metadata. No model commits: the
view (or CLI command) that owns the request commits once.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
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
    # ASC-WDS workplace id (LOCALESTID in its bulk uploads), when the provider has one.
    ascwds_workplace_id: Mapped[str | None] = mapped_column(String(50))
    # A requirement is EXPIRING this many days before it expires (ASC-WDS uses 90/60/30).
    expiring_days: Mapped[int] = mapped_column(Integer, default=90)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint(
            "kind IN ('care_provider', 'training_provider', 'individual_employer')",
            name="kind_known",
        ),
        CheckConstraint("expiring_days IN (30, 60, 90)", name="expiring_days_known"),
    )


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The interface language the person last chose (lms.i18n.LANGUAGES), for pages on a new
    # device and for the e-mails we send them; None: their browser's preference, or English.
    locale: Mapped[str | None] = mapped_column(String(8), default=None)

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


class CompletionSource(enum.StrEnum):
    """Where a completion came from. Only COURSE and AWARD are our own signed achievements."""

    COURSE = "course"  # one of our modules: lessons, quiz and (where required) observation
    AWARD = "award"  # the Care Certificate, awarded by the registered manager
    EXTERNAL = "external"  # training done elsewhere, recorded by a manager (never signed by us)
    TRANSFER = "transfer"  # a verified credential from another issuer, accepted by a manager


class DeliveredBy(enum.StrEnum):  # ASC-WDS WHODELIVERED
    IN_HOUSE = "in_house"
    EXTERNAL = "external"


class DeliveryMode(enum.StrEnum):  # ASC-WDS HOWDELIVERED
    E_LEARNING = "e_learning"
    FACE_TO_FACE = "face_to_face"
    BLENDED = "blended"


class Completion(Base):
    """A finished module. Kept forever: a later completion never overwrites an earlier one.

    Every kind of training that counts toward a requirement is a completion row (`source`);
    the details live in the source's own table, which points back here (an external record,
    an accepted transfer). `attempt_id` is set for our own courses (the passing attempt).
    """

    __tablename__ = "completions"
    __table_args__ = (
        CheckConstraint(
            "source IN ('course', 'award', 'external', 'transfer')", name="source_known"
        ),
        CheckConstraint(
            "delivered_by IS NULL OR delivered_by IN ('in_house', 'external')",
            name="delivered_by_known",
        ),
        CheckConstraint(
            "delivery_mode IS NULL OR delivery_mode IN ('e_learning', 'face_to_face', 'blended')",
            name="delivery_mode_known",
        ),
        # The training matrix (lms/compliance.py) and its drill-down read through this.
        Index(
            "ix_completions_org_user_module_completed",
            "org_id",
            "user_id",
            "module_id",
            "completed_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # indexed by ix_completions_org_user_module_completed, which starts with org_id
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    module_id: Mapped[int] = mapped_column(ForeignKey("catalogue_modules.id"))
    source: Mapped[str] = mapped_column(String(12), default=CompletionSource.COURSE.value)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("quiz_attempts.id"), unique=True)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # For the ASC-WDS export and the evidence list.
    delivered_by: Mapped[str | None] = mapped_column(String(12))
    delivery_mode: Mapped[str | None] = mapped_column(String(12))
    accredited: Mapped[bool | None] = mapped_column(Boolean)  # None: not known
    provider_name: Mapped[str | None] = mapped_column(String(200))
    # The Care Certificate version the module followed when completed ("2015", "2025"), so
    # evidence made under an older version stays readable as what it was.
    care_certificate_version: Mapped[str | None] = mapped_column(String(8))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    notes: Mapped[str | None] = mapped_column(Text)

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


# --- employers: sites, job roles, what each role must hold, who works where -------------------


class Site(Base):
    """A place an organisation delivers care from (a CQC location)."""

    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_sites_org_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    cqc_location_id: Mapped[str | None] = mapped_column(String(20))
    # LOCALESTID of this site's ASC-WDS workplace, when it differs from the organisation's.
    ascwds_workplace_id: Mapped[str | None] = mapped_column(String(50))


class JobRole(Base):
    """An employer's own job title, mapped to a Care Workforce Pathway role category."""

    __tablename__ = "job_roles"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_job_roles_org_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    # One of courses.frameworks.CWP_ROLE_CATEGORIES.
    cwp_category: Mapped[str] = mapped_column(String(60))

    requirements: Mapped[list[Requirement]] = relationship(
        back_populates="job_role", order_by="Requirement.module_code", cascade="all, delete-orphan"
    )


class RecertMode(enum.StrEnum):
    """How the next expiry is computed when a requirement is met again (Totara's three modes)."""

    COMPLETION_DATE = "completion_date"  # expiry = completion + interval
    PREVIOUS_EXPIRY = "previous_expiry"  # renewing inside the window keeps the old cycle
    FIXED_DATE = "fixed_date"  # expires on a fixed day each year, after a minimum active period


class Requirement(Base):
    """A module that a job role must hold, with the employer's recertification policy.

    `refresh_months` None means "use the module's default"; 0 means "does not expire".
    """

    __tablename__ = "requirements"
    __table_args__ = (
        UniqueConstraint("job_role_id", "module_code", name="uq_requirements_role_module"),
        CheckConstraint(
            "recert_mode IN ('completion_date', 'previous_expiry', 'fixed_date')",
            name="recert_mode_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    job_role_id: Mapped[int] = mapped_column(ForeignKey("job_roles.id"), index=True)
    module_code: Mapped[str] = mapped_column(String(16))
    refresh_months: Mapped[int | None] = mapped_column(Integer)
    recert_mode: Mapped[str] = mapped_column(String(16), default=RecertMode.COMPLETION_DATE.value)
    # Re-enrol this many days before expiry (the recertification window).
    window_days: Mapped[int] = mapped_column(Integer, default=90)
    # FIXED_DATE: the yearly expiry day, and the shortest time a completion must count for.
    fixed_month: Mapped[int | None] = mapped_column(Integer)
    fixed_day: Mapped[int | None] = mapped_column(Integer)
    min_active_months: Mapped[int | None] = mapped_column(Integer)
    # Acceptance policy for transferred credentials.
    accept_transfers: Mapped[bool] = mapped_column(Boolean, default=True)
    transfer_needs_observation: Mapped[bool] = mapped_column(Boolean, default=False)

    job_role: Mapped[JobRole] = relationship(back_populates="requirements")


class Employment(Base):
    """A worker's place in an organisation: job role, site, start date, ASC-WDS worker id."""

    __tablename__ = "employments"
    __table_args__ = (
        UniqueConstraint("org_id", "user_id", name="uq_employments_org_user"),
        UniqueConstraint("org_id", "worker_ref", name="uq_employments_org_worker_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    job_role_id: Mapped[int | None] = mapped_column(ForeignKey("job_roles.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    worker_ref: Mapped[str] = mapped_column(String(50))  # UNIQUEWORKERID in ASC-WDS uploads
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)  # set when they leave; history is kept

    user: Mapped[User] = relationship()
    job_role: Mapped[JobRole | None] = relationship()
    site: Mapped[Site | None] = relationship()


# --- audit trail -----------------------------------------------------------------------------


class AuditEvent(Base):
    """One append-only, hash-chained record of a change (see lms/audit.py).

    `hash` covers every other column and the previous event's hash, so editing or deleting a
    row breaks the chain from that row on. `seq` is gap-free; the unique constraints make a
    fork (two events claiming the same predecessor) impossible even under concurrency.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_label: Mapped[str] = mapped_column(String(254))  # e-mail, "cli" or "system"
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    subject_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


# --- exports made by a job (evidence packs, a worker's certificates) -------------------------


class ExportKind(enum.StrEnum):
    EVIDENCE_PACK = "evidence_pack"  # an organisation's CQC evidence pack (PDF and CSV)
    CERTIFICATES = "certificates"  # a worker's own certificates and passport as one zip


class ExportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Export(Base):
    """A file someone asked for, made by a job (lms/jobs/exports.py) under instance/exports/.

    `files` names what the job wrote (looked up here, never taken from a URL). At most one
    evidence pack per organisation, and one certificates zip per worker, is queued or running
    at a time: the two partial unique indexes make a double click or a race one export.
    """

    __tablename__ = "exports"
    __table_args__ = (
        CheckConstraint("kind IN ('evidence_pack', 'certificates')", name="kind_known"),
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_known"),
        CheckConstraint("kind <> 'evidence_pack' OR org_id IS NOT NULL", name="pack_has_org"),
        Index("ix_exports_org_created", "org_id", "created_at"),
        Index("ix_exports_requested_by_created", "requested_by_id", "created_at"),
        Index(
            "uq_exports_one_pack_at_a_time",
            "org_id",
            unique=True,
            sqlite_where=text("kind = 'evidence_pack' AND status IN ('queued', 'running')"),
            postgresql_where=text("kind = 'evidence_pack' AND status IN ('queued', 'running')"),
        ),
        Index(
            "uq_exports_one_zip_at_a_time",
            "requested_by_id",
            unique=True,
            sqlite_where=text("kind = 'certificates' AND status IN ('queued', 'running')"),
            postgresql_where=text("kind = 'certificates' AND status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    # An evidence pack of one site (a CQC location); None: the whole organisation.
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(
        String(8), default=ExportStatus.QUEUED.value, server_default=ExportStatus.QUEUED.value
    )
    job_id: Mapped[str | None] = mapped_column(String(64))
    files: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Why it failed, in plain words for the person who asked (never a traceback).
    error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    requested_by: Mapped[User] = relationship()
    site: Mapped[Site | None] = relationship()
