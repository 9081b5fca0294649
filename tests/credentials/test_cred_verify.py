"""credentials.verify.verify_token: every reason code, with real tokens."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization

from credentials import REASON_CODES, VerificationResult, key_thumbprint, public_jwk, verify_token
from credentials._util import b64url_encode
from credentials.verify import _REASONS

PAYLOAD_FIELDS = (
    "credential_id",
    "issuer_id",
    "issuer_name",
    "learner_name",
    "achievement_name",
    "achievement_id",
    "valid_from",
    "valid_until",
    "achievement_version",
    "activity_end",
)


def _assert_no_payload_fields(result: VerificationResult) -> None:
    for field in PAYLOAD_FIELDS:
        assert getattr(result, field) is None, field
    assert result.alignments == ()


def _check(result: VerificationResult, code: str) -> None:
    assert result.reason_code == code, (result.reason_code, result.reason)
    assert result.valid is (code == "valid")
    assert result.reason and result.reason.endswith(".")


# --------------------------------------------------------------------------- valid


def test_roundtrip_sign_verify_valid(kit: Any, trust: Any, token: str) -> None:
    result = verify_token(token, trust, kit.NOW)
    _check(result, "valid")
    assert result.source == "<token>"
    assert result.credential_id == "urn:uuid:6f1c1a52-4d1e-4c63-9a55-0d6d8f1d2b7e"
    assert result.issuer_id == kit.ISSUER_A.id
    # The name comes from the trust list ("Oakview Care Ltd"), not from the token.
    assert result.issuer_name == "Oakview Care Ltd"
    assert result.learner_name == "Amira Okafor"
    assert result.achievement_name == "Health and safety awareness"
    assert result.achievement_id == "https://lms.example.test/achievements/HSA-01/v1"
    assert result.achievement_version == "1"
    assert result.alignments == (
        "ASC-WDS training category: Health and safety awareness",
        "Care Certificate (2025): Standard 13",
    )
    assert result.valid_from == kit.ISSUED
    assert result.valid_until == kit.EXPIRES
    assert result.activity_end == kit.ISSUED


def test_to_json_shape(kit: Any, trust: Any, token: str) -> None:
    data = verify_token(token, trust, kit.NOW, source="cert.pdf").to_json()
    assert list(data) == [
        "source",
        "valid",
        "reason_code",
        "reason",
        "credential_id",
        "issuer",
        "issuer_id",
        "learner_name",
        "achievement",
        "achievement_id",
        "alignments",
        "valid_from",
        "valid_until",
        "status_checked",
        "status_as_of",
        "warnings",
        "issuer_identifiers",
        "assessments",
    ]
    assert data["assessments"] == []  # no evidence in this credential
    assert data["source"] == "cert.pdf"
    assert data["issuer"] == "Oakview Care Ltd"
    assert data["valid_from"] == "2026-11-12T14:30:05Z"
    assert data["valid_until"] == "2029-11-12T14:30:05Z"
    assert isinstance(data["alignments"], list)
    json.dumps(data)


def test_other_issuer_and_open_ended(kit: Any, trust: Any) -> None:
    token = kit.make_token(kit.B_KEY, issuer=kit.ISSUER_B, valid_until=None, activity_end=None)
    result = verify_token(token, trust, datetime(2099, 1, 1, tzinfo=UTC))
    _check(result, "valid")
    assert result.issuer_name == "Riverside Homecare"
    assert result.valid_until is None and result.activity_end is None


def test_retired_key_still_verifies_what_it_signed_in_its_window(kit: Any, trust: Any) -> None:
    token = kit.make_token(
        kit.A_OLD,
        valid_from=datetime(2026, 1, 10, tzinfo=UTC),
        valid_until=datetime(2029, 1, 10, tzinfo=UTC),
    )
    _check(verify_token(token, trust, kit.NOW), "valid")


@pytest.mark.parametrize("typ", [None, "JWT", "vc+jwt", "application/vc+jwt", "jwt"])
def test_accepted_typ_values(kit: Any, trust: Any, typ: str | None) -> None:
    payload = kit.payload_of(kit.make_token())
    header: dict[str, Any] = {"alg": "ES256", "kid": key_thumbprint(kit.A_NEW)}
    if typ is not None:
        header["typ"] = typ
    token = pyjwt.PyJWS().encode(
        json.dumps(payload).encode(),
        kit.A_NEW,
        algorithm="ES256",
        headers={**header, "typ": typ},
    )
    _check(verify_token(token, trust, kit.NOW), "valid")


# --------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    "token",
    ["", "not a token", "a.b.c", "e30.e30.", "e30.e30.c2ln.x", "eyJhbGciOiJFUzI1NiJ9.bm9wZQ.AA"],
)
def test_malformed_garbage(kit: Any, trust: Any, token: str) -> None:
    result = verify_token(token, trust, kit.NOW)
    _check(result, "malformed")
    _assert_no_payload_fields(result)


def test_malformed_header_parameters(kit: Any, trust: Any) -> None:
    payload = kit.payload_of(kit.make_token())
    for extra in ({"typ": "bad+typ"}, {"crit": ["exp"]}, {"typ": 1}):
        token = kit.signed_payload(payload, **extra)
        _check(verify_token(token, trust, kit.NOW), "malformed")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.pop("credentialSubject"),
        lambda p: p["credentialSubject"].pop("achievement"),
        lambda p: p["credentialSubject"]["achievement"].pop("name"),
        lambda p: p.pop("@context"),
        lambda p: p.update({"@context": ["https://www.w3.org/2018/credentials/v1"]}),
        lambda p: p.update(type=["VerifiableCredential"]),
        lambda p: p.update(validFrom="yesterday"),
        lambda p: p.update(validFrom="2026-11-12T14:30:05"),  # no timezone
        lambda p: p.update(issuer=42),
        lambda p: p["credentialSubject"].pop("identifier"),
        lambda p: p.update(vc={"legacy": True}),
    ],
)
def test_malformed_signed_contents(kit: Any, trust: Any, mutate: Any) -> None:
    """Correctly signed by a trusted key, but not a usable credential."""
    payload = kit.payload_of(kit.make_token())
    mutate(payload)
    result = verify_token(kit.signed_payload(payload), trust, kit.NOW)
    _check(result, "malformed")
    _assert_no_payload_fields(result)


def test_malformed_signed_non_json(kit: Any, trust: Any) -> None:
    token = kit.raw_token(
        {"alg": "ES256", "typ": "JWT", "kid": key_thumbprint(kit.A_NEW)}, b"not json", kit.A_NEW
    )
    _check(verify_token(token, trust, kit.NOW), "malformed")


# --------------------------------------------------------------------------- algorithm


def test_alg_none(kit: Any, trust: Any) -> None:
    payload = kit.payload_of(kit.make_token())
    for alg in ("none", "None", "NONE"):
        token = kit.raw_token(
            {"alg": alg, "typ": "JWT", "kid": key_thumbprint(kit.A_NEW)}, payload, None
        )
        result = verify_token(token + "AA", trust, kit.NOW)
        _check(result, "unsupported_algorithm")
        _assert_no_payload_fields(result)


def test_hs256_with_public_key_pem_as_secret(kit: Any, trust: Any) -> None:
    """The classic key-confusion attack: HMAC keyed with the issuer's public key."""
    payload = kit.payload_of(kit.make_token())
    payload["credentialSubject"]["identifier"][0]["identityHash"] = "Mallory"
    pem = kit.A_NEW.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": key_thumbprint(kit.A_NEW)}
    signing_input = ".".join(b64url_encode(json.dumps(part).encode()) for part in (header, payload))
    sig = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + b64url_encode(sig)
    result = verify_token(token, trust, kit.NOW)
    _check(result, "unsupported_algorithm")
    _assert_no_payload_fields(result)


