"""The signed trust list: which issuers, and which of their keys, a verifier trusts.

Offline verification needs the issuers' public keys in advance. They come from a trust list
file (``trust.json``) signed by a long-lived *root* key. The verifier pins only the root key's
RFC 7638 thumbprint (the *anchor*); everything else is checked against it.

File format (UTF-8 JSON, at most 5 MB)::

    {"type": "CareCredTrustList", "version": 1, "token": "<compact JWS>"}

The JWS protected header is::

    {"alg": "ES256", "typ": "trust-list+jwt", "kid": "<root thumbprint>", "jwk": <root public JWK>}

and its payload is::

    {
      "iss": "<trust list name>",
      "iat": <NumericDate the list was issued>,
      "exp": <NumericDate after which the list must not be used>,      (optional)
      "issuers": [
        {"id": "<issuer id, e.g. did:web:... or https://...>",
         "name": "<organisation name shown to users>",
         "url": "<home page>",                                          (optional)
         "keys": [
           {"kid": "<RFC 7638 thumbprint of jwk>",
            "jwk": {"kty": "EC", "crv": "P-256", "x": "...", "y": "..."},
            "validFrom": "YYYY-MM-DDTHH:MM:SSZ",
            "validUntil": "YYYY-MM-DDTHH:MM:SSZ"}                       (optional)
         ]}
      ]
    }

A key's ``validFrom``/``validUntil`` is the window in which it may *sign*: a credential whose
``validFrom`` falls outside it is refused, but credentials signed inside it stay verifiable
after the key is retired. Keep retired keys in the list; remove a key only if it is compromised
(and then every credential it signed stops verifying).

:func:`load_trust_list` checks, in order (each failure raises :class:`TrustListError`):

1. the file is a JSON object of the shape above (``trust_list_malformed``);
2. the header ``jwk`` is a P-256 key whose thumbprint equals the pinned anchor, compared with
   :func:`hmac.compare_digest` (``trust_list_untrusted_root``);
3. the ES256 signature verifies with that key (``trust_list_bad_signature``);
4. ``exp``, if present, is after ``now`` (``trust_list_expired``);
5. the payload is well formed, and every key's ``kid`` equals the thumbprint of its ``jwk``,
   no ``kid`` appears twice and no issuer ``id`` appears twice (``trust_list_malformed``).

The header ``jwk`` is acceptable here (unlike in a credential) only because it is compared with
the pinned anchor before it is used.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import ec

from credentials._util import (
    format_datetime,
    from_numeric_date,
    human_date,
    is_numeric_date,
    parse_datetime,
    require_aware,
    strict_json_loads,
    to_numeric_date,
    truncate_to_seconds,
)
from credentials.errors import CredentialError, TrustListError, UnreadableInput
from credentials.keys import jwk_thumbprint, key_thumbprint, public_jwk, public_key_from_jwk
from credentials.vcjwt import SignatureInvalid, parse_compact, verify_es256

__all__ = [
    "MAX_TRUST_LIST_BYTES",
    "TRUST_LIST_TYPE",
    "TRUST_LIST_TYP",
    "TrustList",
    "TrustedIssuer",
    "TrustedKey",
    "load_trust_list",
    "sign_trust_list",
]

TRUST_LIST_TYPE = "CareCredTrustList"
TRUST_LIST_TYP = "trust-list+jwt"
TRUST_LIST_VERSION = 1
#: Largest trust list file accepted (5 MB).
MAX_TRUST_LIST_BYTES = 5 * 1024 * 1024
_MAX_TEXT = 2048


@dataclass(frozen=True)
class TrustedKey:
    """An issuer's public key and the window in which it may sign credentials."""

    kid: str
    jwk: dict[str, str]
    valid_from: datetime
    valid_until: datetime | None

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return public_key_from_jwk(self.jwk)

    def may_sign_at(self, when: datetime) -> bool:
        """True if ``when`` is within ``[valid_from, valid_until)``.

        The bounds are compared at whole-second precision, the precision of the trust list
        file and of credential dates, so a list used before and after serialisation agrees.
        """
        when = truncate_to_seconds(when)
        if when < truncate_to_seconds(self.valid_from):
            return False
        return self.valid_until is None or when < truncate_to_seconds(self.valid_until)


@dataclass(frozen=True)
class TrustedIssuer:
    """An organisation allowed to issue credentials, with its keys."""

    id: str
    name: str
    keys: tuple[TrustedKey, ...]
    url: str | None = None


@dataclass(frozen=True)
class TrustList:
    """A verified trust list (only :func:`load_trust_list` should make these for verifying)."""

    name: str
    issued_at: datetime
    valid_until: datetime | None
    issuers: tuple[TrustedIssuer, ...]
    root_thumbprint: str

    def find_key(self, kid: str) -> tuple[TrustedIssuer, TrustedKey] | None:
        """The issuer and key whose ``kid`` is exactly ``kid``, or ``None``."""
        if not isinstance(kid, str):
            return None
        for issuer in self.issuers:
            for key in issuer.keys:
                if hmac.compare_digest(key.kid.encode("utf-8"), kid.encode("utf-8")):
                    return issuer, key
        return None


