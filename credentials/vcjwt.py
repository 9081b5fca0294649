"""VC-JWT signing (Open Badges 3.0 §8.2), ES256 only.

A signed credential is a JWS in compact serialisation (``header.payload.signature``, each part
base64url without padding):

* protected header, exactly::

      {"alg": "ES256", "typ": "JWT", "kid": "<RFC 7638 thumbprint of the issuer's public key>"}

  No ``jwk``, ``jku``, ``x5u`` or ``x5c`` is ever emitted, and a verifier must never trust one:
  the key is looked up only by ``kid`` in a signed trust list (see :mod:`credentials.trust`).
* payload: the OpenBadgeCredential JSON object itself (see :mod:`credentials.ob3`), plus the
  JWT claims OB 3.0 §8.2 requires:

  ======  =====================================================
  ``iss``  ``issuer.id``
  ``jti``  the credential ``id``
  ``nbf``  ``validFrom`` as a NumericDate (seconds since 1970)
  ``exp``  ``validUntil`` as a NumericDate, only if present
  ======  =====================================================

  There is no ``sub`` (the subject has no ``id``; the learner is identified by
  ``credentialSubject.identifier``) and no legacy ``vc`` claim.
* signature: ECDSA P-256 / SHA-256 in the JOSE ``r || s`` (64-byte) form.

The signed bytes are exactly what is displayed: unlike JSON-LD proofs there is no
canonicalisation step that could drop unsigned fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt as pyjwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from credentials._util import b64url_decode, parse_datetime, strict_json_loads, to_numeric_date
from credentials.errors import UnreadableInput
from credentials.keys import key_thumbprint

__all__ = [
    "MAX_TOKEN_CHARS",
    "ParsedToken",
    "decode_unverified",
    "parse_compact",
    "sign_credential",
    "verify_es256",
]

#: Upper bound on the length of a compact JWS we will sign or read (256 KiB).
MAX_TOKEN_CHARS = 256 * 1024
#: JWT claim names that must not already be present in a credential given to the signer.
_RESERVED_CLAIMS = ("iss", "sub", "aud", "exp", "nbf", "iat", "jti", "vc", "vp")


class SignatureInvalid(Exception):
    """Internal: the JWS signature did not verify (for any reason)."""


@dataclass(frozen=True)
class ParsedToken:
    """A compact JWS split and decoded, **not** verified."""

    token: str
    header: dict[str, Any]
    payload: dict[str, Any]


def _issuer_id(credential: Mapping[str, Any]) -> str:
    issuer = credential.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    if not isinstance(issuer, str) or not issuer:
        raise ValueError("credential has no issuer id")
    return issuer


def sign_credential(credential: Mapping[str, Any], private_key: ec.EllipticCurvePrivateKey) -> str:
    """Sign a credential as an OB 3.0 VC-JWT with ES256; ``kid`` = the key's RFC 7638 thumbprint.

    Raises ``ValueError`` if the credential lacks ``id``/``issuer.id``/``validFrom``, has dates
    that are not RFC 3339 with a timezone, already contains JWT claim names, or would produce a
    token longer than :data:`MAX_TOKEN_CHARS`.
    """
    if not isinstance(credential, Mapping):
        raise TypeError("credential must be a mapping")
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
        private_key.curve, ec.SECP256R1
    ):
        raise TypeError("private_key must be an EC P-256 private key (ES256)")
    clashes = [name for name in _RESERVED_CLAIMS if name in credential]
    if clashes:
        raise ValueError(f"credential already contains JWT claim names: {', '.join(clashes)}")
    credential_id = credential.get("id")
    if not isinstance(credential_id, str) or not credential_id:
        raise ValueError("credential has no id")
    payload: dict[str, Any] = dict(credential)
    payload["iss"] = _issuer_id(credential)
    payload["jti"] = credential_id
    payload["nbf"] = to_numeric_date(parse_datetime(credential.get("validFrom")))
    if "validUntil" in credential:
        payload["exp"] = to_numeric_date(parse_datetime(credential["validUntil"]))

    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    token = pyjwt.PyJWS().encode(
        body,
        private_key,
        algorithm="ES256",
        headers={"alg": "ES256", "typ": "JWT", "kid": key_thumbprint(private_key)},
    )
    if len(token) > MAX_TOKEN_CHARS:
        raise ValueError("credential is too large to sign")
    return token


def parse_compact(token: str) -> ParsedToken:
    """Split and decode a compact JWS without verifying it.

    The header and payload must be canonical base64url of strict JSON objects (no duplicate
    members). The signature part only has to use the base64url alphabet here; its exact form is
    checked when the signature is verified. Raises :class:`UnreadableInput`.
    """
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError as exc:
            raise UnreadableInput("This is not a certificate token.", "not_a_token") from exc
    if not isinstance(token, str):
        raise UnreadableInput("This is not a certificate token.", "not_a_token")
    token = token.strip()
    if len(token) > MAX_TOKEN_CHARS:
        raise UnreadableInput("The certificate token is too large.", "too_large")
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1] or not parts[2]:
        raise UnreadableInput(
            "This is not a certificate token (expected three parts separated by dots).",
            "not_a_token",
        )
    decoded: list[dict[str, Any]] = []
    for part, what in ((parts[0], "header"), (parts[1], "contents")):
        try:
            value = strict_json_loads(b64url_decode(part))
        except ValueError as exc:
            raise UnreadableInput(
                f"The certificate token's {what} cannot be read.", "not_a_token"
            ) from exc
        if not isinstance(value, dict):
            raise UnreadableInput(f"The certificate token's {what} cannot be read.", "not_a_token")
        decoded.append(value)
    if not _B64URL_RE.fullmatch(parts[2]):
        raise UnreadableInput("The certificate token's signature cannot be read.", "not_a_token")
    return ParsedToken(token=token, header=decoded[0], payload=decoded[1])


_B64URL_RE = re.compile(r"[A-Za-z0-9_-]+")


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(header, payload)`` of a compact JWS, **unverified**: for display and debugging only.

    Raises :class:`UnreadableInput` if ``token`` is not a compact JWS with JSON header/payload.
    """
    parsed = parse_compact(token)
    return parsed.header, parsed.payload


def verify_es256(token: str, public_key: ec.EllipticCurvePublicKey) -> None:
    """Verify a compact JWS's ES256 signature (ECDSA P-256 / SHA-256, RFC 7518 §3.4).

    Checks the signature only (no header, no claims: callers check ``alg`` first). The
    signature part must be canonical base64url of exactly 64 bytes (``r || s``); it is converted
    to DER and verified with ``cryptography`` directly, over the exact ASCII bytes of
    ``header.payload``. Raises :class:`SignatureInvalid` on any failure.
    """
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise SignatureInvalid("not a P-256 public key")
    signing_input, _, signature_b64 = token.rpartition(".")
    try:
        signature = b64url_decode(signature_b64)
        message = signing_input.encode("ascii")
    except (ValueError, UnicodeEncodeError) as exc:
        raise SignatureInvalid("signature is not canonical base64url") from exc
    if len(signature) != 64 or signing_input.count(".") != 1:
        raise SignatureInvalid("signature has the wrong length")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public_key.verify(der, message, _ECDSA_SHA256)
    except InvalidSignature as exc:
        raise SignatureInvalid("signature verification failed") from exc


_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
