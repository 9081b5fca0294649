"""Observed practice: observations, their criteria results, signatures and evidence files.

An observation is one assessor watching one worker do one module's practical tasks. It moves
draft -> submitted (assessor signed, competent) -> countersigned (the worker signed) ->
signed_off (a manager signed, where the module needs it). An observation where a criterion is
"not yet met" is kept as `not_yet`: recorded, never complete; a new observation follows later.
Each signature is a row here and an audit event.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from courses.db import Base, UTCDateTime
from courses.models import CatalogueModule

from ..models import User


class ObservationStatus(enum.StrEnum):
    DRAFT = "draft"
    NOT_YET = "not_yet"  # submitted with a criterion not yet met: recorded, not complete
    SUBMITTED = "submitted"  # assessor signed: competent
    COUNTERSIGNED = "countersigned"  # the worker signed their own account
    SIGNED_OFF = "signed_off"  # a manager signed off


class CriterionResult(enum.StrEnum):
    MET = "met"
    NOT_YET = "not_yet"
    NA = "na"


class SignatureKind(enum.StrEnum):
    ASSESSOR = "assessor"
    WITNESS = "witness"
    LEARNER = "learner"
    MANAGER = "manager"


METHOD_LABELS = {
    "direct_observation": "Direct observation",
    "simulation": "Simulation",
    "witness_testimony": "Witness testimony",
    "professional_discussion": "Professional discussion",
    "questioning": "Questioning",
}


class Observation(Base):
    __tablename__ = "observations"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'not_yet', 'submitted', 'countersigned', 'signed_off')",
            name="status_known",
        ),
        CheckConstraint(
            "method IS NULL OR method IN ('direct_observation', 'simulation', "
            "'witness_testimony', 'professional_discussion', 'questioning')",
            name="method_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("catalogue_modules.id"))
    module_code: Mapped[str] = mapped_column(String(16), index=True)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=ObservationStatus.DRAFT.value)
    method: Mapped[str | None] = mapped_column(String(32))
    observed_on: Mapped[date | None] = mapped_column(Date)
    setting: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    assessor_role: Mapped[str | None] = mapped_column(String(120))
    competence_statement: Mapped[str | None] = mapped_column(Text)
    # Set by a phone that captured the observation offline: the same key is recorded once.
    client_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The completion this observation counted toward (one observation completes a module once).
    completion_id: Mapped[int | None] = mapped_column(ForeignKey("completions.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    module: Mapped[CatalogueModule] = relationship()
    learner: Mapped[User] = relationship(foreign_keys=[learner_id])
    assessor: Mapped[User] = relationship(foreign_keys=[assessor_id])
    criteria: Mapped[list[ObservationCriterion]] = relationship(
        back_populates="observation",
        order_by="ObservationCriterion.id",
        cascade="all, delete-orphan",
    )
    signatures: Mapped[list[Signature]] = relationship(
        back_populates="observation", order_by="Signature.id", cascade="all, delete-orphan"
    )
    evidence: Mapped[list[EvidenceFile]] = relationship(
        back_populates="observation", order_by="EvidenceFile.id", cascade="all, delete-orphan"
    )

    def results(self) -> dict[str, str]:
        return {c.criterion_id: c.result for c in self.criteria}

    def signature(self, kind: SignatureKind) -> Signature | None:
        return next((s for s in self.signatures if s.kind == kind.value), None)


class ObservationCriterion(Base):
    __tablename__ = "observation_criteria"
    __table_args__ = (
        UniqueConstraint(
            "observation_id", "criterion_id", name="uq_observation_criteria_observation_criterion"
        ),
        CheckConstraint("result IN ('met', 'not_yet', 'na')", name="result_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observations.id"), index=True)
    criterion_id: Mapped[str] = mapped_column(String(8))
    result: Mapped[str] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(Text)

    observation: Mapped[Observation] = relationship(back_populates="criteria")


class Signature(Base):
    """One signature: who, as what, when, saying what. A witness may have no account."""

    __tablename__ = "observation_signatures"
    __table_args__ = (
        CheckConstraint("kind IN ('assessor', 'witness', 'learner', 'manager')", name="kind_known"),
        CheckConstraint("user_id IS NOT NULL OR witness_name IS NOT NULL", name="signer_named"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    witness_name: Mapped[str | None] = mapped_column(String(120))
    witness_role: Mapped[str | None] = mapped_column(String(120))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    statement: Mapped[str | None] = mapped_column(Text)

    observation: Mapped[Observation] = relationship(back_populates="signatures")
    user: Mapped[User | None] = relationship()


class EvidenceFile(Base):
    """An uploaded photo or PDF, stored outside the web root under a random name."""

    __tablename__ = "evidence_files"
    __table_args__ = (
        CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png', 'application/pdf')",
            name="content_type_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observations.id"), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    original_name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    observation: Mapped[Observation] = relationship(back_populates="evidence")
