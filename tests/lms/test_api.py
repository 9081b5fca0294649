"""/api/v1: token authentication and scopes, the learner's own records, an organisation's
records, verification, the api-tokens CLI and the managers' token page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from courses.frameworks import CWP_ROLE_CATEGORIES
from courses.loader import load_catalogue, read_catalogue
from credentials import encode_qr, generate_signing_key, sign_credential
from lms import status
from lms.api.models import ApiToken
from lms.extensions import db
from lms.models import AuditEvent, Employment, IssuedCredential, JobRole, Requirement

from ..conftest import csrf_token, make_app
from .api_world import PASSWORD, World, build


@pytest.fixture
def world(app: Flask, catalogue: None) -> World:
    return build(app)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def login(client: FlaskClient, key: str) -> None:
    r = client.post("/auth/login", data={"email": f"{key}@example.com", "password": PASSWORD})
    assert r.status_code == 302


# --- tokens --------------------------------------------------------------------------------


def test_missing_or_bad_token_is_401_with_www_authenticate(
    client: FlaskClient, world: World
) -> None:
    good = world.token("oakview", "learners:read")
    url = "/api/v1/orgs/oakview/learners"
    wrong_secret = good[:8] + ("A" if good[8] != "A" else "B") + good[9:]
    for headers in (
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        bearer(""),
        bearer("short"),
        bearer(wrong_secret),  # right prefix, wrong secret
        bearer("Z" * 43),
    ):
        r = client.get(url, headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["WWW-Authenticate"].startswith("Bearer ")
        assert r.json is not None and r.json["code"] == "unauthenticated"
    assert client.get(url, headers=bearer(good)).status_code == 200


def test_revoked_and_expired_tokens_stop_working(client: FlaskClient, world: World) -> None:
    url = "/api/v1/orgs/oakview/learners"
    secret = world.token("oakview", "learners:read")
    assert client.get(url, headers=bearer(secret)).status_code == 200
    row = db.session.scalar(select(ApiToken).where(ApiToken.prefix == secret[:8]))
    assert row is not None and row.last_used_at is not None
    row.revoked_at = datetime.now(UTC)
    db.session.commit()
    assert client.get(url, headers=bearer(secret)).status_code == 401

    expiring = world.token("oakview", "learners:read")
    row = db.session.scalar(select(ApiToken).where(ApiToken.prefix == expiring[:8]))
    assert row is not None
    row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    assert client.get(url, headers=bearer(expiring)).status_code == 401


def test_missing_scope_is_403(client: FlaskClient, world: World) -> None:
    secret = world.token("oakview", "credentials:read")
    r = client.get("/api/v1/orgs/oakview/learners", headers=bearer(secret))
    assert r.status_code == 403
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
    assert 'scope="learners:read"' in r.headers["WWW-Authenticate"]
    assert r.json is not None and r.json["code"] == "insufficient_scope"


def test_a_token_reaches_only_its_own_organisation(client: FlaskClient, world: World) -> None:
    secret = world.token("oakview", "learners:read", "credentials:read")
    for url in (
        "/api/v1/orgs/riverside/learners",
        "/api/v1/orgs/nowhere/learners",
        f"/api/v1/orgs/riverside/learners/{world.users['other_learner'].id}/credentials",
        "/api/v1/orgs/oakview/learners/4262923655/credentials",  # past a 32-bit id
        "/api/v1/orgs/oakview/learners/0/credentials",
    ):
        r = client.get(url, headers=bearer(secret))
        assert r.status_code == 404, url
        assert r.json is not None and "message" in r.json
    # An Oakview token cannot see a Riverside learner through Oakview's own slug either.
    other = world.users["other_learner"].id
    r = client.get(f"/api/v1/orgs/oakview/learners/{other}/credentials", headers=bearer(secret))
    assert r.status_code == 404


# --- an organisation's records ---------------------------------------------------------------


def test_learners_are_listed_and_paged(client: FlaskClient, world: World) -> None:
    secret = world.token("oakview", "learners:read")
    r = client.get("/api/v1/orgs/oakview/learners", headers=bearer(secret))
    assert r.status_code == 200
    body = r.json
    assert body is not None
    assert [item["email"] for item in body["items"]] == ["learner@example.com"]
    assert body["total"] == 1 and body["has_more"] is False

    r = client.get("/api/v1/orgs/oakview/learners?per_page=1&page=2", headers=bearer(secret))
    assert r.status_code == 200 and r.json is not None
    assert r.json["items"] == [] and r.json["page"] == 2

    for query in ("per_page=0", "per_page=101", "page=0", "page=x", "per_page=-1"):
        r = client.get(f"/api/v1/orgs/oakview/learners?{query}", headers=bearer(secret))
        assert r.status_code == 400, query
        assert r.json is not None and r.json["code"] == "refused"


def test_learner_credentials_carry_the_signed_token(client: FlaskClient, world: World) -> None:
    secret = world.token("oakview", "credentials:read")
    learner = world.users["learner"]
    r = client.get(
        f"/api/v1/orgs/oakview/learners/{learner.id}/credentials", headers=bearer(secret)
    )
    assert r.status_code == 200 and r.json is not None
    [item] = r.json["items"]
    assert world.credential is not None
    assert item["vc_jwt"] == world.credential.token
    assert item["module_code"] == "HSA-01" and item["status"] == "active"
    # A manager is not a learner: not listed, and no credentials to read through the API.
    manager = world.users["manager"].id
    r = client.get(f"/api/v1/orgs/oakview/learners/{manager}/credentials", headers=bearer(secret))
    assert r.status_code == 404


# --- the learner's own records ---------------------------------------------------------------


def test_me_endpoints_need_a_session_and_never_redirect(client: FlaskClient, world: World) -> None:
    for url in ("/api/v1/me/assignments", "/api/v1/me/credentials"):
        r = client.get(url)
        assert r.status_code == 401 and r.json is not None
        assert r.json["code"] == "no_session"
        # A token is not a session.
        r = client.get(url, headers=bearer(world.token("oakview", "learners:read")))
        assert r.status_code == 401


def test_me_endpoints_return_the_learners_own_records(client: FlaskClient, world: World) -> None:
    login(client, "learner")
    r = client.get("/api/v1/me/assignments")
    assert r.status_code == 200 and r.json is not None
    [item] = r.json["items"]
    assert item["module_code"] == "HSA-01" and item["state"] == "complete"
    assert item["percent"] == 100
    r = client.get("/api/v1/me/credentials")
    assert r.status_code == 200 and r.json is not None
    assert [c["module_code"] for c in r.json["items"]] == ["HSA-01"]
    # Another learner sees only her own (none).
    client.post("/auth/logout")
    login(client, "other_learner")
    r = client.get("/api/v1/me/credentials")
    assert r.status_code == 200 and r.json == {"items": []}


# --- verification ----------------------------------------------------------------------------


def test_verify_a_valid_credential_and_its_qr(client: FlaskClient, world: World) -> None:
    assert world.credential is not None
    r = client.post("/api/v1/verify", json={"credential": world.credential.token})
    assert r.status_code == 200 and r.json is not None
    assert r.json["valid"] is True and r.json["reason_code"] == "valid"
    assert r.json["learner_name"] == "Amira Okafor" and r.json["status_checked"] is True
    r = client.post("/api/v1/verify", json={"credential": world.credential.qr_text})
    assert r.status_code == 200 and r.json is not None
    assert r.json["valid"] is True and r.json["source"] == "qr"


def test_verify_says_why_a_credential_is_not_valid(client: FlaskClient, world: World) -> None:
    cred = world.credential
    assert cred is not None
    head, payload, sig = cred.token.split(".")
    tampered = f"{head}.{payload[:-2]}{'AA' if payload[-2:] != 'AA' else 'BB'}.{sig}"
    r = client.post("/api/v1/verify", json={"credential": tampered})
    assert r.status_code == 200 and r.json is not None
    assert r.json["valid"] is False
    assert r.json["reason_code"] in {"bad_signature", "malformed"}

    # Signed by a key no trust list knows.
    stranger = generate_signing_key()
    forged = sign_credential(dict(cred.credential_json), stranger)
    r = client.post("/api/v1/verify", json={"credential": forged})
    assert r.json is not None and r.json["reason_code"] == "unknown_key"
    r = client.post(
        "/api/v1/verify", json={"credential": encode_qr(dict(cred.credential_json), stranger)}
    )
    assert r.json is not None and r.json["reason_code"] == "unknown_key"

    status.revoke(db.session, cred, "Issued in error", datetime.now(UTC))
    db.session.commit()
    r = client.post("/api/v1/verify", json={"credential": cred.token})
    assert r.json is not None and r.json["valid"] is False and r.json["reason_code"] == "revoked"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'"a string"',
        b"{}",
        b'{"credential": 5}',
        b'{"credential": ""}',
        b'{"credential": "   "}',
        b'{"credential": "x", "extra": 1}',
        b'{"token": "x"}',
    ],
)
def test_verify_refuses_bad_bodies_with_json_400(client: FlaskClient, body: bytes) -> None:
    r = client.post("/api/v1/verify", data=body, content_type="application/json")
    assert r.status_code == 400
    assert r.json is not None and r.json["code"] == "bad_request" and r.json["message"]


def test_verify_of_rubbish_text_is_a_verdict_not_an_error(
    client: FlaskClient, world: World
) -> None:
    for text in ("hello", "a.b.c", "CC1:", "CC1:NOT-BASE45!!", "eyJ.eyJ.sig"):
        r = client.post("/api/v1/verify", json={"credential": text})
        assert r.status_code == 200, text
        assert r.json is not None and r.json["valid"] is False
        assert r.json["reason_code"] == "malformed"


def test_request_bodies_are_limited(client: FlaskClient) -> None:
    big = b'{"credential": "' + b"a" * (400 * 1024) + b'"}'
    r = client.post("/api/v1/verify", data=big, content_type="application/json")
    assert r.status_code == 413
    assert r.json is not None and r.json["code"] == "request_entity_too_large"
    r = client.post("/api/v1/verify", json={"credential": "a" * (270 * 1024)})
    assert r.status_code == 400  # under the body limit, over the token limit


@pytest.fixture
def limited_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path, RATELIMIT_ENABLED=True)


def test_verify_is_rate_limited(limited_app: Flask) -> None:
    c = limited_app.test_client()
    codes = [c.post("/api/v1/verify", json={"credential": "x"}).status_code for _ in range(31)]
    assert codes[:30] == [200] * 30
    r = c.post("/api/v1/verify", json={"credential": "x"})
    assert r.status_code == 429 and r.json is not None and r.json["message"]


# --- the CLI ---------------------------------------------------------------------------------


def test_cli_creates_lists_and_revokes_tokens(
    app: Flask, world: World, client: FlaskClient
) -> None:
    runner = app.test_cli_runner()
    r = runner.invoke(
        args=[
            "api-tokens", "create", "--org", "oakview", "--name", "Rota system",
            "--scope", "learners:read", "--scope", "matrix:read", "--expires-days", "30",
        ]
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    secret = r.output.strip().splitlines()[-1]
    assert len(secret) == 43
    assert client.get("/api/v1/orgs/oakview/learners", headers=bearer(secret)).status_code == 200
    row = db.session.scalar(select(ApiToken).where(ApiToken.prefix == secret[:8]))
    assert row is not None and row.token_hash != secret and secret not in row.token_hash
    assert row.scopes == ["learners:read", "matrix:read"] and row.expires_at is not None

    r = runner.invoke(args=["api-tokens", "list", "--org", "oakview"])
    assert r.exit_code == 0 and secret[:8] in r.output and secret not in r.output
    assert "Rota system" in r.output and "active" in r.output

    r = runner.invoke(args=["api-tokens", "revoke", secret[:8]])
    assert r.exit_code == 0 and "revoked" in r.output
    assert client.get("/api/v1/orgs/oakview/learners", headers=bearer(secret)).status_code == 401
    r = runner.invoke(args=["api-tokens", "revoke", secret[:8]])
    assert r.exit_code == 0 and "already revoked" in r.output

    actions = db.session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.entity_type == "api_token", AuditEvent.entity_id == str(row.id)
        )
    ).all()
    assert actions == ["api_token.created", "api_token.revoked"]


def test_cli_refuses_bad_input(app: Flask, world: World) -> None:
    runner = app.test_cli_runner()
    before = db.session.scalar(select(func.count()).select_from(ApiToken))
    for args in (
        ["api-tokens", "create", "--org", "nowhere", "--name", "x", "--scope", "learners:read"],
        ["api-tokens", "create", "--org", "oakview", "--name", " ", "--scope", "learners:read"],
        ["api-tokens", "create", "--org", "oakview", "--name", "x", "--scope", "root"],
        ["api-tokens", "create", "--org", "oakview", "--name", "x"],
        ["api-tokens", "revoke", "zzzzzzzz"],
    ):
        r = runner.invoke(args=args)
        assert r.exit_code != 0, args
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == before


# --- the managers' page ----------------------------------------------------------------------


def test_manager_creates_a_token_seen_once_then_revokes_it(
    client: FlaskClient, world: World
) -> None:
    login(client, "manager")
    r = client.get("/manage/oakview/api-tokens")
    assert r.status_code == 200 and b"No tokens yet" in r.data
    r = client.post(
        "/manage/oakview/api-tokens",
        data={"name": "HR system", "scopes": ["learners:read", "credentials:read"]},
    )
    assert r.status_code == 200
    row = db.session.scalar(select(ApiToken).where(ApiToken.name == "HR system"))
    assert row is not None and row.created_by_id == world.users["manager"].id
    html = r.get_data(as_text=True)
    start = html.index('id="new-token"')
    secret = html[start:].split('value="', 1)[1].split('"', 1)[0]
    assert secret[:8] == row.prefix
    assert client.get("/api/v1/orgs/oakview/learners", headers=bearer(secret)).status_code == 200
    # Shown once: the list shows only the prefix afterwards.
    again = client.get("/manage/oakview/api-tokens").get_data(as_text=True)
    assert secret not in again and row.prefix in again

    r = client.post(f"/manage/oakview/api-tokens/{row.id}/revoke")
    assert r.status_code == 302
    assert client.get("/api/v1/orgs/oakview/learners", headers=bearer(secret)).status_code == 401
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "api_token")
    ).all()
    assert [e.action for e in events] == ["api_token.created", "api_token.revoked"]
    assert all(e.actor_id == world.users["manager"].id for e in events)


def test_token_form_errors_are_plain_and_save_nothing(client: FlaskClient, world: World) -> None:
    login(client, "manager")
    for data, message in (
        ({"name": "", "scopes": ["learners:read"]}, "Give the token a name"),
        ({"name": "x"}, "Choose at least one"),
        ({"name": "x", "scopes": ["root"]}, "not a valid choice"),
        ({"name": "x", "scopes": ["learners:read"], "expires_days": "0"}, "from 1 to 3650"),
    ):
        r = client.post("/manage/oakview/api-tokens", data=data)
        assert r.status_code == 400, data
        assert message in r.get_data(as_text=True), data
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_other_people_cannot_see_or_revoke_tokens(client: FlaskClient, world: World) -> None:
    secret = world.token("oakview", "learners:read")
    row = db.session.scalar(select(ApiToken).where(ApiToken.prefix == secret[:8]))
    assert row is not None
    for who in ("learner", "other_manager"):
        login(client, who)
        assert client.get("/manage/oakview/api-tokens").status_code == 404
        assert client.post(f"/manage/oakview/api-tokens/{row.id}/revoke").status_code == 404
        client.post("/auth/logout")
    # Riverside's manager revoking through her own slug: still not hers.
    login(client, "other_manager")
    assert client.post(f"/manage/riverside/api-tokens/{row.id}/revoke").status_code == 404
    db.session.refresh(row)
    assert row.revoked_at is None
    client.post("/auth/logout")
    r = client.get("/manage/oakview/api-tokens")
    assert r.status_code == 302 and "/auth/login" in r.headers["Location"]


@pytest.fixture
def csrf_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path, WTF_CSRF_ENABLED=True)


def test_token_forms_need_csrf(csrf_app: Flask) -> None:
    load_catalogue(db.session, read_catalogue(), datetime.now(UTC))
    world = build(csrf_app)
    secret = world.token("oakview", "learners:read")
    row = db.session.scalar(select(ApiToken).where(ApiToken.prefix == secret[:8]))
    assert row is not None
    c = csrf_app.test_client()
    page = c.get("/auth/login").get_data(as_text=True)
    c.post(
        "/auth/login",
        data={"email": "manager@example.com", "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    r = c.post("/manage/oakview/api-tokens", data={"name": "x", "scopes": ["learners:read"]})
    assert r.status_code == 400
    r = c.post(f"/manage/oakview/api-tokens/{row.id}/revoke")
    assert r.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 1
    db.session.refresh(row)
    assert row.revoked_at is None
    # With the page's token it works.
    token = csrf_token(c.get("/manage/oakview/api-tokens").get_data(as_text=True))
    r = c.post(
        "/manage/oakview/api-tokens",
        data={"name": "x", "scopes": ["learners:read"], "csrf_token": token},
    )
    assert r.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 2


def test_issued_credentials_are_untouched_by_reading(client: FlaskClient, world: World) -> None:
    """Reading through the API changes nothing but a token's last use."""
    secret = world.token("oakview", "credentials:read", "learners:read")
    before = db.session.scalar(select(func.count()).select_from(IssuedCredential))
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    learner = world.users["learner"].id
    client.get(f"/api/v1/orgs/oakview/learners/{learner}/credentials", headers=bearer(secret))
    client.get("/api/v1/orgs/oakview/learners", headers=bearer(secret))
    assert db.session.scalar(select(func.count()).select_from(IssuedCredential)) == before
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events


