"""org_compliance: statuses per worker and requirement, rates, filters, what counts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask

from courses.completion import add_months
from courses.recert import Status
from lms.compliance import cell_evidence, org_compliance
from lms.extensions import db
from lms.models import Role, User

from .employer_helpers import (
    NOW,
    complete,
    days_ago,
    employ,
    job_role,
    org,
    require,
    site,
    user,
)


@pytest.fixture
def world(app: Flask, catalogue: None) -> dict:
    o = org("acme")
    north, south = site(o, "North House"), site(o, "South House")
    carer = job_role(o, "Care worker")
    cook = job_role(o, "Kitchen assistant", "ALL")
    require(carer, "FIRE-01")  # module default refresh (12 months)
    require(carer, "SGA-01", refresh_months=0)  # does not expire here
    require(cook, "FOOD-01")
    require(cook, "FIRE-01", refresh_months=24)
    ann = user("ann@example.com", "Ann Active", o, Role.LEARNER)
    bob = user("bob@example.com", "Bob Expiring", o, Role.LEARNER)
    cat = user("cat@example.com", "Cat Kitchen", o, Role.LEARNER)
    gone = user("gone@example.com", "Gone Leaver", o, Role.LEARNER)
    employ(o, ann, carer, north, "W1")
    employ(o, bob, carer, south, "W2")
    employ(o, cat, cook, south, "W3")
    employ(o, gone, carer, north, "W4", end_date=date(2026, 1, 1))
    complete(o, ann, "FIRE-01", days_ago(30))
    complete(o, ann, "SGA-01", days_ago(2000))
    complete(o, bob, "FIRE-01", days_ago(300))  # expires in about 65 days: EXPIRING at 90
    complete(o, cat, "FIRE-01", days_ago(400))  # 24 months here: ACTIVE
    complete(o, gone, "FIRE-01", days_ago(10))
    # Another organisation's record of Bob's safeguarding does not count here.
    other = org("other")
    complete(other, bob, "SGA-01", days_ago(5))
    db.session.commit()
    return {
        "org": o,
        "north": north,
        "south": south,
        "carer": carer,
        "cook": cook,
        "ann": ann,
        "bob": bob,
        "cat": cat,
        "other": other,
    }


def test_statuses_and_rates(world: dict) -> None:
    m = org_compliance(db.session, world["org"].id, NOW)
    names = [r.worker.name for r in m.rows]
    assert names == ["Ann Active", "Bob Expiring", "Cat Kitchen"]  # the leaver is gone
    rows = {r.worker.name: r for r in m.rows}
    assert rows["Ann Active"].cells["FIRE-01"].status is Status.ACTIVE
    assert rows["Ann Active"].cells["SGA-01"].status is Status.ACTIVE  # does not expire
    assert rows["Ann Active"].cells["SGA-01"].expires_at is None
    assert rows["Bob Expiring"].cells["FIRE-01"].status is Status.EXPIRING
    assert rows["Bob Expiring"].cells["SGA-01"].status is Status.MISSING  # other org's record
    assert rows["Cat Kitchen"].cells["FIRE-01"].status is Status.ACTIVE
    assert rows["Cat Kitchen"].cells["FIRE-01"].expires_at == add_months(days_ago(400), 24)
    assert rows["Cat Kitchen"].cells["FOOD-01"].status is Status.MISSING
    assert "FOOD-01" not in rows["Ann Active"].cells  # not required for a care worker
    assert m.overall.total == 6 and m.overall.compliant == 4
    assert m.by_module["FIRE-01"].percent == 100
    assert m.by_module["SGA-01"].percent == 50
    assert m.by_site[world["north"].id].percent == 100
    assert m.by_site[world["south"].id].percent == 50  # 2 of 4
    assert m.counts[Status.MISSING] == 2


def test_threshold_is_per_organisation(world: dict) -> None:
    world["org"].expiring_days = 60
    db.session.commit()
    m = org_compliance(db.session, world["org"].id, NOW)
    bob = next(r for r in m.rows if r.worker.name == "Bob Expiring")
    assert bob.cells["FIRE-01"].status is Status.ACTIVE  # 65 days left > 60


def test_filters(world: dict) -> None:
    m = org_compliance(db.session, world["org"].id, NOW, site_id=world["south"].id)
    assert [r.worker.name for r in m.rows] == ["Bob Expiring", "Cat Kitchen"]
    m = org_compliance(db.session, world["org"].id, NOW, job_role_id=world["cook"].id)
    assert [r.worker.name for r in m.rows] == ["Cat Kitchen"]
    assert {c.code for c in m.columns} == {"FOOD-01", "FIRE-01"}
    m = org_compliance(db.session, world["org"].id, NOW, status="missing")
    assert [r.worker.name for r in m.rows] == ["Bob Expiring", "Cat Kitchen"]
    assert m.overall.total == 6  # the status filter narrows rows, not the rates


def test_latest_completion_counts_and_history_is_kept(world: dict) -> None:
    o, bob = world["org"], world["bob"]
    complete(o, bob, "FIRE-01", days_ago(1), source="course")
    db.session.commit()
    m = org_compliance(db.session, o.id, NOW)
    cell = next(r for r in m.rows if r.worker.name == "Bob Expiring").cells["FIRE-01"]
    assert cell.status is Status.ACTIVE and cell.completions == 2 and cell.source == "course"
    ev = cell_evidence(db.session, o.id, bob.id, "FIRE-01", NOW)
    assert [i.counts for i in ev.items] == [True, False]
    assert ev.items[1].expires_at == add_months(days_ago(300), 12)


def test_gaps_sorted_by_due_date(world: dict) -> None:
    m = org_compliance(db.session, world["org"].id, NOW)
    gaps = [(r.worker.name, col.code, c.status) for r, col, c in m.gaps()]
    assert gaps[0][2] is Status.MISSING  # due now
    assert gaps[-1] == ("Bob Expiring", "FIRE-01", Status.EXPIRING)


def test_future_completion_not_counted_yet(world: dict) -> None:
    o, cat = world["org"], world["cat"]
    complete(o, cat, "FOOD-01", NOW + timedelta(days=1))
    db.session.commit()
    m = org_compliance(db.session, o.id, NOW)
    row = next(r for r in m.rows if r.worker.name == "Cat Kitchen")
    assert row.cells["FOOD-01"].status is Status.MISSING


def test_withdrawn_external_records_do_not_count(world: dict) -> None:
    from lms.employer.service import ascwds_rows
    from lms.external.models import ExternalRecord

    o, cat = world["org"], world["cat"]
    record = complete(o, cat, "FOOD-01", days_ago(3))
    db.session.commit()
    m = org_compliance(db.session, o.id, NOW)
    row = next(r for r in m.rows if r.worker.name == "Cat Kitchen")
    assert row.cells["FOOD-01"].status is Status.ACTIVE
    # lms.external owns withdrawal (its record says so); the matrix leaves that completion out
    recorder = db.session.get_one(User, cat.id)  # any user will do for the record's author
    db.session.add(
        ExternalRecord(
            completion_id=record.id,
            org_id=o.id,
            user_id=cat.id,
            module_code="FOOD-01",
            evidence_ref="certificate seen",
            recorded_by_id=recorder.id,
            recorded_at=days_ago(3),
            withdrawn_at=days_ago(1),
            withdrawn_by_id=recorder.id,
            withdrawn_reason="recorded for the wrong person",
        )
    )
    db.session.commit()
    m = org_compliance(db.session, o.id, NOW)
    row = next(r for r in m.rows if r.worker.name == "Cat Kitchen")
    assert row.cells["FOOD-01"].status is Status.MISSING
    ev = cell_evidence(db.session, o.id, cat.id, "FOOD-01", NOW)
    assert ev.standing.status is Status.MISSING and ev.items[0].withdrawn  # still shown
    assert all(r.values[2] != "8" for r in ascwds_rows(db.session, o.id, NOW))  # not exported
