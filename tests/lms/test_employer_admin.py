"""Job roles, requirements (with audit), settings, sites, the PA screen, re-enrolment, CSRF."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, current_app
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from lms.employer import service
from lms.employer.models import ComplianceSnapshot
from lms.employer.service import InvalidSetting, ensure_enrolments, take_snapshot
from lms.extensions import db
from lms.models import AuditEvent, Enrolment, JobRole, Organisation, Requirement, Role, Site
from tests.conftest import csrf_token, make_app

from .employer_helpers import NOW, complete, days_ago, employ, job_role, org, require, site, user

PASSWORD = "a-long-enough-password-1"


def _manager(o: Organisation, email: str = "boss@example.com") -> None:
    boss = user(email, "Bo Boss", o, Role.MANAGER)
    boss.password_hash = current_app.extensions["password_hasher"].hash(PASSWORD)
    db.session.commit()


@pytest.fixture
def acme(app: Flask, catalogue: None, client: FlaskClient) -> Organisation:
    o = org("acme")
    _manager(o)
    assert (
        client.post(
            "/auth/login", data={"email": "boss@example.com", "password": PASSWORD}
        ).status_code
        == 302
    )
    return o


def _events(action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
    )


def test_job_role_and_requirement_lifecycle(client: FlaskClient, acme: Organisation) -> None:
    resp = client.post(
        "/manage/acme/job-roles", data={"name": "  Care   worker ", "cwp_category": "CSW"}
    )
    assert resp.status_code == 302
    role = db.session.scalar(select(JobRole).where(JobRole.org_id == acme.id))
    assert role is not None and role.name == "Care worker"
    # a bad category and a duplicate name are refused with a clear message
    bad = client.post("/manage/acme/job-roles", data={"name": "X", "cwp_category": "NOPE"})
    assert bad.status_code == 400 and "Not a valid choice" in bad.text
    dup = client.post("/manage/acme/job-roles", data={"name": "Care worker", "cwp_category": "CSW"})
    assert dup.status_code == 400 and "already a job role called" in dup.text

    url = f"/manage/acme/job-roles/{role.id}"
    base = {
        "req-module_code": "FIRE-01",
        "req-refresh": "default",
        "req-recert_mode": "completion_date",
        "req-window_days": "90",
        "req-fixed_month": "0",
    }
    assert client.post(url, data=base).status_code == 302
    req = db.session.scalar(select(Requirement).where(Requirement.job_role_id == role.id))
    assert req is not None and req.refresh_months is None  # the module's default
    (created,) = _events("requirement.changed")
    assert created.before is None and created.after["module_code"] == "FIRE-01"

    # change it: does not expire
    edit = f"{url}/requirements/{req.id}"
    page = client.get(edit)
    assert page.status_code == 200 and '<option selected value="FIRE-01">' in page.text
    data = {
        "module_code": "FIRE-01",
        "refresh": "never",
        "recert_mode": "previous_expiry",
        "window_days": "30",
        "fixed_month": "0",
    }
    assert client.post(edit, data=data).status_code == 302
    db.session.refresh(req)
    assert (
        req.refresh_months == 0 and req.recert_mode == "previous_expiry" and req.window_days == 30
    )
    changed = _events("requirement.changed")[-1]
    assert changed.before["refresh_months"] is None and changed.after["refresh_months"] == 0
    assert changed.actor_label == "boss@example.com"

    # fixed date, with its own validation
    fixed = {**data, "refresh": "custom", "refresh_months": "12", "recert_mode": "fixed_date"}
    missing_day = client.post(edit, data=fixed)
    assert missing_day.status_code == 400 and "needs the day and month" in missing_day.text
    no_such_day = client.post(edit, data={**fixed, "fixed_day": "30", "fixed_month": "2"})
    assert no_such_day.status_code == 400 and "does not exist in that month" in no_such_day.text
    db.session.refresh(req)
    assert req.recert_mode == "previous_expiry"  # nothing lost by the refused attempts
    ok = client.post(
        edit, data={**fixed, "fixed_day": "31", "fixed_month": "3", "min_active_months": "6"}
    )
    assert ok.status_code == 302
    db.session.refresh(req)
    assert (req.refresh_months, req.fixed_month, req.fixed_day, req.min_active_months) == (
        12,
        3,
        31,
        6,
    )

    no_months = client.post(edit, data={**data, "refresh": "custom"})
    assert no_months.status_code == 400 and "Give our own interval" in no_months.text
    # the same module twice for one role is refused
    again = client.post(url, data=base)
    assert again.status_code == 400 and "already requires that module" in again.text

    # remove: audited, training history untouched
    assert client.post(f"{edit}/remove").status_code == 302
    assert db.session.get(Requirement, req.id) is None
    removed = _events("requirement.changed")[-1]
    assert removed.after is None and removed.reason == "removed"


def test_set_up_changes_are_audited_with_before_and_after(app: Flask) -> None:
    o = org("acme")
    boss = user("boss@example.com", "Bo Boss", o, Role.MANAGER)
    service.set_workplace_id(db.session, o, boss, NOW, "  ACME-1 ")
    service.set_workplace_id(db.session, o, boss, NOW, "")
    with pytest.raises(InvalidSetting, match="letters, digits"):
        service.set_workplace_id(db.session, o, boss, NOW, "ACME 1")
    service.set_expiring_days(db.session, o, boss, NOW, 60)
    service.set_expiring_days(db.session, o, boss, NOW, 60)  # no change: nothing audited
    role = service.save_job_role(db.session, o, boss, NOW, name="Cook", cwp_category="CSW")
    service.save_job_role(
        db.session, o, boss, NOW, name="Chef", cwp_category="CSW", role_id=role.id
    )
    home = service.save_site(
        db.session, o, boss, NOW, name="North", cqc_location_id=None, ascwds_workplace_id=" W1 "
    )
    with pytest.raises(InvalidSetting, match="letters, digits"):
        service.save_site(
            db.session, o, boss, NOW, name="South", cqc_location_id=None, ascwds_workplace_id="?"
        )
    service.save_site(
        db.session,
        o,
        boss,
        NOW,
        name="North Lodge",
        cqc_location_id="1-123456",
        ascwds_workplace_id=None,
        site_id=home.id,
    )
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.org_id == o.id).order_by(AuditEvent.seq)
    ).all()
    assert {(e.actor_id, e.org_id) for e in events} == {(boss.id, o.id)}
    site_was = {"name": "North", "cqc_location_id": None, "ascwds_workplace_id": "W1"}
    assert [(e.action, e.entity_type, e.entity_id, e.before, e.after) for e in events] == [
        (
            "organisation.settings_changed",
            "organisation",
            str(o.id),
            {"ascwds_workplace_id": None},
            {"ascwds_workplace_id": "ACME-1"},
        ),
        (
            "organisation.settings_changed",
            "organisation",
            str(o.id),
            {"ascwds_workplace_id": "ACME-1"},
            {"ascwds_workplace_id": None},
        ),
        (
            "organisation.settings_changed",
            "organisation",
            str(o.id),
            {"expiring_days": 90},
            {"expiring_days": 60},
        ),
        (
            "job_role.created",
            "job_role",
            str(role.id),
            None,
            {"name": "Cook", "cwp_category": "CSW"},
        ),
        (
            "job_role.changed",
            "job_role",
            str(role.id),
            {"name": "Cook", "cwp_category": "CSW"},
            {"name": "Chef", "cwp_category": "CSW"},
        ),
        ("site.created", "site", str(home.id), None, site_was),
        (
            "site.changed",
            "site",
            str(home.id),
            site_was,
            {"name": "North Lodge", "cqc_location_id": "1-123456", "ascwds_workplace_id": None},
        ),
    ]


def test_settings_threshold_and_sites(client: FlaskClient, acme: Organisation) -> None:
    assert client.get("/manage/acme/training-settings").status_code == 200
    bad = client.post("/manage/acme/training-settings", data={"expiring_days": "45"})
    assert bad.status_code == 400
    resp = client.post(
        "/manage/acme/training-settings",
        data={"expiring_days": "30", "ascwds_workplace_id": "ACME1"},
    )
    assert resp.status_code == 302
    db.session.refresh(acme)
    assert acme.expiring_days == 30 and acme.ascwds_workplace_id == "ACME1"
    assert _events("organisation.settings_changed")[0].after == {"expiring_days": 30}

    assert (
        client.post(
            "/manage/acme/sites", data={"name": "North House", "cqc_location_id": "1-12345678"}
        ).status_code
        == 302
    )
    bad_site = client.post("/manage/acme/sites", data={"name": "South", "cqc_location_id": "CQC?"})
    assert bad_site.status_code == 400 and "looks like 1-123456789" in bad_site.text
    s = db.session.scalar(select(Site).where(Site.org_id == acme.id))
    assert s is not None
    assert (
        client.post(
            f"/manage/acme/sites/{s.id}", data={"name": "North Lodge", "cqc_location_id": ""}
        ).status_code
        == 302
    )
    db.session.refresh(s)
    assert s.name == "North Lodge" and s.cqc_location_id is None


def test_individual_employer_gets_the_simple_screen(
    app: Flask, catalogue: None, client: FlaskClient
) -> None:
    o = org("mrs-jones", kind="individual_employer")
    _manager(o, "jones@example.com")
    client.post("/auth/login", data={"email": "jones@example.com", "password": PASSWORD})
    assert (
        client.get("/manage/mrs-jones/job-roles")
        .headers["Location"]
        .endswith("/manage/mrs-jones/pa-needs")
    )
    page = client.get("/manage/mrs-jones/pa-needs")
    assert page.status_code == 200 and "What my PA needs" in page.text
    assert (
        client.post(
            "/manage/mrs-jones/pa-needs", data={"module_code": "PA-01", "refresh": "default"}
        ).status_code
        == 302
    )
    assert (
        client.post(
            "/manage/mrs-jones/pa-needs",
            data={"module_code": "FIRE-01", "refresh": "custom", "refresh_months": "24"},
        ).status_code
        == 302
    )
    role = db.session.scalar(select(JobRole).where(JobRole.org_id == o.id))
    assert role is not None and role.name == "Personal assistant" and role.cwp_category == "PA"
    assert {(r.module_code, r.refresh_months) for r in role.requirements} == {
        ("PA-01", None),
        ("FIRE-01", 24),
    }
    page = client.get("/manage/mrs-jones/pa-needs")
    assert "Every 24 months" in page.text
    dup = client.post(
        "/manage/mrs-jones/pa-needs", data={"module_code": "PA-01", "refresh": "default"}
    )
    assert dup.status_code == 400 and "already requires" in dup.text


def test_re_enrolment_when_missing_or_in_window_is_idempotent(app: Flask, catalogue: None) -> None:
    o = org("acme")
    s = site(o, "Home")
    role = job_role(o, "Carer")
    require(role, "FIRE-01", window_days=60)  # 12 months
    require(role, "SGA-01")  # 36 months
    a = user("a@example.com", "A", o, Role.LEARNER)
    employ(o, a, role, s, "A1")
    complete(o, a, "FIRE-01", days_ago(365 - 59))  # expires in 59 days: window (60) open
    complete(o, a, "SGA-01", days_ago(10))  # far from its window
    db.session.commit()
    first = ensure_enrolments(db.session, o.id, NOW)
    assert first.created == [(a.id, "FIRE-01")]
    db.session.commit()
    again = ensure_enrolments(db.session, o.id, NOW)
    assert again.created == [] and again.reopened == []
    assert db.session.scalar(select(func.count()).select_from(Enrolment)) == 1
    (event,) = _events("enrolment.created")
    assert event.subject_user_id == a.id and event.after["reason"] == "expiring"


def test_reopening_an_enrolment_is_audited_with_the_due_date_before_and_after(
    app: Flask, catalogue: None
) -> None:
    o = org("acme")
    role = job_role(o, "Carer")
    require(role, "FIRE-01", window_days=60)  # 12 months
    a = user("a@example.com", "A", o, Role.LEARNER)
    employ(o, a, role, None, "A1")
    last_cycle = days_ago(365 - 59).date()  # due then; completed that day
    db.session.add(
        Enrolment(
            user_id=a.id,
            org_id=o.id,
            module_code="FIRE-01",
            assigned_at=days_ago(400),
            due_on=last_cycle,
        )
    )
    done = complete(o, a, "FIRE-01", days_ago(365 - 59))  # expires in 59 days: window open
    db.session.commit()
    result = ensure_enrolments(db.session, o.id, NOW)
    db.session.commit()
    assert result.created == [] and result.reopened == [(a.id, "FIRE-01")]
    enrolment = db.session.scalars(select(Enrolment)).one()
    assert enrolment.due_on != last_cycle
    (event,) = _events("enrolment.reopened")
    assert event.entity_type == "enrolment" and event.entity_id == str(enrolment.id)
    assert event.subject_user_id == a.id and event.org_id == o.id
    assert event.actor_label == "system"
    assert event.before == {"module_code": "FIRE-01", "due_on": last_cycle.isoformat()}
    assert event.after is not None
    assert event.after["due_on"] == enrolment.due_on.isoformat()
    assert event.after["reason"] == "expiring"
    assert done.completed_at.date() < enrolment.due_on
    again = ensure_enrolments(db.session, o.id, NOW)  # nothing changes: nothing recorded
    db.session.commit()
    assert again.reopened == [] and len(_events("enrolment.reopened")) == 1


def test_snapshot_upserts_per_day(app: Flask, catalogue: None, runner: FlaskCliRunner) -> None:
    o = org("acme")
    s = site(o, "Home")
    role = job_role(o, "Carer")
    require(role, "FIRE-01")
    a = user("a@example.com", "A", o, Role.LEARNER)
    employ(o, a, role, s, "A1")
    db.session.commit()
    take_snapshot(db.session, o.id, NOW)
    complete(o, a, "FIRE-01", days_ago(1))
    take_snapshot(db.session, o.id, NOW)
    db.session.commit()
    snaps = db.session.scalars(select(ComplianceSnapshot).order_by(ComplianceSnapshot.scope)).all()
    assert [(x.scope, x.percent) for x in snaps] == [("org", 100), (f"site:{s.id}", 100)]
    result = runner.invoke(args=["compliance", "snapshot", "--org", "acme"])
    assert result.exit_code == 0 and "acme: 100% (1 of 1)" in result.output
    result = runner.invoke(args=["requirements", "enrol"])
    assert result.exit_code == 0 and "acme: 0 enrolment(s) created" in result.output


@pytest.fixture
def csrf_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path, WTF_CSRF_ENABLED=True)


def test_forms_need_the_csrf_token(csrf_app: Flask) -> None:
    from courses.loader import load_catalogue, read_catalogue

    load_catalogue(db.session, read_catalogue(), NOW)
    o = org("acme")
    _manager(o)
    role = job_role(o, "Carer")
    db.session.commit()
    client = csrf_app.test_client()
    token = csrf_token(client.get("/auth/login").text)
    client.post(
        "/auth/login", data={"email": "boss@example.com", "password": PASSWORD, "csrf_token": token}
    )
    url = f"/manage/acme/job-roles/{role.id}"
    data = {
        "req-module_code": "FIRE-01",
        "req-refresh": "default",
        "req-recert_mode": "completion_date",
        "req-window_days": "90",
        "req-fixed_month": "0",
    }
    refused = client.post(url, data=data)
    assert refused.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Requirement)) == 0
    page = client.get(url)
    ok = client.post(url, data={**data, "req-csrf_token": csrf_token(page.text)})
    assert ok.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Requirement)) == 1
    page = client.get("/manage/acme/training-settings")
    assert (
        client.post("/manage/acme/training-settings", data={"expiring_days": "60"}).status_code
        == 400
    )
    ok = client.post(
        "/manage/acme/training-settings",
        data={"expiring_days": "60", "csrf_token": csrf_token(page.text)},
    )
    assert ok.status_code == 302


def test_window_of_zero_days_is_allowed(client: FlaskClient, acme: Organisation) -> None:
    role = job_role(acme, "Cook")
    db.session.commit()
    data = {
        "req-module_code": "FOOD-01",
        "req-refresh": "default",
        "req-recert_mode": "completion_date",
        "req-window_days": "0",
        "req-fixed_month": "0",
    }
    assert client.post(f"/manage/acme/job-roles/{role.id}", data=data).status_code == 302
    req = db.session.scalar(select(Requirement).where(Requirement.job_role_id == role.id))
    assert req is not None and req.window_days == 0
    missing = client.post(f"/manage/acme/job-roles/{role.id}", data={**data, "req-window_days": ""})
    assert missing.status_code == 400 and "Give the number of days" in missing.text


def test_demo_twice_duplicates_nothing(app: Flask, catalogue: None, runner: FlaskCliRunner) -> None:
    from lms.models import Completion, Employment

    def counts() -> tuple[int, ...]:
        return tuple(
            db.session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Employment, Completion, JobRole, Requirement, Site, ComplianceSnapshot)
        )

    assert runner.invoke(args=["demo"]).exit_code == 0
    first = counts()
    assert first[0] == 30 and first[4] == 2 and first[2] == 6
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert counts() == first
