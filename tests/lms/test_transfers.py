"""Accepting transferred training: trust lists, upload and verify, match and policy, decide.

World: Oakview (our organisation, manager Grace) employs Amira as a "Care worker", whose role
requires HSA-01 (module default, 36 months), IPC-01 (our override: 12 months), FIRE-01 (needs
observed practice) and MHO-01 (transfers not accepted). Riverside, another organisation on the
same instance, issued Amira real credentials (lms.issuance). "Northgate Training" is an outside
issuer with its own root and trust list, built with the credentials package directly.
"""

from __future__ import annotations

import io
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from courses.models import CatalogueModule
from credentials import (
    AchievementSpec,
    IssuerProfile,
    TrustedIssuer,
    TrustedKey,
    build_credential,
    encode_qr,
    generate_signing_key,
    key_thumbprint,
    public_jwk,
    qr_png,
    sign_credential,
    sign_trust_list,
)
from credentials._util import b64url_decode, b64url_encode
from lms import audit, status
from lms.accounts import ensure_membership, get_or_create_org, get_or_create_user
from lms.extensions import db
from lms.issuance import IssuanceContext, alignments_for, issue_for_completion, trust_list
from lms.models import (
    AuditEvent,
    Completion,
    CompletionSource,
    Employment,
    IssuedCredential,
    JobRole,
    Organisation,
    OrgKind,
    Requirement,
    Role,
    User,
)
from lms.transfers import service
from lms.transfers.models import AcceptedCredential, OrgTrustList, TransferItem, TransferReview
from tests.conftest import PASSWORD, csrf_token, make_app

NOW = datetime.now(UTC).replace(microsecond=0)
BASE = "https://lms.example.test"


@dataclass
class World:
    ctx: IssuanceContext
    oakview: Organisation
    riverside: Organisation
    manager: User
    worker: User
    learner: User  # another Oakview learner, not a manager
    other_manager: User  # manages Riverside only
    role: JobRole


def _module(code: str) -> CatalogueModule:
    module = db.session.scalar(
        select(CatalogueModule).where(
            CatalogueModule.code == code, CatalogueModule.is_current.is_(True)
        )
    )
    assert module is not None
    return module


def _user(app: Flask, email: str, name: str) -> User:
    return get_or_create_user(
        db.session, app.extensions["password_hasher"], email, name, PASSWORD, NOW
    )


@pytest.fixture
def world(app: Flask, catalogue: None) -> World:
    return build_world(app)


def build_world(app: Flask) -> World:
    session = db.session
    oakview = get_or_create_org(session, "oakview", "Oakview Care", OrgKind.CARE_PROVIDER, NOW)
    riverside = get_or_create_org(
        session, "riverside", "Riverside Homecare", OrgKind.CARE_PROVIDER, NOW
    )
    manager = _user(app, "grace@example.org", "Grace Mensah")
    worker = _user(app, "amira.okafor@example.org", "Amira Okafor")
    learner = _user(app, "ben@example.org", "Ben Carter")
    other_manager = _user(app, "rita@example.org", "Rita Hall")
    ensure_membership(session, manager, oakview, Role.MANAGER)
    ensure_membership(session, worker, oakview, Role.LEARNER)
    ensure_membership(session, learner, oakview, Role.LEARNER)
    ensure_membership(session, worker, riverside, Role.LEARNER)
    ensure_membership(session, other_manager, riverside, Role.MANAGER)
    role = JobRole(org_id=oakview.id, name="Care worker", cwp_category="Care worker")
    session.add(role)
    session.flush()
    for code, extra in (
        ("HSA-01", {}),
        ("IPC-01", {"refresh_months": 12}),
        ("FIRE-01", {"transfer_needs_observation": True}),
        ("MHO-01", {"accept_transfers": False}),
    ):
        session.add(Requirement(org_id=oakview.id, job_role_id=role.id, module_code=code, **extra))
    session.add(
        Employment(org_id=oakview.id, user_id=worker.id, job_role_id=role.id, worker_ref="W1")
    )
    session.commit()
    ctx = IssuanceContext.from_config(app.config)
    return World(ctx, oakview, riverside, manager, worker, learner, other_manager, role)


def riverside_credential(
    w: World, code: str = "HSA-01", completed: datetime | None = None
) -> IssuedCredential:
    """A real credential issued by Riverside on this instance for Amira."""
    module = _module(code)
    done = completed or NOW - timedelta(days=30)
    completion = Completion(
        user_id=w.worker.id,
        org_id=w.riverside.id,
        module_id=module.id,
        source=CompletionSource.COURSE.value,
        completed_at=done,
        valid_until=done + timedelta(days=365 * 3),
    )
    db.session.add(completion)
    db.session.flush()
    issued = issue_for_completion(db.session, w.ctx, completion, NOW)
    db.session.commit()
    return issued


def trust_instance(w: World) -> None:
    service.trust_instance(db.session, w.ctx, w.oakview, w.manager, NOW)
    db.session.commit()


# --------------------------------------------------------------------------- outside issuer


@dataclass
class Outside:
    root: ec.EllipticCurvePrivateKey
    key: ec.EllipticCurvePrivateKey
    issuer: IssuerProfile
    trust_text: str
    anchor: str


def outside_issuer(issued_at: datetime = NOW - timedelta(days=1)) -> Outside:
    root, key = generate_signing_key(), generate_signing_key()
    issuer = IssuerProfile(id="https://northgate.example.test/issuer", name="Northgate Training")
    trusted = TrustedIssuer(
        id=issuer.id,
        name="Northgate Training Ltd",
        keys=(
            TrustedKey(
                kid=key_thumbprint(key),
                jwk=public_jwk(key),
                valid_from=datetime(2020, 1, 1, tzinfo=UTC),
                valid_until=None,
            ),
        ),
    )
    text = sign_trust_list("Northgate scheme", (trusted,), root, issued_at, None)
    return Outside(root, key, issuer, text, key_thumbprint(root))


