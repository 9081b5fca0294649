"""Training done elsewhere: recorded by a manager, validated, counted, never signed by us."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from lms import audit, learning
from lms.accounts import ensure_membership, get_or_create_org, get_or_create_user
from lms.errors import Conflict, Forbidden
from lms.extensions import db
from lms.external import service
from lms.external.models import ExternalRecord
from lms.models import AuditEvent, Completion, IssuedCredential, Role, User
from tests.conftest import PASSWORD, Auth, csrf_token, make_app

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


class World:
    def __init__(self, app: Flask) -> None:
        s = db.session
        hasher = app.extensions["password_hasher"]
        self.org = get_or_create_org(s, "brook", "Brook House", "care_provider", NOW)
        self.other = get_or_create_org(s, "elm", "Elm Lodge", "care_provider", NOW)
        self.users: dict[str, User] = {}
        for key, org, role in (
            ("worker", self.org, Role.LEARNER),
            ("manager", self.org, Role.MANAGER),
            ("mentor", self.org, Role.MENTOR),
            ("elsewhere", self.other, Role.MANAGER),
            ("stranger", self.other, Role.LEARNER),
        ):
            user = get_or_create_user(
                s, hasher, f"{key}@brook.example.org", key.title(), PASSWORD, NOW
            )
            ensure_membership(s, user, org, role)
            self.users[key] = user
        s.commit()

    def data(self, **changes: Any) -> service.ExternalInput:
        base: dict[str, Any] = {
            "user_id": self.users["worker"].id,
            "module_code": "OMMT-E",
            "provider_name": "NHS England e-Learning for Healthcare",
            "completed_on": date(2026, 10, 1),
            "delivery_mode": "e_learning",
            "accredited": "no",
            "evidence_ref": "elfh certificate seen; copy in staff file",
        }
        base.update(changes)
        return service.ExternalInput(**base)

    def record(self, tmp_path: Path, **changes: Any) -> ExternalRecord:
        return service.record_external(
            db.session, self.org, self.users["manager"], self.data(**changes), NOW, tmp_path
        )


@pytest.fixture
def world(app: Flask, catalogue: None) -> World:
    return World(app)


def test_recorded_training_is_a_completion_from_outside_with_every_field(
    world: World, tmp_path: Path
) -> None:
    record = world.record(tmp_path, certificate_number="ELFH-123", notes="did it at home")
    db.session.commit()
    c = record.completion
    assert c.source == "external" and c.delivered_by == "external"
    assert c.module.code == "OMMT-E" and c.attempt_id is None
    assert (c.delivery_mode, c.accredited, c.provider_name) == (
        "e_learning",
        False,
        "NHS England e-Learning for Healthcare",
    )
    assert c.completed_at == datetime(2026, 10, 1, tzinfo=UTC)
    assert c.valid_until == datetime(2029, 10, 1, tzinfo=UTC)  # OMMT: 36 months
    assert c.recorded_by_id == world.users["manager"].id and c.notes == "did it at home"
    assert (record.certificate_number, record.variant) == ("ELFH-123", None)
    # it counts like any completion of the module...
    from lms import learning

    assert learning.latest_completion(db.session, world.users["worker"].id, "OMMT-E") == c
    # ...and is never a credential of ours
    assert db.session.scalar(select(func.count(IssuedCredential.id))) == 0
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "external.recorded")
    ).one()
    assert event.subject_user_id == world.users["worker"].id and event.org_id == world.org.id
    assert event.after is not None and event.after["provider_name"].startswith("NHS England")
    assert audit.verify_chain(db.session).ok


def test_accredited_dont_know_and_care_certificate_version_are_kept(
    world: World, tmp_path: Path
) -> None:
    record = world.record(
        tmp_path,
        module_code="BLS-01",
        provider_name="St John Ambulance",
        delivery_mode="face_to_face",
        accredited="unknown",
    )
    assert record.completion.accredited is None
    assert record.completion.care_certificate_version == "2025"  # BLS-01 follows 2025 std 12
    assert record.completion.valid_until == datetime(2027, 10, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"completed_on": date(2026, 11, 21)}, "completed_on", "in the future"),
        ({"completed_on": date(1989, 12, 31)}, "completed_on", "1990 or later"),
        ({"completed_on": None}, "completed_on", "Enter the date"),
        ({"provider_name": "  "}, "provider_name", "Enter the provider"),
        ({"provider_name": "x" * 201}, "provider_name", "under 200"),
        ({"delivery_mode": "carrier pigeon"}, "delivery_mode", "Choose how"),
        ({"accredited": "maybe"}, "accredited", "yes, no or don't know"),
        ({"module_code": "NOPE-1"}, "module_code", "from the catalogue"),
        ({"module_code": "CC-CERT"}, "module_code", "awarded by the registered manager"),
        ({"module_code": "OMMT-L"}, "variant", "Tier 1 or Tier 2"),
        ({"module_code": "OMMT-L", "variant": "Tier 3"}, "variant", "Tier 1 or Tier 2"),
        ({"variant": "Tier 1"}, "variant", "has no variants"),
        ({"evidence_ref": "", "certificate_number": ""}, "evidence_ref", "what evidence"),
        ({"evidence_ref": "x" * 301}, "evidence_ref", "under 300"),
        ({"certificate_number": "x" * 101}, "certificate_number", "under 100"),
        ({"notes": "x" * 2001}, "notes", "under 2000"),
        ({"upload": service.Upload("cert.pdf", b"MZ not a pdf")}, "evidence_file", "Only photos"),
    ],
)
def test_every_field_is_validated_and_nothing_is_saved(
    world: World, tmp_path: Path, changes: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(service.ExternalRefused) as err:
        world.record(tmp_path, **changes)
    assert err.value.field == field and message in err.value.message
    db.session.rollback()
    assert db.session.scalar(select(func.count(Completion.id))) == 0
    assert db.session.scalar(select(func.count(ExternalRecord.id))) == 0


def test_worker_must_belong_to_the_organisation_and_actor_must_manage_it(
    world: World, tmp_path: Path
) -> None:
    with pytest.raises(service.ExternalRefused) as err:
        world.record(tmp_path, user_id=world.users["stranger"].id)
    assert err.value.field == "user_id"
    for who in ("mentor", "worker", "elsewhere"):
        with pytest.raises(Forbidden):
            service.record_external(
                db.session, world.org, world.users[who], world.data(), NOW, tmp_path
            )


def test_tier_variant_is_recorded(world: World, tmp_path: Path) -> None:
    record = world.record(
        tmp_path,
        module_code="OMMT-L",
        variant="Tier 2",
        delivery_mode="face_to_face",
        provider_name="Approved trainer trio, Bristol",
    )
    assert record.variant == "Tier 2" and record.completion.module.code == "OMMT-L"


def test_withdrawn_record_stops_counting(world: World, tmp_path: Path) -> None:
    first = world.record(tmp_path)
    db.session.commit()
    assert service.withdrawn_completion_ids(db.session, world.org.id) == set()
    with pytest.raises(service.ExternalRefused):
        service.withdraw_external(
            db.session, world.org, world.users["manager"], first.id, "   ", NOW
        )
    service.withdraw_external(
        db.session, world.org, world.users["manager"], first.id, "wrong worker", NOW
    )
    db.session.commit()
    assert service.withdrawn_completion_ids(db.session, world.org.id) == {first.completion_id}
    assert service.withdrawn_completion_ids(db.session, world.other.id) == set()
    with pytest.raises(Conflict):
        service.withdraw_external(db.session, world.org, world.users["manager"], first.id, "x", NOW)
    db.session.rollback()
    # the record and its completion are kept, marked withdrawn, and a new one can follow
    again = world.record(tmp_path, completed_on=date(2026, 10, 2))
    db.session.commit()
    assert db.session.scalar(select(func.count(Completion.id))) == 2
    assert service.withdrawn_completion_ids(db.session) == {first.completion_id}
    assert again.withdrawn_at is None
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("external.%"))
    ).all()
    assert actions == ["external.recorded", "external.withdrawn", "external.recorded"]
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "external.withdrawn")
    ).one()
    assert event.reason == "wrong worker"
    # what the worker's "My learning" counts: the newer record, never the withdrawn one
    latest = learning.latest_completion(db.session, first.user_id, first.module_code)
    assert latest is not None and latest.id == again.completion_id
    service.withdraw_external(
        db.session, world.org, world.users["manager"], again.id, "also wrong", NOW
    )
    db.session.commit()
    assert learning.latest_completion(db.session, first.user_id, first.module_code) is None


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 10), "white").save(out, format="PNG")
    return out.getvalue()


def login(client: FlaskClient, user: User) -> None:
    assert Auth(client).login(user.email, PASSWORD).status_code == 302


def form(world: World, **changes: Any) -> dict[str, Any]:
    base = {
        "user_id": str(world.users["worker"].id),
        "module_code": "OMMT-L",
        "variant": "Tier 1",
        "provider_name": "Approved trainer trio",
        "completed_on": "2026-10-01",
        "delivery_mode": "e_learning",
        "accredited": "unknown",
        "evidence_ref": "attendance record seen",
    }
    base.update(changes)
    return base


def test_pages_record_show_upload_and_withdraw(
    world: World, client: FlaskClient, app: Flask, tmp_path: Path
) -> None:
    app.config["EVIDENCE_DIR"] = str(tmp_path / "evidence")
    login(client, world.users["manager"])
    assert client.get("/manage/brook/external/").status_code == 200
    page = client.get("/manage/brook/external/new")
    assert page.status_code == 200 and "Tier 2" in page.text and "Oliver McGowan" in page.text
    future = client.post(
        "/manage/brook/external/new",
        data=form(world, completed_on=(NOW + timedelta(days=400)).date().isoformat()),
    )
    assert future.status_code == 400 and "in the future" in future.text
    assert 'value="Approved trainer trio"' in future.text  # what was typed is kept
    missing = client.post("/manage/brook/external/new", data=form(world, delivery_mode=""))
    assert missing.status_code == 400 and "Choose how it was delivered" in missing.text
    data = form(world)
    data["evidence_file"] = (io.BytesIO(_png()), "register.png")
    saved = client.post("/manage/brook/external/new", data=data, content_type="multipart/form-data")
    assert saved.status_code == 302, saved.text
    record = db.session.scalars(select(ExternalRecord)).one()
    assert record.evidence_content_type == "image/png" and record.variant == "Tier 1"
    shown = client.get(saved.location)
    assert "no certificate of ours" in shown.text.lower() and "Tier 1" in shown.text
    download = client.get(f"/manage/brook/external/{record.id}/evidence")
    assert download.status_code == 200 and download.data.startswith(b"\x89PNG")
    assert "attachment" in download.headers["Content-Disposition"]
    no_reason = client.post(f"/manage/brook/external/{record.id}", data={"reason": ""})
    assert no_reason.status_code == 400 and "Give a reason" in no_reason.text
    gone = client.post(f"/manage/brook/external/{record.id}", data={"reason": "wrong tier"})
    assert gone.status_code == 302
    assert "Withdrawn on" in client.get(gone.location).text
    assert db.session.scalar(select(func.count(IssuedCredential.id))) == 0


def test_learner_sees_it_was_recorded_by_the_manager(
    world: World, client: FlaskClient, tmp_path: Path
) -> None:
    from lms import learning

    learning.enrol(db.session, world.users["worker"].id, world.org.id, "OMMT-E", NOW)
    world.record(tmp_path)
    db.session.commit()
    login(client, world.users["worker"])
    home = client.get("/")
    assert "Recorded by your manager: completed on 1 Oct 2026" in home.text
    assert "NHS England e-Learning for Healthcare" in home.text


def test_who_may_use_the_pages(world: World, client: FlaskClient, tmp_path: Path) -> None:
    record = world.record(tmp_path)
    db.session.commit()
    urls = [
        "/manage/brook/external/",
        "/manage/brook/external/new",
        f"/manage/brook/external/{record.id}",
        f"/manage/brook/external/{record.id}/evidence",
    ]
    for url in urls:
        assert client.get(url).status_code == 302  # anonymous: to the login page
    for who in ("worker", "mentor", "elsewhere"):
        login(client, world.users[who])
        for url in urls:
            assert client.get(url).status_code == 404, (who, url)
        assert client.post("/manage/brook/external/new", data=form(world)).status_code == 404
        Auth(client).logout()
    login(client, world.users["elsewhere"])
    assert client.get(f"/manage/elm/external/{record.id}").status_code == 404  # not theirs
    assert db.session.scalar(select(func.count(ExternalRecord.id))) == 1


def test_form_needs_csrf(tmp_path: Path) -> None:
    gen: Iterator[Flask] = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    app = next(gen)
    try:
        from courses.loader import load_catalogue, read_catalogue

        load_catalogue(db.session, read_catalogue(), NOW)
        db.session.commit()
        w = World(app)
        client = app.test_client()
        login_page = client.get("/auth/login")
        client.post(
            "/auth/login",
            data={
                "email": w.users["manager"].email,
                "password": PASSWORD,
                "csrf_token": csrf_token(login_page.text),
            },
        )
        page = client.get("/manage/brook/external/new")
        refused = client.post("/manage/brook/external/new", data=form(w))
        assert refused.status_code == 400
        assert db.session.scalar(select(func.count(ExternalRecord.id))) == 0
        ok = client.post(
            "/manage/brook/external/new",
            data={**form(w), "csrf_token": csrf_token(page.text)},
        )
        assert ok.status_code == 302, ok.text
        assert db.session.scalar(select(func.count(ExternalRecord.id))) == 1
    finally:
        gen.close()