@pytest.mark.parametrize("alg", ["RS256", "ES384", "ES512", "EdDSA", "PS256", "es256", "", None, 7])
def test_other_algorithms(kit: Any, trust: Any, alg: Any) -> None:
    token = kit.make_token()
    header = {"alg": alg, "typ": "JWT", "kid": key_thumbprint(kit.A_NEW)}
    if alg is None:
        del header["alg"]
    token = kit.replace_segment(token, 0, lambda _: json.dumps(header).encode())
    _check(verify_token(token, trust, kit.NOW), "unsupported_algorithm")


# --------------------------------------------------------------------------- key lookup


def test_attacker_jwk_header_is_never_trusted(kit: Any, trust: Any) -> None:
    payload = kit.payload_of(kit.make_token())
    token = kit.signed_payload(
        payload,
        kit.ATTACKER,
        jwk=public_jwk(kit.ATTACKER),
        jku="https://evil.example/jwks.json",
        x5u="https://evil.example/cert.pem",
    )
    assert pyjwt.get_unverified_header(token)["jwk"] == public_jwk(kit.ATTACKER)
    result = verify_token(token, trust, kit.NOW)
    _check(result, "unknown_key")
    _assert_no_payload_fields(result)


def test_attacker_jwk_with_trusted_kid_is_bad_signature(kit: Any, trust: Any) -> None:
    """Claiming a trusted kid while embedding the attacker's own key does not help."""
    payload = kit.payload_of(kit.make_token())
    token = kit.raw_token(
        {
            "alg": "ES256",
            "typ": "JWT",
            "kid": key_thumbprint(kit.A_NEW),
            "jwk": public_jwk(kit.ATTACKER),
        },
        payload,
        kit.ATTACKER,
    )
    result = verify_token(token, trust, kit.NOW)
    _check(result, "bad_signature")
    _assert_no_payload_fields(result)