def outside_credential(
    o: Outside,
    code: str = "HSA-01",
    *,
    name: str = "Amira Okafor",
    email: str = "amira.okafor@example.org",
    completed: datetime | None = None,
    valid_until: datetime | None = None,
    evidence: list[dict[str, Any]] | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> tuple[dict[str, Any], str]:
    module = _module(code)
    done = completed or NOW - timedelta(days=60)
    credential = build_credential(
        credential_id=f"urn:uuid:{uuid.uuid4()}",
        issuer=o.issuer,
        achievement=AchievementSpec(
            id=f"https://northgate.example.test/courses/{code}",
            name=f"{module.title} (Northgate)",
            description="A course.",
            criteria="Attended and passed.",
            alignments=alignments_for(module, BASE),
        ),
        learner_name=name,
        learner_email=email,
        salt=secrets.token_hex(16),
        valid_from=done,
        valid_until=valid_until if valid_until is not None else done + timedelta(days=1000),
        activity_end=done,
    )
    if evidence is not None:
        credential["evidence"] = evidence
    return credential, sign_credential(credential, key or o.key)


def add_outside_trust(w: World, o: Outside) -> None:
    service.add_trust_list(db.session, w.oakview, w.manager, o.trust_text.encode(), o.anchor, NOW)
    db.session.commit()


def do_upload(
    w: World, data: bytes | None = None, qr_text: str | None = None, **kw: Any
) -> TransferReview:
    review = service.upload(
        db.session,
        w.ctx,
        w.oakview,
        w.manager,
        worker_id=kw.pop("worker_id", w.worker.id),
        data=data,
        file_name=kw.pop("file_name", "upload.bin"),
        qr_text=qr_text,
        other_email=kw.pop("other_email", None),
        now=kw.pop("now", NOW),
    )
    db.session.commit()
    return review


def failed(item: TransferItem) -> list[str]:
    return [c["check"] for c in item.checks if not c["ok"]]


def login(client: FlaskClient, email: str) -> None:
    response = client.post("/auth/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


# --------------------------------------------------------------------------- the happy path


def test_valid_passport_is_matched_accepted_and_audited(world: World, client: FlaskClient) -> None:
    w = world
    issued = riverside_credential(w, "HSA-01")
    trust_instance(w)
    passport = status.passport(db.session, w.ctx, w.worker, NOW)
    db.session.commit()

    login(client, w.manager.email)
    page = client.get("/manage/oakview/transfers/new")
    assert page.status_code == 200 and "Amira Okafor" in page.get_data(as_text=True)
    response = client.post(
        "/manage/oakview/transfers/new",
        data={"worker": str(w.worker.id), "file": (io.BytesIO(passport.encode()), "passport.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    review = db.session.scalars(select(TransferReview)).one()
    assert review.input_kind == "passport" and review.status_lists
    [item] = review.items
    assert item.valid and item.acceptable and item.status == "pending"
    assert item.credential_id == issued.credential_id
    assert item.issuer_name == "Riverside Homecare"
    requirement = db.session.get(Requirement, item.requirement_id)
    assert requirement is not None and requirement.module_code == "HSA-01"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Genuine" in html and "Riverside Homecare" in html and "Health and safety" in html

    decided = client.post(
        f"/manage/oakview/transfers/{review.id}/items/{item.id}",
        data={f"i{item.id}-decision": "accept", f"i{item.id}-reason": "Checked her photo ID."},
    )
    assert decided.status_code == 302, decided.get_data(as_text=True)
    db.session.expire_all()
    completion = db.session.scalars(
        select(Completion).where(
            Completion.org_id == w.oakview.id, Completion.source == CompletionSource.TRANSFER.value
        )
    ).one()
    assert completion.user_id == w.worker.id and completion.module.code == "HSA-01"
    assert completion.attempt_id is None and completion.delivered_by == "external"
    assert completion.provider_name == "Riverside Homecare"
    assert completion.recorded_by_id == w.manager.id
    assert abs(completion.completed_at - (NOW - timedelta(days=30))) < timedelta(seconds=2)
    assert completion.valid_until is not None and completion.valid_until > NOW + timedelta(
        days=1000
    )
    detail = service.accepted_detail(db.session, completion.id)
    assert detail is not None and detail.label == "Recognised prior learning"
    assert detail.token == issued.token and detail.issuer_name == "Riverside Homecare"
    assert detail.accepted_by == "Grace Mensah" and detail.reason == "Checked her photo ID."
    assert detail.verification["valid"] is True
    assert service.accepted_detail(db.session, completion.id + 999) is None

    events = audit.history(db.session, w.oakview.id, w.worker.id)
    assert [e.action for e in events] == ["transfer.verified", "transfer.accepted"]
    accepted = events[-1]
    assert (accepted.entity_type, accepted.entity_id) == ("completion", str(completion.id))
    assert accepted.actor_id == w.manager.id and accepted.reason == "Checked her photo ID."
    page = client.get(f"/manage/oakview/transfers/{review.id}").get_data(as_text=True)
    assert "Accepted on" in page and "Checked her photo ID." in page
    assert audit.verify_chain(db.session).ok


def test_rejecting_needs_a_reason_and_is_audited(world: World, client: FlaskClient) -> None:
    w = world
    riverside_credential(w)
    trust_instance(w)
    review = do_upload(w, status.passport(db.session, w.ctx, w.worker, NOW).encode())
    item = review.items[0]
    login(client, w.manager.email)
    url = f"/manage/oakview/transfers/{review.id}/items/{item.id}"
    no_reason = client.post(url, data={f"i{item.id}-decision": "reject", f"i{item.id}-reason": ""})
    assert no_reason.status_code == 400
    assert "Give a reason" in no_reason.get_data(as_text=True)
    ok = client.post(
        url, data={f"i{item.id}-decision": "reject", f"i{item.id}-reason": "Not our standard."}
    )
    assert ok.status_code == 302
    db.session.expire_all()
    item = db.session.get(TransferItem, item.id)
    assert item is not None and item.status == "rejected"
    assert item.decision_reason == "Not our standard."
    assert count(Completion) == 1  # only Riverside's own
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "transfer.rejected")
    ).one()
    assert event.reason == "Not our standard." and event.subject_user_id == w.worker.id
    assert (event.entity_type, event.entity_id) == ("transfer_item", str(item.id))
    assert event.org_id == w.oakview.id and event.actor_id == w.manager.id
    # A decision is not changed afterwards.
    again = client.post(
        url, data={f"i{item.id}-decision": "accept", f"i{item.id}-reason": "Changed my mind."}
    )
    assert again.status_code == 409


# --------------------------------------------------------------------------- bad inputs


def test_revoked_credential_is_refused(world: World) -> None:
    w = world
    issued = riverside_credential(w)
    status.revoke(db.session, issued, "Issued in error", NOW, w.other_manager)
    db.session.commit()
    trust_instance(w)
    review = do_upload(w, issued.token.encode())
    [item] = review.items
    assert not item.valid and item.status == "refused" and item.reason_code == "revoked"
    assert "withdrawn (revoked)" in item.reason
    assert count(AcceptedCredential) == 0


def test_revoked_between_upload_and_decision_is_refused(world: World) -> None:
    w = world
    issued = riverside_credential(w)
    trust_instance(w)
    review = do_upload(w, issued.token.encode())
    item = review.items[0]
    assert item.acceptable
    status.revoke(db.session, issued, "Obtained by fraud", NOW, w.other_manager)
    db.session.commit()
    outcome = service.decide(
        db.session,
        w.ctx,
        w.oakview,
        w.manager,
        review_id=review.id,
        item_id=item.id,
        accept=True,
        reason="Looks fine",
        now=NOW,
    )
    db.session.commit()
    assert not outcome.done and "revoked" in outcome.message
    assert item.status == "refused" and item.reason_code == "revoked"
    assert count(AcceptedCredential) == 0
    assert (
        db.session.scalar(
            select(func.count()).select_from(Completion).where(Completion.org_id == w.oakview.id)
        )
        == 0
    )
    assert db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("transfer.%"))
    ).all() == [
        "transfer.verified",
        "transfer.refused",
    ]
    refused = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "transfer.refused")
    ).one()
    assert (refused.entity_type, refused.entity_id) == ("transfer_item", str(item.id))
    assert refused.subject_user_id == w.worker.id and refused.after is not None
    assert refused.after["reason_code"] == "revoked"


