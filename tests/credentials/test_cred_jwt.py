"""credentials.vcjwt: the OB 3.0 §8.2 VC-JWT header and claims, checked independently."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from credentials import (
    UnreadableInput,
    decode_unverified,
    key_thumbprint,
    sign_credential,
)
from credentials._util import b64url_decode


def test_header_is_exactly_alg_typ_kid(kit: Any, token: str) -> None:
    header = json.loads(b64url_decode(token.split(".")[0]))
    assert header == {"alg": "ES256", "typ": "JWT", "kid": key_thumbprint(kit.A_NEW)}
    assert decode_unverified(token)[0] == header


def test_payload_is_credential_plus_claims(kit: Any, token: str) -> None:
    credential = kit.make_credential()
    payload = kit.payload_of(token)
    claims = {k: payload.pop(k) for k in ("iss", "jti", "nbf", "exp")}
    assert payload == credential
    assert claims == {
        "iss": credential["issuer"]["id"],
        "jti": credential["id"],
        "nbf": int(datetime(2026, 11, 12, 14, 30, 5, tzinfo=UTC).timestamp()),
        "exp": int(datetime(2029, 11, 12, 14, 30, 5, tzinfo=UTC).timestamp()),
    }
    full = kit.payload_of(token)
    for absent in ("sub", "vc", "vp", "iat", "aud"):
        assert absent not in full


def test_no_exp_without_valid_until(kit: Any) -> None:
    payload = kit.payload_of(kit.make_token(valid_until=None))
    assert "exp" not in payload and "validUntil" not in payload
    assert payload["nbf"] == int(kit.ISSUED.timestamp())


def test_signature_verifies_independently_of_the_package(kit: Any, token: str) -> None:
    """Raw ECDSA check with `cryptography` (JOSE r||s -> DER), and PyJWT's own decoder."""
    signing_input, _, sig_b64 = token.rpartition(".")
    raw = b64url_decode(sig_b64)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    kit.A_NEW.public_key().verify(der, signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))

    decoded = pyjwt.decode(
        token,
        kit.A_NEW.public_key(),
        algorithms=["ES256"],
        options={"verify_exp": False, "verify_nbf": False},
    )
    assert decoded["jti"] == "urn:uuid:6f1c1a52-4d1e-4c63-9a55-0d6d8f1d2b7e"


def test_non_ascii_names_survive(kit: Any, trust: Any) -> None:
    from credentials import verify_token

    token = kit.make_token(learner_name="Zoë Ní Bhriain — 张伟")
    result = verify_token(token, trust, kit.NOW)
    assert result.valid and result.learner_name == "Zoë Ní Bhriain — 张伟"


@pytest.mark.parametrize("claim", ["iss", "sub", "jti", "nbf", "exp", "vc"])
def test_sign_refuses_credentials_that_already_have_claims(kit: Any, claim: str) -> None:
    credential = kit.make_credential()
    credential[claim] = "x"
    with pytest.raises(ValueError, match=claim):
        sign_credential(credential, kit.A_NEW)


def test_sign_refuses_missing_fields_and_wrong_keys(kit: Any) -> None:
    for field in ("id", "issuer", "validFrom"):
        credential = kit.make_credential()
        del credential[field]
        with pytest.raises(ValueError):
            sign_credential(credential, kit.A_NEW)
    with pytest.raises(TypeError):
        sign_credential(kit.make_credential(), ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(TypeError):
        sign_credential(kit.make_credential(), kit.A_NEW.public_key())


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "a.b",
        "a.b.c.d",
        "..",
        "eyJhbGciOiJFUzI1NiJ9..sig",
        "eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln",  # payload not JSON
        "WzFd.e30.c2ln",  # header is a JSON array
        "eyJhbGciOiJFUzI1NiJ9.e30.c2l=",  # padding
        "eyJhbGciOiJFUzI1NiJ9.e30.c2l+",  # not base64url
        "x" * 300_000,
    ],
)
def test_decode_unverified_rejects_non_jws(text: str) -> None:
    with pytest.raises(UnreadableInput):
        decode_unverified(text)


def test_decode_unverified_rejects_duplicate_members(kit: Any) -> None:
    token = kit.raw_token({"alg": "ES256"}, b'{"a":1,"a":2}', kit.A_NEW)
    with pytest.raises(UnreadableInput):
        decode_unverified(token)
