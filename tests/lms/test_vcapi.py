"""W3C VC API: POST /credentials/verify and POST /credentials/issue (VC-JWT, enveloped)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from courses.completion import valid_until
from credentials import decode_unverified, generate_signing_key, sign_credential
from lms import learning, status
from lms.extensions import db
from lms.models import AuditEvent, Completion, CompletionSource, IssuedCredential
from lms.vcapi import views as vcapi_views

from .api_world import World, build

VC2 = "https://www.w3.org/ns/credentials/v2"
CRYPTO = "https://www.w3.org/TR/vc-data-model#CRYPTOGRAPHIC_SECURITY_ERROR"


@pytest.fixture
def world(app: Flask, catalogue: None) -> World:
    return build(app)


def enveloped(token: str) -> dict[str, Any]:
    return {
        "@context": VC2,
        "type": "EnvelopedVerifiableCredential",
        "id": f"data:application/vc+jwt,{token}",
    }


def verify(client: FlaskClient, token: str, **extra: Any) -> Any:
    return client.post(
        "/credentials/verify", json={"verifiableCredential": enveloped(token), **extra}
    )


# --- verify -----------------------------------------------------------------------------------


def test_a_valid_credential_is_verified(client: FlaskClient, world: World) -> None:
    assert world.credential is not None
    r = verify(client, world.credential.token, options={})
    assert r.status_code == 200 and r.json is not None
    body = r.json
    assert body["verified"] is True and body["errors"] == [] and body["warnings"] == []
    assert body["controller"] == "https://lms.example.test/issuers/oakview"
    assert body["mediaType"] == "application/vc"
    document = body["document"]
    assert "OpenBadgeCredential" in document["type"] and "iss" not in document
    assert document["credentialSubject"]["achievement"]["id"].endswith("/achievements/HSA-01/v1")


def test_a_changed_credential_is_a_cryptographic_error(client: FlaskClient, world: World) -> None:
    assert world.credential is not None
    head, payload, sig = world.credential.token.split(".")
    flipped = sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")
    r = verify(client, f"{head}.{payload}.{flipped}")
    assert r.status_code == 200 and r.json is not None
    assert r.json["verified"] is False
    [error] = r.json["errors"]
    assert error["type"] == CRYPTO and error["code"] == "bad_signature"
    assert error["title"] and error["detail"]
    assert "document" not in r.json  # nothing unverified is handed back


def test_an_unknown_issuer_is_refused(client: FlaskClient, world: World) -> None:
    assert world.credential is not None
    forged = sign_credential(dict(world.credential.credential_json), generate_signing_key())
    r = verify(client, forged)
    assert r.json is not None and r.json["verified"] is False
    assert [e["code"] for e in r.json["errors"]] == ["unknown_key"]
    assert r.json["errors"][0]["type"] == CRYPTO


def test_revoked_and_suspended_credentials_are_not_verified(
    client: FlaskClient, world: World
) -> None:
    cred = world.credential
    assert cred is not None
    status.suspend(db.session, cred, "Checking a complaint", datetime.now(UTC))
    db.session.commit()
    r = verify(client, cred.token)
    assert r.json is not None and r.json["verified"] is False
    assert [e["code"] for e in r.json["errors"]] == ["suspended"]
    assert r.json["errors"][0]["type"].startswith("https://lms.example.test/api/v1/openapi.json")
    status.revoke(db.session, cred, "Issued in error", datetime.now(UTC))
    db.session.commit()
    r = verify(client, cred.token)
    assert r.json is not None and [e["code"] for e in r.json["errors"]] == ["revoked"]
    assert r.json["document"]["id"] == cred.credential_id  # signed fine, just withdrawn


def test_an_expired_credential_is_not_verified(
    client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert world.credential is not None and world.credential.valid_until is not None
    later = world.credential.valid_until + timedelta(days=1)
    monkeypatch.setattr(vcapi_views, "_now", lambda: later)
    r = verify(client, world.credential.token)
    assert r.json is not None and r.json["verified"] is False
    assert [e["code"] for e in r.json["errors"]] == ["expired"]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/verifiableCredential"),
        ({"verifiableCredential": "eyJ.eyJ.sig"}, "/verifiableCredential"),
        ({"verifiableCredential": []}, "/verifiableCredential"),
        ({"verifiableCredential": {"@context": VC2, "type": "VerifiableCredential", "id": "x"}},
         "/verifiableCredential/type"),
        ({"verifiableCredential": {**enveloped("a.b.c"), "@context": "https://example.com"}},
         "/verifiableCredential/@context"),
        ({"verifiableCredential": {**enveloped("a.b.c"), "id": "data:application/vc+sd-jwt,a.b.c"}},
         "/verifiableCredential/id"),
        ({"verifiableCredential": enveloped("")}, "/verifiableCredential/id"),
        ({"verifiableCredential": enveloped("a.b.c"), "extra": True}, "/extra"),
        ({"verifiableCredential": enveloped("a.b.c"), "options": []}, "/options"),
    ],
)  # fmt: skip
def test_malformed_requests_are_400_problem_details(
    client: FlaskClient, body: dict[str, Any], pointer: str
) -> None:
    r = client.post("/credentials/verify", json=body)
    assert r.status_code == 400 and r.json is not None
    assert r.json["type"].startswith("https://www.w3.org/TR/vc-data-model#")
    assert r.json["status"] == 400 and r.json["title"] and r.json["detail"]
    assert r.json["pointer"] == pointer


def test_unknown_options_are_refused_as_the_spec_says(client: FlaskClient) -> None:
    r = client.post(
        "/credentials/verify",
        json={"verifiableCredential": enveloped("a.b.c"), "options": {"checks": ["proof"]}},
    )
    assert r.status_code == 400 and r.json is not None
    assert r.json["type"] == "https://www.w3.org/TR/vc-api#UNKNOWN_OPTION_PROVIDED"


def test_not_json_and_too_large_bodies(client: FlaskClient) -> None:
    r = client.post("/credentials/verify", data=b"{nope", content_type="application/json")
    assert r.status_code == 400 and r.json is not None and r.json["type"]
    big = b'{"verifiableCredential": "' + b"a" * (400 * 1024) + b'"}'
    r = client.post("/credentials/verify", data=big, content_type="application/json")
    assert r.status_code == 413 and r.json is not None
    assert r.json["status"] == 413 and r.json["type"] == "about:blank"
    r = client.get("/credentials/verify")
    assert r.status_code == 405 and r.is_json


@pytest.mark.parametrize("token", ["not-a-token", "CC1:6BF", "a.b.c", " x "])
def test_a_garbage_token_is_a_verdict(client: FlaskClient, token: str) -> None:
    r = verify(client, token)
    assert r.status_code == 200 and r.json is not None
    assert r.json["verified"] is False and r.json["details"]["source"] == "vc-jwt"
    assert r.json["errors"][0]["type"] == "https://www.w3.org/TR/vc-data-model#PARSING_ERROR"


def test_bodies_must_be_sent_as_json(client: FlaskClient, world: World) -> None:
    assert world.credential is not None
    r = client.post("/credentials/verify", data='{"verifiableCredential": {}}')
    assert r.status_code == 415 and r.json is not None and r.json["status"] == 415
    r = client.post("/api/v1/verify", data=f'{{"credential": "{world.credential.token}"}}')
    assert r.status_code == 415 and r.json is not None and r.json["code"]


# --- issue ------------------------------------------------------------------------------------


def issue_body(world: World, email: str = "learner@example.com", code: str = "HSA-01",
               version: int = 1, **credential: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "credential": {
            "@context": [VC2, "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "credentialSubject": {
                "type": ["AchievementSubject"],
                "identifier": [
                    {"type": "IdentityObject", "identityType": "emailAddress", "hashed": False,
                     "identityHash": email}
                ],
                "achievement": {"id": f"https://lms.example.test/achievements/{code}/v{version}"},
            },
            **credential,
        }
    }  # fmt: skip


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_issue_needs_a_token_with_the_issuing_scope(client: FlaskClient, world: World) -> None:
    r = client.post("/credentials/issue", json=issue_body(world))
    assert r.status_code == 401 and r.json is not None
    assert r.headers["WWW-Authenticate"].startswith("Bearer ")
    assert r.json["status"] == 401 and r.json["type"] == "about:blank"
    reader = world.token("oakview", "credentials:read")
    r = client.post("/credentials/issue", json=issue_body(world), headers=bearer(reader))
    assert r.status_code == 403 and r.json is not None
    assert "insufficient_scope" in r.headers["WWW-Authenticate"]


def test_issue_returns_the_existing_credential(client: FlaskClient, world: World) -> None:
    secret = world.token("oakview", "credentials:issue")
    before = db.session.scalar(select(func.count()).select_from(IssuedCredential))
    body = issue_body(world, name="Anything the caller likes", awardedDate="1999-01-01")
    r = client.post("/credentials/issue", json=body, headers=bearer(secret))
    assert r.status_code == 201 and r.json is not None
    vc = r.json["verifiableCredential"]
    assert vc["type"] == "EnvelopedVerifiableCredential" and vc["@context"] == VC2
    assert world.credential is not None
    assert vc["id"] == f"data:application/vc+jwt,{world.credential.token}"
    assert db.session.scalar(select(func.count()).select_from(IssuedCredential)) == before
    # It verifies through the same API, and carries none of the caller's claims.
    r = client.post("/credentials/verify", json={"verifiableCredential": vc})
    assert r.json is not None and r.json["verified"] is True
    _, payload = decode_unverified(world.credential.token)
    assert payload.get("name") != "Anything the caller likes" and "awardedDate" not in payload


def test_issue_signs_a_completion_that_has_no_credential_yet(
    client: FlaskClient, world: World, app: Flask
) -> None:
    """A completion recorded without a credential (an award, say) is issued on request."""
    now = datetime.now(UTC)
    learner = world.users["learner"]
    module = learning.current_module(db.session, "DIG-01")
    completion = Completion(
        user_id=learner.id,
        org_id=world.orgs["oakview"].id,
        module_id=module.id,
        source=CompletionSource.COURSE.value,
        completed_at=now,
        valid_until=valid_until(now, module.refresh_months),
    )
    db.session.add(completion)
    db.session.commit()
    secret = world.token("oakview", "credentials:issue")
    body = issue_body(world, code="DIG-01", version=module.version)
    r = client.post("/credentials/issue", json=body, headers=bearer(secret))
    assert r.status_code == 201, r.json
    issued = learning.credential_for(db.session, completion)
    assert issued is not None
    assert r.json is not None and r.json["verifiableCredential"]["id"].endswith(issued.token)
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "credential.issue_requested")
    )
    assert event is not None and event.subject_user_id == learner.id
    assert event.actor_label.startswith(f"api-token {secret[:8]}")
    # Asking again returns the same credential: nothing new is signed.
    r = client.post("/credentials/issue", json=body, headers=bearer(secret))
    assert r.status_code == 201
    assert db.session.scalar(
        select(func.count()).select_from(IssuedCredential).where(
            IssuedCredential.completion_id == completion.id
        )
    ) == 1  # fmt: skip


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"email": "other_learner@example.com"}, "/credential/credentialSubject"),  # other org's
        ({"email": "nobody@example.com"}, "/credential/credentialSubject"),
        ({"code": "DIG-01"}, "/credential/credentialSubject"),  # not completed
        ({"code": "NOPE-01"}, "/credential/credentialSubject/achievement/id"),
        ({"version": 99}, "/credential/credentialSubject/achievement/id"),
        ({"issuer": "https://lms.example.test/issuers/riverside"}, "/credential/issuer"),
        ({"issuer": {"id": "did:example:123"}}, "/credential/issuer"),
        ({"proof": {"type": "DataIntegrityProof"}}, "/credential/proof"),
        ({"type": ["VerifiableCredential"]}, "/credential/type"),
        ({"@context": ["https://www.w3.org/2018/credentials/v1"]}, "/credential/@context"),
        ({"credentialSubject": "x"}, "/credential/credentialSubject"),
        ({"credentialSubject": {"achievement": {"id": "x"}}},
         "/credential/credentialSubject/identifier"),
    ],
)  # fmt: skip
def test_issue_refuses_anything_but_our_own_completion(
    client: FlaskClient, world: World, change: dict[str, Any], pointer: str
) -> None:
    secret = world.token("oakview", "credentials:issue")
    kwargs = {k: change.pop(k) for k in ("email", "code", "version") if k in change}
    body = issue_body(world, **kwargs)
    body["credential"].update(change)
    before = db.session.scalar(select(func.count()).select_from(IssuedCredential))
    r = client.post("/credentials/issue", json=body, headers=bearer(secret))
    assert r.status_code == 400, r.json
    assert r.json is not None and r.json["pointer"] == pointer and r.json["detail"]
    assert db.session.scalar(select(func.count()).select_from(IssuedCredential)) == before


def test_issue_refuses_options_and_unknown_members(client: FlaskClient, world: World) -> None:
    secret = world.token("oakview", "credentials:issue")
    body = {**issue_body(world), "options": {"credentialId": "urn:uuid:1"}}
    r = client.post("/credentials/issue", json=body, headers=bearer(secret))
    assert r.status_code == 400 and r.json is not None
    assert r.json["type"] == "https://www.w3.org/TR/vc-api#UNKNOWN_OPTION_PROVIDED"
    r = client.post(
        "/credentials/issue", json={**issue_body(world), "x": 1}, headers=bearer(secret)
    )
    assert r.status_code == 400
    r = client.post("/credentials/issue", json=[1], headers=bearer(secret))
    assert r.status_code == 400


def test_another_organisations_token_cannot_issue_ours(client: FlaskClient, world: World) -> None:
    secret = world.token("riverside", "credentials:issue")
    r = client.post("/credentials/issue", json=issue_body(world), headers=bearer(secret))
    assert r.status_code == 400
    body = issue_body(world, issuer="https://lms.example.test/issuers/oakview")
    r = client.post("/credentials/issue", json=body, headers=bearer(secret))
    assert r.status_code == 400 and r.json is not None and r.json["pointer"] == "/credential/issuer"
