"""credentials.keys: JWKs, RFC 7638 thumbprints, loading JWKs, wrapping private keys."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from credentials import (
    CredentialError,
    KeyUnwrapError,
    generate_signing_key,
    jwk_thumbprint,
    key_thumbprint,
    public_jwk,
    public_key_from_jwk,
    unwrap_private_key,
    wrap_private_key,
)

SECRET = "test-key-encryption-secret-0123456789abcdef"


def test_generate_signing_key_is_p256() -> None:
    key = generate_signing_key()
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)


def test_public_jwk_shape_and_roundtrip(kit: Any) -> None:
    jwk = public_jwk(kit.A_NEW)
    assert set(jwk) == {"kty", "crv", "x", "y"}
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"
    assert len(base64.urlsafe_b64decode(jwk["x"] + "=")) == 32
    assert "=" not in jwk["x"] + jwk["y"]
    assert public_jwk(kit.A_NEW.public_key()) == jwk
    loaded = public_key_from_jwk(jwk)
    assert loaded.public_numbers() == kit.A_NEW.public_key().public_numbers()


def test_thumbprint_follows_rfc7638(kit: Any) -> None:
    jwk = public_jwk(kit.A_NEW)
    canonical = '{"crv":"P-256","kty":"EC","x":"' + jwk["x"] + '","y":"' + jwk["y"] + '"}'
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest())
    assert jwk_thumbprint(jwk) == expected.rstrip(b"=").decode()
    assert key_thumbprint(kit.A_NEW) == jwk_thumbprint(jwk)
    assert key_thumbprint(kit.A_NEW.public_key()) == jwk_thumbprint(jwk)
    # Extra members (kid, use, alg) do not change the thumbprint.
    assert jwk_thumbprint({**jwk, "kid": "x", "use": "sig", "alg": "ES256"}) == jwk_thumbprint(jwk)
    assert len(jwk_thumbprint(jwk)) == 43


def test_thumbprint_known_vector() -> None:
    # A fixed P-256 public key (the RFC 7515 Appendix A.3 example key) and its RFC 7638
    # thumbprint computed independently.
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    }
    canonical = json.dumps({k: jwk[k] for k in sorted(jwk)}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    assert jwk_thumbprint(jwk) == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert jwk_thumbprint(jwk) == "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda j: {**j, "kty": "RSA"},
        lambda j: {**j, "crv": "P-384"},
        lambda j: {**j, "crv": "secp256k1"},
        lambda j: {k: v for k, v in j.items() if k != "y"},
        lambda j: {**j, "x": j["x"] + "A"},  # wrong length
        lambda j: {**j, "x": j["x"][:-1] + "!"},  # not base64url
        lambda j: {**j, "x": j["x"] + "="},  # padded
        lambda j: {**j, "y": j["x"]},  # not on the curve (almost surely)
        lambda j: {**j, "d": "AAAA"},  # private key material
        lambda j: {**j, "x": 5},
    ],
)
def test_public_key_from_jwk_refuses_anything_but_p256(kit: Any, mutate: Any) -> None:
    jwk = mutate(public_jwk(kit.A_NEW))
    with pytest.raises(CredentialError) as info:
        public_key_from_jwk(jwk)
    assert info.value.code == "bad_key"


def test_non_p256_keys_are_refused() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(CredentialError) as info:
        public_jwk(p384)
    assert info.value.code == "bad_key"
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(CredentialError):
        key_thumbprint(rsa_key)  # type: ignore[arg-type]
    with pytest.raises(CredentialError):
        wrap_private_key(p384, SECRET)


def test_wrap_unwrap_roundtrip(kit: Any) -> None:
    blob = wrap_private_key(kit.A_NEW, SECRET)
    assert isinstance(blob, bytes)
    der = kit.A_NEW.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert der not in blob and base64.b64encode(der) not in blob
    key = unwrap_private_key(blob, SECRET)
    assert key.private_numbers() == kit.A_NEW.private_numbers()
    # Text form (e.g. from a TEXT column) is accepted too.
    assert unwrap_private_key(blob.decode("ascii"), SECRET).private_numbers() == (
        kit.A_NEW.private_numbers()
    )
    # Fernet is randomised: wrapping twice gives different blobs.
    assert wrap_private_key(kit.A_NEW, SECRET) != blob


def test_wrap_format_is_fernet_over_pkcs8_with_hkdf_key(kit: Any) -> None:
    blob = wrap_private_key(kit.A_NEW, SECRET)
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"carecred signing key wrap v1"
    ).derive(SECRET.encode())
    der = Fernet(base64.urlsafe_b64encode(derived)).decrypt(blob)
    key = serialization.load_der_private_key(der, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.private_numbers() == kit.A_NEW.private_numbers()


def test_unwrap_with_wrong_secret_raises_typed_error(kit: Any) -> None:
    blob = wrap_private_key(kit.A_NEW, SECRET)
    with pytest.raises(KeyUnwrapError) as info:
        unwrap_private_key(blob, SECRET + "x")
    assert info.value.code == "key_unwrap_failed"
    assert isinstance(info.value, CredentialError)
    message = str(info.value)
    assert SECRET not in message and blob.decode() not in message
    assert "secret" in message


@pytest.mark.parametrize(
    "blob",
    [b"", b"not a fernet token", b"x" * 100_000, "é".encode()],
)
def test_unwrap_corrupted_blob(blob: bytes) -> None:
    with pytest.raises(KeyUnwrapError):
        unwrap_private_key(blob, SECRET)


def test_unwrap_tampered_blob(kit: Any) -> None:
    blob = bytearray(wrap_private_key(kit.A_NEW, SECRET))
    blob[40] = ord("A") if blob[40] != ord("A") else ord("B")
    with pytest.raises(KeyUnwrapError):
        unwrap_private_key(bytes(blob), SECRET)


def test_unwrap_refuses_a_non_p256_key() -> None:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"carecred signing key wrap v1"
    ).derive(SECRET.encode())
    other = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    blob = Fernet(base64.urlsafe_b64encode(derived)).encrypt(other)
    with pytest.raises(KeyUnwrapError):
        unwrap_private_key(blob, SECRET)


def test_empty_secret_is_refused(kit: Any) -> None:
    with pytest.raises(CredentialError) as info:
        wrap_private_key(kit.A_NEW, "")
    assert info.value.code == "no_secret"
