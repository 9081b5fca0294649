"""The signed trust list: which issuers, and which of their keys, a verifier trusts.

Offline verification needs the issuers' public keys in advance. They come from a trust list
file (``trust.json``) signed by a long-lived *root* key. The verifier pins only the root key's
RFC 7638 thumbprint (the *anchor*); everything else is checked against it.

File format (UTF-8 JSON, at most 5 MB)::

    {"type": "CareCredTrustList", "version": 1 | 2, "token": "<compact JWS>"}

The JWS protected header is::

    {"alg": "ES256", "typ": "trust-list+jwt" (version 1) | "trust-list-v2+jwt" (version 2),
     "kid": "<root thumbprint>", "jwk": <root public JWK>}

and its payload is::

    {
      "iss": "<trust list name>",
      "iat": <NumericDate the list was issued>,
      "exp": <NumericDate after which the list must not be used>,      (optional)
      "issuers": [
        {"id": "<issuer id, e.g. did:web:... or https://...>",
         "name": "<organisation name shown to users>",
         "url": "<home page>",                                          (optional)
         "otherIdentifiers": [{"name": "CQC provider ID",               (v2, optional)
                               "value": "1-123456789"}],
         "statusLists": [{"revocation": "<list url>",                   (v2, optional)
                          "suspension": "<list url>"}],                 (optional)
         "keys": [
           {"kid": "<RFC 7638 thumbprint of jwk>",
            "jwk": {"kty": "EC", "crv": "P-256", "x": "...", "y": "..."},
            "validFrom": "YYYY-MM-DDTHH:MM:SSZ",
            "validUntil": "YYYY-MM-DDTHH:MM:SSZ",                       (optional)
            "compromisedAt": "YYYY-MM-DDTHH:MM:SSZ"}                    (v2, optional)
         ]}
      ],
      "statusListCredentials": ["<signed status list VC-JWT>", ...]     (v2, optional)
    }

:func:`sign_trust_list` writes version 1, exactly as before, unless a version 2 feature is
used. Version 2 has its own ``typ``, which is inside the signature, so a version 1 verifier
refuses a version 2 list instead of silently ignoring, say, a key marked compromised (changing
the unsigned ``version`` member does not help an attacker). Version 1 files still load.

A key's ``validFrom``/``validUntil`` is the window in which it may *sign*: a credential whose
``validFrom`` falls outside it is refused, but credentials signed inside it stay verifiable
after the key is retired. Keep retired keys in the list. If a key leaks, set its
``compromisedAt``: credentials and status lists whose ``validFrom`` (= ``nbf``) is at or after
that moment are refused (``key_compromised``); those signed earlier still verify. (Removing the
key instead stops everything it ever signed from verifying.)

``statusLists`` declares each issuer's Bitstring Status Lists (see :mod:`credentials.status`):
a credential names only its revocation list, and the pair says which suspension list uses the
same indexes. A status list is only accepted for the issuer that declares its URL here.
``statusListCredentials`` staples the current signed status lists, so a verifier that has the
trust list can check revocation offline.

:func:`load_trust_list` checks, in order (each failure raises :class:`TrustListError`):

1. the file is a JSON object of the shape above (``trust_list_malformed``);
2. the header ``jwk`` is a P-256 key whose thumbprint equals the pinned anchor, compared with
   :func:`hmac.compare_digest` (``trust_list_untrusted_root``);
3. the ES256 signature verifies with that key (``trust_list_bad_signature``);
4. ``exp``, if present, is after ``now`` (``trust_list_expired``);
5. the payload is well formed, and every key's ``kid`` equals the thumbprint of its ``jwk``,
   no ``kid`` appears twice, no issuer ``id`` appears twice and no status list URL is declared
   twice (``trust_list_malformed``);
6. every stapled status list verifies against the list itself
   (:func:`credentials.status.load_status_list`); one that does not makes the whole list
   ``trust_list_malformed``.

The header ``jwk`` is acceptable here (unlike in a credential) only because it is compared with
the pinned anchor before it is used.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
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
from credentials.status import (
    StatusList,
    StatusListError,
    is_status_list_url,
    load_status_list,
)
from credentials.vcjwt import SignatureInvalid, parse_compact, verify_es256

__all__ = [
    "MAX_STAPLED_STATUS_LISTS",
    "MAX_TRUST_LIST_BYTES",
    "TRUST_LIST_TYP",
    "TRUST_LIST_TYPE",
    "TRUST_LIST_TYP_V2",
    "StatusListPair",
    "TrustList",
    "TrustedIssuer",
    "TrustedKey",
    "load_trust_list",
    "sign_trust_list",
]

TRUST_LIST_TYPE = "CareCredTrustList"
TRUST_LIST_TYP = "trust-list+jwt"
TRUST_LIST_TYP_V2 = "trust-list-v2+jwt"
TRUST_LIST_VERSION = 1
_TYP_BY_VERSION = {1: TRUST_LIST_TYP, 2: TRUST_LIST_TYP_V2}
#: Largest trust list file accepted (5 MB).
MAX_TRUST_LIST_BYTES = 5 * 1024 * 1024
#: Most status lists one trust list may staple.
MAX_STAPLED_STATUS_LISTS = 1000
#: Cap on the decompressed size of all stapled status lists together (32 MB).
MAX_STAPLED_STATUS_BYTES = 32 * 1024 * 1024
_MAX_TEXT = 2048
_MAX_IDENTIFIERS = 20
_MAX_PAIRS = 100


@dataclass(frozen=True)
class TrustedKey:
    """An issuer's public key, the window in which it may sign, and when it leaked (if it did)."""

    kid: str
    jwk: dict[str, str]
    valid_from: datetime
    valid_until: datetime | None
    compromised_at: datetime | None = None

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

    def is_compromised_at(self, when: datetime) -> bool:
        """True if the key was marked compromised at or before ``when`` (whole seconds)."""
        if self.compromised_at is None:
            return False
        return truncate_to_seconds(when) >= truncate_to_seconds(self.compromised_at)


