"""Exports made by a job: a manager's CQC evidence pack, a worker's certificates as one zip.

    export = exports.request(db.session, kind=..., user=me(), org_id=..., now=now)
    export_id = export.id
    db.session.commit()
    exports.submit(export_id, export.kind)   # on the queue, or inline (finished on return)

The request makes an `Export` row (queued) and commits; `submit` starts the job with the row's
id. The job (`run`, called by the tasks in lms/jobs/tasks.py) marks the row running, writes the
files under instance/exports/, then marks it done with the file names, or failed with a short
plain reason (the traceback goes to the log only). Safe to repeat: a retry of a done export
does nothing; a failed or running one is made again (same file names, written whole and
renamed into place), and `evidence_pack.produced` is audited once, with the row turning done.

One evidence pack per organisation and one zip per worker may wait or run at a time (partial
unique indexes on `exports`). One that has waited longer than its job could possibly take
(`STALE_AFTER`) no longer blocks a new request: it is marked failed ("It took too long.").

Files are looked up in the row, never taken from a URL, and served only to the organisation's
managers (packs) or to the worker herself (zips). `prune` forgets exports older than N days.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Response, current_app, send_file
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import audit
from ..errors import Conflict, NotFound, ServiceError
from ..models import Export, ExportKind, ExportStatus, Site, User
from . import REGISTRY, RETRIES, JobError, enqueue, job_session, redis_url

log = logging.getLogger(__name__)

ACTIVE = (ExportStatus.QUEUED.value, ExportStatus.RUNNING.value)
JOB_FOR = {
    ExportKind.EVIDENCE_PACK.value: "evidence_pack.render",
    ExportKind.CERTIFICATES.value: "pdf.export",
}
# Every try of the job timing out, plus time waiting in the queue: after that it is dead.
STALE_AFTER = {
    kind: timedelta(seconds=REGISTRY[job].timeout * (1 + RETRIES)) + timedelta(minutes=30)
    for kind, job in JOB_FOR.items()
}
KEEP_DAYS = 30
MEDIA_TYPES = {".pdf": "application/pdf", ".csv": "text/csv", ".zip": "application/zip"}


def N_(message: str) -> str:
    """Marks a reason for translation where it is shown (pybabel extracts N_)."""
    return message


# The reasons a failure shows (the learner's page translates them).
SOMETHING_WENT_WRONG = N_("Something went wrong while making the files.")
NOT_SAVED = N_("The files could not be saved on the server.")
NO_QUEUE = N_("The job queue is not available at the moment.")
TOO_LONG = N_("It took too long.")
REASONS = (SOMETHING_WENT_WRONG, NOT_SAVED, NO_QUEUE, TOO_LONG)
NO_SUCH_FILE = N_("There is no such file.")
NOT_KEPT = N_("This file is no longer kept. Make a new one.")


class ExportBusy(Conflict):
    """One of the same kind is already waiting or being made."""


class ExportFailed(JobError):
    """Raised by a job after it recorded the failure on the row (so RQ retries it)."""


def _now() -> datetime:
    return datetime.now(UTC)


# --- files -----------------------------------------------------------------------------------


def export_dir() -> Path:
    """instance/exports/, or the app's EXPORTS_DIR (tests keep their files apart with it)."""
    path = Path(
        current_app.config.get("EXPORTS_DIR") or Path(current_app.instance_path) / "exports"
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write(target: Path, data: bytes) -> None:
    """Write whole then rename into place: a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- asking for one --------------------------------------------------------------------------


def is_stale(export: Export, now: datetime) -> bool:
    return export.status in ACTIVE and now - export.created_at > STALE_AFTER[export.kind]


def shown_status(export: Export, now: datetime) -> tuple[str, str | None]:
    """(status, reason) as the page should show it: a dead job's export has failed."""
    if is_stale(export, now):
        return ExportStatus.FAILED.value, TOO_LONG
    return export.status, export.error


def request(
    session: Session,
    *,
    kind: str,
    user: User,
    org_id: int | None,
    now: datetime,
    site_id: int | None = None,
) -> Export:
    """A new queued export (flushed, not committed). ExportBusy if one is waiting or running.

    `site_id` narrows an evidence pack to one of the organisation's sites (a CQC location).
    """
    if kind not in JOB_FOR:
        raise ServiceError(f"There is no kind of export called {kind!r}.")
    if kind == ExportKind.EVIDENCE_PACK.value and org_id is None:
        raise ServiceError("An evidence pack needs an organisation.")
    if site_id is not None:
        site = session.get(Site, site_id)
        if kind != ExportKind.EVIDENCE_PACK.value or site is None or site.org_id != org_id:
            raise NotFound("There is no such site here.")
    owner = (
        Export.org_id == org_id
        if kind == ExportKind.EVIDENCE_PACK.value
        else Export.requested_by_id == user.id
    )
    active = session.scalars(
        select(Export).where(Export.kind == kind, owner, Export.status.in_(ACTIVE))
    ).all()
    for old in active:
        if not is_stale(old, now):
            raise ExportBusy("One is already being made. Wait for it to finish.")
        old.status, old.error, old.finished_at = ExportStatus.FAILED.value, TOO_LONG, now
    export = Export(
        kind=kind,
        org_id=org_id,
        site_id=site_id,
        requested_by_id=user.id,
        status=ExportStatus.QUEUED.value,
        files=[],
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(export)
    except IntegrityError as err:  # another request got there first (the unique index)
        raise ExportBusy("One is already being made. Wait for it to finish.") from err
    return export


def submit(export_id: int, kind: str) -> None:
    """Start the export's job. Call after the caller's commit; inline, it is done on return.

    Never raises for the job's own failure (it is on the row for the page to show). A queue that
    cannot take the job (Redis down) marks the export failed, saying so.
    """
    name = JOB_FOR[kind]
    if not redis_url():
        try:
            handle = enqueue(name, export_id=export_id)
        except ExportFailed:
            return
    else:
        from redis.exceptions import RedisError

        try:
            handle = enqueue(name, export_id=export_id)
        except (RedisError, OSError, JobError):
            log.exception("could not queue export %s", export_id)
            _fail(export_id, NO_QUEUE)
            return
    with job_session() as session:
        session.execute(
            update(Export)
            .where(Export.id == export_id, Export.job_id.is_(None))
            .values(job_id=handle.id[:64])
        )


# --- the job's side --------------------------------------------------------------------------


@dataclass
class Made:
    """What a job made: (file name, bytes) to write, and what to audit (packs)."""

    files: list[tuple[str, bytes]]
    details: dict[str, Any] = field(default_factory=dict)


def reason_for(err: BaseException) -> str:
    """A failure in words for the person who asked; never a traceback."""
    if isinstance(err, ServiceError):
        return err.message[:300]
    if isinstance(err, JobError):
        return str(err)[:300]
    if isinstance(err, OSError):
        return NOT_SAVED
    return SOMETHING_WENT_WRONG


def _fail(export_id: int, reason: str) -> None:
    with job_session() as session:
        session.execute(
            update(Export)
            .where(Export.id == export_id, Export.status != ExportStatus.DONE.value)
            .values(status=ExportStatus.FAILED.value, error=reason, finished_at=_now())
        )


def result(export: Export) -> dict[str, Any]:
    return {"export_id": export.id, "status": export.status, "files": list(export.files)}


def run(export_id: int, make: Callable[[Session, Export, datetime], Made]) -> dict[str, Any]:
    """The body of an export job: running, make the files, done (or failed, then raise)."""
    try:
        with job_session() as session:
            export = session.get(Export, export_id)
            if export is None:  # pruned while it waited: nothing to do, nothing to retry
                log.warning("export %s no longer exists; job skipped", export_id)
                return {"export_id": export_id, "status": "gone", "files": []}
            if export.status == ExportStatus.DONE.value:
                return result(export)
            export.status, export.error = ExportStatus.RUNNING.value, None
            export.finished_at = None
    except IntegrityError:
        # Given up as too slow, and a newer one of the same kind is already waiting or being
        # made (the one-at-a-time index): leave this one failed; the newer one will do.
        log.warning("export %s was replaced by a newer one; job skipped", export_id)
        return {"export_id": export_id, "status": "replaced", "files": []}
    try:
        now = _now()
        with job_session() as session:
            export = session.get_one(Export, export_id)
            made = make(session, export, now)
        folder = export_dir()
        for name, data in made.files:
            _write(folder / name, data)
        names = [name for name, _ in made.files]
        with job_session() as session:
            audit.lock_chain(session)  # the chain's lock first, then the row's (as every writer)
            changed = session.execute(
                update(Export)
                .where(Export.id == export_id, Export.status != ExportStatus.DONE.value)
                .values(status=ExportStatus.DONE.value, files=names, error=None, finished_at=_now())
            )
            export = session.get_one(Export, export_id)
            if changed.rowcount and export.kind == ExportKind.EVIDENCE_PACK.value:
                audit.record(
                    session,
                    actor=session.get(User, export.requested_by_id),
                    action="evidence_pack.produced",
                    entity_type="export",
                    entity_id=export.id,
                    now=now,
                    org_id=export.org_id,
                    after={"files": names, **made.details},
                )
            return result(export)
    except Exception as err:
        reason = reason_for(err)
        log.exception("export %s failed: %s", export_id, reason)
        _fail(export_id, reason)
        raise ExportFailed(reason) from err


# --- reading and downloading -----------------------------------------------------------------


def _recent(session: Session, kind: ExportKind, owner: Any, limit: int) -> list[Export]:
    return list(
        session.scalars(
            select(Export)
            .where(Export.kind == kind.value, owner)
            .order_by(Export.created_at.desc(), Export.id.desc())
            .limit(limit)
        )
    )


def for_organisation(session: Session, org_id: int, limit: int = 10) -> list[Export]:
    """The organisation's recent evidence packs, newest first."""
    return _recent(session, ExportKind.EVIDENCE_PACK, Export.org_id == org_id, limit)


def for_worker(session: Session, user_id: int, limit: int = 3) -> list[Export]:
    """The worker's recent certificate zips, newest first."""
    return _recent(session, ExportKind.CERTIFICATES, Export.requested_by_id == user_id, limit)


def file_of(
    session: Session,
    export_id: int,
    name: str,
    *,
    kind: str,
    org_id: int | None = None,
    user_id: int | None = None,
) -> tuple[Export, Path]:
    """The export and the path of one of its files, if it belongs to that organisation (packs)
    or that worker (zips) and is ready; NotFound otherwise (nothing says what exists)."""
    export = session.get(Export, export_id)
    belongs = (
        export is not None
        and export.kind == kind
        and (org_id is None or export.org_id == org_id)
        and (user_id is None or export.requested_by_id == user_id)
        and (org_id is not None or user_id is not None)
    )
    if export is None or not belongs:
        raise NotFound(NO_SUCH_FILE)
    if export.status != ExportStatus.DONE.value or name not in export.files:
        raise NotFound(NO_SUCH_FILE)
    folder = export_dir().resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        raise NotFound(NOT_KEPT)
    return export, path


def attachment(path: Path) -> Response:
    """The file as a download, never cached, never shown in the browser."""
    response = send_file(
        path,
        mimetype=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
        as_attachment=True,
        download_name=path.name,
        conditional=False,
        etag=False,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- housekeeping ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pruned:
    rows: int
    cutoff: datetime
    files: frozenset[str]  # the forgotten exports' files
    keep: frozenset[str]  # files the remaining exports still name


def prune(session: Session, now: datetime, days: int = KEEP_DAYS) -> Pruned:
    """Delete the rows of exports made more than `days` ago (not committed). Delete the files
    with `remove_files` after the commit, so a failed commit never leaves rows without files."""
    cutoff = now - timedelta(days=days)
    old = session.scalars(select(Export).where(Export.created_at < cutoff)).all()
    names = frozenset(n for e in old for n in e.files)
    for export in old:
        session.delete(export)
    session.flush()
    keep = frozenset(n for files in session.scalars(select(Export.files)) for n in files)
    return Pruned(len(old), cutoff, names, keep)


def remove_files(pruned: Pruned, folder: Path | None = None) -> int:
    """The forgotten exports' files, and any other file there older than the cutoff (left by an
    older version, a crashed write or the command line) that no remaining export names."""
    folder = folder or export_dir()
    removed = 0
    for path in folder.iterdir():
        if not path.is_file() or path.name in pruned.keep:
            continue
        old = datetime.fromtimestamp(path.stat().st_mtime, UTC) < pruned.cutoff
        if path.name in pruned.files or old:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def any_busy(exports: Collection[Export], now: datetime) -> bool:
    """Whether any of these is still waiting or being made (the page then refreshes itself)."""
    return any(shown_status(e, now)[0] in ACTIVE for e in exports)
