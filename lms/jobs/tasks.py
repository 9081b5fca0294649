"""The registered jobs (see `lms.jobs.REGISTRY`). Plain ids in, small picklable results out.

Each opens its own session (`job_session`), commits what it did and can be run again safely.
The two export jobs (pdf.export, evidence_pack.render) keep their state on an `Export` row
(lms/jobs/exports.py).
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..issuance import IssuanceContext, issue_for_completion
from ..models import (
    Completion,
    CompletionSource,
    Export,
    ExportKind,
    IssuedCredential,
    Organisation,
    User,
)
from . import JobError, exports, job_session

# Only our own achievements are signed; external and transferred training is recorded, not issued.
ISSUABLE = {CompletionSource.COURSE.value, CompletionSource.AWARD.value}
MAX_BATCH = 10_000


def _now() -> datetime:
    return datetime.now(UTC)


def issue_batch(completion_ids: list[int]) -> dict[str, Any]:
    """Issue the credential of each completion that has none yet.

    One transaction per credential: a worker killed half way keeps what it committed, and the
    retry finds those (unique completion_id) and issues only the rest. Returns counts and the
    ids it skipped with the reason.
    """
    ids = list(dict.fromkeys(int(i) for i in completion_ids))
    if len(ids) > MAX_BATCH:
        raise JobError(f"A batch holds at most {MAX_BATCH} completions; split it.")
    ctx = IssuanceContext.from_config(current_app.config)
    issued = existing = 0
    skipped: dict[int, str] = {}
    for completion_id in ids:
        with job_session() as session:
            completion = session.get(Completion, completion_id)
            if completion is None:
                skipped[completion_id] = "no such completion"
                continue
            if completion.source not in ISSUABLE:
                skipped[completion_id] = f"{completion.source} training is not issued by us"
                continue
            had = session.scalar(
                select(IssuedCredential.id).where(IssuedCredential.completion_id == completion_id)
            )
            if had is not None:
                existing += 1
                continue
            issue_for_completion(session, ctx, completion, _now())
            issued += 1
    return {"issued": issued, "existing": existing, "skipped": skipped}


_SAFE = re.compile(r"[^a-z0-9-]+")


def _slug(text: str | None) -> str:
    """A piece of a file name: lower case, letters, digits and single dashes ("" for none)."""
    return _SAFE.sub("-", (text or "").lower()).strip("-")


def _certificates_zip(session: Session, user: User, now: datetime) -> tuple[bytes, int]:
    """A worker's certificates (<short-id>.pdf and .jwt) and passport.json as one zip."""
    from .. import status
    from ..pdf import certificate_context, render_certificate

    ctx = IssuanceContext.from_config(current_app.config)
    creds = session.scalars(
        select(IssuedCredential)
        .where(IssuedCredential.user_id == user.id)
        .order_by(IssuedCredential.issued_at)
    ).all()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for cred in creds:
            archive.writestr(f"{cred.short_id}.jwt", cred.token + "\n")
            pdf = render_certificate(
                certificate_context(cred, current_app.config["INSTANCE_NAME"]), cred
            )
            archive.writestr(f"{cred.short_id}.pdf", pdf)
        archive.writestr("passport.json", status.passport(session, ctx, user, now))
    return buffer.getvalue(), len(creds)


def _new_export(kind: str, user_id: int, org_id: int | None) -> int:
    """The row a call without `export_id` (`flask jobs enqueue`) makes for itself."""
    with job_session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise JobError(f"There is no user with id {user_id}.")
        try:
            export = exports.request(session, kind=kind, user=user, org_id=org_id, now=_now())
        except exports.ExportBusy as err:
            raise JobError(f"{err.message} (export of {kind} for user {user_id})") from err
        session.flush()
        return export.id


def export_certificates(
    user_id: int | None = None, label: str | None = None, export_id: int | None = None
) -> dict[str, Any]:
    """A worker's certificates and passport as one zip under instance/exports/ (job pdf.export).

    Called with the `export_id` of a queued Export (My certificates), or, from the command line,
    with `user_id` (and an optional `label` for the file name): that makes the Export row
    first. Returns {"export_id", "status", "files"}.
    """
    if export_id is None:
        if user_id is None:
            raise JobError("Give export_id, or user_id to export that worker's certificates.")
        export_id = _new_export(ExportKind.CERTIFICATES.value, user_id, None)

    def make(session: Session, export: Export, now: datetime) -> exports.Made:
        user = session.get(User, export.requested_by_id)
        if user is None:
            raise JobError(f"There is no user with id {export.requested_by_id}.")
        data, count = _certificates_zip(session, user, now)
        stem = _slug(label)
        name = f"certificates-{stem + '-' if stem else ''}{export.created_at:%Y%m%d}-{export.id}"
        return exports.Made([(f"{name}.zip", data)], {"credentials": count})

    return exports.run(export_id, make)


def _plain(value: Any) -> Any:
    """A dataclass report as a dict (picklable, printable); anything else as it is."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def send_reminders(org_id: int | None = None) -> Any:
    """The due and overdue training reminders (lms.staff.reminders.send_reminders).

    Safe to repeat: each reminder is claimed in the database before it is sent, so a retry
    sends only what was not yet claimed.
    """
    from ..mail import mailer_for
    from ..staff.reminders import send_reminders as send

    with job_session() as session:
        report = send(
            session,
            mailer_for(current_app),
            _now(),
            base_url=current_app.config["BASE_URL"],
            org_id=org_id,
        )
    return _plain(report)


def render_evidence_pack(
    org_id: int | None = None, produced_by_id: int | None = None, export_id: int | None = None
) -> dict[str, Any]:
    """An organisation's CQC evidence pack, a PDF and a CSV under instance/exports/.

    Called with the `export_id` of a queued Export (the manager's button), or, from the command
    line, with `org_id` and `produced_by_id`: that makes the Export row first. Audited as
    `evidence_pack.produced` when the files are made. Returns {"export_id", "status", "files"}.
    """
    from ..employer.pack import render_evidence_pack as render

    if export_id is None:
        if org_id is None or produced_by_id is None:
            raise JobError("Give export_id, or org_id and produced_by_id.")
        export_id = _new_export(ExportKind.EVIDENCE_PACK.value, produced_by_id, org_id)

    def make(session: Session, export: Export, now: datetime) -> exports.Made:
        org = session.get(Organisation, export.org_id)
        if org is None:
            raise JobError(f"There is no organisation with id {export.org_id}.")
        pdf, csv_text = render(session, org.id, export.requested_by_id, now, site_id=export.site_id)
        place = f"-{_slug(export.site.name)}" if export.site else ""
        stem = f"cqc-evidence-{org.slug}{place}-{export.created_at:%Y%m%d-%H%M}-{export.id}"
        return exports.Made(
            [(f"{stem}.pdf", pdf), (f"{stem}.csv", csv_text.encode("utf-8"))],
            {"pdf_bytes": len(pdf), "csv_rows": csv_text.count("\n")},
        )

    return exports.run(export_id, make)