@dataclass(frozen=True)
class StatusListPair:
    """An issuer's revocation list and the suspension list that uses the same indexes."""

    revocation: str
    suspension: str | None = None


@dataclass(frozen=True)
class TrustedIssuer:
    """An organisation allowed to issue credentials, with its keys.

    ``other_identifiers`` are ``(name, value)`` pairs shown by the verifier, e.g.
    ``("CQC provider ID", "1-123456789")``.
    """

    id: str
    name: str
    keys: tuple[TrustedKey, ...]
    url: str | None = None
    status_lists: tuple[StatusListPair, ...] = ()
    other_identifiers: tuple[tuple[str, str], ...] = ()


_Found = tuple[TrustedIssuer, TrustedKey]


@dataclass(frozen=True)
class TrustList:
    """A verified trust list (only :func:`load_trust_list` should make these for verifying).

    ``status_lists`` maps a status list URL to the verified list stapled to the trust list.
    Public keys are parsed once per ``kid`` and cached.
    """

    name: str
    issued_at: datetime
    valid_until: datetime | None
    issuers: tuple[TrustedIssuer, ...]
    root_thumbprint: str
    status_lists: Mapping[str, StatusList] = field(default_factory=dict, hash=False)
    _by_kid: dict[str, _Found] = field(init=False, repr=False, compare=False, hash=False)
    _public_keys: dict[str, ec.EllipticCurvePublicKey] = field(
        init=False, repr=False, compare=False, hash=False
    )
    _declared: dict[tuple[str, str], str] = field(init=False, repr=False, compare=False, hash=False)
    _pairs: dict[tuple[str, str], StatusListPair] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        by_kid: dict[str, _Found] = {}
        declared: dict[tuple[str, str], str] = {}
        pairs: dict[tuple[str, str], StatusListPair] = {}
        for issuer in self.issuers:
            for key in issuer.keys:
                by_kid.setdefault(key.kid, (issuer, key))
            for pair in issuer.status_lists:
                declared[(issuer.id, pair.revocation)] = "revocation"
                pairs[(issuer.id, pair.revocation)] = pair
                if pair.suspension is not None:
                    declared[(issuer.id, pair.suspension)] = "suspension"
        object.__setattr__(self, "_by_kid", by_kid)
        object.__setattr__(self, "_public_keys", {})
        object.__setattr__(self, "_declared", declared)
        object.__setattr__(self, "_pairs", pairs)

    def find_key(self, kid: str) -> tuple[TrustedIssuer, TrustedKey] | None:
        """The issuer and key whose ``kid`` is exactly ``kid``, or ``None``."""
        if not isinstance(kid, str):
            return None
        return self._by_kid.get(kid)

    def _lookup(
        self, kid: str
    ) -> tuple[TrustedIssuer, TrustedKey, ec.EllipticCurvePublicKey] | None:
        """Like :meth:`find_key`, with the parsed public key (cached); ``None`` if unusable."""
        found = self._by_kid.get(kid) if isinstance(kid, str) else None
        if found is None:
            return None
        public_key = self._public_keys.get(kid)
        if public_key is None:
            try:
                public_key = found[1].public_key()
            except CredentialError:
                return None
            self._public_keys[kid] = public_key
        return found[0], found[1], public_key

    def declares_status_list(self, issuer_id: str, url: str, purpose: str) -> bool:
        """True if issuer ``issuer_id`` declares ``url`` as its ``purpose`` status list."""
        return self._declared.get((issuer_id, url)) == purpose

    def status_pair(self, issuer_id: str, revocation_url: str) -> StatusListPair | None:
        """The declared pair whose revocation list is ``revocation_url``, or ``None``."""
        return self._pairs.get((issuer_id, revocation_url))


