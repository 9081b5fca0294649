"""ASC-WDS training bulk-upload CSV: exact header, codes, dates, delivery values, CLI, download."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from courses.frameworks import ASCWDS_CATEGORIES, ASCWDS_CATEGORY_CODES
from courses.loader import read_catalogue
from courses.models import CatalogueModule
from lms.employer.service import ascwds_csv, ascwds_rows, clean_text
from lms.extensions import db
from lms.models import Requirement, Role

from .employer_helpers import NOW, complete, employ, job_role, org, require, site, user

HEADER = (
    "LOCALESTID,UNIQUEWORKERID,CATEGORY,TRAININGNAME,ACCREDITED,WHODELIVERED,PROVIDERNAME,"
    "HOWDELIVERED,VALIDITY,DATECOMPLETED,EXPIRYDATE,NOTES"
)


def test_every_category_has_its_code() -> None:
    assert set(ASCWDS_CATEGORY_CODES) == set(ASCWDS_CATEGORIES)
    assert len(set(ASCWDS_CATEGORY_CODES.values())) == len(ASCWDS_CATEGORY_CODES)
    # spot checks against the ASC-WDS source (trainingCategory.js)
    assert ASCWDS_CATEGORY_CODES["Control and restraint"] == 1
    assert ASCWDS_CATEGORY_CODES["Safeguarding adults"] == 20
    assert ASCWDS_CATEGORY_CODES["Other"] == 21
    assert ASCWDS_CATEGORY_CODES["Activity provision, wellbeing"] == 39
    assert ASCWDS_CATEGORY_CODES["Working with digital technology"] == 51
    assert not {3, 4, 24} & set(ASCWDS_CATEGORY_CODES.values())


def test_every_catalogue_module_maps_to_a_code() -> None:
    modules = read_catalogue()
    assert modules
    for m in modules:
        assert m.spec.ascwds_category in ASCWDS_CATEGORY_CODES, m.spec.code


@pytest.fixture
def world(app: Flask, catalogue: None) -> dict:
    o = org("acme", ascwds_workplace_id="ACME-HQ")
    north = site(o, "North House", ascwds_workplace_id="NORTH-1")
    south = site(o, "South House")  # no workplace id of its own: the organisation's
    carer = job_role(o, "Care worker")
    require(carer, "FIRE-01", refresh_months=24)
    require(carer, "SGA-01", refresh_months=0)
    ann = user("ann@example.com", "Ann", o, Role.LEARNER)
    bob = user("bob@example.com", "Bob", o, Role.LEARNER)
    employ(o, ann, carer, north, "W-ANN")
    employ(o, bob, carer, south, "W-BOB")
    complete(
        o,
        ann,
        "FIRE-01",
        datetime(2025, 3, 4, 10, 0, tzinfo=UTC),
        delivered_by="external",
        delivery_mode="face_to_face",
        accredited=True,
        provider_name="County Fire Safety",
        notes="Practical\nwith extinguishers, in the garden",
    )
    complete(
        o,
        ann,
        "SGA-01",
        datetime(2024, 12, 31, 23, 30, tzinfo=UTC),
        delivery_mode="blended",
        accredited=False,
    )
    complete(o, bob, "FIRE-01", datetime(2026, 1, 15, tzinfo=UTC), source="course")
    complete(
        o,
        bob,
        "DEM-01",
        datetime(2026, 2, 1, tzinfo=UTC),
        source="transfer",
        provider_name="Meadowbank Care",
    )
    db.session.commit()
    return {"org": o}


def _parsed(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _day(text: str) -> date:
    return datetime.strptime(text, "%d/%m/%Y").date()


def _plus_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def ascwds_refusals(row: dict[str, str], today: date) -> list[str]:
    """What ASC-WDS's training bulk-upload validator would refuse or warn about in a row
    (SopraSteria-SFC lambdas/bulkUpload/classes/trainingCSVValidator.js and its tests)."""
    out = []
    for column, limit in (("LOCALESTID", 50), ("UNIQUEWORKERID", 50)):
        if not row[column] or len(row[column]) > limit:
            out.append(f"{column} missing or over {limit}")
    if len(row["TRAININGNAME"]) > 120 or len(row["NOTES"]) > 1000:
        out.append("TRAININGNAME over 120 or NOTES over 1000")
    if not row["CATEGORY"].isdigit() or row["ACCREDITED"] not in {"", "0", "1", "999"}:
        out.append("CATEGORY or ACCREDITED invalid")
    if row["WHODELIVERED"] not in {"", "1", "2"} or row["HOWDELIVERED"] not in {"", "1", "2"}:
        out.append("WHODELIVERED or HOWDELIVERED invalid")
    if row["PROVIDERNAME"] and row["WHODELIVERED"] != "2":
        out.append("PROVIDERNAME ignored: WHODELIVERED is not 2")
    done = _day(row["DATECOMPLETED"]) if row["DATECOMPLETED"] else None
    if done is not None and done > today:
        out.append("DATECOMPLETED in the future")
    expiry = _day(row["EXPIRYDATE"]) if row["EXPIRYDATE"] else None
    if expiry is not None and done is not None and expiry <= done:
        out.append("EXPIRYDATE not after DATECOMPLETED")
    if row["VALIDITY"] == "none":
        if expiry is not None:
            out.append("VALIDITY none with an EXPIRYDATE")
    elif not row["VALIDITY"].isdigit() or not 1 <= int(row["VALIDITY"]) <= 999:
        out.append("VALIDITY not none or 1-999")
    elif (
        done is not None
        and expiry is not None
        and expiry != _plus_months(done, int(row["VALIDITY"])) - timedelta(days=1)
    ):
        out.append("EXPIRYDATE does not match VALIDITY")
    return out


def test_rows_and_values(world: dict) -> None:
    text = ascwds_csv(ascwds_rows(db.session, world["org"].id, NOW))
    assert text.splitlines()[0] == HEADER
    rows = {(r["UNIQUEWORKERID"], r["CATEGORY"]): r for r in _parsed(text)}
    assert len(rows) == 4
    fire = rows[("W-ANN", "6")]
    assert fire == {
        "LOCALESTID": "NORTH-1",
        "UNIQUEWORKERID": "W-ANN",
        "CATEGORY": "6",
        "TRAININGNAME": "Fire safety in care settings",
        "ACCREDITED": "1",
        "WHODELIVERED": "2",
        "PROVIDERNAME": "County Fire Safety",
        "HOWDELIVERED": "1",
        "VALIDITY": "24",  # the employer's override, not the module's 12
        "DATECOMPLETED": "04/03/2025",
        "EXPIRYDATE": "03/03/2027",  # the last day it is valid, as ASC-WDS counts
        "NOTES": "Practical with extinguishers, in the garden",  # one line
    }
    sga = rows[("W-ANN", "20")]
    assert sga["VALIDITY"] == "none" and sga["EXPIRYDATE"] == ""
    assert sga["ACCREDITED"] == "0" and sga["HOWDELIVERED"] == "1"  # blended: face to face
    assert sga["DATECOMPLETED"] == "31/12/2024"
    bob_fire = rows[("W-BOB", "6")]
    assert bob_fire["LOCALESTID"] == "ACME-HQ"  # site without its own id
    assert bob_fire["ACCREDITED"] == "999"  # not known
    assert bob_fire["WHODELIVERED"] == "1" and bob_fire["HOWDELIVERED"] == "2"  # our e-learning
    assert bob_fire["PROVIDERNAME"] == ""  # in-house: ASC-WDS would ignore it, with a warning
    dem = rows[("W-BOB", "2")]  # not required for the role: the module's own 36 months
    assert dem["VALIDITY"] == "36" and dem["EXPIRYDATE"] == "31/01/2029"
    assert dem["WHODELIVERED"] == "2" and dem["PROVIDERNAME"] == "Meadowbank Care"
    # Nothing ASC-WDS would refuse or warn about.
    assert {k: ascwds_refusals(r, NOW.date()) for k, r in rows.items()} == {k: [] for k in rows}


def test_dates_are_uk_days(app: Flask, catalogue: None) -> None:
    """Completed at 23:30 UTC on 30 June is 1 July in the UK (BST): dated as the worker saw it."""
    o = org("late", ascwds_workplace_id="LATE-1")
    carer = job_role(o, "Care worker")
    require(carer, "FIRE-01", refresh_months=12)
    ann = user("ann.late@example.com", "Ann", o, Role.LEARNER)
    employ(o, ann, carer, None, "W-LATE")
    complete(o, ann, "FIRE-01", datetime(2025, 6, 30, 23, 30, tzinfo=UTC), source="course")
    db.session.commit()
    [row] = _parsed(ascwds_csv(ascwds_rows(db.session, o.id, NOW)))
    assert (row["DATECOMPLETED"], row["EXPIRYDATE"]) == ("01/07/2025", "30/06/2026")
    assert ascwds_refusals(row, NOW.date()) == []


def test_clean_text() -> None:
    assert clean_text("a\r\nb\tc\x00d", 100) == "a b c d"
    assert clean_text("x" * 130, 120) == "x" * 120
    assert clean_text(None, 10) == ""


def test_cli_writes_the_file(world: dict, runner: FlaskCliRunner, tmp_path: Path) -> None:
    out = tmp_path / "training.csv"
    result = runner.invoke(args=["export", "ascwds", "--org", "acme", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 training record(s)" in result.output
    assert out.read_text(encoding="utf-8").splitlines()[0] == HEADER
    bad = runner.invoke(args=["export", "ascwds", "--org", "nope", "--out", str(out)])
    assert bad.exit_code != 0 and "no organisation 'nope'" in bad.output


def test_manager_download(client, auth, demo: dict[str, str]) -> None:
    auth.login("manager@example.com", demo["manager@example.com"])
    resp = client.get("/manage/oakview/ascwds.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = _parsed(resp.text)
    assert resp.text.splitlines()[0] == HEADER
    assert len(rows) > 100
    assert {r["LOCALESTID"] for r in rows} <= {"OAKVIEW-H", "BEECH-C"}
    today = datetime.now(UTC).date()
    soft = "EXPIRYDATE does not match VALIDITY"  # ASC-WDS warns, and keeps both
    refused = [(r, p) for r in rows for p in ascwds_refusals(r, today) if p != soft]
    assert refused == []
    # Expiry dates differ from "completed + months - 1 day" only where the employer chose to:
    # a fixed yearly date (fire safety) or keeping the cycle (medicines) in the demo.
    other_modes = {
        m.title
        for m in db.session.scalars(
            select(CatalogueModule)
            .join(Requirement, Requirement.module_code == CatalogueModule.code)
            .where(Requirement.recert_mode != "completion_date", CatalogueModule.is_current)
        )
    }
    mismatched = {r["TRAININGNAME"] for r in rows if soft in ascwds_refusals(r, today)}
    assert other_modes and mismatched <= other_modes
    for r in rows:
        assert r["CATEGORY"].isdigit()
        assert r["ACCREDITED"] in {"0", "1", "999"}
        assert r["WHODELIVERED"] in {"1", "2"}
        assert r["HOWDELIVERED"] in {"1", "2"}
        assert r["VALIDITY"] == "none" or r["VALIDITY"].isdigit()
        day, month, year = r["DATECOMPLETED"].split("/")
        assert len(day) == 2 and len(month) == 2 and len(year) == 4
