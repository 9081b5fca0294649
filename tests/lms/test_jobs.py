"""lms.jobs: inline without Redis; RQ with a real Redis (LMS_TEST_REDIS_URL) and a burst worker."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from lms import jobs
from lms.extensions import db
from lms.models import (
    AuditEvent,
    Completion,
    CompletionSource,
    Export,
    IssuedCredential,
    Organisation,
    User,
)
from tests.conftest import make_app

from .helpers import LEARNER

REDIS_URL = os.environ.get("LMS_TEST_REDIS_URL", "")


def _redis_up() -> bool:
    """Set but unreachable is a failure (in the tests themselves), not a skip."""
    return bool(REDIS_URL)


needs_redis = pytest.mark.skipif(
    not _redis_up(), reason="needs a Redis server: set LMS_TEST_REDIS_URL (e.g. db 9)"
)


def _world() -> tuple[Organisation, User]:
    """An organisation and a learner (not the whole demo: these tests need only these two)."""
    from flask import current_app

    from lms.accounts import ensure_membership, get_or_create_org, get_or_create_user
    from lms.models import OrgKind, Role

    now = datetime.now(UTC)
    org = get_or_create_org(db.session, "oakview", "Oakview Care", OrgKind.CARE_PROVIDER, now)
    hasher = current_app.extensions["password_hasher"]
    learner = get_or_create_user(db.session, hasher, LEARNER, "Amira Okafor", "x" * 16, now)
    ensure_membership(db.session, learner, org, Role.LEARNER)
    db.session.commit()
    return org, learner


def _completions(n: int, source: str = CompletionSource.COURSE.value) -> list[int]:
    """n completions of DIG-01 for the learner, none issued yet."""
    from lms.learning import current_module

    org, learner = _world()
    module = current_module(db.session, "DIG-01")
    now = datetime.now(UTC)
    rows = [
        Completion(
            user_id=learner.id,
            org_id=org.id,
            module_id=module.id,
            source=source,
            completed_at=now,
            valid_until=None,
        )
        for _ in range(n)
    ]
    db.session.add_all(rows)
    db.session.commit()
    return [r.id for r in rows]


def _issued(ids: list[int]) -> int:
    return (
        db.session.scalar(
            select(func.count(IssuedCredential.id)).where(IssuedCredential.completion_id.in_(ids))
        )
        or 0
    )


def test_unknown_job_is_refused_by_name(app: Flask) -> None:
    with pytest.raises(jobs.JobError, match="no job called 'nope'"):
        jobs.enqueue("nope")


def test_batch_issuance_runs_inline_and_is_idempotent(app: Flask, catalogue: None) -> None:
    ids = _completions(3)
    handle = jobs.enqueue("issuance.batch", completion_ids=ids)
    assert handle.inline and handle.status() == "finished"
    assert handle.result == {"issued": 3, "existing": 0, "skipped": {}}
    assert _issued(ids) == 3
    # Run again (a retry after a worker died): nothing issued twice.
    again = jobs.enqueue("issuance.batch", completion_ids=ids + ids)
    assert again.result == {"issued": 0, "existing": 3, "skipped": {}}
    assert _issued(ids) == 3
    events = db.session.scalar(
        select(func.count(AuditEvent.id)).where(AuditEvent.action == "credential.issued")
    )
    assert events is not None and events >= 3


def test_batch_skips_external_training_and_missing_ids(app: Flask, catalogue: None) -> None:
    external = _completions(1, CompletionSource.EXTERNAL.value)
    result = jobs.enqueue("issuance.batch", completion_ids=[*external, 999_999]).result
    assert result["issued"] == 0
    assert result["skipped"] == {
        external[0]: "external training is not issued by us",
        999_999: "no such completion",
    }
    assert _issued(external) == 0


def test_pdf_export_writes_a_zip_of_certificates(
    app: Flask, catalogue: None, tmp_path: Path
) -> None:
    app.config["EXPORTS_DIR"] = str(tmp_path / "exports")
    jobs.enqueue("issuance.batch", completion_ids=_completions(1))
    _, learner = _world()
    # Called the command line's way (no export_id): it makes its own Export row.
    result = jobs.enqueue("pdf.export", user_id=learner.id, label="Amira O/../x").result
    export = db.session.scalar(select(Export))
    assert export is not None and export.requested_by_id == learner.id
    assert export.kind == "certificates" and export.status == "done"
    day = f"{export.created_at:%Y%m%d}"
    assert result == {
        "export_id": export.id,
        "status": "done",
        "files": [f"certificates-amira-o-x-{day}-{export.id}.zip"],
    }
    assert export.files == result["files"]
    path = tmp_path / "exports" / result["files"][0]
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
        assert "passport.json" in names and len(names) == 3
        pdf = next(n for n in names if n.endswith(".pdf"))
        assert archive.read(pdf).startswith(b"%PDF-")
        passport = json.loads(archive.read("passport.json"))
        assert passport["type"] == "CareCredPassport" and len(passport["credentials"]) == 1
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp-")]


def test_pdf_export_of_unknown_user_fails_clearly(app: Flask) -> None:
    with pytest.raises(jobs.JobError, match="no user with id 424242"):
        jobs.enqueue("pdf.export", user_id=424242)


def test_cli_enqueue_inline_and_bad_arguments(runner: FlaskCliRunner, catalogue: None) -> None:
    ids = _completions(1)
    ok = runner.invoke(
        args=["jobs", "enqueue", "issuance.batch", "--args", json.dumps({"completion_ids": ids})]
    )
    assert ok.exit_code == 0 and '"issued": 1' in ok.output
    bad = runner.invoke(args=["jobs", "enqueue", "issuance.batch", "--args", "[1"])
    assert bad.exit_code != 0 and "not valid JSON" in bad.output
    worker = runner.invoke(args=["jobs", "worker", "--burst"])
    assert worker.exit_code != 0 and "LMS_REDIS_URL is not set" in worker.output


# --- with Redis ------------------------------------------------------------------------------


@pytest.fixture
def rq_app(tmp_path: Path) -> Iterator[Flask]:
    queue_name = f"test-{os.getpid()}"
    exports_dir = str(tmp_path / "exports")
    for app in make_app(
        tmp_path, REDIS_URL=REDIS_URL, JOBS_QUEUE=queue_name, EXPORTS_DIR=exports_dir
    ):
        q = jobs.queue(app)
        _forget(q)
        yield app
        _forget(q)
        q.connection.close()


def _forget(q: Any) -> None:
    """Empty the queue and every registry of it (finished, failed, started ...)."""
    q.empty()
    for key in q.connection.scan_iter(f"rq:*{q.name}*"):
        q.connection.delete(key)


def _work(app: Flask) -> Any:
    from rq import SimpleWorker

    q = jobs.queue(app)
    SimpleWorker([q], connection=q.connection).work(burst=True)
    return q


@needs_redis
def test_batch_issuance_on_the_queue(rq_app: Flask) -> None:
    from courses.loader import load_catalogue, read_catalogue

    load_catalogue(db.session, read_catalogue(), datetime.now(UTC))
    db.session.commit()
    ids = _completions(4)
    handle = jobs.enqueue("issuance.batch", completion_ids=ids)
    assert not handle.inline and handle.status() == "queued"
    assert _issued(ids) == 0  # nothing happens until a worker takes it
    _work(rq_app)
    assert handle.status() == "finished"
    assert handle.fetch_result() == {"issued": 4, "existing": 0, "skipped": {}}
    db.session.expire_all()
    assert _issued(ids) == 4


@needs_redis
def test_a_failing_job_is_retried_then_marked_failed(rq_app: Flask) -> None:
    handle = jobs.enqueue("pdf.export", user_id=424242)  # no such user: fails every time
    q = _work(rq_app)
    assert handle.status() == "failed"
    job = q.fetch_job(handle.id)
    assert job.retries_left == 0  # tried 1 + RETRIES times
    assert "no user with id 424242" in (job.latest_result().exc_string or "")
    status = rq_app.test_cli_runner().invoke(args=["jobs", "status"])
    assert "failed:   1" in status.output and "no user with id 424242" in status.output


@needs_redis
def test_a_job_abandoned_by_a_dead_worker_is_retried_without_duplicates(
    rq_app: Flask,
) -> None:
    """Simulates kill -9 mid-batch: some credentials committed, the job left 'started'."""
    from rq.registry import StartedJobRegistry

    from courses.loader import load_catalogue, read_catalogue
    from lms.jobs.tasks import issue_batch

    load_catalogue(db.session, read_catalogue(), datetime.now(UTC))
    db.session.commit()
    ids = _completions(5)
    handle = jobs.enqueue("issuance.batch", completion_ids=ids)
    q = jobs.queue(rq_app)
    job = q.fetch_job(handle.id)
    # The dead worker had dequeued it, marked it started and committed two credentials...
    q.remove(job)
    job.set_status("started")
    registry = StartedJobRegistry(queue=q)
    q.connection.zadd(registry.key, {f"{job.id}:dead-worker-execution": 1})
    issue_batch(ids[:2])
    assert _issued(ids) == 2
    # ...then died. Its heartbeat lapsed (score in the past): maintenance re-queues it.
    registry.cleanup()
    assert q.fetch_job(handle.id).retries_left == jobs.RETRIES - 1
    _work(rq_app)
    assert handle.status() == "finished"
    assert handle.fetch_result() == {"issued": 3, "existing": 2, "skipped": {}}
    db.session.expire_all()
    assert _issued(ids) == 5


def test_reminders_and_evidence_pack_jobs_run_inline(
    app: Flask, catalogue: None, tmp_path: Path
) -> None:
    from lms.mail import MemoryMailer

    app.config["EXPORTS_DIR"] = str(tmp_path / "exports")

    org, learner = _world()
    app.extensions["mailer"] = MemoryMailer()
    report = jobs.enqueue("reminders.send", org_id=org.id).result
    assert report["emails_sent"] == 0 and report["errors"] == []
    result = jobs.enqueue("evidence_pack.render", org_id=org.id, produced_by_id=learner.id).result
    pdf, csv_name = result["files"]
    folder = tmp_path / "exports"
    assert (folder / pdf).read_bytes().startswith(b"%PDF-")
    assert csv_name.endswith(".csv") and (folder / csv_name).stat().st_size > 0
    export = db.session.get(Export, result["export_id"])
    assert export is not None and export.org_id == org.id and export.status == "done"


@needs_redis
def test_cli_status_and_enqueue_on_the_queue(rq_app: Flask) -> None:
    runner = rq_app.test_cli_runner()
    queued = runner.invoke(args=["jobs", "enqueue", "pdf.export", "--args", '{"user_id": 1}'])
    assert queued.exit_code == 0 and queued.output.startswith("queued ")
    status = runner.invoke(args=["jobs", "status"])
    assert status.exit_code == 0, status.output
    assert f"queue {rq_app.config['JOBS_QUEUE']}: 1 queued" in status.output


@needs_redis
def test_evidence_pack_waits_on_the_queue_until_a_worker_makes_it(rq_app: Flask) -> None:
    """The manager's button with a real queue: Waiting (the page refreshes itself), a second
    click is refused, then a burst worker makes it and the page says Ready."""
    from lms.accounts import ensure_membership, get_or_create_user
    from lms.models import Role

    org, _ = _world()
    hasher = rq_app.extensions["password_hasher"]
    now = datetime.now(UTC)
    grace = get_or_create_user(db.session, hasher, "manager@example.com", "Grace", "y" * 16, now)
    ensure_membership(db.session, grace, org, Role.MANAGER)
    db.session.commit()
    client = rq_app.test_client()
    logged_in = client.post("/auth/login", data={"email": grace.email, "password": "y" * 16})
    assert logged_in.status_code == 302
    asked = client.post("/manage/oakview/evidence-pack")
    assert asked.status_code == 303
    assert asked.headers["Location"].endswith("/manage/oakview/evidence-pack")
    page = client.get("/manage/oakview/evidence-pack").text
    assert "Waiting" in page and 'http-equiv="refresh"' in page and "Ready" not in page
    export = db.session.scalar(select(Export))
    assert export is not None and export.status == "queued"
    assert export.job_id and jobs.queue(rq_app).fetch_job(export.job_id) is not None
    again = client.post("/manage/oakview/evidence-pack", follow_redirects=True)
    assert "already being made" in again.text
    assert db.session.scalar(select(func.count(Export.id))) == 1
    _work(rq_app)
    db.session.expire_all()
    assert db.session.get_one(Export, export.id).status == "done"
    page = client.get("/manage/oakview/evidence-pack").text
    assert "Ready:" in page and "Waiting" not in page and 'http-equiv="refresh"' not in page
    pdf = db.session.get_one(Export, export.id).files[0]
    download = client.get(f"/manage/oakview/evidence-pack/{export.id}/{pdf}")
    assert download.status_code == 200 and download.data.startswith(b"%PDF-")
    download.close()
    produced = db.session.scalar(
        select(func.count(AuditEvent.id)).where(AuditEvent.action == "evidence_pack.produced")
    )
    assert produced == 1