def test_expired_credential_is_refused(world: World) -> None:
    w = world
    o = outside_issuer()
    add_outside_trust(w, o)
    _, token = outside_credential(
        o, completed=NOW - timedelta(days=800), valid_until=NOW - timedelta(days=5)
    )
    [item] = do_upload(w, token.encode()).items
    assert not item.valid and item.reason_code == "expired" and "expired on" in item.reason
    assert item.status == "refused"


def test_untrusted_issuer_is_refused_plainly(world: World) -> None:
    w = world
    trust_instance(w)  # trusts this instance, but not Northgate
    o = outside_issuer()
    _, token = outside_credential(o)
    [item] = do_upload(w, token.encode()).items
    assert not item.valid and item.reason_code == "unknown_key"
    assert "not signed by any training provider on the trusted list" in item.reason
    assert "Northgate Training" in item.reason and "not on any trust list" in item.reason


def test_a_passport_from_an_untrusted_issuer_saves_nothing_but_the_log(world: World) -> None:
    w = world
    trust_instance(w)
    o = outside_issuer()
    tokens = [outside_credential(o, code)[1] for code in ("HSA-01", "IPC-01")]
    passport = json.dumps(
        {
            "type": "CareCredPassport",
            "version": 1,
            "issuedAt": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "holder": {"name": "Amira Okafor"},
            "credentials": tokens,
        }
    )
    review = do_upload(w, passport.encode())
    assert [i.reason_code for i in review.items] == ["unknown_key", "unknown_key"]
    assert all(i.status == "refused" for i in review.items)
    assert count(AcceptedCredential) == 0


def test_tampered_credential_is_refused(world: World) -> None:
    w = world
    o = outside_issuer()
    add_outside_trust(w, o)
    _, token = outside_credential(o)
    head, body, sig = token.split(".")
    payload = json.loads(b64url_decode(body))
    payload["validUntil"] = "2099-01-01T00:00:00Z"
    forged = ".".join([head, b64url_encode(json.dumps(payload).encode()), sig])
    [item] = do_upload(w, forged.encode()).items
    assert not item.valid and item.reason_code == "bad_signature"
    assert "changed since it was issued" in item.reason