@pytest.mark.parametrize("kid", [None, "", "nope", 5, ["x"]])
def test_missing_or_unknown_kid(kit: Any, trust: Any, kid: Any) -> None:
    header: dict[str, Any] = {"alg": "ES256", "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    token = kit.replace_segment(kit.make_token(), 0, lambda _: json.dumps(header).encode())
    result = verify_token(token, trust, kit.NOW)
    _check(result, "unknown_key")
    _assert_no_payload_fields(result)


# --------------------------------------------------------------------------- signature


def test_changed_byte_in_header(kit: Any, trust: Any, token: str) -> None:
    # Same meaning, different bytes: a space inserted into the JSON.
    changed = kit.replace_segment(token, 0, lambda h: h.replace(b":", b": ", 1))
    assert changed != token
    result = verify_token(changed, trust, kit.NOW)
    _check(result, "bad_signature")
    _assert_no_payload_fields(result)


def test_changed_byte_in_payload(kit: Any, trust: Any, token: str) -> None:
    changed = kit.replace_segment(token, 1, lambda p: p.replace(b"Amira", b"Amina"))
    result = verify_token(changed, trust, kit.NOW)
    _check(result, "bad_signature")
    _assert_no_payload_fields(result)
    # a later expiry date
    later = kit.replace_segment(token, 1, lambda p: p.replace(b"2029-11-12", b"2039-11-12"))
    _check(verify_token(later, trust, kit.NOW), "bad_signature")


def test_changed_byte_in_signature(kit: Any, trust: Any, token: str) -> None:
    for index in (0, 31, 32, 63):
        changed = kit.replace_segment(
            token, 2, lambda s, i=index: s[:i] + bytes([s[i] ^ 0x01]) + s[i + 1 :]
        )
        result = verify_token(changed, trust, kit.NOW)
        _check(result, "bad_signature")
        _assert_no_payload_fields(result)


def test_signature_wrong_length_or_truncated(kit: Any, trust: Any, token: str) -> None:
    for transform in (lambda s: s[:-1], lambda s: s + b"\x00", lambda s: s * 2):
        changed = kit.replace_segment(token, 2, transform)
        _check(verify_token(changed, trust, kit.NOW), "bad_signature")


def test_every_single_character_change_is_refused(kit: Any, trust: Any) -> None:
    """Substituting any one character anywhere in the token never yields a valid result,
    including the last signature character whose low bits are base64 padding."""
    token = kit.make_token(valid_until=None, activity_end=None)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i, char in enumerate(token):
        if char == ".":
            continue
        replacement = alphabet[(alphabet.index(char) + 1) % 64]
        changed = token[:i] + replacement + token[i + 1 :]
        result = verify_token(changed, trust, kit.NOW)
        assert not result.valid, i
        assert result.credential_id is None, i


def test_signature_from_another_trusted_key_is_bad(kit: Any, trust: Any) -> None:
    """Payload and header of A's token, but signed by B (with A's kid): bad signature."""
    payload = kit.payload_of(kit.make_token())
    token = kit.raw_token(
        {"alg": "ES256", "typ": "JWT", "kid": key_thumbprint(kit.A_NEW)}, payload, kit.B_KEY
    )
    _check(verify_token(token, trust, kit.NOW), "bad_signature")


# --------------------------------------------------------------------------- claims


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.update(iss="https://lms.example.test/issuers/riverside"),
        lambda p: p.pop("iss"),
        lambda p: p.update(jti="urn:uuid:00000000-0000-4000-8000-000000000000"),
        lambda p: p.pop("jti"),
        lambda p: p.update(nbf=p["nbf"] - 86400),
        lambda p: p.update(nbf=str(p["nbf"])),
        lambda p: p.update(nbf=True),
        lambda p: p.pop("nbf"),
        lambda p: p.update(exp=p["exp"] + 86400 * 365),
        lambda p: p.pop("exp"),  # validUntil present but exp missing
        lambda p: p.pop("validUntil"),  # exp present but validUntil missing
        lambda p: p.update(sub="did:example:someone"),
    ],
)
def test_claims_mismatch(kit: Any, trust: Any, mutate: Any) -> None:
    payload = kit.payload_of(kit.make_token())
    mutate(payload)
    result = verify_token(kit.signed_payload(payload), trust, kit.NOW)
    _check(result, "claims_mismatch")
    # Signed by a trusted key, so the details may be shown.
    assert result.credential_id is not None


