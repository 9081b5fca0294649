"""Exports made by a job (lms/jobs/exports.py): evidence packs and a worker's certificates zip.

Without Redis the job runs inline, so a request comes back with the export finished. The Redis
case (queued, Waiting, a worker, Ready) is in tests/lms/test_jobs.py, which CI runs with Redis.
"""

from __future__ import annotations

import io
import os
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from lms import jobs
from lms.accounts import ensure_membership, get_or_create_user
from lms.extensions import db
from lms.jobs import exports
from lms.models import AuditEvent, Export, Role, User
from tests.conftest import csrf_token, make_app

from .api_world import PASSWORD, World, build

PAGE = "/manage/oakview/evidence-pack"


class Client(FlaskClient):
    """A test client that is seen as its own user: the test's app context outlives requests,
    so Flask-Login's user and Flask-WTF's token cached in `g` would be whoever asked last's."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        g.pop("_login_user", None)
        g.pop("csrf_token", None)
        return super().open(*args, **kwargs)


def isolate(app: Flask, tmp_path: Path) -> None:
    app.config["EXPORTS_DIR"] = str(tmp_path / "exports")
    app.test_client_class = Client


@pytest.fixture
def world(app: Flask, catalogue: None, tmp_path: Path) -> World:
    isolate(app, tmp_path)
    w = build(app)
    now = datetime.now(UTC)
    hasher = app.extensions["password_hasher"]
    for key, role in (("admin", Role.ADMIN), ("mentor", Role.MENTOR)):
        user = get_or_create_user(db.session, hasher, f"{key}@example.com", key, PASSWORD, now)
        ensure_membership(db.session, user, w.orgs["oakview"], role)
        w.users[key] = user
    db.session.commit()
    return w


def login(app: Flask, who: str) -> FlaskClient:
    client = app.test_client()
    r = client.post("/auth/login", data={"email": f"{who}@example.com", "password": PASSWORD})
    assert r.status_code == 302, who
    return client


def folder(app: Flask) -> Path:
    return Path(app.config["EXPORTS_DIR"])


def count(model: Any, *where: Any) -> int:
    return db.session.scalar(select(func.count(model.id)).where(*where)) or 0


def audited(action: str) -> int:
    return count(AuditEvent, AuditEvent.action == action)


def row(
    w: World,
    status: str,
    *,
    ago: timedelta = timedelta(0),
    kind: str = "evidence_pack",
    who: str = "manager",
    error: str | None = None,
    files: list[str] | None = None,
) -> Export:
    export = Export(
        kind=kind,
        org_id=w.orgs["oakview"].id if kind == "evidence_pack" else None,
        requested_by_id=w.users[who].id,
        status=status,
        error=error,
        files=files or [],
        created_at=datetime.now(UTC) - ago,
    )
    db.session.add(export)
    db.session.commit()
    return export


def make_pack(app: Flask, client: FlaskClient) -> Export:
    response = client.post(PAGE)
    assert response.status_code == 303 and response.headers["Location"].endswith(PAGE)
    db.session.expire_all()
    export = db.session.scalars(select(Export).order_by(Export.id.desc())).first()
    assert export is not None
    return export


# --- the manager's evidence pack ---------------------------------------------------------------


def test_pack_is_made_inline_and_the_page_offers_its_files(app: Flask, world: World) -> None:
    client = login(app, "manager")
    export = make_pack(app, client)
    assert export.status == "done" and export.error is None and export.finished_at is not None
    assert export.job_id and export.job_id.startswith("inline-")
    pdf, csv_name = export.files
    assert pdf.endswith(".pdf") and csv_name.endswith(".csv")
    assert (folder(app) / pdf).read_bytes().startswith(b"%PDF-")
    page = client.get(PAGE).text
    assert "Ready:" in page and 'http-equiv="refresh"' not in page
    assert f"/manage/oakview/evidence-pack/{export.id}/{pdf}" in page
    assert f"/manage/oakview/evidence-pack/{export.id}/{csv_name}" in page
    assert audited("evidence_pack.produced") == 1
    download = client.get(f"{PAGE}/{export.id}/{csv_name}")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Cache-Control"] == "private, no-store"
    assert download.data.decode().startswith("CQC evidence pack,Oakview Care,")
    download.close()
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export.downloaded"))
    assert event is not None and event.actor_label == "manager@example.com"
    assert event.org_id == world.orgs["oakview"].id and event.after == {"file": csv_name}


def test_page_lists_newest_first_with_the_state_in_words(app: Flask, world: World) -> None:
    row(world, "failed", ago=timedelta(hours=3), error="There is no such user.")
    row(world, "done", ago=timedelta(hours=2), files=["old.pdf", "old.csv"])
    row(world, "running", ago=timedelta(minutes=1))
    client = login(app, "admin")
    page = client.get(PAGE).text
    words = ["Being made", "Ready:", "Failed: There is no such user. Try again."]
    positions = [page.index(w) for w in words]
    assert positions == sorted(positions), "newest first"
    assert 'http-equiv="refresh"' in page  # something is being made
    assert f'href="{PAGE}">Refresh</a>' in page


def test_nothing_waiting_means_no_refresh_and_an_empty_list(app: Flask, world: World) -> None:
    page = login(app, "manager").get(PAGE)
    assert page.status_code == 200
    assert "No evidence packs yet." in page.text and 'http-equiv="refresh"' not in page.text
    assert "Make a new evidence pack" in page.text


def test_a_second_request_while_one_waits_is_refused_plainly(app: Flask, world: World) -> None:
    waiting = row(world, "queued")
    client = login(app, "manager")
    response = client.post(PAGE, follow_redirects=True)
    assert response.status_code == 200
    assert "An evidence pack is already being made." in response.text
    assert "Waiting" in response.text
    assert count(Export) == 1 and db.session.get_one(Export, waiting.id).status == "queued"
    # ... but one whose job died long ago does not block for ever.
    waiting.created_at = datetime.now(UTC) - timedelta(hours=5)
    db.session.commit()
    assert "Failed: It took too long. Try again." in client.get(PAGE).text
    assert 'http-equiv="refresh"' not in client.get(PAGE).text
    export = make_pack(app, client)
    assert export.id != waiting.id and export.status == "done"
    dead = db.session.get_one(Export, waiting.id)
    assert dead.status == "failed" and dead.error == "It took too long."


def test_the_database_allows_one_waiting_pack_per_organisation(world: World) -> None:
    row(world, "queued")
    with pytest.raises(IntegrityError):
        row(world, "running", who="admin")
    db.session.rollback()
    row(world, "done")  # finished ones are not limited
    row(world, "queued", kind="certificates", who="learner")  # nor other kinds
    with pytest.raises(IntegrityError):
        row(world, "queued", kind="certificates", who="learner")
    db.session.rollback()


def test_failure_is_recorded_in_plain_words_then_a_retry_makes_it(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lms.employer import pack

    real = pack.render_evidence_pack

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Traceback: secret detail in /srv/lms/pack.py line 9")

    monkeypatch.setattr(pack, "render_evidence_pack", broken)
    client = login(app, "manager")
    export = make_pack(app, client)
    assert export.status == "failed" and export.files == []
    assert export.error == "Something went wrong while making the files."
    page = client.get(PAGE).text
    assert "Failed: Something went wrong while making the files. Try again." in page
    assert "secret" not in page and "Traceback" not in page
    assert audited("evidence_pack.produced") == 0
    # A retry of a failed export makes it (RQ retries it the same way).
    monkeypatch.setattr(pack, "render_evidence_pack", real)
    result = jobs.enqueue("evidence_pack.render", export_id=export.id).result
    db.session.expire_all()
    again = db.session.get_one(Export, export.id)
    assert result == {"export_id": export.id, "status": "done", "files": again.files}
    assert again.status == "done" and again.error is None and len(again.files) == 2
    assert audited("evidence_pack.produced") == 1
    # A retry of a done one does nothing: no new files, no second audit event.
    finished = again.finished_at
    for name in again.files:
        (folder(app) / name).unlink()
    assert jobs.enqueue("evidence_pack.render", export_id=export.id).result == result
    db.session.expire_all()
    assert db.session.get_one(Export, export.id).finished_at == finished
    assert not any((folder(app) / name).exists() for name in again.files)
    assert audited("evidence_pack.produced") == 1


def test_a_running_export_left_by_a_dead_worker_is_made_again(app: Flask, world: World) -> None:
    export = row(world, "running")
    result = jobs.enqueue("evidence_pack.render", export_id=export.id).result
    assert result["status"] == "done" and len(result["files"]) == 2
    assert audited("evidence_pack.produced") == 1


def test_a_job_for_a_pruned_export_does_nothing(app: Flask, tmp_path: Path) -> None:
    isolate(app, tmp_path)
    result = jobs.enqueue("evidence_pack.render", export_id=987654).result
    assert result == {"export_id": 987654, "status": "gone", "files": []}


def test_without_a_working_queue_the_export_fails_saying_so(tmp_path: Path) -> None:
    """LMS_REDIS_URL set but nothing listening: the manager is told, not shown an error page."""
    for app in make_app(tmp_path, REDIS_URL="redis://127.0.0.1:1/0"):
        isolate(app, tmp_path)
        from courses.loader import load_catalogue, read_catalogue

        load_catalogue(db.session, read_catalogue(), datetime.now(UTC))
        db.session.commit()
        build(app)
        client = login(app, "manager")
        export = make_pack(app, client)
        assert export.status == "failed" and export.job_id is None
        assert export.error == "The job queue is not available at the moment."
        page = client.get(PAGE).text
        assert "Failed: The job queue is not available at the moment. Try again." in page


# --- who may see and download a pack -------------------------------------------------------


def test_only_the_organisations_managers_get_the_page_and_files(app: Flask, world: World) -> None:
    export = make_pack(app, login(app, "manager"))
    pdf = export.files[0]
    url = f"{PAGE}/{export.id}/{pdf}"
    admin = login(app, "admin").get(url)
    assert admin.status_code == 200 and admin.data.startswith(b"%PDF-")
    admin.close()
    for who in ("learner", "mentor", "other_manager"):
        client = login(app, who)
        assert client.get(PAGE).status_code == 404, who
        assert client.post(PAGE).status_code == 404, who
        assert client.get(url).status_code == 404, who
    anonymous = app.test_client()
    for response in (anonymous.get(PAGE), anonymous.post(PAGE), anonymous.get(url)):
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    assert count(Export) == 1  # nobody else made one
    assert audited("export.downloaded") == 1  # only the admin's download


def test_file_names_come_from_the_row_never_from_the_url(app: Flask, world: World) -> None:
    client = login(app, "manager")
    export = make_pack(app, client)
    secret = folder(app) / "someone-elses.csv"
    secret.write_text("not yours")
    for name in ("someone-elses.csv", "..", "x.pdf", export.files[0] + ".bak"):
        assert client.get(f"{PAGE}/{export.id}/{name}").status_code == 404, name
    assert client.get(f"{PAGE}/{export.id}/..%2Fsomeone-elses.csv").status_code == 404
    # Another organisation's pack through our own URL: 404, as if it did not exist.
    theirs = Export(
        kind="evidence_pack",
        org_id=world.orgs["riverside"].id,
        requested_by_id=world.users["other_manager"].id,
        status="done",
        files=["someone-elses.csv"],
        created_at=datetime.now(UTC),
    )
    db.session.add(theirs)
    db.session.commit()
    assert client.get(f"{PAGE}/{theirs.id}/someone-elses.csv").status_code == 404
    # A certificates zip is not an evidence pack, even with the right number.
    zip_row = row(world, "done", kind="certificates", who="learner", files=["z.zip"])
    (folder(app) / "z.zip").write_bytes(b"PK")
    assert client.get(f"{PAGE}/{zip_row.id}/z.zip").status_code == 404
    # A file pruned from the disk: a plain 404 that says so.
    (folder(app) / export.files[1]).unlink()
    gone = client.get(f"{PAGE}/{export.id}/{export.files[1]}")
    assert gone.status_code == 404 and "no longer kept" in gone.text
    assert audited("export.downloaded") == 0


@pytest.fixture
def csrf_app(tmp_path: Path) -> Iterator[Flask]:
    for app in make_app(tmp_path, WTF_CSRF_ENABLED=True):
        isolate(app, tmp_path)
        yield app


def test_both_buttons_need_the_csrf_token(csrf_app: Flask) -> None:
    from courses.loader import load_catalogue, read_catalogue

    load_catalogue(db.session, read_catalogue(), datetime.now(UTC))
    db.session.commit()
    build(csrf_app)
    for who, page, action in (
        ("manager", PAGE, PAGE),
        ("learner", "/certificates/", "/certificates/export"),
    ):
        client = csrf_app.test_client()
        token = csrf_token(client.get("/auth/login").text)
        logged_in = client.post(
            "/auth/login",
            data={"email": f"{who}@example.com", "password": PASSWORD, "csrf_token": token},
        )
        assert logged_in.status_code == 302, logged_in.text
        before = count(Export)
        assert client.post(action).status_code == 400, who
        assert count(Export) == before  # refused before anything was made
        form = client.get(page).text
        assert f'action="{action}"' in form
        made = client.post(action, data={"csrf_token": csrf_token(form)})
        assert made.status_code == 303, who
    assert count(Export, Export.status == "done") == 2


# --- the worker's certificates zip -------------------------------------------------------------


def test_learner_gets_all_her_certificates_as_one_zip(app: Flask, world: World) -> None:
    client = login(app, "learner")
    page = client.get("/certificates/").text
    assert "Download all my certificates (zip)" in page
    response = client.post("/certificates/export")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/certificates/#all-certificates")
    export = db.session.scalar(select(Export))
    assert export is not None and export.kind == "certificates" and export.status == "done"
    assert export.org_id is None and export.requested_by_id == world.users["learner"].id
    page = client.get("/certificates/").text
    url = f"/certificates/exports/{export.id}/{export.files[0]}"
    assert "Ready:" in page and url in page and 'http-equiv="refresh"' not in page
    download = client.get(url)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        names = sorted(archive.namelist())
    download.close()
    short_id = world.credential.short_id if world.credential else ""
    assert names == sorted([f"{short_id}.jwt", f"{short_id}.pdf", "passport.json"])
    assert audited("evidence_pack.produced") == 0


def test_the_zip_is_hers_alone(app: Flask, world: World) -> None:
    login(app, "learner").post("/certificates/export")
    export = db.session.scalar(select(Export))
    assert export is not None
    url = f"/certificates/exports/{export.id}/{export.files[0]}"
    for who in ("manager", "admin", "mentor", "other_manager", "other_learner"):
        assert login(app, who).get(url).status_code == 404, who
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302 and "/auth/login" in anonymous.headers["Location"]
    # Nor is a manager's evidence pack hers through the certificates URL.
    pack = make_pack(app, login(app, "manager"))
    learner = login(app, "learner")
    assert learner.get(f"/certificates/exports/{pack.id}/{pack.files[0]}").status_code == 404


def test_no_certificates_no_button_and_no_zip(app: Flask, world: World) -> None:
    client = login(app, "mentor")
    page = client.get("/certificates/").text
    assert "Download all my certificates (zip)" not in page
    assert client.post("/certificates/export").status_code == 404
    assert count(Export) == 0


def test_learner_waiting_zip_refreshes_and_refuses_a_second(app: Flask, world: World) -> None:
    row(world, "queued", kind="certificates", who="learner")
    client = login(app, "learner")
    page = client.get("/certificates/").text
    assert "Waiting" in page and 'http-equiv="refresh"' in page
    assert "Download all my certificates (zip)" not in page  # no button while one waits
    again = client.post("/certificates/export", follow_redirects=True)
    assert "Your zip file is already being made." in again.text
    assert count(Export) == 1


def test_learner_sees_the_failure_reason_in_hindi(app: Flask, world: World) -> None:
    row(world, "failed", kind="certificates", who="learner", error=exports.SOMETHING_WENT_WRONG)
    client = login(app, "learner")
    english = client.get("/certificates/").text
    assert "Failed: Something went wrong while making the files. Try again." in english
    client.get("/language/hi?next=/certificates/")
    hindi = client.get("/certificates/").text
    assert "Something went wrong" not in hindi and "Try again" not in hindi


# --- the command line --------------------------------------------------------------------------


def test_cli_enqueue_the_old_way_makes_a_row_the_page_lists(app: Flask, world: World) -> None:
    runner = app.test_cli_runner()
    args = f'{{"org_id": {world.orgs["oakview"].id}, "produced_by_id": {world.users["admin"].id}}}'
    out = runner.invoke(args=["jobs", "enqueue", "evidence_pack.render", "--args", args])
    assert out.exit_code == 0 and '"status": "done"' in out.output, out.output
    export = db.session.scalar(select(Export))
    assert export is not None and export.requested_by_id == world.users["admin"].id
    assert "By admin" in login(app, "manager").get(PAGE).text
    row(world, "queued", who="manager")
    busy = runner.invoke(args=["jobs", "enqueue", "evidence_pack.render", "--args", args])
    assert busy.exit_code != 0 and "already being made" in busy.output


def test_prune_deletes_old_exports_and_their_files(app: Flask, world: World) -> None:
    exports_dir = exports.export_dir()
    old = row(world, "done", ago=timedelta(days=40), files=["old.pdf", "old.csv"])
    new = row(world, "done", ago=timedelta(days=2), files=["new.pdf", "new.csv"])
    stale = row(world, "failed", ago=timedelta(days=31), kind="certificates", who="learner")
    for name in ("old.pdf", "old.csv", "new.pdf", "new.csv", "stray.zip", ".tmp-x.pdf", "y.zip"):
        (exports_dir / name).write_bytes(b"x")
    month_ago = time.time() - 40 * 86400
    for name in ("stray.zip", ".tmp-x.pdf", "new.csv"):  # old on disk; new.csv is still named
        os.utime(exports_dir / name, (month_ago, month_ago))
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["exports", "prune", "--days", "0"])
    assert refused.exit_code != 0 and count(Export) == 3
    out = runner.invoke(args=["exports", "prune"])
    assert out.exit_code == 0, out.output
    assert out.output.strip() == "deleted 2 exports and 4 files older than 30 days"
    db.session.expire_all()
    remaining = set(db.session.scalars(select(Export.id)))
    assert remaining == {new.id} and old.id not in remaining and stale.id not in remaining
    assert sorted(p.name for p in exports_dir.iterdir()) == ["new.csv", "new.pdf", "y.zip"]
    again = runner.invoke(args=["exports", "prune", "--days", "1"])
    assert again.output.strip() == "deleted 1 exports and 2 files older than 1 days"
    assert [p.name for p in exports_dir.iterdir()] == ["y.zip"]  # recent: it may be in use


def test_the_job_names_a_missing_user_clearly(app: Flask, tmp_path: Path) -> None:
    isolate(app, tmp_path)
    with pytest.raises(jobs.JobError, match="no user with id 424242"):
        jobs.enqueue("evidence_pack.render", org_id=1, produced_by_id=424242)
    assert db.session.scalar(select(func.count(Export.id))) == 0
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_a_job_given_up_as_too_slow_does_not_fight_its_replacement(
    app: Flask, world: World
) -> None:
    """The old job finally runs after a newer request replaced it: it leaves the newer alone."""
    slow = row(world, "failed", ago=timedelta(hours=5), error=exports.TOO_LONG)
    newer = row(world, "queued")
    result = jobs.enqueue("evidence_pack.render", export_id=slow.id).result
    assert result == {"export_id": slow.id, "status": "replaced", "files": []}
    db.session.expire_all()
    assert db.session.get_one(Export, slow.id).status == "failed"
    assert db.session.get_one(Export, newer.id).status == "queued"
    assert audited("evidence_pack.produced") == 0