@pytest.mark.parametrize(
    ("name", "email", "failing"),
    [
        ("Someone Else", "amira.okafor@example.org", ["owner_name"]),
        ("Amira Okafor", "someone.else@example.org", ["owner_email"]),
    ],
)
def test_credential_of_another_person_is_refused(
    world: World, name: str, email: str, failing: list[str]
) -> None:
    w = world
    o = outside_issuer()
    add_outside_trust(w, o)
    _, token = outside_credential(o, name=name, email=email)
    [item] = do_upload(w, token.encode()).items
    assert item.valid and not item.acceptable
    assert failed(item) == failing
    message = next(c["message"] for c in item.checks if c["check"] == failing[0])
    assert (
        ("not to Amira Okafor" in message)
        if failing == ["owner_name"]
        else ("may belong to someone else" in message)
    )
    outcome = service.decide(
        db.session,
        w.ctx,
        w.oakview,
        w.manager,
        review_id=item.review_id,
        item_id=item.id,
        accept=True,
        reason="Trying anyway",
        now=NOW,
    )
    db.session.commit()
    assert not outcome.done and message in outcome.message
    assert count(AcceptedCredential) == 0 and item.status == "pending"


def test_name_tolerates_case_and_spaces_and_other_email_can_be_given(world: World) -> None:
    w = world
    o = outside_issuer()
    add_outside_trust(w, o)
    _, token = outside_credential(o, name="  amira   OKAFOR ", email="Amira.Old@Example.net")
    [item] = do_upload(w, token.encode()).items
    assert failed(item) == ["owner_email"]
    [item] = do_upload(w, token.encode(), other_email="amira.old@example.net").items
    assert item.acceptable, item.checks


# --------------------------------------------------------------------------- policy


def test_outside_our_refresh_interval_is_refused(world: World) -> None:
    w = world
    o = outside_issuer()
    add_outside_trust(w, o)
    # IPC-01: our policy says 12 months; done 14 months ago, still valid by the issuer's dates.
    _, token = outside_credential(o, "IPC-01", completed=NOW - timedelta(days=425))
    [item] = do_upload(w, token.encode()).items
    assert item.valid and not item.acceptable and failed(item) == ["in_date"]
    assert "every 12 months" in item.checks[-1]["message"]
    _, fresh = outside_credential(o, "IPC-01", completed=NOW - timedelta(days=200))
    [item] = do_upload(w, fresh.encode()).items
    assert item.acceptable


def test_transfers_not_accepted_for_a_requirement(world: World) -> None:
    w = world
    o = outside_issuer()
    add_outside_trust(w, o)
    _, token = outside_credential(o, "MHO-01")
    [item] = do_upload(w, token.encode()).items
    assert failed(item) == ["accept_transfers"]


def test_needs_observation_refused_without_evidence_accepted_with_it(
    world: World, client: FlaskClient
) -> None:
    w = world
    o = outside_issuer()
    add_outside_trust(w, o)
    _, plain = outside_credential(o, "FIRE-01")
    [item] = do_upload(w, plain.encode()).items
    assert failed(item) == ["observation"]
    assert "needs observed practice" in item.checks[-1]["message"]
    witnessed = [
        {
            "type": ["Evidence"],
            "name": "Observed practice: Fire safety",  # lms.issuance names every method so
            "genre": "Witness testimony",  # the genre is what decides
        }
    ]
    _, weak = outside_credential(o, "FIRE-01", evidence=witnessed)
    [item] = do_upload(w, weak.encode()).items
    assert failed(item) == ["observation"]
    observed = [
        {
            "id": "https://northgate.example.test/evidence/1",
            "type": ["Evidence"],
            "name": "Observed evacuation",
            "genre": "Direct observation",
            "narrative": "Observed by the assessor, Tom Baker (senior carer), on 3 May.",
        }
    ]
    _, good = outside_credential(o, "FIRE-01", evidence=observed)
    review = do_upload(w, good.encode())
    [item] = review.items
    assert item.acceptable, item.checks
    # The manager deciding sees how it was assessed, in the issuer's own words.
    [assessment] = item.verification["assessments"]
    assert "Tom Baker (senior carer)" in assessment["summary"]
    login(client, w.manager.email)
    page = client.get(f"/manage/oakview/transfers/{review.id}").get_data(as_text=True)
    assert "<dt>How it was assessed</dt><dd>" in page and "Tom Baker (senior carer)" in page


def test_nothing_required_matches(world: World) -> None:
    w = world
    o = outside_issuer()
    add_outside_trust(w, o)
    _, token = outside_credential(o, "DEM-01")  # dementia: not required for this role
    [item] = do_upload(w, token.encode()).items
    assert failed(item) == ["match"]
    assert "does not match anything your organisation requires" in item.checks[2]["message"]


def test_matching_prefers_ascwds_then_narrows_by_standard() -> None:
    class M:
        def __init__(self, code: str, cat: str, cc: list[int] | None, cstf: str | None) -> None:
            self.code, self.ascwds_category, self.cstf_subject = code, cat, cstf
            self.care_certificate = {"version": "2025", "standards": cc} if cc else None

    class R:
        def __init__(self, code: str) -> None:
            self.module_code = code

    modules = {
        "CC-01": M("CC-01", "Duty of care", [1], None),
        "CC-03": M("CC-03", "Duty of care", [3], None),
        "MHO-01": M("MHO-01", "Moving and handling objects", [13], "Moving and handling"),
        "AMP-01": M("AMP-01", "Assisting and moving people", None, "Moving and handling"),
    }
    reqs = [R(c) for c in modules]

    def payload(*aligns: tuple[str, str, str | None]) -> dict[str, Any]:
        return {
            "credentialSubject": {
                "achievement": {
                    "alignment": [
                        {"targetType": t, "targetName": n, **({"targetCode": c} if c else {})}
                        for t, n, c in aligns
                    ]
                }
            }
        }

    def codes(p: dict[str, Any]) -> list[str]:
        return [r.module_code for r in service.match_requirements(p, reqs, modules)]  # type: ignore[arg-type]

    asc, cc, cstf = service.ASCWDS_TYPE, service.CC_TYPE, service.CSTF_TYPE
    assert codes(payload((asc, "Duty of care", None))) == ["CC-01", "CC-03"]
    assert codes(payload((asc, "duty of care", None), (cc, "Standard 3: Duty", "CC2025-03"))) == [
        "CC-03"
    ]
    assert codes(payload((cc, "Standard 1: Your role", "CC2015-01"))) == ["CC-01"]
    assert codes(payload((cstf, "Moving and handling", None))) == ["MHO-01", "AMP-01"]
    assert codes(payload((asc, "Assisting and moving people", None))) == ["AMP-01"]
    assert codes(payload((asc, "Something else", None))) == []
    assert codes({}) == []


