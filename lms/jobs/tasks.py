"""The registered jobs (see `lms.jobs.REGISTRY`). Plain ids in, small picklable results out.

Each opens its own session (`job_session`), commits what it did and can be run again safely.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..issuance import IssuanceContext, issue_for_completion
from ..models import Completion, CompletionSource, IssuedCredential, User
from . import JobError, job_session

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


def export_dir() -> Path:
    path = Path(current_app.instance_path) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def export_certificates(user_id: int, label: str | None = None) -> dict[str, Any]:
    """A worker's certificates (<short-id>.pdf and .jwt) and passport.json as one zip.

    Written to a temporary file and renamed into place, so a reader never sees half a zip and a
    retry simply writes it again. Returns the file name (under instance/exports/) and the count.
    """
    from .. import status
    from ..pdf import certificate_context, render_certificate

    ctx = IssuanceContext.from_config(current_app.config)
    now = _now()
    with job_session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise JobError(f"There is no user with id {user_id}.")
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
    stem = _SAFE.sub("-", (label or f"user-{user_id}").lower()).strip("-") or f"user-{user_id}"
    name = f"certificates-{stem}.zip"
    _write(export_dir() / name, buffer.getvalue())
    return {"file": name, "credentials": len(creds)}


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


def render_evidence_pack(org_id: int, produced_by_id: int) -> dict[str, Any]:
    """An organisation's evidence pack (PDF and CSV) under instance/exports/.

    Read-only on the database; the files are written whole and renamed into place.
    """
    from ..employer.pack import render_evidence_pack as render

    now = _now()
    with job_session() as session:
        pdf, csv_text = render(session, org_id, produced_by_id, now)
    stem = f"evidence-{org_id}-{now:%Y%m%dT%H%M%S}"
    _write(export_dir() / f"{stem}.pdf", pdf)
    _write(export_dir() / f"{stem}.csv", csv_text.encode("utf-8"))
    return {"pdf": f"{stem}.pdf", "csv": f"{stem}.csv"}


def _write(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