def _malformed(message: str) -> TrustListError:
    return TrustListError(f"The trust list is not valid: {message}", "trust_list_malformed")


def _check_issuers(issuers: Sequence[TrustedIssuer]) -> None:
    """Uniqueness and thumbprint checks shared by signing and loading."""
    seen_ids: set[str] = set()
    seen_kids: set[str] = set()
    for issuer in issuers:
        if issuer.id in seen_ids:
            raise _malformed(f"issuer {issuer.id!r} is listed twice.")
        seen_ids.add(issuer.id)
        for key in issuer.keys:
            try:
                thumbprint = jwk_thumbprint(key.jwk)
                public_key_from_jwk(key.jwk)
            except CredentialError as exc:
                raise _malformed(f"a key of issuer {issuer.id!r} is not a P-256 key.") from exc
            if not hmac.compare_digest(thumbprint.encode(), key.kid.encode()):
                raise _malformed(
                    f"key {key.kid!r} of issuer {issuer.id!r} does not match its thumbprint."
                )
            if key.kid in seen_kids:
                raise _malformed(f"key {key.kid!r} is listed more than once.")
            seen_kids.add(key.kid)
            if key.valid_until is not None and key.valid_until <= key.valid_from:
                raise _malformed(f"key {key.kid!r} has an empty validity window.")