def test_accepted_twice_is_refused(world: World) -> None:
    w = world
    issued = riverside_credential(w)
    trust_instance(w)
    first = do_upload(w, issued.token.encode())
    second = do_upload(w, issued.token.encode())  # uploaded again before any decision
    outcome = service.decide(
        db.session,
        w.ctx,
        w.oakview,
        w.manager,
        review_id=first.id,
        item_id=first.items[0].id,
        accept=True,
        reason="ok",
        now=NOW,
    )
    db.session.commit()
    assert outcome.done and outcome.completion is not None
    outcome = service.decide(
        db.session,
        w.ctx,
        w.oakview,
        w.manager,
        review_id=second.id,
        item_id=second.items[0].id,
        accept=True,
        reason="ok",
        now=NOW,
    )
    db.session.commit()
    assert not outcome.done and "already accepted" in outcome.message
    assert count(AcceptedCredential) == 1
    [item] = do_upload(w, issued.token.encode()).items
    assert failed(item) == ["not_already_accepted"]


def test_own_organisations_credential_is_not_a_transfer(world: World) -> None:
    w = world
    module = _module("HSA-01")
    completion = Completion(
        user_id=w.worker.id,
        org_id=w.oakview.id,
        module_id=module.id,
        completed_at=NOW - timedelta(days=3),
        valid_until=NOW + timedelta(days=900),
    )
    db.session.add(completion)
    db.session.flush()
    issued = issue_for_completion(db.session, w.ctx, completion, NOW)
    db.session.commit()
    trust_instance(w)
    [item] = do_upload(w, issued.token.encode()).items
    assert item.valid and "not_ours" in failed(item)
    assert item.status == "refused"  # nothing to decide: it already counts


# --------------------------------------------------------------------------- file kinds


def test_pdf_and_qr_image_uploads(world: World) -> None:
    from lms.pdf import certificate_context, render_certificate

    w = world
    issued = riverside_credential(w, "IPC-01", completed=NOW - timedelta(days=10))
    trust_instance(w)
    pdf = render_certificate(certificate_context(issued, "Test"), issued)
    review = do_upload(w, pdf, file_name="../../certificate.pdf")
    assert review.input_kind == "pdf" and review.file_name == "certificate.pdf"
    [item] = review.items
    assert item.valid and item.acceptable, (item.reason, item.checks)
    assert item.credential_text == issued.token

    assert issued.qr_text is not None
    review = do_upload(w, qr_png(issued.qr_text))
    assert review.input_kind == "qr_image"
    [item] = review.items
    # The QR is matched to the full credential held on this instance.
    assert item.kind == "jwt" and item.acceptable and item.credential_text == issued.token


def test_qr_text_from_another_instance_cannot_be_accepted(world: World) -> None:
    w = world
    o = outside_issuer()
    add_outside_trust(w, o)
    credential, _ = outside_credential(o)
    text = encode_qr(credential, o.key)
    review = do_upload(w, qr_text=text, file_name=None)
    assert review.input_kind == "qr_text"
    [item] = review.items
    assert item.valid and not item.acceptable and failed(item) == ["qr_summary"]
    assert item.status == "pending"  # the manager can still reject it, with a reason


def blank_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (120, 120), 255).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "qr", "message"),
    [
        (b"\x00\x01 not a certificate", None, "not a certificate token"),
        (b"%PDF-1.4 broken", None, "PDF"),
        (b'{"type": "Something"}', None, "passport cannot be read"),
        (None, "hello", "not the text of a CareCred QR code"),
        (None, None, "Choose a file"),
        (b"x" * (2 * 1024 * 1024 + 1), None, "too large"),
        (blank_png(), None, "No QR code was found"),
    ],
)
def test_unreadable_uploads_save_nothing(
    world: World, data: bytes | None, qr: str | None, message: str
) -> None:
    w = world
    trust_instance(w)
    with pytest.raises(service.TransferRefused) as excinfo:
        service.upload(
            db.session,
            w.ctx,
            w.oakview,
            w.manager,
            worker_id=w.worker.id,
            data=data,
            file_name="f",
            qr_text=qr,
            other_email=None,
            now=NOW,
        )
    db.session.rollback()
    assert message in excinfo.value.message and "Nothing was saved" in excinfo.value.message
    assert count(TransferReview) == 0


