"""Training done elsewhere: a manager records it, it counts, and it is never signed by us.

`record_external` checks every field and either saves the completion (source "external",
delivered by an external provider) with its detail row and an audit event, or raises
`ExternalRefused` naming the field and the problem before anything is written. No credential
is ever issued for an external record: our credentials only state our own achievements.

A mistaken record is withdrawn with a reason (`withdraw_external`), never edited; the
withdrawn completion stops counting: `withdrawn_completion_ids` gives the completions every
compliance or matrix query must leave out.

Takes the session, the clock and the evidence folder; never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.completion import valid_until
from courses.models import CatalogueModule

from .. import audit
from ..accounts import member_of
from ..authz import MANAGERS
from ..errors import Conflict, Forbidden, NotFound, ServiceError
from ..models import (
    Completion,
    CompletionSource,
    DeliveredBy,
    DeliveryMode,
    Membership,
    Organisation,
    User,
)
from .models import ExternalRecord

EARLIEST = date(1990, 1, 1)
LIMITS = {
    "provider_name": 200,
    "evidence_ref": 300,
    "certificate_number": 100,
    "notes": 2000,
    "reason": 1000,
}
DELIVERY_MODES = {
    DeliveryMode.FACE_TO_FACE.value: "Face to face",
    DeliveryMode.E_LEARNING.value: "E-learning",
    DeliveryMode.BLENDED.value: "Blended",
}
ACCREDITED = {"yes": True, "no": False, "unknown": None}


class ExternalRefused(ServiceError):
    """One field is wrong; `field` names the form field so the page can show it there."""

    code, status = "external_refused", 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Upload:
    filename: str | None
    data: bytes


@dataclass(frozen=True)
class ExternalInput:
    user_id: int
    module_code: str
    provider_name: str
    completed_on: date | None
    delivery_mode: str
    accredited: str  # "yes" | "no" | "unknown"
    variant: str | None = None
    evidence_ref: str | None = None
    certificate_number: str | None = None
    notes: str | None = None
    upload: Upload | None = None


def _require_manager(org: Organisation, actor: User) -> None:
    if not actor.roles_in(org.id) & MANAGERS:
        raise Forbidden("Only a manager of this organisation can record training done elsewhere.")


def workers(session: Session, org: Organisation) -> list[User]:
    """Everyone with a role in the organisation, by name (anyone may have done training)."""
    return list(
        session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.org_id == org.id, User.active.is_(True))
            .order_by(User.name, User.id)
            .distinct()
        )
    )


def recordable_modules(session: Session) -> list[CatalogueModule]:
    """Every current module except awards (the Care Certificate is awarded, not recorded)."""
    return list(
        session.scalars(
            select(CatalogueModule)
            .where(CatalogueModule.is_current, CatalogueModule.delivery != "award")
            .order_by(CatalogueModule.title)
        )
    )


def _text(field: str, value: str | None, *, required: bool = False, label: str = "") -> str | None:
    value = (value or "").strip()
    if required and not value:
        raise ExternalRefused(field, f"Enter the {label}.")
    if len(value) > LIMITS[field]:
        raise ExternalRefused(field, f"Keep this under {LIMITS[field]} characters.")
    return value or None


def _worker(session: Session, org: Organisation, user_id: int) -> User:
    user = member_of(session, org, user_id)
    if user is None:
        raise ExternalRefused("user_id", "Choose a worker of this organisation.")
    return user


def _module(session: Session, code: str) -> CatalogueModule:
    module = session.scalar(
        select(CatalogueModule).where(CatalogueModule.code == code, CatalogueModule.is_current)
    )
    if module is None:
        raise ExternalRefused("module_code", "Choose a module from the catalogue.")
    if module.delivery == "award":
        raise ExternalRefused(
            "module_code",
            f"{module.title} is awarded by the registered manager, not recorded as outside "
            "training.",
        )
    return module


def _store_upload(upload: Upload, folder: Path) -> tuple[str, str, int, str, str]:
    """Check, clean and keep the file; (stored name, type, size, sha256, display name)."""
    from ..evidence import EvidenceRefused, keep  # the observations' upload checks

    try:
        kept = keep(upload.filename, upload.data, folder)
    except EvidenceRefused as err:
        raise ExternalRefused("evidence_file", err.message) from None
    return (kept.stored_name, kept.content_type, kept.size, kept.sha256, kept.original_name)


def record_external(
    session: Session,
    org: Organisation,
    actor: User,
    data: ExternalInput,
    now: datetime,
    evidence_folder: Path,
) -> ExternalRecord:
    """Record one piece of training done elsewhere, after checking every field."""
    _require_manager(org, actor)
    worker = _worker(session, org, data.user_id)
    module = _module(session, data.module_code)
    variants = list((module.external or {}).get("variants") or [])
    variant = (data.variant or "").strip() or None
    if variants and variant not in variants:
        raise ExternalRefused("variant", f"Choose which one was done: {' or '.join(variants)}.")
    if not variants and variant is not None:
        raise ExternalRefused("variant", f"{module.title} has no variants: leave this empty.")
    provider = _text("provider_name", data.provider_name, required=True, label="provider's name")
    if data.completed_on is None:
        raise ExternalRefused("completed_on", "Enter the date the training was completed.")
    if data.completed_on > now.date():
        raise ExternalRefused(
            "completed_on", "The completion date is in the future. Enter the day it was done."
        )
    if data.completed_on < EARLIEST:
        raise ExternalRefused(
            "completed_on", f"The completion date must be in {EARLIEST.year} or later."
        )
    if data.delivery_mode not in DELIVERY_MODES:
        raise ExternalRefused(
            "delivery_mode", "Choose how it was delivered: face to face, e-learning or blended."
        )
    if data.accredited not in ACCREDITED:
        raise ExternalRefused("accredited", "Say whether it was accredited: yes, no or don't know.")
    evidence_ref = _text("evidence_ref", data.evidence_ref)
    certificate_number = _text("certificate_number", data.certificate_number)
    notes = _text("notes", data.notes)
    if evidence_ref is None and certificate_number is None and data.upload is None:
        raise ExternalRefused(
            "evidence_ref",
            "Say what evidence you saw (for example the certificate and where a copy is kept), "
            "give the certificate number, or upload a copy.",
        )
    stored = _store_upload(data.upload, evidence_folder) if data.upload is not None else None
    completed_at = datetime.combine(data.completed_on, time(0, 0), tzinfo=UTC)
    completion = Completion(
        user_id=worker.id,
        org_id=org.id,
        module_id=module.id,
        source=CompletionSource.EXTERNAL.value,
        attempt_id=None,
        completed_at=completed_at,
        valid_until=valid_until(completed_at, module.refresh_months),
        delivered_by=DeliveredBy.EXTERNAL.value,
        delivery_mode=data.delivery_mode,
        accredited=ACCREDITED[data.accredited],
        provider_name=provider,
        care_certificate_version=(module.care_certificate or {}).get("version"),
        recorded_by_id=actor.id,
        notes=notes,
    )
    session.add(completion)
    session.flush()
    record = ExternalRecord(
        completion_id=completion.id,
        org_id=org.id,
        user_id=worker.id,
        module_code=module.code,
        variant=variant,
        evidence_ref=evidence_ref,
        certificate_number=certificate_number,
        recorded_by_id=actor.id,
        recorded_at=now,
    )
    if stored is not None:
        (
            record.evidence_stored_name,
            record.evidence_content_type,
            record.evidence_size,
            record.evidence_sha256,
            record.evidence_original_name,
        ) = stored
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="external.recorded",
        entity_type="completion",
        entity_id=completion.id,
        now=now,
        org_id=org.id,
        subject_user_id=worker.id,
        after={
            "external_record_id": record.id,
            "module": module.code,
            "module_version": module.version,
            "variant": variant,
            "provider_name": provider,
            "completed_on": data.completed_on.isoformat(),
            "valid_until": completion.valid_until,
            "delivery_mode": data.delivery_mode,
            "accredited": completion.accredited,
            "evidence_ref": evidence_ref,
            "certificate_number": certificate_number,
            "evidence_sha256": record.evidence_sha256,
        },
    )
    return record


def record_in(session: Session, org: Organisation, record_id: int) -> ExternalRecord:
    record = session.get(ExternalRecord, record_id)
    if record is None or record.org_id != org.id:
        raise NotFound("There is no such record of outside training here.")
    return record


def withdraw_external(
    session: Session,
    org: Organisation,
    actor: User,
    record_id: int,
    reason: str,
    now: datetime,
) -> ExternalRecord:
    """Withdraw a mistaken record (kept, marked withdrawn); its completion stops counting."""
    _require_manager(org, actor)
    record = record_in(session, org, record_id)
    if record.withdrawn:
        raise Conflict("This record was already withdrawn. Nothing was changed.")
    text = _text("reason", reason, required=True, label="reason for withdrawing it")
    record.withdrawn_at = now
    record.withdrawn_by_id = actor.id
    record.withdrawn_reason = text
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="external.withdrawn",
        entity_type="completion",
        entity_id=record.completion_id,
        now=now,
        org_id=org.id,
        subject_user_id=record.user_id,
        before={"external_record_id": record.id, "withdrawn": False},
        after={"external_record_id": record.id, "withdrawn": True},
        reason=text,
    )
    return record


def withdrawn_completion_ids(session: Session, org_id: int | None = None) -> set[int]:
    """Completions of withdrawn external records (in one organisation, or everywhere).

    Every query that counts completions toward requirements must leave these out.
    """
    query = select(ExternalRecord.completion_id).where(ExternalRecord.withdrawn_at.is_not(None))
    if org_id is not None:
        query = query.where(ExternalRecord.org_id == org_id)
    return set(session.scalars(query))


def records(session: Session, org: Organisation, limit: int = 500) -> list[ExternalRecord]:
    return list(
        session.scalars(
            select(ExternalRecord)
            .where(ExternalRecord.org_id == org.id)
            .order_by(ExternalRecord.recorded_at.desc(), ExternalRecord.id.desc())
            .limit(limit)
        )
    )


def record_for_completion(session: Session, completion_id: int) -> ExternalRecord | None:
    return session.scalar(
        select(ExternalRecord).where(ExternalRecord.completion_id == completion_id)
    )


def evidence_path(record: ExternalRecord, folder: Path) -> Path:
    if record.evidence_stored_name is None:
        raise NotFound("No copy of the evidence was uploaded for this record.")
    path = folder / record.evidence_stored_name
    if not path.is_file():
        raise NotFound("The uploaded copy is missing from the evidence store.")
    return path
