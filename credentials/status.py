"""Revocation and suspension: W3C Bitstring Status List v1.0, signed and checked offline.

A *status list* is one long string of bits, one per credential, published by the issuer as a
signed credential of its own. Bit ``i`` set means the credential whose status entry names index
``i`` is revoked (or suspended). Because the list is itself signed, it can be cached and handed
over with the certificate ("stapled"), so a new employer can check it with no network.

Credential side (the ``credentialStatus`` member of an OpenBadgeCredential; see
:func:`status_entry`)::

    {"id": "<list url>#<index>", "type": "BitstringStatusListEntry",
     "statusPurpose": "revocation", "statusListIndex": "<index>",
     "statusListCredential": "<list url>"}

The OB 3.0 JSON Schema allows only one ``credentialStatus`` object, so a credential names only
its *revocation* list. Each issuer also keeps a *suspension* list with the same indexes; the
signed trust list declares which suspension list pairs with which revocation list
(``"statusLists": [{"revocation": url, "suspension": url}]``), and a verifier that knows the
pair checks both bits at the credential's index.

List side (:func:`build_status_list_credential`, a VCDM 2.0 credential)::

    {"@context": ["https://www.w3.org/ns/credentials/v2"],
     "id": "<list url>",
     "type": ["VerifiableCredential", "BitstringStatusListCredential"],
     "issuer": "<issuer id>",
     "validFrom": "YYYY-MM-DDTHH:MM:SSZ", "validUntil": "YYYY-MM-DDTHH:MM:SSZ",
     "credentialSubject": {"id": "<list url>#list", "type": "BitstringStatusList",
                           "statusPurpose": "revocation" | "suspension",
                           "encodedList": "u<base64url, no padding, of the GZIP-compressed bits>"}}

signed exactly like a credential (:func:`sign_status_list`): a VC-JWT with header
``{"alg": "ES256", "typ": "JWT", "kid": <thumbprint>}`` and the claims ``iss`` (issuer),
``jti`` (list url), ``nbf`` (``validFrom``) and ``exp`` (``validUntil``).

Bit order follows the specification: index 0 is the left-most (most significant) bit of the
first byte. Lists shorter than :data:`MIN_ENTRIES` (131,072 bits, 16 KB) are refused
(``status_list_length_error``, the specification's ``STATUS_LIST_LENGTH_ERROR``), because short
lists reveal too much about who is being checked.

:func:`load_status_list` checks, in order (each failure raises :class:`StatusListError`):

=============================  ==============================================================
``status_list_malformed``      not a compact JWS with JSON parts; header ``typ``/``crit``;
                               contents not a status list credential of the shape above
``status_list_unsupported_algorithm``  header ``alg`` is not exactly ``ES256``
``status_list_unknown_key``    header ``kid`` names no key in the trust list
``status_list_bad_signature``  the ES256 signature does not verify
``status_list_claims_mismatch``  ``iss``/``jti``/``nbf``/``exp`` disagree with the contents
``status_list_issuer_mismatch``  the key belongs to another issuer than the list names
``status_list_not_declared``   the trust list does not declare this url (with this purpose)
                               for that issuer
``status_list_key_not_valid``  ``validFrom`` is outside the key's signing window
``status_list_key_compromised``  ``validFrom`` (= ``nbf``) is at or after the moment the key
                               was marked compromised
``status_list_too_large``      ``encodedList`` over 1 MB, or more than 2 MB once decompressed
``status_list_length_error``   fewer than :data:`MIN_ENTRIES` bits
=============================  ==============================================================

The age of a list is not a reason to refuse it: how old is too old is the verifier's policy,
reported as a warning by :func:`credentials.verify.verify_token` (``max_status_age``).
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec

from credentials._util import (
    b64url_decode,
    b64url_encode,
    format_datetime,
    is_numeric_date,
    parse_datetime,
    require_aware,
    to_numeric_date,
    truncate_to_seconds,
)
from credentials.errors import CredentialError, UnreadableInput
from credentials.ob3 import VC2_CONTEXT, IssuerProfile
from credentials.vcjwt import SignatureInvalid, parse_compact, sign_credential, verify_es256

if TYPE_CHECKING:
    from credentials.trust import TrustList

__all__ = [
    "MAX_DECODED_BYTES",
    "MAX_ENCODED_CHARS",
    "MIN_ENTRIES",
    "STATUS_PURPOSES",
    "StatusBits",
    "StatusList",
    "StatusListError",
    "build_status_list_credential",
    "is_status_list_url",
    "load_status_list",
    "sign_status_list",
    "status_entry",
]

#: Smallest list accepted or built: 131,072 entries (16 KB), as the specification requires.
MIN_ENTRIES = 131_072
#: Largest ``encodedList`` text accepted (1 MB).
MAX_ENCODED_CHARS = 1024 * 1024
#: Hard cap on the decompressed bitstring (2 MB, 16,777,216 entries): a gzip bomb stops here.
MAX_DECODED_BYTES = 2 * 1024 * 1024
STATUS_PURPOSES = ("revocation", "suspension")
StatusPurpose = Literal["revocation", "suspension"]

LIST_CREDENTIAL_TYPE = "BitstringStatusListCredential"
LIST_SUBJECT_TYPE = "BitstringStatusList"
ENTRY_TYPE = "BitstringStatusListEntry"
_ACCEPTED_TYP = frozenset({"jwt", "application/jwt", "vc+jwt", "application/vc+jwt"})
_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s#]+")


class StatusListError(CredentialError):
    """A status list cannot be used (see the module docstring for the codes)."""

    default_code = "status_list_malformed"


def _malformed(message: str) -> StatusListError:
    return StatusListError(f"The status list is not valid: {message}", "status_list_malformed")


class StatusBits:
    """A mutable bitstring of ``size`` entries (a multiple of 8, at least :data:`MIN_ENTRIES`).

    Index 0 is the most significant bit of the first byte (the specification's order).
    """

    __slots__ = ("_data",)

    def __init__(self, size: int = MIN_ENTRIES) -> None:
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError("size must be an int")
        if size < MIN_ENTRIES:
            raise ValueError(f"a status list needs at least {MIN_ENTRIES} entries")
        if size % 8:
            raise ValueError("size must be a multiple of 8")
        if size > MAX_DECODED_BYTES * 8:
            raise ValueError(f"a status list holds at most {MAX_DECODED_BYTES * 8} entries")
        self._data = bytearray(size // 8)

    @classmethod
    def _from_bytes(cls, data: bytes) -> StatusBits:
        bits = cls.__new__(cls)
        bits._data = bytearray(data)
        return bits

    @property
    def size(self) -> int:
        """The number of entries."""
        return len(self._data) * 8

    def __len__(self) -> int:
        return self.size

    def _check(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError("index must be an int")
        if not 0 <= index < len(self._data) * 8:
            raise IndexError(f"status index {index} is outside the list (size {self.size})")
        return index

    def get(self, index: int) -> bool:
        """True if entry ``index`` is set (revoked/suspended)."""
        index = self._check(index)
        return bool(self._data[index >> 3] & (0x80 >> (index & 7)))

    def _bit(self, index: int) -> bool:
        """:meth:`get` without the checks, for callers that already checked ``index``."""
        return bool(self._data[index >> 3] & (0x80 >> (index & 7)))

    def set(self, index: int, value: bool) -> None:
        """Set or clear entry ``index``."""
        index = self._check(index)
        mask = 0x80 >> (index & 7)
        if value:
            self._data[index >> 3] |= mask
        else:
            self._data[index >> 3] &= ~mask & 0xFF

    def set_indexes(self) -> list[int]:
        """Every index that is set, in increasing order."""
        found: list[int] = []
        for byte_index, byte in enumerate(self._data):
            if byte:
                found.extend(byte_index * 8 + bit for bit in range(8) if byte & (0x80 >> bit))
        return found

    def encode(self) -> str:
        """Multibase base64url (prefix ``u``, no padding) of the GZIP-compressed bitstring.

        Deterministic: the GZIP header carries no timestamp.
        """
        return "u" + b64url_encode(gzip.compress(bytes(self._data), compresslevel=9, mtime=0))

    @classmethod
    def decode(cls, encoded: str) -> StatusBits:
        """Inverse of :meth:`encode`, bounded against hostile input.

        Refuses text over :data:`MAX_ENCODED_CHARS` and output over :data:`MAX_DECODED_BYTES`
        (``status_list_too_large``; decompression stops at the cap, so a gzip bomb costs at most
        that much memory), anything but canonical ``u`` + base64url of one complete GZIP member
        (``status_list_malformed``), and lists shorter than :data:`MIN_ENTRIES`
        (``status_list_length_error``).
        """
        if not isinstance(encoded, str):
            raise _malformed("its encoded list is not text.")
        if len(encoded) > MAX_ENCODED_CHARS:
            raise StatusListError(
                "The status list is too large (its encoded list is over 1 MB).",
                "status_list_too_large",
            )
        if not encoded.startswith("u"):
            raise _malformed("its encoded list is not multibase base64url (prefix 'u').")
        try:
            compressed = b64url_decode(encoded[1:])
        except ValueError as exc:
            raise _malformed("its encoded list is not base64url.") from exc
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # GZIP framing only
        try:
            data = inflater.decompress(compressed, MAX_DECODED_BYTES + 1)
        except zlib.error as exc:
            raise _malformed("its encoded list is not GZIP data.") from exc
        if len(data) > MAX_DECODED_BYTES or inflater.unconsumed_tail:
            raise StatusListError(
                "The status list is too large (over 2 MB once decompressed).",
                "status_list_too_large",
            )
        if not inflater.eof or inflater.unused_data:
            raise _malformed("its encoded list is truncated or has trailing data.")
        if len(data) * 8 < MIN_ENTRIES:
            raise StatusListError(
                f"The status list is too short ({len(data) * 8} entries; at least "
                f"{MIN_ENTRIES} are required).",
                "status_list_length_error",
            )
        return cls._from_bytes(data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StatusBits):
            return NotImplemented
        return self._data == other._data

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"StatusBits(size={self.size}, set={len(self.set_indexes())})"


@dataclass(frozen=True)
class StatusList:
    """A verified status list (only :func:`load_status_list` should make these for verifying).

    ``token`` is the signed VC-JWT it was read from (for stapling it again).
    """

    url: str
    purpose: StatusPurpose
    issuer_id: str
    valid_from: datetime
    valid_until: datetime | None
    bits: StatusBits
    token: str = field(default="", repr=False, compare=False)

    def is_set(self, index: int) -> bool:
        return self.bits.get(index)


def is_status_list_url(value: object) -> bool:
    """True for an absolute URL without a fragment, at most 2,048 characters."""
    return isinstance(value, str) and len(value) <= 2048 and bool(_URL_RE.fullmatch(value))


def _url(value: object, what: str) -> str:
    if not isinstance(value, str) or not is_status_list_url(value):
        raise ValueError(f"{what} must be an absolute URL without a fragment")
    return value


def status_entry(list_url: str, index: int) -> dict[str, Any]:
    """The ``credentialStatus`` object pointing at entry ``index`` of the revocation list."""
    _url(list_url, "list_url")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError("index must be a non-negative int")
    if index >= MAX_DECODED_BYTES * 8:
        raise ValueError("index is larger than any status list can be")
    return {
        "id": f"{list_url}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": "revocation",
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def build_status_list_credential(
    *,
    list_url: str,
    issuer: IssuerProfile,
    purpose: StatusPurpose,
    bits: StatusBits,
    valid_from: datetime,
    valid_until: datetime,
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` (see the module docstring for the shape).

    Dates must be timezone-aware and are written in UTC with seconds precision.
    """
    _url(list_url, "list_url")
    if not isinstance(issuer, IssuerProfile):
        raise TypeError("issuer must be an IssuerProfile")
    if purpose not in STATUS_PURPOSES:
        raise ValueError("purpose must be 'revocation' or 'suspension'")
    if not isinstance(bits, StatusBits):
        raise TypeError("bits must be StatusBits")
    start = truncate_to_seconds(require_aware(valid_from, "valid_from"))
    end = truncate_to_seconds(require_aware(valid_until, "valid_until"))
    if end <= start:
        raise ValueError("valid_until must be later than valid_from")
    return {
        "@context": [VC2_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", LIST_CREDENTIAL_TYPE],
        "issuer": issuer.id,
        "validFrom": format_datetime(start),
        "validUntil": format_datetime(end),
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": LIST_SUBJECT_TYPE,
            "statusPurpose": purpose,
            "encodedList": bits.encode(),
        },
    }


def sign_status_list(credential: Mapping[str, Any], private_key: ec.EllipticCurvePrivateKey) -> str:
    """Sign a status list credential as a VC-JWT (ES256, ``typ`` JWT, ``kid`` = thumbprint).

    Claims ``iss``/``jti``/``nbf``/``exp`` are set as for credentials
    (:func:`credentials.vcjwt.sign_credential`).
    """
    if not isinstance(credential, Mapping):
        raise TypeError("credential must be a mapping")
    types = credential.get("type")
    if not isinstance(types, list) or LIST_CREDENTIAL_TYPE not in types:
        raise ValueError(f"credential is not a {LIST_CREDENTIAL_TYPE}")
    if "validUntil" not in credential:
        raise ValueError("a status list credential needs a validUntil")
    return sign_credential(credential, private_key)


def _numeric_date_matches(claim: object, when: datetime) -> bool:
    if not is_numeric_date(claim):
        return False
    return claim == to_numeric_date(when) or claim == when.timestamp()


def _fail(code: str, message: str) -> StatusListError:
    return StatusListError(message, code)


def load_status_list(token: str, trust: TrustList, now: datetime) -> StatusList:
    """Verify a signed status list against ``trust``; returns the :class:`StatusList`.

    ``now`` must be timezone-aware. See the module docstring for the checks and codes.
    """
    require_aware(now, "now")
    try:
        parsed = parse_compact(token)
    except UnreadableInput as exc:
        raise _malformed("it is not a signed token.") from exc
    header = parsed.header
    if header.get("alg") != "ES256":
        raise _fail(
            "status_list_unsupported_algorithm",
            "The status list was not signed with ES256, so it cannot be trusted.",
        )
    typ = header.get("typ")
    if "crit" in header or "b64" in header:
        raise _malformed("its token uses unsupported header parameters.")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYP):
        raise _malformed("its token type is not JWT.")
    kid = header.get("kid")
    found = trust._lookup(kid) if isinstance(kid, str) else None
    if found is None:
        raise _fail(
            "status_list_unknown_key",
            "The status list was not signed by any key on the trusted list.",
        )
    signer, key, public_key = found
    try:
        verify_es256(parsed.token, public_key)
    except SignatureInvalid as exc:
        raise _fail(
            "status_list_bad_signature",
            "The status list has been changed since it was signed, so it cannot be used.",
        ) from exc

    payload = parsed.payload
    if "vc" in payload or "vp" in payload:
        raise _malformed("it uses the legacy 'vc' claim.")
    context = payload.get("@context")
    if not isinstance(context, list) or not context or context[0] != VC2_CONTEXT:
        raise _malformed("its @context is not VCDM 2.0.")
    types = payload.get("type")
    if (
        not isinstance(types, list)
        or "VerifiableCredential" not in types
        or LIST_CREDENTIAL_TYPE not in types
    ):
        raise _malformed(f"it is not a {LIST_CREDENTIAL_TYPE}.")
    try:
        url = _url(payload.get("id"), "id")
    except ValueError as exc:
        raise _malformed("its id is not an absolute URL.") from exc
    issuer = payload.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    if not isinstance(issuer_id, str) or not issuer_id:
        raise _malformed("it has no issuer.")
    try:
        valid_from = parse_datetime(payload.get("validFrom"))
        valid_until = (
            parse_datetime(payload["validUntil"]) if payload.get("validUntil") is not None else None
        )
    except ValueError as exc:
        raise _malformed("its dates are not RFC 3339 date-times.") from exc
    if valid_until is not None and valid_until <= valid_from:
        raise _malformed("its validUntil is not after its validFrom.")
    subject = payload.get("credentialSubject")
    if not isinstance(subject, Mapping):
        raise _malformed("it has no credentialSubject.")
    subject_type = subject.get("type")
    if subject_type != LIST_SUBJECT_TYPE and not (
        isinstance(subject_type, list) and LIST_SUBJECT_TYPE in subject_type
    ):
        raise _malformed(f"its subject is not a {LIST_SUBJECT_TYPE}.")
    purpose = subject.get("statusPurpose")
    if purpose not in STATUS_PURPOSES:
        raise _malformed("its statusPurpose is not 'revocation' or 'suspension'.")

    if (
        payload.get("iss") != issuer_id
        or payload.get("jti") != url
        or not _numeric_date_matches(payload.get("nbf"), valid_from)
        or (valid_until is None and "exp" in payload)
        or (valid_until is not None and not _numeric_date_matches(payload.get("exp"), valid_until))
        or "sub" in payload
    ):
        raise _fail(
            "status_list_claims_mismatch",
            "The status list's signed claims do not agree with its contents.",
        )
    if issuer_id != signer.id:
        raise _fail(
            "status_list_issuer_mismatch",
            "The status list names a different issuer from the one whose key signed it.",
        )
    if not trust.declares_status_list(signer.id, url, purpose):
        raise _fail(
            "status_list_not_declared",
            f"The trust list does not name {url} as a {purpose} list of {signer.name}.",
        )
    if not key.may_sign_at(valid_from):
        raise _fail(
            "status_list_key_not_valid",
            "The status list is dated outside the period when its signing key could be used.",
        )
    if key.is_compromised_at(valid_from):
        raise _fail(
            "status_list_key_compromised",
            "The status list was signed after its signing key was reported compromised.",
        )
    encoded = subject.get("encodedList")
    if not isinstance(encoded, str):
        raise _malformed("it has no encodedList.")
    bits = StatusBits.decode(encoded)
    return StatusList(
        url=url,
        purpose=purpose,
        issuer_id=issuer_id,
        valid_from=valid_from,
        valid_until=valid_until,
        bits=bits,
        token=parsed.token,
    )
