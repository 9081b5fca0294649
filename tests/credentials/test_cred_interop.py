"""Interoperability: an independent JOSE implementation (jwcrypto) agrees with ours, both ways.

Nothing here uses PyJWT or our verifier to check our own output: jwcrypto verifies what we
sign with nothing but the public JWK, and our verifier accepts what jwcrypto signs.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jwcrypto import jwk, jws
from jwcrypto.common import JWException

from credentials import key_thumbprint, public_jwk, verify_token


def _jwcrypto_verify(token: str, key: Any) -> dict[str, Any]:
    """Verify a compact JWS with jwcrypto only (ES256, given public JWK); returns the payload."""
    public = jwk.JWK(**public_jwk(key))
    signed = jws.JWS()
    signed.deserialize(token)
    signed.verify(public, alg="ES256")
    result: dict[str, Any] = json.loads(signed.payload)
    return result


def test_jwcrypto_verifies_our_credentials(kit: Any) -> None:
    token = kit.make_token(status=kit.entry_a(3))
    payload = _jwcrypto_verify(token, kit.A_NEW)
    assert payload["iss"] == payload["issuer"]["id"] == kit.ISSUER_A.id
    assert payload["jti"] == payload["id"]
    assert payload["nbf"] == int(kit.ISSUED.timestamp())
    assert payload["exp"] == int(kit.EXPIRES.timestamp())
    assert payload["credentialStatus"]["statusListIndex"] == "3"
    signed = jws.JWS()
    signed.deserialize(token)
    assert signed.jose_header == {"alg": "ES256", "typ": "JWT", "kid": key_thumbprint(kit.A_NEW)}


def test_jwcrypto_agrees_on_thumbprints(kit: Any) -> None:
    for key in (kit.A_NEW, kit.B_KEY, kit.ROOT):
        assert jwk.JWK(**public_jwk(key)).thumbprint() == key_thumbprint(key)


def test_jwcrypto_verifies_status_lists_and_trust_lists(kit: Any) -> None:
    status = _jwcrypto_verify(kit.make_status_token(set_indexes=[9]), kit.A_NEW)
    assert status["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    trust_token = json.loads(kit.TRUST_V2_TEXT)["token"]
    payload = _jwcrypto_verify(trust_token, kit.ROOT)
    assert len(payload["statusListCredentials"]) == 4


def test_jwcrypto_refuses_what_we_refuse(kit: Any, trust: Any) -> None:
    token = kit.make_token()
    tampered = kit.replace_segment(token, 1, lambda p: p.replace(b"Amira", b"Amina"))
    with pytest.raises(JWException):
        _jwcrypto_verify(tampered, kit.A_NEW)
    assert verify_token(tampered, trust, kit.NOW).reason_code == "bad_signature"
    with pytest.raises(JWException):
        _jwcrypto_verify(token, kit.B_KEY)


def test_we_verify_what_jwcrypto_signs(kit: Any, trust: Any) -> None:
    payload = kit.payload_of(kit.make_token())
    private = jwk.JWK.from_pyca(kit.A_NEW)
    signed = jws.JWS(json.dumps(payload).encode())
    signed.add_signature(
        private,
        alg="ES256",
        protected=json.dumps({"alg": "ES256", "typ": "JWT", "kid": key_thumbprint(kit.A_NEW)}),
    )
    token = signed.serialize(compact=True)
    result = verify_token(token, trust, kit.NOW)
    assert result.valid, result.reason
    assert result.learner_name == "Amira Okafor"
