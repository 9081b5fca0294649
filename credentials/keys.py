"""Signing keys: generation, public JWKs, RFC 7638 thumbprints and wrapping at rest.

Only ECDSA on P-256 (JOSE ``ES256``) is supported, everywhere.

Public JWK format (RFC 7517/7518)::

    {"kty": "EC", "crv": "P-256", "x": "<32 bytes, base64url>", "y": "<32 bytes, base64url>"}

Thumbprints follow RFC 7638: SHA-256 over the JSON object of the required members ``crv``,
``kty``, ``x``, ``y`` in lexicographic order with no whitespace, base64url without padding.
The thumbprint is used as the ``kid`` of issuer keys and as the pinned "anchor" of the trust
list's root key.

Wrapped private keys (for storage in a database or file) are Fernet tokens (AES-128-CBC +
HMAC-SHA256, see the ``cryptography`` docs) over the PKCS#8 DER encoding of the key. The Fernet
key is derived from a key-encryption secret held in configuration with
HKDF-SHA256(salt=none, info=b"carecred signing key wrap v1", length=32). HKDF is not a password
hash: the secret must be a long random value (e.g. ``secrets.token_urlsafe(32)``), not a
memorable password.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from credentials._util import b64url_decode, b64url_encode
from credentials.errors import CredentialError, KeyUnwrapError

__all__ = [
    "WRAP_INFO",
    "generate_signing_key",
    "jwk_thumbprint",
    "key_thumbprint",
    "public_jwk",
    "public_key_from_jwk",
    "unwrap_private_key",
    "wrap_private_key",
]

WRAP_INFO = b"carecred signing key wrap v1"
_COORD_BYTES = 32  # P-256
_MAX_WRAPPED_BYTES = 16 * 1024
_MAX_JWK_MEMBER_CHARS = 1024

AnyECKey = ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey


def generate_signing_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def _public(key: AnyECKey) -> ec.EllipticCurvePublicKey:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        key = key.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise CredentialError("Only P-256 (ES256) elliptic-curve keys are supported.", "bad_key")
    return key


def public_jwk(key: AnyECKey) -> dict[str, str]:
    """The public JWK (``kty``, ``crv``, ``x``, ``y`` only) of a P-256 key."""
    numbers = _public(key).public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(_COORD_BYTES, "big")),
        "y": b64url_encode(numbers.y.to_bytes(_COORD_BYTES, "big")),
    }


def _required_ec_members(jwk: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(jwk, Mapping):
        raise CredentialError("The key is not a JSON Web Key object.", "bad_key")
    members: dict[str, str] = {}
    for name in ("crv", "kty", "x", "y"):
        value = jwk.get(name)
        if not isinstance(value, str) or not value or len(value) > _MAX_JWK_MEMBER_CHARS:
            raise CredentialError(
                f"The key is not a valid P-256 JSON Web Key (member {name!r} is missing).",
                "bad_key",
            )
        members[name] = value
    if members["kty"] != "EC" or members["crv"] != "P-256":
        raise CredentialError("Only P-256 (ES256) elliptic-curve keys are supported.", "bad_key")
    return members


def jwk_thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url without padding) of an EC P-256 JWK."""
    members = _required_ec_members(jwk)
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def key_thumbprint(key: AnyECKey) -> str:
    """RFC 7638 thumbprint of a key's public JWK (the ``kid`` we use)."""
    return jwk_thumbprint(public_jwk(key))


def public_key_from_jwk(jwk: Mapping[str, str]) -> ec.EllipticCurvePublicKey:
    """Load a public P-256 key from a JWK, refusing anything else (code ``bad_key``).

    Refuses other key types and curves, JWKs carrying private key material (``d``),
    non-canonical or wrong-length coordinates, and points that are not on the curve.
    """
    members = _required_ec_members(jwk)
    if "d" in jwk:
        raise CredentialError(
            "A public key was expected but private key material was given.", "bad_key"
        )
    try:
        x = b64url_decode(members["x"])
        y = b64url_decode(members["y"])
    except ValueError as exc:
        raise CredentialError("The key's coordinates are not valid base64url.", "bad_key") from exc
    if len(x) != _COORD_BYTES or len(y) != _COORD_BYTES:
        raise CredentialError("The key's coordinates have the wrong length for P-256.", "bad_key")
    try:
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
        ).public_key()
    except ValueError as exc:
        raise CredentialError("The key is not a point on the P-256 curve.", "bad_key") from exc


def _fernet(secret: str) -> Fernet:
    if not isinstance(secret, str) or not secret:
        raise CredentialError("The key-encryption secret is not configured.", "no_secret")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=WRAP_INFO).derive(
        secret.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def wrap_private_key(key: ec.EllipticCurvePrivateKey, secret: str) -> bytes:
    """Encrypt a P-256 private key for storage; returns a Fernet token (ASCII bytes)."""
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise CredentialError("Only P-256 (ES256) private keys can be wrapped.", "bad_key")
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return _fernet(secret).encrypt(der)


def unwrap_private_key(blob: bytes | str, secret: str) -> ec.EllipticCurvePrivateKey:
    """Decrypt a key made by :func:`wrap_private_key`.

    Raises :class:`KeyUnwrapError` if the secret is wrong or the blob is corrupted or not a
    P-256 private key. The message never includes the secret or the blob.
    """
    if isinstance(blob, str):
        blob = blob.encode("ascii", errors="replace")
    if not isinstance(blob, bytes) or not blob or len(blob) > _MAX_WRAPPED_BYTES:
        raise KeyUnwrapError("The stored signing key is missing or corrupted.")
    fernet = _fernet(secret)
    try:
        der = fernet.decrypt(blob.strip())
    except InvalidToken as exc:
        raise KeyUnwrapError(
            "The stored signing key could not be decrypted: the key-encryption secret is wrong "
            "or the stored key is corrupted."
        ) from exc
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyUnwrapError("The stored signing key is corrupted.") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyUnwrapError("The stored signing key is not a P-256 (ES256) key.")
    return key
