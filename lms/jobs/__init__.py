"""Slow work off the request: an RQ queue on Redis, or inline when no Redis is configured.

    from lms import jobs
    handle = jobs.enqueue("pdf.export", user_id=7)
    handle.status()   # "finished" at once inline; "queued" / "started" / "finished" with RQ

`name` must be in `REGISTRY` (name -> "module:function", timeout in seconds). A job function
takes plain ids and values (never ORM objects: they would be pickled into Redis), opens its own
session with `job_session()`, commits, and returns something small and picklable.

With `LMS_REDIS_URL` set, `enqueue` puts the job on the RQ queue (`JOBS_QUEUE`, default
"carecred") with a timeout and `Retry(max=3)`; `make worker` (`flask --app wsgi jobs worker`)
runs it. A worker that dies mid-job (killed, machine lost) leaves the job in RQ's started
registry; when its heartbeat lapses (about 90 s) the next worker's maintenance re-queues it,
counting one retry. Without Redis the job runs inline, in the caller's process, and its result
(or its exception) comes back at once, so the default install needs nothing else.

Every job must be idempotent, because a retry after a kill repeats whatever had not been
committed and may repeat what had: `issuance.batch` relies on `IssuedCredential.completion_id`
being unique and on `issue_for_completion`'s check-then-insert in a savepoint, and commits each
credential on its own, so a retry issues only what is missing and never twice.

Call `enqueue` after the caller's own transaction is committed: an inline job has its own
session, and on SQLite it could not write while the caller still holds the write lock.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

from ..extensions import db


@dataclass(frozen=True)
class JobSpec:
    target: str  # "package.module:function"
    timeout: int  # seconds a worker may spend on one run before it is stopped (and retried)
    description: str


REGISTRY: dict[str, JobSpec] = {
    "issuance.batch": JobSpec(
        "lms.jobs.tasks:issue_batch", 1800, "Issue the credentials of a list of completions"
    ),
    "pdf.export": JobSpec(
        "lms.jobs.tasks:export_certificates",
        900,
        "A worker's certificates (PDF and .jwt) and passport as one zip file under "
        "instance/exports/ (export_id, or user_id [label])",
    ),
    "reminders.send": JobSpec(
        "lms.jobs.tasks:send_reminders", 900, "Send the due and overdue training reminders"
    ),
    "evidence_pack.render": JobSpec(
        "lms.jobs.tasks:render_evidence_pack",
        1800,
        "Render an organisation's evidence pack, PDF and CSV, under instance/exports/ "
        "(export_id, or org_id and produced_by_id)",
    ),
    "reminders.digest": JobSpec(
        "lms.staff.reminders:digest_job", 900, "Send managers their weekly training digest"
    ),
    "staff.invite": JobSpec(
        "lms.staff.invitations:invite_job", 900, "E-mail imported staff their set-password links"
    ),
}

RETRIES = 3


class JobError(RuntimeError):
    """An unknown job name or a job that cannot be queued; the message says which."""


@dataclass
class JobHandle:
    """What `enqueue` returns. Inline jobs are finished (or raised) already."""

    id: str
    name: str
    inline: bool
    result: Any = None
    _connection: Any = field(default=None, repr=False)

    def _job(self) -> Any:
        from rq.job import Job

        return Job.fetch(self.id, connection=self._connection)

    def status(self) -> str:
        """queued, started, deferred, scheduled, finished, failed (RQ's words)."""
        if self.inline:
            return "finished"
        return str(self._job().get_status(refresh=True).value)

    def fetch_result(self) -> Any:
        """The return value once finished (None before that)."""
        if self.inline:
            return self.result
        return self._job().return_value(refresh=True)


def resolve(name: str) -> Callable[..., Any]:
    spec = REGISTRY.get(name)
    if spec is None:
        known = ", ".join(sorted(REGISTRY))
        raise JobError(f"There is no job called {name!r}. Known jobs: {known}.")
    module, _, attr = spec.target.partition(":")
    try:
        return getattr(import_module(module), attr)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as err:
        raise JobError(f"The job {name!r} is not available in this installation ({err}).") from err


def redis_url(app: Flask | None = None) -> str:
    return str((app or current_app).config.get("REDIS_URL") or "")


def connection(url: str) -> Any:
    from redis import Redis

    return Redis.from_url(url)


def queue(app: Flask | None = None) -> Any:
    from rq import Queue

    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    url = redis_url(app)
    if not url:
        raise JobError("No job queue: LMS_REDIS_URL is not set, so jobs run inline.")
    return Queue(app.config["JOBS_QUEUE"], connection=connection(url))


def enqueue(name: str, **kwargs: Any) -> JobHandle:
    """Run the registered job `name` with `kwargs`: on the queue, or here and now."""
    function = resolve(name)  # fail now, not in the worker, on a bad name
    spec = REGISTRY[name]
    if not redis_url():
        import uuid

        return JobHandle(f"inline-{uuid.uuid4()}", name, True, execute(name, kwargs))
    del function
    from rq import Retry

    q = queue()
    job = q.enqueue(
        "lms.jobs.execute",
        name,
        kwargs,
        job_timeout=spec.timeout,
        retry=Retry(max=RETRIES),
        result_ttl=7 * 24 * 3600,
        failure_ttl=30 * 24 * 3600,
        description=f"{name} {kwargs!r}"[:200],
    )
    return JobHandle(job.id, name, False, None, q.connection)


# --- running a job ---------------------------------------------------------------------------

_app: Flask | None = None
_pid = os.getpid()


def _worker_app() -> Flask:
    """The app a bare `rq worker` (no Flask CLI around it) runs jobs in: built once."""
    global _app
    if _app is None:
        from .. import create_app

        _app = create_app()
    return _app


def _after_fork() -> None:
    """RQ forks a work horse per job: never reuse the parent's database connections."""
    global _pid
    if os.getpid() != _pid:
        _pid = os.getpid()
        db.engine.dispose(close=False)


def execute(name: str, kwargs: dict[str, Any]) -> Any:
    """Run one job in an app context (the queue's entry point, and the inline path)."""
    function = resolve(name)
    if has_app_context():
        _after_fork()
        return function(**kwargs)
    with _worker_app().app_context():
        _after_fork()
        return function(**kwargs)


@contextmanager
def job_session() -> Iterator[Session]:
    """A session of the job's own (not the request's): commit on success, roll back on error."""
    session = Session(bind=db.engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
