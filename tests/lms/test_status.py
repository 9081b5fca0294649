"""Issue 3 in the web layer: revoke / suspend / reinstate, key lifecycle, public documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from credentials import load_trust_list, verify_path, verify_token
from lms.extensions import db
from lms.models import IssuedCredential, SigningKey, StatusList
from tests.conftest import Auth

from .helpers import LEARNER, answers_for, open_quiz, read_all_lessons

MANAGER = "manager@example.com"


def export_trust(runner: FlaskCliRunner, tmp_path: Path) -> tuple[str, str]:
    out = tmp_path / "trust.json"
    result = runner.invoke(args=["trust", "export", str(out)])
    assert result.exit_code == 0, result.output
    return out.read_text(), result.output.strip().rsplit(" ", 1)[-1]


@pytest.fixture
def cred(demo: dict[str, str]) -> IssuedCredential:
    found = db.session.scalars(select(IssuedCredential)).first()
    assert found is not None
    return found


def check(
    cred: IssuedCredential, runner: FlaskCliRunner, tmp_path: Path, now: datetime | None = None
):
    text, anchor = export_trust(runner, tmp_path)
    moment = now or datetime.now(UTC)
    trust = load_trust_list(text, anchor, moment)
    return verify_token(cred.token, trust, moment)


def test_credential_has_a_random_status_slot(cred: IssuedCredential) -> None:
    entry = cred.credential_json["credentialStatus"]
    assert entry["type"] == "BitstringStatusListEntry" and entry["statusPurpose"] == "revocation"
    assert entry["statusListIndex"] == str(cred.status_index)
    assert entry["statusListCredential"].endswith(
        f"/status/oakview/revocation/{cred.status_list_number}"
    )
    lists = db.session.scalars(select(StatusList).where(StatusList.org_id == cred.org_id)).all()
    assert sorted(row.purpose for row in lists) == ["revocation", "suspension"]
    assert all(row.size >= 131072 for row in lists)


def test_revoke_through_the_cli_is_seen_by_an_offline_verifier(
    cred: IssuedCredential, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    assert check(cred, runner, tmp_path).valid
    result = runner.invoke(
        args=["credentials", "revoke", cred.short_id, "--reason", "Issued in error"]
    )
    assert result.exit_code == 0, result.output
    db.session.refresh(cred)
    assert cred.status == "revoked" and cred.revocation_reason == "Issued in error"
    verdict = check(cred, runner, tmp_path)
    assert (verdict.valid, verdict.reason_code) == (False, "revoked")
    again = runner.invoke(args=["credentials", "revoke", cred.credential_id, "--reason", "x"])
    assert again.exit_code != 0 and "already revoked" in again.output
    assert runner.invoke(args=["credentials", "reinstate", cred.short_id]).exit_code != 0


def test_suspend_and_reinstate(
    cred: IssuedCredential, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    assert (
        runner.invoke(
            args=["credentials", "suspend", cred.credential_id, "--reason", "Under review"]
        ).exit_code
        == 0
    )
    assert check(cred, runner, tmp_path).reason_code == "suspended"
    assert runner.invoke(args=["credentials", "reinstate", cred.short_id]).exit_code == 0
    assert check(cred, runner, tmp_path).valid


def test_revoke_needs_a_reason_and_a_real_id(
    cred: IssuedCredential, runner: FlaskCliRunner
) -> None:
    assert (
        "Give a reason"
        in runner.invoke(args=["credentials", "revoke", cred.short_id, "--reason", "  "]).output
    )
    assert (
        "No credential has the id"
        in runner.invoke(args=["credentials", "revoke", "nope", "--reason", "x"]).output
    )
    db.session.refresh(cred)
    assert cred.status == "active"


def test_status_list_is_served_signed(client: FlaskClient, cred: IssuedCredential) -> None:
    url = cred.credential_json["credentialStatus"]["statusListCredential"]
    path = url.split("lms.example.test", 1)[1]
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "application/vc+jwt"
    assert response.text.count(".") == 2
    assert client.get("/status/oakview/other/1").status_code == 404
    assert client.get("/status/nobody/revocation/1").status_code == 404


def test_key_rotation_keeps_old_credentials_valid(
    cred: IssuedCredential, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    old_kid = cred.kid
    result = runner.invoke(args=["keys", "rotate", "--org", "oakview"])
    assert result.exit_code == 0 and f"retired {old_kid}" in result.output
    keys = db.session.scalars(select(SigningKey).where(SigningKey.org_id == cred.org_id)).all()
    assert len(keys) == 2
    assert check(cred, runner, tmp_path, datetime.now(UTC) + timedelta(seconds=5)).valid
    listing = runner.invoke(args=["keys", "list", "--org", "oakview"]).output
    assert old_kid in listing and listing.count("signs") == 2


def test_compromised_key_refuses_what_it_signed_afterwards(
    cred: IssuedCredential, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    before = cred.issued_at - timedelta(days=1)
    result = runner.invoke(
        args=[
            "keys",
            "compromised",
            "--org",
            "oakview",
            "--kid",
            cred.kid,
            "--since",
            before.strftime("%Y-%m-%dT%H:%M:%S"),
        ]
    )
    assert result.exit_code == 0, result.output
    verdict = check(cred, runner, tmp_path)
    assert not verdict.valid and verdict.reason_code in {"key_compromised", "key_not_valid"}


def test_public_key_documents(client: FlaskClient, cred: IssuedCredential) -> None:
    jwks = client.get("/.well-known/jwks.json").get_json()
    # every issuer's keys on this instance: Oakview's, and the demo's second issuer (Riverside)
    kids = [k["kid"] for k in jwks["keys"]]
    assert cred.kid in kids and len(kids) == len(set(kids)) == 2
    assert all("d" not in k for k in jwks["keys"])
    did = client.get("/issuers/oakview/did.json").get_json()
    assert did["id"] == "did:web:lms.example.test:issuers:oakview"
    assert did["verificationMethod"][0]["publicKeyJwk"]["kid"] == cred.kid
    assert did["assertionMethod"] == [did["verificationMethod"][0]["id"]]
    profile = client.get("/issuers/oakview").get_json()
    assert (
        profile["id"] == cred.credential_json["issuer"]["id"] and profile["name"] == "Oakview Care"
    )


def test_passport_carries_credentials_and_status(
    client: FlaskClient, auth: Auth, demo: dict[str, str], runner: FlaskCliRunner, tmp_path: Path
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    read_all_lessons(client, "DIG-01")
    attempt_id, qids, _ = open_quiz(client, "DIG-01")
    client.post(f"/learn/DIG-01/quiz/{attempt_id}", data=answers_for(qids))
    first = db.session.scalars(select(IssuedCredential).order_by(IssuedCredential.id)).first()
    assert first is not None
    runner.invoke(args=["credentials", "revoke", first.short_id, "--reason", "Issued in error"])
    response = client.get("/certificates/passport.json")
    assert response.status_code == 200
    passport = json.loads(response.text)
    held = db.session.scalar(select(func.count(IssuedCredential.id)))  # the demo's and DIG-01
    assert passport["type"] == "CareCredPassport" and len(passport["credentials"]) == held
    assert passport["statusLists"]
    path = tmp_path / "passport.json"
    path.write_text(response.text)
    text, anchor = export_trust(runner, tmp_path)
    # the passport staples the issuers' current lists, so the revocation is seen offline
    results = verify_path(path, load_trust_list(text, anchor, datetime.now(UTC)), datetime.now(UTC))
    assert sorted(r.reason_code for r in results) == ["revoked"] + ["valid"] * (held - 1)


def test_qr_on_screen_and_in_the_pdf(
    client: FlaskClient, auth: Auth, demo: dict[str, str], cred: IssuedCredential
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    assert cred.qr_text and cred.qr_text.startswith("CC1:")
    page = client.get(f"/certificates/{cred.short_id}/qr")
    assert page.status_code == 200 and f"/certificates/{cred.short_id}/qr.png" in page.text
    image = client.get(f"/certificates/{cred.short_id}/qr.png")
    assert image.mimetype == "image/png" and image.data[:8] == b"\x89PNG\r\n\x1a\n"


def test_manager_revokes_with_a_reason(
    client: FlaskClient, auth: Auth, demo: dict[str, str], cred: IssuedCredential
) -> None:
    auth.login(MANAGER, demo[MANAGER])
    listing = client.get("/manage/oakview/credentials")
    assert listing.status_code == 200 and cred.short_id in listing.text
    url = f"/manage/oakview/credentials/{cred.short_id}"
    missing = client.post(url, data={"action": "revoke", "reason": ""})
    assert missing.status_code == 400 and "Give a reason" in missing.text
    db.session.refresh(cred)
    assert cred.status == "active"
    done = client.post(url, data={"action": "suspend", "reason": "Under investigation"})
    assert done.status_code == 302
    db.session.refresh(cred)
    assert cred.status == "suspended"


@pytest.mark.parametrize("who", [LEARNER, "mentor@example.com"])
def test_only_managers_manage(
    client: FlaskClient, auth: Auth, demo: dict[str, str], cred: IssuedCredential, who: str
) -> None:
    auth.login(who, demo[who])
    assert client.get("/manage/oakview/credentials").status_code == 404
    assert (
        client.post(
            f"/manage/oakview/credentials/{cred.short_id}", data={"action": "revoke", "reason": "x"}
        ).status_code
        == 404
    )
    db.session.refresh(cred)
    assert cred.status == "active"


def test_another_organisations_manager_cannot_touch_our_credentials(
    app: Flask, client: FlaskClient, auth: Auth, demo: dict[str, str], cred: IssuedCredential
) -> None:
    from lms.accounts import ensure_membership, get_or_create_org, get_or_create_user
    from lms.models import Role

    now = datetime.now(UTC)
    other = get_or_create_org(db.session, "elmhurst", "Elmhurst Homecare", "care_provider", now)
    boss = get_or_create_user(
        db.session,
        app.extensions["password_hasher"],
        "boss@elmhurst.example",
        "B",
        "pw-elmhurst-123",
        now,
    )
    ensure_membership(db.session, boss, other, Role.MANAGER)
    db.session.commit()
    auth.login("boss@elmhurst.example", "pw-elmhurst-123")
    assert client.get("/manage/elmhurst/credentials").status_code == 200
    assert cred.short_id not in client.get("/manage/elmhurst/credentials").text
    assert client.get(f"/manage/elmhurst/credentials/{cred.short_id}").status_code == 404
    assert client.get(f"/manage/oakview/credentials/{cred.short_id}").status_code == 404
    assert (
        db.session.scalar(
            select(func.count(IssuedCredential.id)).where(IssuedCredential.revoked_at.isnot(None))
        )
        == 0
    )


def test_verifier_shows_the_issuers_registered_identifier(
    cred: IssuedCredential, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    verdict = check(cred, runner, tmp_path)
    assert verdict.valid and ("CQC provider ID", "1-000000001") in verdict.issuer_identifiers