def test_fractional_seconds_valid_from_is_accepted(kit: Any, trust: Any) -> None:
    payload = kit.payload_of(kit.make_token())
    payload["validFrom"] = "2026-11-12T14:30:05.250Z"
    _check(verify_token(kit.signed_payload(payload), trust, kit.NOW), "valid")


# --------------------------------------------------------------------------- issuer binding


def test_kid_of_issuer_a_on_credential_claiming_issuer_b(kit: Any, trust: Any) -> None:
    token = kit.make_token(kit.A_NEW, issuer=kit.ISSUER_B)
    result = verify_token(token, trust, kit.NOW)
    _check(result, "issuer_mismatch")
    assert result.issuer_id == kit.ISSUER_A.id  # who really signed it
    assert result.issuer_name == "Oakview Care Ltd"


def test_unlisted_issuer_signed_with_listed_key(kit: Any, trust: Any) -> None:
    from credentials import IssuerProfile

    token = kit.make_token(kit.B_KEY, issuer=IssuerProfile(id="https://evil.test", name="NHS"))
    _check(verify_token(token, trust, kit.NOW), "issuer_mismatch")


# --------------------------------------------------------------------------- key window


def test_key_used_after_its_window(kit: Any, trust: Any) -> None:
    # A_OLD retired on 2026-06-01; this credential says 2026-11-12.
    result = verify_token(kit.make_token(kit.A_OLD), trust, kit.NOW)
    _check(result, "key_not_valid")


def test_key_used_before_its_window(kit: Any, trust: Any) -> None:
    token = kit.make_token(
        kit.A_NEW,
        valid_from=datetime(2026, 5, 31, 23, 59, 59, tzinfo=UTC),
        valid_until=None,
    )
    _check(verify_token(token, trust, kit.NOW), "key_not_valid")
    at_start = kit.make_token(kit.A_NEW, valid_from=datetime(2026, 6, 1, tzinfo=UTC))
    _check(verify_token(at_start, trust, kit.NOW), "valid")


# --------------------------------------------------------------------------- dates


def test_expired(kit: Any, trust: Any, token: str) -> None:
    result = verify_token(token, trust, kit.EXPIRES)
    _check(result, "expired")
    assert "12 November 2029" in result.reason
    assert result.learner_name == "Amira Okafor"
    _check(verify_token(token, trust, kit.EXPIRES - timedelta(seconds=1)), "valid")


def test_not_yet_valid(kit: Any, trust: Any, token: str) -> None:
    result = verify_token(token, trust, kit.ISSUED - timedelta(seconds=1))
    _check(result, "not_yet_valid")
    assert "12 November 2026" in result.reason
    _check(verify_token(token, trust, kit.ISSUED), "valid")


def test_naive_now_is_rejected(kit: Any, trust: Any, token: str) -> None:
    with pytest.raises(ValueError):
        verify_token(token, trust, datetime(2026, 11, 20))


# --------------------------------------------------------------------------- order and wording


def test_check_order(kit: Any, trust: Any) -> None:
    """Each check wins over the later ones."""
    # bad signature beats everything after it (even a credential that would be expired)
    token = kit.make_token(kit.A_OLD, issuer=kit.ISSUER_B)
    tampered = kit.replace_segment(token, 1, lambda p: p.replace(b"Amira", b"Amina"))
    _check(verify_token(tampered, trust, kit.EXPIRES), "bad_signature")
    # claims beat issuer binding
    payload = kit.payload_of(kit.make_token(kit.A_NEW, issuer=kit.ISSUER_B))
    payload["jti"] = "urn:uuid:other"
    _check(verify_token(kit.signed_payload(payload), trust, kit.NOW), "claims_mismatch")
    # issuer binding beats key window
    _check(verify_token(token, trust, kit.NOW), "issuer_mismatch")
    # key window beats dates
    _check(verify_token(kit.make_token(kit.A_OLD), trust, kit.EXPIRES), "key_not_valid")


def test_every_reason_has_its_own_sentence() -> None:
    assert set(REASON_CODES) == set(_REASONS) | {"expired", "not_yet_valid"}
    sentences = list(_REASONS.values())
    assert len(set(sentences)) == len(sentences)
    for sentence in sentences:
        assert sentence[0].isupper() and sentence.endswith(".")
        assert "JWS" not in sentence and "kid" not in sentence