def test_upload_without_trust_lists_is_refused(world: World, client: FlaskClient) -> None:
    w = world
    issued = riverside_credential(w)
    login(client, w.manager.email)
    response = client.post(
        "/manage/oakview/transfers/new",
        data={"worker": str(w.worker.id), "file": (io.BytesIO(issued.token.encode()), "c.jwt")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "does not trust any issuer yet" in response.get_data(as_text=True)
    assert count(TransferReview) == 0


def test_worker_must_be_our_staff(world: World, app: Flask) -> None:
    w = world
    trust_instance(w)
    stranger = _user(app, "x@example.org", "Stranger")
    db.session.commit()
    from lms.errors import NotFound

    with pytest.raises(NotFound):
        do_upload(w, b"anything", worker_id=stranger.id)


# --------------------------------------------------------------------------- trust lists


def test_trust_list_management(world: World, client: FlaskClient) -> None:
    w = world
    o = outside_issuer(issued_at=NOW - timedelta(days=10))
    login(client, w.manager.email)
    page = client.get("/manage/oakview/trust-lists")
    assert page.status_code == 200 and "You trust no issuers yet" in page.get_data(as_text=True)

    def post(text: str, anchor: str) -> Any:
        return client.post(
            "/manage/oakview/trust-lists",
            data={"file": (io.BytesIO(text.encode()), "trust.json"), "anchor": anchor},
            content_type="multipart/form-data",
        )

    wrong_anchor = post(o.trust_text, key_thumbprint(generate_signing_key()))
    assert wrong_anchor.status_code == 400
    assert "not signed by the root key with the thumbprint you entered" in wrong_anchor.get_data(
        as_text=True
    )
    not_an_anchor = post(o.trust_text, "short")
    assert not_an_anchor.status_code == 400 and "43 letters" in not_an_anchor.get_data(as_text=True)
    document = json.loads(o.trust_text)
    head, body, sig = document["token"].split(".")
    changed = json.loads(b64url_decode(body))
    changed["iss"] = "Forged scheme"
    document["token"] = ".".join([head, b64url_encode(json.dumps(changed).encode()), sig])
    tampered = post(json.dumps(document), o.anchor)
    assert tampered.status_code == 400 and "changed since it was signed" in tampered.get_data(
        as_text=True
    )
    assert count(OrgTrustList) == 0

    assert post(o.trust_text, o.anchor).status_code == 302
    row = db.session.scalars(select(OrgTrustList)).one()
    assert row.name == "Northgate scheme" and row.root_thumbprint == o.anchor

    same = post(o.trust_text, o.anchor)
    assert same.status_code == 400 and "already hold this trust list" in same.get_data(as_text=True)
    older = sign_trust_list("Northgate scheme (old)", (), o.root, NOW - timedelta(days=20), None)
    rollback = post(older, o.anchor)
    assert rollback.status_code == 400
    assert "newer trust list from this root" in rollback.get_data(as_text=True)
    newer = sign_trust_list("Northgate scheme v2", (), o.root, NOW - timedelta(days=1), None)
    assert post(newer, o.anchor).status_code == 302
    db.session.expire_all()
    row = db.session.scalars(select(OrgTrustList)).one()
    assert row.name == "Northgate scheme v2"

    assert client.post("/manage/oakview/trust-lists/instance").status_code == 302
    assert count(OrgTrustList) == 2
    html = client.get("/manage/oakview/trust-lists").get_data(as_text=True)
    assert "this CareCred instance" in html and "Trust this instance</button>" not in html
    assert client.post(f"/manage/oakview/trust-lists/{row.id}/remove").status_code == 302
    assert count(OrgTrustList) == 1
    actions = db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.entity_type == "org_trust_list")
        .order_by(AuditEvent.seq)
    ).all()
    assert actions == [
        "trust_list.added",
        "trust_list.replaced",
        "trust_list.added",
        "trust_list.removed",
    ]


def test_instance_trust_list_is_live(world: World) -> None:
    """Trusting this instance sees a key created after the choice was made."""
    w = world
    trust_instance(w)  # before Riverside has any signing key
    issued = riverside_credential(w)
    [item] = do_upload(w, issued.token.encode()).items
    assert item.valid and item.acceptable


# --------------------------------------------------------------------------- access


def test_other_organisations_manager_gets_404(world: World, client: FlaskClient) -> None:
    w = world
    riverside_credential(w)
    trust_instance(w)
    review = do_upload(w, status.passport(db.session, w.ctx, w.worker, NOW).encode())
    item = review.items[0]
    for email in (w.other_manager.email, w.learner.email, w.worker.email):
        login(client, email)
        for url in (
            "/manage/oakview/trust-lists",
            "/manage/oakview/transfers",
            "/manage/oakview/transfers/new",
            f"/manage/oakview/transfers/{review.id}",
        ):
            assert client.get(url).status_code == 404, (email, url)
        for url in (
            "/manage/oakview/trust-lists/instance",
            f"/manage/oakview/transfers/{review.id}/items/{item.id}",
        ):
            response = client.post(
                url, data={f"i{item.id}-decision": "accept", f"i{item.id}-reason": "x"}
            )
            assert response.status_code == 404, (email, url)
        client.post("/auth/logout")
    # Riverside's manager cannot open Oakview's review through Riverside's slug either.
    login(client, w.other_manager.email)
    assert client.get(f"/manage/riverside/transfers/{review.id}").status_code == 404
    db.session.expire_all()
    assert db.session.get(TransferItem, item.id).status == "pending"  # type: ignore[union-attr]


def test_anonymous_is_sent_to_log_in(world: World, client: FlaskClient) -> None:
    for url in ("/manage/oakview/trust-lists", "/manage/oakview/transfers/new"):
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


@pytest.fixture
def csrf_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path, WTF_CSRF_ENABLED=True)