# --- the training matrix -----------------------------------------------------------------------


def _employ(world: World) -> None:
    org = world.orgs["oakview"]
    role = JobRole(org_id=org.id, name="Care worker", cwp_category=next(iter(CWP_ROLE_CATEGORIES)))
    db.session.add(role)
    db.session.flush()
    for code in ("HSA-01", "DIG-01"):
        db.session.add(Requirement(org_id=org.id, job_role_id=role.id, module_code=code))
    db.session.add(
        Employment(
            org_id=org.id, user_id=world.users["learner"].id, job_role_id=role.id,
            worker_ref="OV0001",
        )
    )  # fmt: skip
    db.session.commit()


def test_the_matrix_shows_each_workers_requirements(client: FlaskClient, world: World) -> None:
    _employ(world)
    secret = world.token("oakview", "matrix:read")
    r = client.get("/api/v1/orgs/oakview/matrix", headers=bearer(secret))
    assert r.status_code == 200 and r.json is not None
    body = r.json
    assert body["organisation"]["slug"] == "oakview" and body["total"] == 1
    [row] = body["rows"]
    assert row["worker"]["worker_ref"] == "OV0001" and row["worker"]["job_role"] == "Care worker"
    cells = {c["module_code"]: c for c in row["cells"]}
    assert cells["HSA-01"]["status"] == "active" and cells["HSA-01"]["source"] == "course"
    assert cells["DIG-01"]["status"] == "missing" and cells["DIG-01"]["completed_at"] is None
    assert body["overall"] == {"compliant": 1, "total": 2, "percent": 50}
    assert {c["code"] for c in body["columns"]} == {"HSA-01", "DIG-01"}

    r = client.get("/api/v1/orgs/oakview/matrix?status=expired", headers=bearer(secret))
    assert r.json is not None and r.json["rows"] == [] and r.json["overall"]["total"] == 2
    r = client.get("/api/v1/orgs/oakview/matrix?page=2&per_page=1", headers=bearer(secret))
    assert r.json is not None and r.json["rows"] == [] and r.json["has_more"] is False
    for query in ("status=great", "site_id=x", "job_role_id=0", "per_page=1000"):
        r = client.get(f"/api/v1/orgs/oakview/matrix?{query}", headers=bearer(secret))
        assert r.status_code == 400, query


