"""The audit trail: append-only, hash-chained, checked by `flask audit verify`, exported per worker.

Runs on SQLite and, with LMS_TEST_DATABASE_URL, on PostgreSQL: tampering is done with plain SQL
the way someone with database access would do it.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select, text

from lms import audit
from lms.extensions import db
from lms.models import AuditEvent, IssuedCredential, Organisation, User
from tests.conftest import Auth

from .helpers import LEARNER

MANAGER = "manager@example.com"
NOW = datetime(2026, 11, 30, 9, 15, 30, 123456, tzinfo=UTC)


def _add(n: int, **kw: object) -> list[AuditEvent]:
    return [
        audit.record(
            db.session,
            actor=None,
            action="test.changed",
            entity_type="thing",
            entity_id=i,
            now=NOW + timedelta(seconds=i),
            before={"value": i},
            after={"value": i + 1, "when": NOW.date()},
            reason=f"reason {i}",
            **kw,  # type: ignore[arg-type]
        )
        for i in range(n)
    ]


def test_events_chain_and_verify(app: object) -> None:
    events = _add(5)
    db.session.commit()
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    report = audit.verify_chain(db.session)
    assert report.ok and report.events == 5 and report.head_hash == events[-1].hash
    # values that are not JSON (dates) are stored as text, and still verify after a reload
    db.session.expire_all()
    stored = db.session.scalar(select(AuditEvent).where(AuditEvent.seq == 1))
    assert stored is not None and stored.after == {"value": 1, "when": "2026-11-30"}


def test_an_empty_chain_is_intact(app: object) -> None:
    report = audit.verify_chain(db.session)
    assert report.ok and report.events == 0 and report.head_hash == audit.GENESIS


def test_time_zones_are_normalised_before_hashing(app: object) -> None:
    plus_two = timezone(timedelta(hours=2))
    audit.record(
        db.session,
        actor=None,
        action="test.tz",
        entity_type="thing",
        entity_id=1,
        now=NOW.astimezone(plus_two),
    )
    db.session.commit()
    db.session.expire_all()
    assert audit.verify_chain(db.session).ok


def _tamper(sql: str, **params: object) -> None:
    db.session.execute(text(sql), params)
    db.session.commit()
    db.session.expire_all()


def test_an_edited_event_breaks_the_chain(app: object, runner: FlaskCliRunner) -> None:
    _add(4)
    db.session.commit()
    _tamper("UPDATE audit_events SET reason = :r WHERE seq = 3", r="nothing to see")
    report = audit.verify_chain(db.session)
    assert not report.ok and report.first_bad_seq == 3 and report.events == 2
    assert "changed after it was recorded" in (report.problem or "")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at event 3" in result.output


def test_an_edited_json_value_breaks_the_chain(app: object) -> None:
    _add(3)
    db.session.commit()
    _tamper("UPDATE audit_events SET after = :a WHERE seq = 2", a='{"value": 99, "when": "x"}')
    report = audit.verify_chain(db.session)
    assert not report.ok and report.first_bad_seq == 2


def test_a_deleted_event_breaks_the_chain(app: object, runner: FlaskCliRunner) -> None:
    _add(4)
    db.session.commit()
    _tamper("DELETE FROM audit_events WHERE seq = 2")
    report = audit.verify_chain(db.session)
    assert not report.ok and report.first_bad_seq == 2
    assert "deleted" in (report.problem or "")
    assert runner.invoke(args=["audit", "verify"]).exit_code == 1


def test_a_rebuilt_tail_is_caught(app: object) -> None:
    """Deleting event 2 and renumbering the rest still fails: 3's prev_hash names the old 2."""
    _add(4)
    db.session.commit()
    _tamper("DELETE FROM audit_events WHERE seq = 2")
    _tamper("UPDATE audit_events SET seq = seq - 1 WHERE seq > 2")
    report = audit.verify_chain(db.session)
    assert not report.ok and report.first_bad_seq == 2
    assert "does not follow" in (report.problem or "")


def test_intact_chain_cli(app: object, runner: FlaskCliRunner) -> None:
    events = _add(2)
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert f"intact: 2 event(s); head hash {events[-1].hash}" in result.output


def test_demo_issuance_is_audited(app: object, demo: dict[str, str]) -> None:
    learner = db.session.scalar(select(User).where(User.email == LEARNER))
    assert learner is not None
    cred = db.session.scalar(select(IssuedCredential).where(IssuedCredential.user_id == learner.id))
    assert cred is not None
    issued = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "credential.issued", AuditEvent.entity_id == cred.credential_id
        )
    )
    assert issued is not None
    assert issued.subject_user_id == learner.id and issued.org_id == cred.org_id
    assert issued.after is not None and issued.after["module"] == cred.module.code
    assert audit.verify_chain(db.session).ok


def test_manager_revocation_is_audited_and_exported(
    app: object, client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    learner = db.session.scalar(select(User).where(User.email == LEARNER))
    assert learner is not None
    cred = db.session.scalar(select(IssuedCredential).where(IssuedCredential.user_id == learner.id))
    assert cred is not None
    short_id = cred.short_id
    auth.login(MANAGER, demo[MANAGER])
    response = client.post(
        f"/manage/oakview/credentials/{short_id}",
        data={"action": "revoke", "reason": "Issued to the wrong person"},
    )
    assert response.status_code == 302
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "credential.revoked"))
    assert event is not None
    assert event.actor_label == MANAGER and event.reason == "Issued to the wrong person"
    assert event.before == {"status": "active"} and event.after == {"status": "revoked"}

    export = client.get(f"/manage/oakview/people/{learner.id}/audit.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.text)))
    actions = [r["action"] for r in rows]
    assert "credential.issued" in actions and "credential.revoked" in actions
    assert all(r["hash"] and r["prev_hash"] for r in rows)
    assert int(rows[0]["seq"]) < int(rows[-1]["seq"])


def test_export_is_for_managers_of_that_organisation_only(
    app: object, client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    learner = db.session.scalar(select(User).where(User.email == LEARNER))
    assert learner is not None
    url = f"/manage/oakview/people/{learner.id}/audit.csv"
    assert client.get(url).status_code == 302  # to the login page
    auth.login(LEARNER, demo[LEARNER])
    assert client.get(url).status_code == 404
    auth.logout()
    auth.login(MANAGER, demo[MANAGER])
    assert client.get("/manage/oakview/people/999999/audit.csv").status_code == 404
    other = Organisation(slug="elsewhere", name="Elsewhere", kind="care_provider", created_at=NOW)
    db.session.add(other)
    db.session.commit()
    assert client.get(f"/manage/elsewhere/people/{learner.id}/audit.csv").status_code == 404


def test_export_cli(
    app: object, runner: FlaskCliRunner, demo: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "history.csv"
    result = runner.invoke(
        args=["audit", "export", "--org", "oakview", "--email", LEARNER, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8"))))
    assert rows and all(r["subject_user_id"] for r in rows)
    nobody = "nobody@example.com"
    bad = runner.invoke(
        args=["audit", "export", "--org", "oakview", "--email", nobody, "--out", str(out)]
    )
    assert bad.exit_code != 0 and "No user" in bad.output