def test_forms_need_the_csrf_token(csrf_app: Flask) -> None:
    from courses.loader import load_catalogue, read_catalogue

    load_catalogue(db.session, read_catalogue(), NOW)
    db.session.commit()
    w = build_world(csrf_app)
    client = csrf_app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    client.post(
        "/auth/login",
        data={"email": w.manager.email, "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    o = outside_issuer()
    bare = client.post(
        "/manage/oakview/trust-lists",
        data={"file": (io.BytesIO(o.trust_text.encode()), "trust.json"), "anchor": o.anchor},
        content_type="multipart/form-data",
    )
    assert bare.status_code == 400 and count(OrgTrustList) == 0
    token = csrf_token(client.get("/manage/oakview/trust-lists").get_data(as_text=True))
    ok = client.post(
        "/manage/oakview/trust-lists",
        data={
            "file": (io.BytesIO(o.trust_text.encode()), "trust.json"),
            "anchor": o.anchor,
            "csrf_token": token,
        },
        content_type="multipart/form-data",
    )
    assert ok.status_code == 302 and count(OrgTrustList) == 1

    _, cred = outside_credential(o)
    upload = {"worker": str(w.worker.id), "file": (io.BytesIO(cred.encode()), "c.jwt")}
    assert (
        client.post(
            "/manage/oakview/transfers/new", data=upload, content_type="multipart/form-data"
        ).status_code
        == 400
    )
    token = csrf_token(client.get("/manage/oakview/transfers/new").get_data(as_text=True))
    upload = {
        "worker": str(w.worker.id),
        "file": (io.BytesIO(cred.encode()), "c.jwt"),
        "csrf_token": token,
    }
    made = client.post(
        "/manage/oakview/transfers/new", data=upload, content_type="multipart/form-data"
    )
    assert made.status_code == 302
    review = db.session.scalars(select(TransferReview)).one()
    item = review.items[0]
    url = f"/manage/oakview/transfers/{review.id}/items/{item.id}"
    data = {f"i{item.id}-decision": "accept", f"i{item.id}-reason": "Seen ID"}
    assert client.post(url, data=data).status_code == 400
    html = client.get(f"/manage/oakview/transfers/{review.id}").get_data(as_text=True)
    assert (
        client.post(url, data={**data, f"i{item.id}-csrf_token": csrf_token(html)}).status_code
        == 302
    )
    assert count(AcceptedCredential) == 1


def test_review_page_shows_why_and_offers_only_reject_when_checks_fail(
    world: World, client: FlaskClient
) -> None:
    w = world
    o = outside_issuer()
    add_outside_trust(w, o)
    _, good = outside_credential(o, "HSA-01")
    _, stale = outside_credential(o, "IPC-01", completed=NOW - timedelta(days=425))
    _, stranger = outside_credential(outside_issuer(), "HSA-01")  # an untrusted issuer
    passport = json.dumps(
        {
            "type": "CareCredPassport",
            "version": 1,
            "issuedAt": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "holder": {"name": "Amira Okafor"},
            "credentials": [good, stale, stranger],
        }
    )
    review = do_upload(w, passport.encode(), file_name="passport.json")
    good_item, stale_item, stranger_item = review.items
    assert [i.status for i in review.items] == ["pending", "pending", "refused"]
    login(client, w.manager.email)
    html = client.get(f"/manage/oakview/transfers/{review.id}").get_data(as_text=True)
    assert f'name="i{good_item.id}-decision" required type="radio" value="accept"' in html
    assert f'name="i{stale_item.id}-decision" required type="radio" value="accept"' not in html
    assert f'name="i{stale_item.id}-decision" required type="radio" value="reject"' in html
    assert "it can only be rejected" in html and "ran out on" in html
    assert "Not valid:" in html and "Nothing was recorded for this certificate." in html
    assert f"i{stranger_item.id}-decision" not in html
    listing = client.get("/manage/oakview/transfers").get_data(as_text=True)
    assert "Amira Okafor" in listing and "2 pending" in listing and "1 refused" in listing


def test_trust_list_form_errors(world: World, client: FlaskClient) -> None:
    w = world
    login(client, w.manager.email)
    response = client.post(
        "/manage/oakview/trust-lists", data={"anchor": ""}, content_type="multipart/form-data"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Choose the trust list file." in html and "Enter the root thumbprint" in html
    assert client.post("/manage/oakview/trust-lists/instance").status_code == 302
    assert client.post("/manage/oakview/trust-lists/instance").status_code == 409
    assert count(OrgTrustList) == 1
    instance_text, instance_anchor = trust_list(db.session, w.ctx, datetime.now(UTC))
    db.session.commit()
    same_root = client.post(
        "/manage/oakview/trust-lists",
        data={
            "file": (io.BytesIO(instance_text.encode()), "trust.json"),
            "anchor": instance_anchor,
        },
        content_type="multipart/form-data",
    )
    assert same_root.status_code == 400
    assert "already trust" in same_root.get_data(as_text=True)


def test_expired_trust_list_is_refused(world: World) -> None:
    w = world
    o = outside_issuer()
    expired = sign_trust_list(
        "Northgate scheme", (), o.root, NOW - timedelta(days=40), NOW - timedelta(days=1)
    )
    with pytest.raises(service.TransferRefused) as excinfo:
        service.add_trust_list(db.session, w.oakview, w.manager, expired.encode(), o.anchor, NOW)
    db.session.rollback()
    assert "expired on" in excinfo.value.message and count(OrgTrustList) == 0


def test_suspended_credential_is_refused(world: World) -> None:
    w = world
    issued = riverside_credential(w)
    status.suspend(db.session, issued, "Under investigation", NOW, w.other_manager)
    db.session.commit()
    trust_instance(w)
    [item] = do_upload(w, issued.token.encode()).items
    assert item.reason_code == "suspended" and item.status == "refused"
    assert "suspended" in item.reason


def test_cli_trust_commands(world: World, app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    o = outside_issuer()
    path = tmp_path / "trust.json"
    path.write_text(o.trust_text, encoding="utf-8")
    bad = runner.invoke(
        args=["transfers", "trust-add", "--org", "oakview", str(path), "--anchor", "x" * 43]
    )
    assert bad.exit_code != 0 and "not signed by the root key" in bad.output
    ok = runner.invoke(
        args=["transfers", "trust-add", "--org", "oakview", str(path), "--anchor", o.anchor]
    )
    assert ok.exit_code == 0 and "added: Northgate scheme" in ok.output
    assert runner.invoke(args=["transfers", "trust-instance", "--org", "oakview"]).exit_code == 0
    listed = runner.invoke(args=["transfers", "trust-list", "--org", "oakview"])
    assert o.anchor in listed.output and "instance" in listed.output
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "org_trust_list")
    ).all()
    assert [e.actor_label for e in events] == ["cli", "cli"]
    assert runner.invoke(args=["transfers", "trust-list", "--org", "nope"]).exit_code != 0


def test_demo_seed_gives_a_transfer_to_accept_and_is_idempotent(
    app: Flask, demo: dict[str, str], client: FlaskClient
) -> None:
    from lms.transfers import demo as transfers_demo

    ctx = IssuanceContext.from_config(app.config)
    oakview = db.session.scalars(select(Organisation).where(Organisation.slug == "oakview")).one()
    users = {
        role: db.session.scalars(select(User).where(User.email == email)).one()
        for role, email in (
            (Role.LEARNER, "learner@example.com"),
            (Role.MANAGER, "manager@example.com"),
        )
    }
    for _ in range(2):
        transfers_demo.seed(db.session, ctx, oakview, users, datetime.now(UTC))  # type: ignore[arg-type]
        db.session.commit()
    riverside = db.session.scalars(select(Organisation).where(Organisation.slug == "riverside"))
    assert len(riverside.all()) == 1
    assert count(OrgTrustList) == 1
    learner = users[Role.LEARNER]
    passport = status.passport(db.session, ctx, learner, datetime.now(UTC))
    db.session.commit()

    client.post(
        "/auth/login",
        data={"email": "manager@example.com", "password": demo["manager@example.com"]},
    )
    response = client.post(
        "/manage/oakview/transfers/new",
        data={"worker": str(learner.id), "file": (io.BytesIO(passport.encode()), "passport.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    review = db.session.scalars(select(TransferReview)).one()
    by_issuer = {i.issuer_name: i for i in review.items}
    assert by_issuer["Riverside Homecare"].acceptable, by_issuer["Riverside Homecare"].checks
    assert "not_ours" in failed(by_issuer["Oakview Care"])


def test_bad_other_email_and_file_plus_text_are_refused(world: World) -> None:
    w = world
    trust_instance(w)
    issued = riverside_credential(w)
    for kwargs, message in (
        ({"other_email": "not an address"}, "not an e-mail address"),
        ({"qr_text": issued.qr_text}, "not both"),
    ):
        with pytest.raises(service.TransferRefused) as excinfo:
            do_upload(w, issued.token.encode(), **kwargs)
        db.session.rollback()
        assert message in excinfo.value.message
    assert count(TransferReview) == 0


def test_an_accepted_care_certificate_is_held_not_started_again(
    world: World, client: FlaskClient
) -> None:
    """Riverside awarded Amira the Care Certificate; Oakview verifies and accepts it. Oakview's
    tracker then says she holds it (who, which standards), not "0 of 16, start again"."""
    from lms.carecert import service as carecert

    w = world
    db.session.add(Requirement(org_id=w.oakview.id, job_role_id=w.role.id, module_code="CC-CERT"))
    done = NOW - timedelta(days=60)
    award = Completion(
        user_id=w.worker.id,
        org_id=w.riverside.id,
        module_id=_module("CC-CERT").id,
        source=CompletionSource.AWARD.value,
        completed_at=done,
        care_certificate_version="2025",
    )
    db.session.add(award)
    db.session.flush()
    issue_for_completion(db.session, w.ctx, award, NOW)
    db.session.commit()
    tracker = carecert.tracker(db.session, w.oakview, w.worker, NOW)
    assert tracker.holds is None  # nothing accepted yet: not held here

    trust_instance(w)
    review = do_upload(w, status.passport(db.session, w.ctx, w.worker, NOW).encode())
    [item] = [i for i in review.items if i.acceptable]
    outcome = service.decide(
        db.session,
        w.ctx,
        w.oakview,
        w.manager,
        review_id=review.id,
        item_id=item.id,
        accept=True,
        reason="Checked with Riverside's manager.",
        now=NOW,
    )
    db.session.commit()
    assert outcome.done, outcome.message
    tracker = carecert.tracker(db.session, w.oakview, w.worker, NOW)
    assert tracker.award is None and tracker.held is not None
    assert tracker.holds is tracker.held
    assert tracker.held.provider_name == "Riverside Homecare"
    assert tracker.held.care_certificate_version == "2025"
    [row] = [r for r in carecert.org_progress(db.session, w.oakview, NOW) if r.learner == w.worker]
    assert row.awarded is not None and row.held_from == "Riverside Homecare"
    # Only for the employer that accepted it.
    assert carecert.held_from_elsewhere(db.session, w.riverside.id, w.worker.id) is None

    login(client, w.manager.email)
    page = client.get(f"/manage/oakview/care-certificate/{w.worker.id}").get_data(as_text=True)
    assert "Holds the Care Certificate (2025 standards) from Riverside Homecare" in page
    listing = client.get("/manage/oakview/care-certificate/").get_data(as_text=True)
    assert "(held, from Riverside Homecare)" in listing
    client.post("/auth/logout")
    login(client, w.worker.email)
    mine = client.get("/care-certificate/").get_data(as_text=True)
    assert "You hold the Care Certificate from Riverside Homecare." in mine