def test_the_matrix_needs_its_scope_and_its_own_organisation(
    client: FlaskClient, world: World
) -> None:
    _employ(world)
    reader = world.token("oakview", "learners:read")
    r = client.get("/api/v1/orgs/oakview/matrix", headers=bearer(reader))
    assert r.status_code == 403
    theirs = world.token("riverside", "matrix:read")
    r = client.get("/api/v1/orgs/oakview/matrix", headers=bearer(theirs))
    assert r.status_code == 404
    r = client.get("/api/v1/orgs/riverside/matrix", headers=bearer(theirs))
    assert r.status_code == 200 and r.json is not None and r.json["rows"] == []


def test_the_trust_list_is_signed_again_only_when_it_changed(
    client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lms.api import service

    calls: list[int] = []
    real = service.trust_list

    def counting(*args: object, **kwargs: object) -> tuple[str, str]:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "trust_list", counting)
    service._trust_cache.clear()
    cred = world.credential
    assert cred is not None
    for _ in range(3):
        r = client.post("/api/v1/verify", json={"credential": cred.token})
        assert r.json is not None and r.json["valid"] is True
    assert len(calls) == 1
    status.revoke(db.session, cred, "Issued in error", datetime.now(UTC))
    db.session.commit()
    r = client.post("/api/v1/verify", json={"credential": cred.token})
    assert r.json is not None and r.json["reason_code"] == "revoked"
    assert len(calls) == 2