def _malformed(message: str) -> TrustListError:
    return TrustListError(f"The trust list is not valid: {message}", "trust_list_malformed")


def _check_issuers(issuers: Sequence[TrustedIssuer]) -> None:
    """Uniqueness and thumbprint checks shared by signing and loading."""
    seen_ids: set[str] = set()
    seen_kids: set[str] = set()
    seen_urls: set[str] = set()
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
        for pair in issuer.status_lists:
            if not isinstance(pair, StatusListPair):
                raise _malformed(f"issuer {issuer.id!r} has a status list that is not a pair.")
            for url in (pair.revocation, pair.suspension):
                if url is None:
                    continue
                if not is_status_list_url(url):
                    raise _malformed(f"status list {url!r} is not an absolute URL.")
                if url in seen_urls:
                    raise _malformed(f"status list {url!r} is declared more than once.")
                seen_urls.add(url)
        for item in issuer.other_identifiers:
            if (
                not isinstance(item, tuple)
                or len(item) != 2
                or not all(isinstance(v, str) and v.strip() and len(v) <= 500 for v in item)
            ):
                raise _malformed(f"an identifier of issuer {issuer.id!r} is not a (name, value).")


def _uses_v2(issuers: Sequence[TrustedIssuer], stapled: Sequence[str]) -> bool:
    return bool(stapled) or any(
        issuer.status_lists
        or issuer.other_identifiers
        or any(key.compromised_at is not None for key in issuer.keys)
        for issuer in issuers
    )