def sign_trust_list(
    name: str,
    issuers: Sequence[TrustedIssuer],
    root_key: ec.EllipticCurvePrivateKey,
    issued_at: datetime,
    valid_until: datetime | None = None,
) -> str:
    """Sign a trust list with the root key; returns the text of a ``trust.json`` file.

    Raises :class:`TrustListError` (``trust_list_malformed``) if a key's ``kid`` is not the
    thumbprint of its ``jwk``, or an issuer or key is listed twice.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name must be a non-empty string")
    require_aware(issued_at, "issued_at")
    issuers = tuple(issuers)
    for issuer in issuers:
        if not isinstance(issuer, TrustedIssuer):
            raise TypeError("issuers must be TrustedIssuer objects")
        for key in issuer.keys:
            require_aware(key.valid_from, "valid_from")
            if key.valid_until is not None:
                require_aware(key.valid_until, "valid_until")
    _check_issuers(issuers)

    payload: dict[str, Any] = {"iss": name, "iat": to_numeric_date(issued_at)}
    if valid_until is not None:
        require_aware(valid_until, "valid_until")
        if valid_until <= issued_at:
            raise ValueError("valid_until must be later than issued_at")
        payload["exp"] = to_numeric_date(valid_until)
    out_issuers: list[dict[str, Any]] = []
    for issuer in issuers:
        entry: dict[str, Any] = {"id": issuer.id, "name": issuer.name}
        if issuer.url is not None:
            entry["url"] = issuer.url
        keys_out: list[dict[str, Any]] = []
        for key in issuer.keys:
            key_entry: dict[str, Any] = {
                "kid": key.kid,
                "jwk": {m: key.jwk[m] for m in ("kty", "crv", "x", "y")},
                "validFrom": format_datetime(key.valid_from),
            }
            if key.valid_until is not None:
                key_entry["validUntil"] = format_datetime(key.valid_until)
            keys_out.append(key_entry)
        entry["keys"] = keys_out
        out_issuers.append(entry)
    payload["issuers"] = out_issuers

    token = pyjwt.encode(
        payload,
        root_key,
        algorithm="ES256",
        headers={
            "alg": "ES256",
            "typ": TRUST_LIST_TYP,
            "kid": key_thumbprint(root_key),
            "jwk": public_jwk(root_key),
        },
    )
    document = {"type": TRUST_LIST_TYPE, "version": TRUST_LIST_VERSION, "token": token}
    text = json.dumps(document, indent=2) + "\n"
    if len(text.encode("utf-8")) > MAX_TRUST_LIST_BYTES:
        raise ValueError("trust list is too large")
    return text


def _str(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_TEXT:
        raise _malformed(f"{what} is missing or not text.")
    return value


def _opt_str(value: object, what: str) -> str | None:
    return None if value is None else _str(value, what)


def _date(value: object, what: str) -> datetime:
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise _malformed(f"{what} is not a date-time.") from exc


def _parse_issuers(raw: object) -> tuple[TrustedIssuer, ...]:
    if not isinstance(raw, list):
        raise _malformed("'issuers' is not a list.")
    issuers: list[TrustedIssuer] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _malformed(f"issuer #{i + 1} is not an object.")
        issuer_id = _str(item.get("id"), f"issuer #{i + 1} id")
        name = _str(item.get("name"), f"issuer {issuer_id!r} name")
        url = _opt_str(item.get("url"), f"issuer {issuer_id!r} url")
        raw_keys = item.get("keys")
        if not isinstance(raw_keys, list):
            raise _malformed(f"issuer {issuer_id!r} has no 'keys' list.")
        keys: list[TrustedKey] = []
        for j, raw_key in enumerate(raw_keys):
            where = f"key #{j + 1} of issuer {issuer_id!r}"
            if not isinstance(raw_key, dict):
                raise _malformed(f"{where} is not an object.")
            kid = _str(raw_key.get("kid"), f"{where} kid")
            jwk = raw_key.get("jwk")
            if not isinstance(jwk, dict) or not all(isinstance(v, str) for v in jwk.values()):
                raise _malformed(f"{where} has no valid 'jwk'.")
            if "d" in jwk:
                raise _malformed(f"{where} contains private key material.")
            valid_from = _date(raw_key.get("validFrom"), f"{where} validFrom")
            valid_until = (
                _date(raw_key["validUntil"], f"{where} validUntil")
                if raw_key.get("validUntil") is not None
                else None
            )
            keys.append(
                TrustedKey(kid=kid, jwk=dict(jwk), valid_from=valid_from, valid_until=valid_until)
            )
        issuers.append(TrustedIssuer(id=issuer_id, name=name, keys=tuple(keys), url=url))
    result = tuple(issuers)
    _check_issuers(result)
    # Store only the public members, normalised.
    return tuple(
        TrustedIssuer(
            id=iss.id,
            name=iss.name,
            url=iss.url,
            keys=tuple(
                TrustedKey(
                    kid=k.kid,
                    jwk={m: k.jwk[m] for m in ("kty", "crv", "x", "y")},
                    valid_from=k.valid_from,
                    valid_until=k.valid_until,
                )
                for k in iss.keys
            ),
        )
        for iss in result
    )


def load_trust_list(text: str | bytes, anchor: str, now: datetime) -> TrustList:
    """Parse and verify a ``trust.json`` file against the pinned root thumbprint ``anchor``.

    See the module docstring for the checks. Raises :class:`TrustListError`.
    """
    require_aware(now, "now")
    if isinstance(text, str):
        data = text.encode("utf-8", errors="replace")
    elif isinstance(text, bytes | bytearray):
        data = bytes(text)
    else:
        raise TypeError("text must be str or bytes")
    if len(data) > MAX_TRUST_LIST_BYTES:
        raise _malformed("the file is larger than 5 MB.")
    try:
        document = strict_json_loads(data.removeprefix(b"\xef\xbb\xbf"))
    except ValueError as exc:
        raise _malformed("the file is not JSON.") from exc
    if (
        not isinstance(document, dict)
        or document.get("type") != TRUST_LIST_TYPE
        or document.get("version") != TRUST_LIST_VERSION
        or isinstance(document.get("version"), bool)
        or not isinstance(document.get("token"), str)
    ):
        raise _malformed(f"the file is not a version {TRUST_LIST_VERSION} {TRUST_LIST_TYPE}.")
    try:
        parsed = parse_compact(document["token"])
    except UnreadableInput as exc:
        raise _malformed("its signed token cannot be read.") from exc
    header = parsed.header
    if header.get("alg") != "ES256":
        raise _malformed("it is not signed with ES256.")
    if header.get("typ") != TRUST_LIST_TYP:
        raise _malformed(f"its token type is not {TRUST_LIST_TYP!r}.")
    if "crit" in header or "b64" in header:
        raise _malformed("its token uses unsupported header parameters.")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict) or not all(isinstance(v, str) for v in jwk.values()):
        raise _malformed("its token does not carry the root public key.")
    try:
        root_public = public_key_from_jwk(jwk)
        thumbprint = jwk_thumbprint(jwk)
    except CredentialError as exc:
        raise _malformed("its root key is not a P-256 public key.") from exc

    if not isinstance(anchor, str) or not hmac.compare_digest(
        thumbprint.encode("ascii"), anchor.strip().encode("utf-8")
    ):
        raise TrustListError(
            "The trust list was not signed by the trusted root key (the anchor does not match).",
            "trust_list_untrusted_root",
        )
    try:
        verify_es256(parsed.token, root_public)
    except SignatureInvalid as exc:
        raise TrustListError(
            "The trust list has been changed since it was signed, so it cannot be used.",
            "trust_list_bad_signature",
        ) from exc
    if header.get("kid") != thumbprint:
        raise _malformed("its key id does not match its root key.")

    payload = parsed.payload
    iat = payload.get("iat")
    if not is_numeric_date(iat):
        raise _malformed("it has no issue date.")
    exp = payload.get("exp")
    valid_until: datetime | None = None
    if exp is not None:
        if not is_numeric_date(exp):
            raise _malformed("its expiry date is not a date.")
        try:
            valid_until = from_numeric_date(exp)
        except ValueError as exc:
            raise _malformed("its expiry date is out of range.") from exc
        if now >= valid_until:
            raise TrustListError(
                f"The trust list expired on {human_date(valid_until)}; "
                "get the current trust list and try again.",
                "trust_list_expired",
            )
    try:
        issued_at = from_numeric_date(iat)
    except ValueError as exc:
        raise _malformed("its issue date is out of range.") from exc
    name = _str(payload.get("iss"), "the trust list name")
    issuers = _parse_issuers(payload.get("issuers"))
    return TrustList(
        name=name,
        issued_at=issued_at,
        valid_until=valid_until,
        issuers=issuers,
        root_thumbprint=thumbprint,
    )
