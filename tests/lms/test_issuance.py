"""The issued credential: OB 3.0 shape, official schema, key storage, PDF container."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path

import jsonschema
import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import select

from credentials import decode_unverified, jwk_thumbprint, public_jwk, unwrap_private_key
from lms.extensions import db
from lms.models import IssuedCredential, SigningKey
from lms.pdf import DataOnlyFetcher, certificate_context, render_certificate

# The official OB 3.0 JSON Schema, vendored beside the credentials tests (see its README).
SCHEMA = (
    Path(__file__).resolve().parents[1]
    / "credentials"
    / "data"
    / "ob_v3p0_achievementcredential_schema.json"
)


@pytest.fixture
def issued(demo: dict[str, str]) -> IssuedCredential:
    cred = db.session.scalars(select(IssuedCredential)).first()
    assert cred is not None
    return cred


def test_credential_validates_against_the_official_ob3_schema(issued: IssuedCredential) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft201909Validator(schema).validate(issued.credential_json)
    _, payload = decode_unverified(issued.token)
    body = {k: v for k, v in payload.items() if k not in {"iss", "jti", "nbf", "exp"}}
    jsonschema.Draft201909Validator(schema).validate(body)


def test_credential_content(issued: IssuedCredential, app: Flask) -> None:
    header, payload = decode_unverified(issued.token)
    assert header == {"alg": "ES256", "typ": "JWT", "kid": issued.kid}
    assert payload["iss"] == "https://lms.example.test/issuers/oakview"
    assert payload["jti"] == issued.credential_id
    assert payload["exp"] == int(issued.valid_until.timestamp())  # HSA-01: 36 months
    subject = payload["credentialSubject"]
    identifiers = {i["identityType"]: i for i in subject["identifier"]}
    assert identifiers["name"]["identityHash"] == "Amira Okafor"
    assert identifiers["emailAddress"]["hashed"] is True
    assert identifiers["emailAddress"]["identityHash"].startswith("sha256$")
    assert "learner@example.com" not in issued.token + json.dumps(payload)
    alignments = subject["achievement"]["alignment"]
    frameworks = {a["targetFramework"]: a for a in alignments}
    assert frameworks["ASC-WDS training categories"]["targetName"] == "Health and safety awareness"
    assert frameworks["Care Certificate (2025)"]["targetName"] == "Standard 13: Health and safety"


def test_signing_key_is_stored_encrypted(issued: IssuedCredential, app: Flask) -> None:
    key = db.session.scalar(select(SigningKey).where(SigningKey.kid == issued.kid))
    assert key is not None and key.purpose == "issuer"
    assert b"PRIVATE KEY" not in key.private_key_wrapped
    private = unwrap_private_key(key.private_key_wrapped, app.config["KEY_ENCRYPTION_KEY"])
    assert jwk_thumbprint(public_jwk(private)) == key.kid == jwk_thumbprint(key.public_jwk)


def test_pdf_carries_the_signed_credential(issued: IssuedCredential, app: Flask) -> None:
    pdf = render_certificate(certificate_context(issued, "Test"), issued)
    reader = PdfReader(BytesIO(pdf))
    assert reader.attachments["credential.jwt"] == [issued.token.encode()]
    text = reader.pages[0].extract_text()
    assert "Amira Okafor" in text and "Health and safety awareness" in text


def test_pdf_renderer_cannot_reach_files_or_network() -> None:
    fetcher = DataOnlyFetcher()
    for url in ("file:///etc/passwd", "http://169.254.169.254/latest/meta-data/"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