def sign_trust_list(
    name: str,
    issuers: Sequence[TrustedIssuer],
    root_key: ec.EllipticCurvePrivateKey,
    issued_at: datetime,
    valid_until: datetime | None = None,
    *,
    status_list_tokens: Sequence[str] = (),
) -> str:
    """Sign a trust list with the root key; returns the text of a ``trust.json`` file.

    ``status_list_tokens`` (signed status lists, see :func:`credentials.status.sign_status_list`)
    are stapled into the list; each must verify against the issuers given here.

    Raises :class:`TrustListError` (``trust_list_malformed``) if a key's ``kid`` is not the
    thumbprint of its ``jwk``, an issuer, key or status list URL is listed twice, or a stapled
    status list does not verify.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name must be a non-empty string")
    require_aware(issued_at, "issued_at")
    issuers = tuple(issuers)
    if isinstance(status_list_tokens, str):
        raise TypeError("status_list_tokens must be a sequence of tokens, not one string")
    stapled = tuple(status_list_tokens)
    for issuer in issuers:
        if not isinstance(issuer, TrustedIssuer):
            raise TypeError("issuers must be TrustedIssuer objects")
        for key in issuer.keys:
            require_aware(key.valid_from, "valid_from")
            if key.valid_until is not None:
                require_aware(key.valid_until, "valid_until")
            if key.compromised_at is not None:
                require_aware(key.compromised_at, "compromised_at")
    _check_issuers(issuers)
    version = 2 if _uses_v2(issuers, stapled) else 1

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
        if issuer.other_identifiers:
            entry["otherIdentifiers"] = [
                {"name": n, "value": v} for n, v in issuer.other_identifiers
            ]
        if issuer.status_lists:
            entry["statusLists"] = [
                {"revocation": pair.revocation}
                | ({"suspension": pair.suspension} if pair.suspension is not None else {})
                for pair in issuer.status_lists
            ]
        keys_out: list[dict[str, Any]] = []
        for key in issuer.keys:
            key_entry: dict[str, Any] = {
                "kid": key.kid,
                "jwk": {m: key.jwk[m] for m in ("kty", "crv", "x", "y")},
                "validFrom": format_datetime(key.valid_from),
            }
            if key.valid_until is not None:
                key_entry["validUntil"] = format_datetime(key.valid_until)
            if key.compromised_at is not None:
                key_entry["compromisedAt"] = format_datetime(key.compromised_at)
            keys_out.append(key_entry)
        entry["keys"] = keys_out
        out_issuers.append(entry)
    payload["issuers"] = out_issuers

    if stapled:
        if len(stapled) > MAX_STAPLED_STATUS_LISTS:
            raise _malformed(f"more than {MAX_STAPLED_STATUS_LISTS} status lists are stapled.")
        draft = TrustList(
            name=name,
            issued_at=issued_at,
            valid_until=valid_until,
            issuers=issuers,
            root_thumbprint=key_thumbprint(root_key),
        )
        _verify_stapled(stapled, draft, issued_at)
        payload["statusListCredentials"] = list(stapled)

    token = pyjwt.encode(
        payload,
        root_key,
        algorithm="ES256",
        headers={
            "alg": "ES256",
            "typ": _TYP_BY_VERSION[version],
            "kid": key_thumbprint(root_key),
            "jwk": public_jwk(root_key),
        },
    )
    document = {"type": TRUST_LIST_TYPE, "version": version, "token": token}
    text = json.dumps(document, indent=2) + "\n"
    if len(text.encode("utf-8")) > MAX_TRUST_LIST_BYTES:
        raise ValueError("trust list is too large")
    return text


def _verify_stapled(
    tokens: Sequence[object], trust: TrustList, now: datetime
) -> dict[str, StatusList]:
    lists: dict[str, StatusList] = {}
    total = 0
    for i, token in enumerate(tokens, start=1):
        if not isinstance(token, str):
            raise _malformed(f"stapled status list #{i} is not a token.")
        try:
            status_list = load_status_list(token, trust, now)
        except StatusListError as exc:
            raise _malformed(
                f"stapled status list #{i} cannot be verified ({exc.code}): {exc}"
            ) from exc
        if status_list.url in lists:
            raise _malformed(f"status list {status_list.url!r} is stapled twice.")
        total += status_list.bits.size // 8
        if total > MAX_STAPLED_STATUS_BYTES:
            raise _malformed("its stapled status lists are too large.")
        lists[status_list.url] = status_list
    return lists


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


_V2_ISSUER_MEMBERS = ("otherIdentifiers", "statusLists")


def _parse_pairs(raw: object, issuer_id: str) -> tuple[StatusListPair, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > _MAX_PAIRS:
        raise _malformed(f"issuer {issuer_id!r} 'statusLists' is not a list.")
    pairs: list[StatusListPair] = []
    for item in raw:
        if not isinstance(item, dict) or not set(item) <= {"revocation", "suspension"}:
            raise _malformed(f"issuer {issuer_id!r} has a status list entry of the wrong shape.")
        pairs.append(
            StatusListPair(
                revocation=_str(item.get("revocation"), f"issuer {issuer_id!r} revocation list"),
                suspension=_opt_str(
                    item.get("suspension"), f"issuer {issuer_id!r} suspension list"
                ),
            )
        )
    return tuple(pairs)


def _parse_identifiers(raw: object, issuer_id: str) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > _MAX_IDENTIFIERS:
        raise _malformed(f"issuer {issuer_id!r} 'otherIdentifiers' is not a list.")
    out: list[tuple[str, str]] = []
    for item in raw:
        if not isinstance(item, dict):
            raise _malformed(f"issuer {issuer_id!r} has an identifier that is not an object.")
        out.append(
            (
                _str(item.get("name"), f"issuer {issuer_id!r} identifier name"),
                _str(item.get("value"), f"issuer {issuer_id!r} identifier value"),
            )
        )
    return tuple(out)


def _parse_issuers(raw: object, version: int) -> tuple[TrustedIssuer, ...]:
    if not isinstance(raw, list):
        raise _malformed("'issuers' is not a list.")
    issuers: list[TrustedIssuer] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _malformed(f"issuer #{i + 1} is not an object.")
        issuer_id = _str(item.get("id"), f"issuer #{i + 1} id")
        name = _str(item.get("name"), f"issuer {issuer_id!r} name")
        url = _opt_str(item.get("url"), f"issuer {issuer_id!r} url")
        if version < 2 and any(m in item for m in _V2_ISSUER_MEMBERS):
            raise _malformed("a version 1 list uses version 2 members.")
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
            if version < 2 and "compromisedAt" in raw_key:
                raise _malformed("a version 1 list uses version 2 members.")
            compromised_at = (
                _date(raw_key["compromisedAt"], f"{where} compromisedAt")
                if raw_key.get("compromisedAt") is not None
                else None
            )
            keys.append(
                TrustedKey(
                    kid=kid,
                    jwk={m: jwk[m] for m in ("kty", "crv", "x", "y") if m in jwk},
                    valid_from=valid_from,
                    valid_until=valid_until,
                    compromised_at=compromised_at,
                )
            )
        issuers.append(
            TrustedIssuer(
                id=issuer_id,
                name=name,
                keys=tuple(keys),
                url=url,
                status_lists=_parse_pairs(item.get("statusLists"), issuer_id),
                other_identifiers=_parse_identifiers(item.get("otherIdentifiers"), issuer_id),
            )
        )
    result = tuple(issuers)
    _check_issuers(result)
    return result


def load_trust_list(text: str | bytes, anchor: str, now: datetime) -> TrustList:
    """Parse and verify a ``trust.json`` file against the pinned root thumbprint ``anchor``.

    Accepts version 1 and version 2 files. See the module docstring for the checks. Raises
    :class:`TrustListError`.
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
    version = document.get("version") if isinstance(document, dict) else None
    if (
        not isinstance(document, dict)
        or document.get("type") != TRUST_LIST_TYPE
        or not isinstance(version, int)
        or isinstance(version, bool)
        or version not in _TYP_BY_VERSION
        or not isinstance(document.get("token"), str)
    ):
        raise _malformed(f"the file is not a version 1 or 2 {TRUST_LIST_TYPE}.")
    try:
        parsed = parse_compact(document["token"])
    except UnreadableInput as exc:
        raise _malformed("its signed token cannot be read.") from exc
    header = parsed.header
    if header.get("alg") != "ES256":
        raise _malformed("it is not signed with ES256.")
    expected_typ = _TYP_BY_VERSION[version]
    if header.get("typ") != expected_typ:
        raise _malformed(f"its token type is not {expected_typ!r}.")
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
    issuers = _parse_issuers(payload.get("issuers"), version)
    trust = TrustList(
        name=name,
        issued_at=issued_at,
        valid_until=valid_until,
        issuers=issuers,
        root_thumbprint=thumbprint,
    )
    raw_stapled = payload.get("statusListCredentials")
    if raw_stapled is None:
        return trust
    if version < 2:
        raise _malformed("a version 1 list uses version 2 members.")
    if not isinstance(raw_stapled, list) or len(raw_stapled) > MAX_STAPLED_STATUS_LISTS:
        raise _malformed("'statusListCredentials' is not a list of tokens.")
    return replace(trust, status_lists=_verify_stapled(raw_stapled, trust, now))
