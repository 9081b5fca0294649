"""Offline verification of CareCred certificates (OB 3.0 VC-JWTs), with a plain-English result.

No web framework, database or network is used: the only inputs are the token (or a file holding
it), a trust list already loaded with :func:`credentials.trust.load_trust_list` (or several:
a credential is valid if any of them vouches for its key), and the time.

Accepted inputs (:func:`verify_path`; the kind is detected from the content, not the name):

* a text file (``.jwt``, ``.txt`` ...) holding one compact JWS, at most 256 KB;
* a text file holding the text of a compact QR code (``CC1:...``, see :mod:`credentials.qr`);
* a PDF, at most 20 MB, carrying the token as an embedded file named ``credential.jwt`` (as the
  LMS's certificate PDFs do), optionally with ``credential.json`` and a printed QR code;
* a PNG or JPEG photo or scan of a certificate's QR code, at most 20 MB / 40 megapixels;
* a passport (``.json``, at most 5 MB, see :mod:`credentials.passport`): several credentials
  and the status lists that go with them.

:func:`verify_token` checks, in this order, stopping at the first failure:

==========================  =================================================================
1. parse                    compact JWS with JSON header and payload (``malformed``)
2. algorithm                header ``alg`` is exactly ``ES256`` (``unsupported_algorithm``);
                            ``typ`` is absent, ``JWT`` or ``vc+jwt`` and there is no
                            ``crit``/``b64`` (``malformed``)
3. key lookup               header ``kid`` names a key in the trust list (``unknown_key``).
                            ``jwk``/``jku``/``x5u``/``x5c`` headers are ignored, never trusted.
4. signature                ES256 signature valid for that key (``bad_signature``)
5. contents and claims      required credential fields present (``malformed``); ``iss`` =
                            ``issuer.id``, ``jti`` = ``id``, ``nbf`` = ``validFrom``, ``exp`` =
                            ``validUntil`` (both or neither), ``sub`` only if it equals
                            ``credentialSubject.id`` (``claims_mismatch``)
6. issuer binding           the key belongs to the issuer the credential names
                            (``issuer_mismatch``)
7. key window               ``validFrom`` lies in the key's signing window (``key_not_valid``)
8. key compromise           ``validFrom`` (= ``nbf``) is before the moment the key was marked
                            compromised, if it was (``key_compromised``)
9. dates                    ``now`` is not before ``validFrom`` (``not_yet_valid``) and not at
                            or after ``validUntil`` (``expired``)
10. status                  if the credential has a ``credentialStatus``, its bit in the
                            issuer's revocation list (``revoked``) and, through the pair the
                            trust list declares, in the suspension list (``suspended``)
==========================  =================================================================

Status lists come from the ``status_lists`` argument, by default the lists stapled to the
trust list. A list must be declared by the credential's issuer in the trust list. A missing
list, or one older than ``max_status_age`` (30 days by default) or past its ``validUntil``,
does not make the credential invalid: the result carries a warning instead, and
``status_as_of`` says how current the answer is.

For PDFs, :func:`verify_path` also checks that the PDF agrees with its signed credential
(``pdf_mismatch``): an attached ``credential.json`` must equal the signed payload (without the
JWT claims ``iss``/``jti``/``nbf``/``exp``/``sub``), the learner's and the achievement's names
must appear in the first page's text, and a printed QR code, if one can be found, must verify
and name the same credential.

Until the signature has been verified nothing from the payload is reported (the fields of the
result stay ``None``). After it, the details shown are the issuer-signed ones, and the issuer's
name always comes from the trust list, never from the token.

How competence was assessed (:class:`Assessment`, one per OB 3.0 ``evidence`` item: method,
assessor's name and role, date, criteria met) is read from the signed payload too, and only a
valid result carries it: a refused credential (forged, expired, revoked, PDF mismatch...) says
nothing about its assessment. A QR code's trimmed copy has no evidence, so its result has none.
The unsigned ``credential.json`` of a PDF is never read for it. Evidence the checker cannot read
(not a list of objects) is left out; it does not change the verdict.

A limitation inherent to offline checking: a key that leaks can sign back-dated credentials.
Marking the key compromised refuses everything dated from that moment on; only removing the key
refuses everything it ever signed.
"""

from __future__ import annotations

import io
import json
import os
import re
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from credentials._util import (
    format_datetime,
    human_date,
    is_numeric_date,
    parse_datetime,
    require_aware,
    strict_json_loads,
    to_numeric_date,
)
from credentials.errors import UnreadableInput
from credentials.ob3 import VC2_CONTEXT
from credentials.status import (
    ENTRY_TYPE,
    STATUS_PURPOSES,
    StatusList,
    is_status_list_url,
)
from credentials.trust import TrustedIssuer, TrustedKey, TrustList
from credentials.vcjwt import (
    MAX_TOKEN_CHARS,
    ParsedToken,
    SignatureInvalid,
    parse_compact,
    verify_es256,
)

__all__ = [
    "DEFAULT_MAX_STATUS_AGE",
    "MAX_PDF_BYTES",
    "REASON_CODES",
    "Assessment",
    "TrustArg",
    "VerificationResult",
    "assessments_of",
    "human_date",
    "read_tokens",
    "verify_path",
    "verify_token",
]

#: Largest PDF accepted (20 MB).
MAX_PDF_BYTES = 20 * 1024 * 1024
#: Largest image (QR photo or scan) accepted (20 MB).
MAX_IMAGE_BYTES = 20 * 1024 * 1024
#: Largest passport file accepted (5 MB).
MAX_PASSPORT_BYTES = 5 * 1024 * 1024
#: Largest token text file accepted (256 KB).
MAX_TOKEN_FILE_BYTES = MAX_TOKEN_CHARS
#: Status lists older than this give a warning (the verifier's policy; see ``verify_token``).
DEFAULT_MAX_STATUS_AGE = timedelta(days=30)
ATTACHMENT_NAME = "credential.jwt"
JSON_ATTACHMENT_NAME = "credential.json"
#: JWT registered claims added to the credential when it is signed (left out when comparing).
JWT_CLAIMS = frozenset({"iss", "jti", "nbf", "exp", "sub"})
_ACCEPTED_TYP = frozenset({"jwt", "application/jwt", "vc+jwt", "application/vc+jwt"})
_OB_CONTEXT_RE = re.compile(r"https://purl\.imsglobal\.org/spec/ob/v3p0/context(-3\.\d\.\d)*\.json")
_TOKEN_SHAPE_RE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_INDEX_RE = re.compile(r"0|[1-9][0-9]{0,8}")
_MAX_ALIGNMENTS = 100
# Evidence shown: items, and characters per text (the rest is cut, with an ellipsis).
_MAX_EVIDENCE = 10
_MAX_SHOWN_CHARS = 1000
# Control, zero-width, bidirectional-override and space characters: each run becomes one space,
# so signed text cannot move a terminal's cursor or reorder what is shown. verify.js uses the
# same class (keep them equal).
_UNSHOWN_RE = re.compile(
    r"[\x00-\x20\x7f-\xa0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]+"
)
# CareCred's own evidence wording (lms/issuance.py observation_evidence). Other issuers' evidence
# is shown by its name and narrative only.
_EVIDENCE_DESCRIPTION_RE = re.compile(
    r"Assessed by (.+?) on ([0-9]{4})-([0-9]{2})-([0-9]{2}); assessor (.+)\."
)
_EVIDENCE_NARRATIVE_RE = re.compile(
    r"(.+?) of practice on [0-9]{1,2} [A-Za-z]+ [0-9]{4} by (.+?)\. ([0-9]{1,4}) criteria met"
    r"(?:, ([0-9]{1,4}) not applicable)?\.(?: |$)"
)
_CRITERIA_TOTAL_RE = re.compile(r"every one of its ([0-9]{1,4}) criteria")
_MAX_STATUS_ENTRIES = 10
# PDF QR search: pages, images, pixels per image.
_PDF_QR_PAGES = 2
_PDF_QR_IMAGES = 8
_PDF_QR_PIXELS = 16_000_000

TrustArg = TrustList | Sequence[TrustList]

REASON_CODES = (
    "valid",
    "malformed",
    "unsupported_algorithm",
    "unknown_key",
    "issuer_mismatch",
    "key_not_valid",
    "key_compromised",
    "bad_signature",
    "claims_mismatch",
    "not_yet_valid",
    "expired",
    "revoked",
    "suspended",
    "pdf_mismatch",
)

_REASONS = {
    "valid": "This certificate is genuine, has not been changed, and is in date.",
    "malformed": (
        "This is not a certificate this checker can read: it is damaged or is not a digital "
        "training certificate."
    ),
    "unsupported_algorithm": (
        "This certificate was signed in a way this checker does not accept, so it cannot be "
        "trusted."
    ),
    "unknown_key": (
        "This certificate was not signed by any training provider on the trusted list, so it "
        "cannot be trusted."
    ),
    "issuer_mismatch": (
        "This certificate names a different training provider from the one that signed it, so "
        "it cannot be trusted."
    ),
    "key_not_valid": (
        "This certificate is dated outside the period when the training provider's signing key "
        "could be used, so it cannot be trusted."
    ),
    "key_compromised": (
        "This certificate is dated after the training provider's signing key was reported "
        "stolen or misused, so it cannot be trusted."
    ),
    "bad_signature": (
        "This certificate has been changed since it was issued, or its signature is damaged, so "
        "it cannot be trusted."
    ),
    "claims_mismatch": (
        "The details inside this certificate do not agree with each other (for example its "
        "dates or reference number), so it cannot be trusted."
    ),
    "revoked": (
        "This certificate has been withdrawn (revoked) by the training provider, so it is no "
        "longer valid."
    ),
    "suspended": (
        "This certificate has been suspended by the training provider, so it should not be "
        "relied on for now; it may be reinstated later."
    ),
    "pdf_mismatch": "The PDF's attached credential.json does not match its signed credential.",
}

_MISSING_REVOCATION = (
    "Revocation status could not be checked: no status list for this issuer was provided."
)
_UNDECLARED_REVOCATION = (
    "Revocation status could not be checked: the trust list does not name this certificate's "
    "status list."
)
_MISSING_SUSPENSION = (
    "Suspension status could not be checked: no suspension list for this issuer was provided."
)
_UNSUPPORTED_STATUS = (
    "Some status information in this certificate is of a kind this checker cannot read, so it "
    "was not checked."
)
_OUT_OF_RANGE = (
    "Revocation status could not be checked: the certificate's entry is outside its status list."
)


def _reason(
    code: str, *, valid_from: datetime | None = None, valid_until: datetime | None = None
) -> str:
    if code == "expired" and valid_until is not None:
        return (
            f"This certificate expired on {human_date(valid_until)}, so the training it records "
            "is out of date."
        )
    if code == "not_yet_valid" and valid_from is not None:
        return f"This certificate does not become valid until {human_date(valid_from)}."
    return _REASONS[code]


@dataclass(frozen=True)
class Assessment:
    """How competence was assessed, as the issuer signed it: one OB 3.0 ``evidence`` item.

    ``kind`` is the evidence's name (e.g. "Observed practice: Moving and positioning") and
    ``method`` its genre (e.g. "Direct observation"). The assessor's name and role, the date and
    the criteria counts are read from CareCred's wording of the evidence (its description and
    narrative, which must agree); for other issuers they stay ``None`` and ``narrative`` (the
    evidence's own words) is what there is to show. ``criteria_total`` comes from the
    achievement's signed criteria ("every one of its N criteria"), used only when the counts add
    up to it. Texts are single-line (control characters removed) and at most 1,000 characters.
    """

    kind: str
    method: str | None = None
    assessor_name: str | None = None
    assessor_role: str | None = None
    assessed_on: date | None = None
    criteria_met: int | None = None
    criteria_not_applicable: int | None = None
    criteria_total: int | None = None
    narrative: str | None = None

    @property
    def criteria(self) -> str | None:
        """``3 of 3 criteria met``, ``10 of 11 criteria met, 1 not applicable`` or ``None``."""
        if self.criteria_met is None:
            return None
        na = self.criteria_not_applicable or 0
        if self.criteria_total is not None:
            word = "criterion" if self.criteria_total == 1 else "criteria"
            text = f"{self.criteria_met} of {self.criteria_total} {word} met"
        else:
            word = "criterion" if self.criteria_met == 1 else "criteria"
            text = f"{self.criteria_met} {word} met"
        return text + (f", {na} not applicable" if na else "")

    @property
    def summary(self) -> str:
        """One plain-English line, e.g. ``Observed in practice (direct observation): 3 of 3
        criteria met; assessed by Tom Baker, senior carer, on 10 November 2026.``"""
        if self.assessor_name and self.assessor_role and self.assessed_on is not None:
            label = (
                "Observed in practice" if self.kind.startswith("Observed practice") else self.kind
            )
            if self.method:
                label += f" ({_lower_first(self.method)})"
            criteria = self.criteria
            when = human_date(datetime(*self.assessed_on.timetuple()[:3], tzinfo=UTC))
            return (
                f"{label}: "
                + (f"{criteria}; " if criteria else "")
                + f"assessed by {self.assessor_name}, {self.assessor_role}, on {when}."
            )
        if self.narrative:
            return f"{self.kind}: {self.narrative}"
        return self.kind

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (``assessed_on`` as ``YYYY-MM-DD``)."""
        return {
            "kind": self.kind,
            "method": self.method,
            "assessor_name": self.assessor_name,
            "assessor_role": self.assessor_role,
            "assessed_on": self.assessed_on.isoformat() if self.assessed_on else None,
            "criteria_met": self.criteria_met,
            "criteria_not_applicable": self.criteria_not_applicable,
            "criteria_total": self.criteria_total,
            "criteria": self.criteria,
            "narrative": self.narrative,
            "summary": self.summary,
        }


def _lower_first(text: str) -> str:
    return text[0].lower() + text[1:] if "A" <= text[0] <= "Z" else text


def _shown(value: object) -> str | None:
    """A signed text made fit to show: one line, no control characters, at most 1,000
    characters. ``None`` for a non-string or blank value."""
    if value.__class__ is not str:
        return None
    text = _UNSHOWN_RE.sub(" ", value).strip(" ")
    if not text:
        return None
    if len(text) > _MAX_SHOWN_CHARS:
        text = text[: _MAX_SHOWN_CHARS - 1] + "\N{HORIZONTAL ELLIPSIS}"
    return text


def _who(description_who: str, narrative_who: str) -> tuple[str, str] | None:
    """The assessor's name and role, where the description says "name, role" and the
    narrative "name (role)". At most one split satisfies both."""
    start = 0
    while (i := description_who.find(", ", start)) != -1:
        name, role = description_who[:i], description_who[i + 2 :]
        if name and role and narrative_who == f"{name} ({role})":
            return name, role
        start = i + 1
    return None


def _assessment(item: Mapping[str, Any], total: int | None) -> Assessment:
    kind = _shown(item.get("name")) or "Evidence"
    method = _shown(item.get("genre"))
    narrative = _shown(item.get("narrative"))
    description = _shown(item.get("description"))
    found = _EVIDENCE_DESCRIPTION_RE.fullmatch(description or "")
    told = _EVIDENCE_NARRATIVE_RE.match(narrative or "")
    if found is None or told is None:
        return Assessment(kind=kind, method=method, narrative=narrative or description)
    who = _who(found.group(5), told.group(2))
    try:
        when: date | None = date(int(found.group(2)), int(found.group(3)), int(found.group(4)))
    except ValueError:
        when = None
    met = int(told.group(3))
    na = int(told.group(4)) if told.group(4) is not None else None
    if total is not None and met + (na or 0) != total:
        total = None
    return Assessment(
        kind=kind,
        method=method,
        assessor_name=who[0] if who else None,
        assessor_role=who[1] if who else None,
        assessed_on=when,
        criteria_met=met,
        criteria_not_applicable=na,
        criteria_total=total,
        narrative=narrative,
    )


def assessments_of(credential: Mapping[str, Any]) -> tuple[Assessment, ...]:
    """How competence was assessed, from a credential's ``evidence`` (see :class:`Assessment`).

    Use it only on a credential whose signature has been verified, or on one you issued
    yourself: it checks nothing. Evidence that is not an object (or a list of objects) is left
    out; at most 10 items are read.
    """
    raw = credential.get("evidence")
    if raw is None:
        return ()
    items = raw if raw.__class__ is list else [raw]
    total: int | None = None
    subject = credential.get("credentialSubject")
    achievement = subject.get("achievement") if subject.__class__ is dict else None
    criteria = achievement.get("criteria") if achievement.__class__ is dict else None
    narrative = criteria.get("narrative") if criteria.__class__ is dict else None
    if narrative.__class__ is str:
        counted = _CRITERIA_TOTAL_RE.search(narrative)
        total = int(counted.group(1)) if counted else None
    return tuple(
        _assessment(item, total) for item in items[:_MAX_EVIDENCE] if item.__class__ is dict
    )


@dataclass(frozen=True)
class VerificationResult:
    """The outcome of checking one certificate.

    ``achievement_version`` and ``activity_end`` are extra display fields (used by the CLI's
    "For:" and "Completed:" lines); they are not part of :meth:`to_json`.

    ``status_checked`` is true when the revocation bit was read from a verified status list;
    ``status_as_of`` is then that list's ``validFrom`` (the older one if a suspension list was
    read too). ``warnings`` are plain-English sentences to show with the result; they do not
    change ``valid``. ``issuer_identifiers`` are ``(name, value)`` pairs from the trust list.
    ``assessments`` say how competence was assessed, from the signed credential; a result that
    is not valid never carries any (they are dropped, also by ``dataclasses.replace``).
    """

    source: str
    valid: bool
    reason_code: str
    reason: str
    credential_id: str | None = None
    issuer_id: str | None = None
    issuer_name: str | None = None
    learner_name: str | None = None
    achievement_name: str | None = None
    achievement_id: str | None = None
    alignments: tuple[str, ...] = ()
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    achievement_version: str | None = None
    activity_end: datetime | None = None
    status_checked: bool = False
    status_as_of: datetime | None = None
    warnings: tuple[str, ...] = ()
    issuer_identifiers: tuple[tuple[str, str], ...] = ()
    assessments: tuple[Assessment, ...] = ()

    def __post_init__(self) -> None:
        if not self.valid and self.assessments:
            object.__setattr__(self, "assessments", ())

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (dates as ``YYYY-MM-DDTHH:MM:SSZ``)."""
        return {
            "source": self.source,
            "valid": self.valid,
            "reason_code": self.reason_code,
            "reason": self.reason,
            "credential_id": self.credential_id,
            "issuer": self.issuer_name,
            "issuer_id": self.issuer_id,
            "learner_name": self.learner_name,
            "achievement": self.achievement_name,
            "achievement_id": self.achievement_id,
            "alignments": list(self.alignments),
            "valid_from": format_datetime(self.valid_from) if self.valid_from else None,
            "valid_until": format_datetime(self.valid_until) if self.valid_until else None,
            "status_checked": self.status_checked,
            "status_as_of": format_datetime(self.status_as_of) if self.status_as_of else None,
            "warnings": list(self.warnings),
            "issuer_identifiers": [
                {"name": name, "value": value} for name, value in self.issuer_identifiers
            ],
            "assessments": [a.to_json() for a in self.assessments],
        }


class _Malformed(Exception):
    pass


@dataclass(slots=True)
class _StatusRef:
    purpose: str
    url: str
    index: int


@dataclass(slots=True)
class _Contents:
    credential_id: str
    issuer_id: str
    subject_id: str | None
    learner_name: str | None
    achievement_name: str
    achievement_id: str
    achievement_version: str | None
    alignments: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime | None
    activity_end: datetime | None
    status: tuple[_StatusRef, ...] = ()
    status_unsupported: bool = False
    assessments: tuple[Assessment, ...] = ()


def _req_str(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name)
    if value.__class__ is not str or not value.strip():
        raise _Malformed(name)
    return value


def _opt_str(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return value if value.__class__ is str and value.strip() else None


def _date(value: object) -> datetime:
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise _Malformed("date") from exc


def _format_alignment(item: Mapping[str, Any]) -> str | None:
    name = _opt_str(item, "targetName")
    if name is None:
        return None
    framework = _opt_str(item, "targetFramework")
    code = _opt_str(item, "targetCode")
    text = f"{framework}: {name}" if framework else name
    if code and code not in name:
        text += f" [{code}]"
    return text


def _status_refs(raw: object) -> tuple[tuple[_StatusRef, ...], bool]:
    """The Bitstring Status List entries of ``credentialStatus``, and whether others exist."""
    if raw is None:
        return (), False
    items = raw if raw.__class__ is list else [raw]
    if not items or len(items) > _MAX_STATUS_ENTRIES:
        raise _Malformed("credentialStatus")
    refs: list[_StatusRef] = []
    unsupported = False
    for item in items:
        if item.__class__ is not dict:
            raise _Malformed("credentialStatus")
        types = item.get("type")
        type_list = [types] if types.__class__ is str else types
        if type_list.__class__ is not list or any(t.__class__ is not str for t in type_list):
            raise _Malformed("credentialStatus type")
        if ENTRY_TYPE not in type_list:
            unsupported = True
            continue
        purpose = item.get("statusPurpose")
        if purpose.__class__ is not str:
            raise _Malformed("statusPurpose")
        if purpose not in STATUS_PURPOSES:
            # "refresh" and "message" do not affect validity; anything else is unknown.
            unsupported = unsupported or purpose not in ("refresh", "message")
            continue
        index = item.get("statusListIndex")
        if index.__class__ is not str or not _INDEX_RE.fullmatch(index):
            raise _Malformed("statusListIndex")
        size = item.get("statusSize", 1)
        if size.__class__ is not int or size != 1:
            raise _Malformed("statusSize")
        url = item.get("statusListCredential")
        if url.__class__ is not str or not is_status_list_url(url):
            raise _Malformed("statusListCredential")
        refs.append(_StatusRef(purpose, url, int(index)))
    return tuple(refs), unsupported


def _contents(payload: Mapping[str, Any]) -> _Contents:
    """The fields we rely on, checked for presence and type. Raises ``_Malformed``.

    ``payload`` comes from :func:`json.loads`, so objects are exactly ``dict`` and arrays
    exactly ``list`` (checked by class, which is also much faster than ABC checks).
    """
    if "vc" in payload or "vp" in payload:
        raise _Malformed("legacy vc claim")
    context = payload.get("@context")
    if (
        context.__class__ is not list
        or len(context) < 2
        or context[0] != VC2_CONTEXT
        or context[1].__class__ is not str
        or not _OB_CONTEXT_RE.fullmatch(context[1])
    ):
        raise _Malformed("@context")
    types = payload.get("type")
    if (
        types.__class__ is not list
        or "VerifiableCredential" not in types
        or ("OpenBadgeCredential" not in types and "AchievementCredential" not in types)
    ):
        raise _Malformed("type")
    credential_id = _req_str(payload, "id")
    issuer = payload.get("issuer")
    if issuer.__class__ is dict:
        issuer_id = _req_str(issuer, "id")
    elif issuer.__class__ is str and issuer:
        issuer_id = issuer
    else:
        raise _Malformed("issuer")
    valid_from = _date(payload.get("validFrom"))
    valid_until = _date(payload["validUntil"]) if "validUntil" in payload else None
    if valid_until is not None and valid_until < valid_from:
        raise _Malformed("validUntil before validFrom")

    subject = payload.get("credentialSubject")
    if subject.__class__ is not dict:
        raise _Malformed("credentialSubject")
    subject_id = _opt_str(subject, "id")
    identifiers = subject.get("identifier", [])
    if identifiers.__class__ is not list:
        raise _Malformed("identifier")
    if subject_id is None and not identifiers:
        raise _Malformed("subject has neither id nor identifier")
    learner_name: str | None = None
    for ident in identifiers:
        if ident.__class__ is not dict:
            raise _Malformed("identifier")
        if (
            learner_name is None
            and ident.get("identityType") == "name"
            and ident.get("hashed") is False
        ):
            learner_name = _opt_str(ident, "identityHash")
    achievement = subject.get("achievement")
    if achievement.__class__ is not dict:
        raise _Malformed("achievement")
    raw_alignments = achievement.get("alignment", [])
    if raw_alignments.__class__ is not list:
        raise _Malformed("alignment")
    alignments: list[str] = []
    for item in raw_alignments[:_MAX_ALIGNMENTS]:
        if item.__class__ is not dict:
            raise _Malformed("alignment")
        text = _format_alignment(item)
        if text is not None:
            alignments.append(text)
    end = subject.get("activityEndDate")
    activity_end = _date(end) if end is not None else None
    status, status_unsupported = _status_refs(payload.get("credentialStatus"))
    return _Contents(
        credential_id,
        issuer_id,
        subject_id,
        learner_name,
        _req_str(achievement, "name"),
        _req_str(achievement, "id"),
        _opt_str(achievement, "version"),
        tuple(alignments),
        valid_from,
        valid_until,
        activity_end,
        status,
        status_unsupported,
        assessments_of(payload),
    )


def _numeric_date_matches(claim: object, when: datetime) -> bool:
    if not is_numeric_date(claim):
        return False
    return claim == to_numeric_date(when) or claim == when.timestamp()


def _claims_match(payload: Mapping[str, Any], contents: _Contents) -> bool:
    if payload.get("iss") != contents.issuer_id:
        return False
    if payload.get("jti") != contents.credential_id:
        return False
    if not _numeric_date_matches(payload.get("nbf"), contents.valid_from):
        return False
    if contents.valid_until is None:
        if "exp" in payload:
            return False
    elif not _numeric_date_matches(payload.get("exp"), contents.valid_until):
        return False
    return not ("sub" in payload and payload["sub"] != contents.subject_id)


def _header_ok(header: Mapping[str, Any]) -> bool:
    if "crit" in header or "b64" in header:
        return False
    typ = header.get("typ")
    return typ is None or (isinstance(typ, str) and typ.lower() in _ACCEPTED_TYP)


# --------------------------------------------------------------------------- status


@dataclass(slots=True)
class _StatusOutcome:
    code: str | None = None  # "revoked" / "suspended" / None
    checked: bool = False
    as_of: datetime | None = None
    warnings: tuple[str, ...] = ()


def _usable_list(
    found: StatusList | None, url: str, purpose: str, signer: TrustedIssuer, trust: TrustList
) -> StatusList | None:
    if (
        found is None
        or found.url != url
        or found.purpose != purpose
        or found.issuer_id != signer.id
        or not trust.declares_status_list(signer.id, url, purpose)
    ):
        return None
    return found


def _check_status(
    contents: _Contents,
    signer: TrustedIssuer,
    trust: TrustList,
    now: datetime,
    lists: Mapping[str, StatusList],
    max_age: timedelta,
) -> _StatusOutcome:
    refs = contents.status
    if not refs:
        if contents.status_unsupported:
            return _StatusOutcome(warnings=(_UNSUPPORTED_STATUS,))
        return _NO_STATUS
    used: list[StatusList] = []
    revoked = suspended = False
    revocation_missing = suspension_missing = out_of_range = undeclared = False

    for ref in refs:
        index = ref.index
        to_read = [(ref.url, ref.purpose)]
        if ref.purpose == "revocation":
            pair = trust.status_pair(signer.id, ref.url)
            if (
                pair is not None
                and pair.suspension is not None
                and all(other.url != pair.suspension for other in refs)
            ):
                to_read.append((pair.suspension, "suspension"))
        for url, purpose in to_read:
            found = _usable_list(lists.get(url), url, purpose, signer, trust)
            if found is None:
                if purpose == "revocation":
                    revocation_missing = True
                    undeclared = undeclared or not trust.declares_status_list(
                        signer.id, url, purpose
                    )
                else:
                    suspension_missing = True
            elif index >= found.bits.size:
                out_of_range = True
            else:
                used.append(found)
                if found.bits._bit(index):
                    if purpose == "revocation":
                        revoked = True
                    else:
                        suspended = True

    notes: list[str] = [_UNSUPPORTED_STATUS] if contents.status_unsupported else []
    if revocation_missing:
        notes.append(_UNDECLARED_REVOCATION if undeclared else _MISSING_REVOCATION)
    if suspension_missing:
        notes.append(_MISSING_SUSPENSION)
    if out_of_range:
        notes.append(_OUT_OF_RANGE)
    as_of: datetime | None = None
    if used:
        as_of = min(s.valid_from for s in used)
        age = now - as_of
        if age > max_age:
            notes.append(
                f"The revocation information is {age.days} days old (from {human_date(as_of)}); "
                "ask the issuer for a newer trust list."
            )
        else:
            ended = [s.valid_until for s in used if s.valid_until is not None]
            ended = [when for when in ended if now >= when]
            if ended:
                notes.append(
                    f"The revocation information expired on {human_date(min(ended))} (it is "
                    f"from {human_date(as_of)}); ask the issuer for a newer trust list."
                )
    return _StatusOutcome(
        "revoked" if revoked else "suspended" if suspended else None,
        bool(used) and not revocation_missing and not out_of_range,
        as_of,
        tuple(dict.fromkeys(notes)) if notes else (),
    )


_NO_STATUS = _StatusOutcome()


# --------------------------------------------------------------------------- verdict


def _result(
    source: str,
    code: str,
    contents: _Contents,
    signer: TrustedIssuer,
    status: _StatusOutcome | None = None,
) -> VerificationResult:
    return VerificationResult(
        source=source,
        valid=code == "valid",
        reason_code=code,
        reason=_reason(code, valid_from=contents.valid_from, valid_until=contents.valid_until),
        credential_id=contents.credential_id,
        issuer_id=signer.id,
        issuer_name=signer.name,
        learner_name=contents.learner_name,
        achievement_name=contents.achievement_name,
        achievement_id=contents.achievement_id,
        alignments=contents.alignments,
        valid_from=contents.valid_from,
        valid_until=contents.valid_until,
        achievement_version=contents.achievement_version,
        activity_end=contents.activity_end,
        status_checked=status.checked if status else False,
        status_as_of=status.as_of if status else None,
        warnings=status.warnings if status else (),
        issuer_identifiers=signer.other_identifiers,
        assessments=contents.assessments if code == "valid" else (),
    )


def _assess(
    source: str,
    contents: _Contents,
    signer: TrustedIssuer,
    key: TrustedKey,
    trust: TrustList,
    now: datetime,
    status_lists: Mapping[str, StatusList] | None,
    max_status_age: timedelta,
) -> VerificationResult:
    """Checks 6-10 (shared by VC-JWTs and QR codes), on contents whose signature verified."""
    if contents.issuer_id != signer.id:
        return _result(source, "issuer_mismatch", contents, signer)
    if not key.may_sign_at(contents.valid_from):
        return _result(source, "key_not_valid", contents, signer)
    if key.is_compromised_at(contents.valid_from):
        return _result(source, "key_compromised", contents, signer)
    if now < contents.valid_from:
        return _result(source, "not_yet_valid", contents, signer)
    if contents.valid_until is not None and now >= contents.valid_until:
        return _result(source, "expired", contents, signer)
    lists = trust.status_lists if status_lists is None else status_lists
    status = _check_status(contents, signer, trust, now, lists, max_status_age)
    return _result(source, status.code or "valid", contents, signer, status)


def _fail(source: str, code: str) -> VerificationResult:
    return VerificationResult(source=source, valid=False, reason_code=code, reason=_reason(code))


@dataclass(slots=True)
class _Outcome:
    result: VerificationResult
    payload: Mapping[str, Any] | None = None  # set once the signature has verified


def _trusts(trust: TrustArg) -> tuple[TrustList, ...]:
    if isinstance(trust, TrustList):
        return (trust,)
    trusts = tuple(trust)
    if not trusts or not all(isinstance(t, TrustList) for t in trusts):
        raise TypeError("trust must be a TrustList or a non-empty sequence of TrustLists")
    return trusts


def _pick(outcomes: Sequence[_Outcome]) -> _Outcome:
    """Several trust lists: a valid outcome if any; else the most informative failure."""
    for outcome in outcomes:
        if outcome.result.valid:
            return outcome
    for outcome in outcomes:
        if outcome.payload is not None:
            return outcome
    for outcome in outcomes:
        if outcome.result.reason_code != "unknown_key":
            return outcome
    return outcomes[0]


def _verify_parsed(
    parsed: ParsedToken,
    trust: TrustList,
    now: datetime,
    source: str,
    status_lists: Mapping[str, StatusList] | None,
    max_status_age: timedelta,
    contents_cache: list[_Contents | None],
) -> _Outcome:
    kid = parsed.header.get("kid")
    found = trust._lookup(kid) if isinstance(kid, str) else None
    if found is None:
        return _Outcome(_fail(source, "unknown_key"))
    signer, key, public_key = found
    try:
        verify_es256(parsed.token, public_key)
    except SignatureInvalid:
        return _Outcome(_fail(source, "bad_signature"))

    # From here on the payload is exactly what the listed key signed.
    payload = parsed.payload
    contents = contents_cache[0]
    if contents is None:
        try:
            contents = _contents(payload)
        except _Malformed:
            return _Outcome(_fail(source, "malformed"))
        contents_cache[0] = contents
    if not _claims_match(payload, contents):
        return _Outcome(_result(source, "claims_mismatch", contents, signer), payload)
    result = _assess(source, contents, signer, key, trust, now, status_lists, max_status_age)
    return _Outcome(result, payload)


def _verify_jws(
    token: str,
    trust: TrustArg,
    now: datetime,
    source: str,
    status_lists: Mapping[str, StatusList] | None,
    max_status_age: timedelta,
) -> _Outcome:
    require_aware(now, "now")
    trusts = _trusts(trust)
    try:
        parsed = parse_compact(token)
    except UnreadableInput:
        return _Outcome(_fail(source, "malformed"))
    header = parsed.header
    if header.get("alg") != "ES256":
        return _Outcome(_fail(source, "unsupported_algorithm"))
    if not _header_ok(header):
        return _Outcome(_fail(source, "malformed"))
    cache: list[_Contents | None] = [None]
    if len(trusts) == 1:
        return _verify_parsed(parsed, trusts[0], now, source, status_lists, max_status_age, cache)
    return _pick(
        [
            _verify_parsed(parsed, t, now, source, status_lists, max_status_age, cache)
            for t in trusts
        ]
    )


def verify_token(
    token: str,
    trust: TrustArg,
    now: datetime,
    source: str = "<token>",
    *,
    status_lists: Mapping[str, StatusList] | None = None,
    max_status_age: timedelta = DEFAULT_MAX_STATUS_AGE,
) -> VerificationResult:
    """Check one compact JWS against a loaded trust list at time ``now`` (aware datetime).

    ``trust`` may also be a sequence of trust lists: the credential is valid if any of them
    vouches for its key. ``status_lists`` (URL to verified list, see
    :func:`credentials.status.load_status_list`) replaces the lists stapled to the trust list.
    Never raises for a bad token: the problem is described by ``reason_code``/``reason``.
    """
    return _verify_jws(token, trust, now, source, status_lists, max_status_age).result


# --------------------------------------------------------------------------- reading files

_Kind = Literal["pdf", "image", "json", "text"]


def _token_from_bytes(data: bytes, where: str) -> str:
    text = _text_from_bytes(data, where)
    if not _TOKEN_SHAPE_RE.fullmatch(text):
        raise UnreadableInput(
            f"{where} is not a certificate token (expected a .jwt, .txt or .pdf certificate).",
            "not_a_token",
        )
    return text


def _text_from_bytes(data: bytes, where: str) -> str:
    try:
        text = data.decode("utf-8").removeprefix("\ufeff").strip()
    except UnicodeDecodeError as exc:
        raise UnreadableInput(f"{where} is not a certificate token.", "not_a_token") from exc
    if not text:
        raise UnreadableInput(f"{where} is empty.", "not_a_token")
    if len(text) > MAX_TOKEN_CHARS:
        raise UnreadableInput(f"{where} is too large to be a certificate token.", "too_large")
    return text


@dataclass
class _PdfParts:
    tokens: list[str]
    json_blobs: list[bytes]
    first_page_text: str | None
    qr_texts: list[str]


def _open_pdf(data: bytes) -> Any:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            reader.decrypt("")
        except Exception as exc:
            raise UnreadableInput(
                "The PDF is password-protected, so its certificate cannot be read.",
                "pdf_encrypted",
            ) from exc
    return reader


def _pdf_parts(data: bytes, *, details: bool) -> _PdfParts:
    """Attachments (and, with ``details``, first-page text and QR codes) of a PDF."""
    try:
        with warnings.catch_warnings():
            # Damaged PDFs make pypdf warn; the outcome is reported through our own errors.
            warnings.simplefilter("ignore")
            reader = _open_pdf(data)
            attachments = reader.attachments
            blobs = list(attachments.get(ATTACHMENT_NAME, []))
            json_blobs = list(attachments.get(JSON_ATTACHMENT_NAME, [])) if details else []
    except UnreadableInput:
        raise
    except Exception as exc:  # pypdf raises many types on damaged input
        raise UnreadableInput("The PDF is damaged and cannot be read.", "pdf_damaged") from exc
    if not blobs:
        raise UnreadableInput(
            f"The PDF does not contain a digital certificate (no {ATTACHMENT_NAME} attachment).",
            "no_attachment",
        )
    tokens: list[str] = []
    for blob in blobs:
        if not isinstance(blob, bytes) or len(blob) > MAX_TOKEN_FILE_BYTES:
            raise UnreadableInput(
                f"The PDF's {ATTACHMENT_NAME} attachment is too large.", "too_large"
            )
        tokens.append(_token_from_bytes(blob, f"The PDF's {ATTACHMENT_NAME} attachment"))
    if not details:
        return _PdfParts(tokens, [], None, [])
    json_ok = [b for b in json_blobs if isinstance(b, bytes) and len(b) <= MAX_TOKEN_FILE_BYTES]
    if len(json_ok) != len(json_blobs):
        json_ok.append(b"")  # an unreadable credential.json can only mismatch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _PdfParts(tokens, json_ok, _first_page_text(reader), _pdf_qr_texts(reader))


def _first_page_text(reader: Any) -> str | None:
    try:
        text = reader.pages[0].extract_text()
    except Exception:  # damaged content streams, unknown fonts...
        return None
    return text if isinstance(text, str) else None


def _image_names(page: Any) -> list[str | list[str]]:
    """Image XObjects of a page and of the form XObjects it uses directly (not inline images)."""
    from pypdf.generic import DictionaryObject

    names: list[str | list[str]] = []
    resources = page.get("/Resources")
    resources = resources.get_object() if resources is not None else None
    xobjects = resources.get("/XObject") if isinstance(resources, DictionaryObject) else None
    xobjects = xobjects.get_object() if xobjects is not None else None
    if not isinstance(xobjects, DictionaryObject):
        return names
    for name, ref in list(xobjects.items())[: _PDF_QR_IMAGES * 4]:
        obj = ref.get_object()
        if not isinstance(obj, DictionaryObject):
            continue
        if obj.get("/Subtype") == "/Image" and _small_image(obj):
            names.append(str(name))
        elif obj.get("/Subtype") == "/Form":
            inner = obj.get("/Resources")
            inner = inner.get_object() if inner is not None else None
            sub = inner.get("/XObject") if isinstance(inner, DictionaryObject) else None
            sub = sub.get_object() if sub is not None else None
            if isinstance(sub, DictionaryObject):
                for sub_name, sub_ref in list(sub.items())[:_PDF_QR_IMAGES]:
                    sub_obj = sub_ref.get_object()
                    if (
                        isinstance(sub_obj, DictionaryObject)
                        and sub_obj.get("/Subtype") == "/Image"
                        and _small_image(sub_obj)
                    ):
                        names.append([str(name), str(sub_name)])
    return names


def _small_image(obj: Any) -> bool:
    width, height = obj.get("/Width"), obj.get("/Height")
    return (
        isinstance(width, int)
        and isinstance(height, int)
        and 21 <= width <= 8000
        and 21 <= height <= 8000
        and width * height <= _PDF_QR_PIXELS
    )


def _pdf_qr_texts(reader: Any) -> list[str]:
    """Texts of CareCred QR codes found in the images of the first pages (bounded). Images that
    pypdf or Pillow cannot decode are skipped: a PDF without a readable QR code is fine."""
    from credentials.qr import QR_PREFIX

    texts: list[str] = []
    tried = 0
    try:
        pages = list(reader.pages)[:_PDF_QR_PAGES]
    except Exception:
        return texts
    for page in pages:
        for name in _safe_image_names(page):
            if tried >= _PDF_QR_IMAGES:
                return texts
            tried += 1
            texts.extend(t for t in _qr_texts_of(page, name) if t.startswith(QR_PREFIX))
    return list(dict.fromkeys(texts))


def _safe_image_names(page: Any) -> list[str | list[str]]:
    try:
        return _image_names(page)
    except Exception:  # a damaged resource dictionary: no images to look at
        return []


def _qr_texts_of(page: Any, name: str | list[str]) -> list[str]:
    from credentials.qr import decode_qr_image

    try:
        return decode_qr_image(page.images[name].image)
    except Exception:  # an image pypdf or Pillow cannot decode is skipped
        return []


def _read_file(path: str | os.PathLike[str]) -> tuple[bytes, _Kind]:
    p = Path(path)
    try:
        if not p.exists():
            raise UnreadableInput("There is no such file.", "not_found")
        if not p.is_file():
            raise UnreadableInput("This is not a file.", "not_a_file")
        with p.open("rb") as fh:
            head = fh.read(1024)
            kind = _kind(head)
            limit = _LIMITS[kind]
            if os.fstat(fh.fileno()).st_size > limit:
                raise UnreadableInput(_too_large(kind), "too_large")
            rest = fh.read(limit + 1 - len(head))
    except OSError as exc:
        raise UnreadableInput("The file cannot be opened.", "unreadable") from exc
    data = head + rest
    if len(data) > limit:
        raise UnreadableInput(_too_large(kind), "too_large")
    if kind != "pdf" and p.suffix.lower() == ".pdf":
        raise UnreadableInput("The file is named .pdf but is not a PDF.", "not_a_pdf")
    return data, kind


_LIMITS: dict[_Kind, int] = {
    "pdf": MAX_PDF_BYTES,
    "image": MAX_IMAGE_BYTES,
    "json": MAX_PASSPORT_BYTES,
    "text": MAX_TOKEN_FILE_BYTES,
}


def _kind(head: bytes) -> _Kind:
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
        return "image"
    if head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{"):
        return "json"
    return "text"


def _too_large(kind: _Kind) -> str:
    if kind == "pdf":
        return f"The PDF is too large (the limit is {MAX_PDF_BYTES // (1024 * 1024)} MB)."
    if kind == "image":
        return f"The image is too large (the limit is {MAX_IMAGE_BYTES // (1024 * 1024)} MB)."
    if kind == "json":
        return (
            f"The file is too large to be a passport "
            f"(the limit is {MAX_PASSPORT_BYTES // (1024 * 1024)} MB)."
        )
    return (
        "The file is too large to be a certificate token "
        f"(the limit is {MAX_TOKEN_FILE_BYTES // 1024} KB)."
    )


def read_tokens(path: str | os.PathLike[str]) -> list[str]:
    """The certificate token(s) in a file: a compact-JWS text file, a PDF with attachments, or
    a passport (its credentials).

    Raises :class:`UnreadableInput` (codes ``not_found``, ``not_a_file``, ``too_large``,
    ``not_a_pdf``, ``pdf_damaged``, ``pdf_encrypted``, ``no_attachment``, ``not_a_token``,
    ``passport_malformed``, ``unreadable``). Messages do not repeat the path; callers add it.
    A QR code (image or ``CC1:`` text) is not a token: use :func:`verify_path` for those.
    """
    data, kind = _read_file(path)
    if kind == "pdf":
        return _pdf_parts(data, details=False).tokens
    if kind == "json":
        from credentials.passport import read_passport

        return list(read_passport(data).credentials)
    if kind == "image":
        raise UnreadableInput(
            "The file is an image, not a certificate token (verify it as a QR code).",
            "not_a_token",
        )
    return [_token_from_bytes(data, "The file")]


# --------------------------------------------------------------------------- PDF consistency


def _canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _normalise_text(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _pdf_problem(
    outcome: _Outcome,
    parts: _PdfParts,
    all_ids: set[str],
    qr_results: Sequence[VerificationResult],
) -> tuple[str | None, list[str]]:
    """Why this PDF disagrees with its signed credential (``None`` if it does not), and
    warnings."""
    payload = outcome.payload
    result = outcome.result
    if payload is None:
        return None, []
    notes: list[str] = []
    if parts.json_blobs:
        signed = _canonical_json({k: v for k, v in payload.items() if k not in JWT_CLAIMS})
        for blob in parts.json_blobs:
            try:
                attached = _canonical_json(strict_json_loads(blob))
            except ValueError:
                return _REASONS["pdf_mismatch"], notes
            if attached != signed and len(parts.tokens) == 1:
                return _REASONS["pdf_mismatch"], notes
    text = _normalise_text(parts.first_page_text or "")
    if not text:
        notes.append(
            "The PDF's printed text could not be read, so check by eye that it shows the details "
            "above."
        )
    else:
        missing = [
            f"{what} '{value}'"
            for what, value in (
                ("the learner name", result.learner_name),
                ("the course name", result.achievement_name),
            )
            if value and _normalise_text(value) not in text
        ]
        if missing:
            return (
                "The PDF's printed text does not show "
                + " or ".join(missing)
                + " from its signed credential, so the printed certificate cannot be trusted."
            ), notes
    for qr in qr_results:
        if qr.credential_id is None or qr.reason_code in _QR_FORGERY_CODES:
            why = qr.reason[0].lower() + qr.reason[1:]
            return f"The QR code printed on the PDF is not genuine: {why}", notes
        if qr.credential_id not in all_ids or (
            len(all_ids) == 1 and qr.credential_id != result.credential_id
        ):
            return (
                "The QR code printed on the PDF is for a different certificate "
                f"({qr.credential_id}) from its signed credential."
            ), notes
    return None, notes


_QR_FORGERY_CODES = frozenset(
    {
        "malformed",
        "unsupported_algorithm",
        "unknown_key",
        "bad_signature",
        "claims_mismatch",
        "issuer_mismatch",
        "key_not_valid",
        "key_compromised",
    }
)


def _json_mismatch_any(parts: _PdfParts, outcomes: Sequence[_Outcome]) -> bool:
    """Several credentials in one PDF: every credential.json must equal one of them."""
    if len(parts.tokens) < 2 or not parts.json_blobs:
        return False
    signed = {
        _canonical_json({k: v for k, v in o.payload.items() if k not in JWT_CLAIMS})
        for o in outcomes
        if o.payload is not None
    }
    for blob in parts.json_blobs:
        try:
            if _canonical_json(strict_json_loads(blob)) not in signed:
                return True
        except ValueError:
            return True
    return False


def _verify_pdf(
    parts: _PdfParts,
    trust: TrustArg,
    now: datetime,
    source: str,
    status_lists: Mapping[str, StatusList] | None,
    max_status_age: timedelta,
) -> list[VerificationResult]:
    from credentials.qr import verify_qr

    sources = (
        [source]
        if len(parts.tokens) == 1
        else [f"{source}#{n}" for n in range(1, len(parts.tokens) + 1)]
    )
    outcomes = [
        _verify_jws(token, trust, now, src, status_lists, max_status_age)
        for token, src in zip(parts.tokens, sources, strict=True)
    ]
    qr_results = [
        verify_qr(
            text,
            trust,
            now,
            status_lists=status_lists,
            max_status_age=max_status_age,
            source=f"{source} (QR code)",
        )
        for text in parts.qr_texts
    ]
    all_ids = {o.result.credential_id for o in outcomes if o.result.credential_id is not None}
    json_any = _json_mismatch_any(parts, outcomes)
    results: list[VerificationResult] = []
    for outcome in outcomes:
        result = outcome.result
        problem, notes = _pdf_problem(outcome, parts, all_ids, qr_results)
        if problem is None and json_any and outcome.payload is not None:
            problem = _REASONS["pdf_mismatch"]
        if problem is not None:
            result = replace(result, valid=False, reason_code="pdf_mismatch", reason=problem)
        if notes:
            result = replace(result, warnings=result.warnings + tuple(notes))
        results.append(result)
    return results


# --------------------------------------------------------------------------- entry point


def verify_path(
    path: str | os.PathLike[str],
    trust: TrustArg,
    now: datetime,
    *,
    status_lists: Mapping[str, StatusList] | None = None,
    max_status_age: timedelta = DEFAULT_MAX_STATUS_AGE,
) -> list[VerificationResult]:
    """Read a certificate file of any accepted kind (see the module docstring) and verify it.

    Raises :class:`UnreadableInput` if the file cannot be read as a certificate.
    ``source`` is the path, with ``#n`` appended when a PDF carries more than one token or the
    file is a passport (``passport.json#3`` is its third credential).
    """
    require_aware(now, "now")
    data, kind = _read_file(path)
    source = os.fspath(path)
    if kind == "pdf":
        parts = _pdf_parts(data, details=True)
        return _verify_pdf(parts, trust, now, source, status_lists, max_status_age)
    if kind == "image":
        from credentials.qr import read_qr_image, verify_qr

        text = read_qr_image(path)
        return [
            verify_qr(
                text,
                trust,
                now,
                status_lists=status_lists,
                max_status_age=max_status_age,
                source=source,
            )
        ]
    if kind == "json":
        from credentials.passport import read_passport, verify_passport

        return verify_passport(
            read_passport(data),
            trust,
            now,
            source=source,
            status_lists=status_lists,
            max_status_age=max_status_age,
        )
    from credentials.qr import QR_PREFIX, verify_qr

    text = _text_from_bytes(data, "The file")
    if text.startswith(QR_PREFIX):
        return [
            verify_qr(
                text,
                trust,
                now,
                status_lists=status_lists,
                max_status_age=max_status_age,
                source=source,
            )
        ]
    token = _token_from_bytes(data, "The file")
    return [
        verify_token(
            token, trust, now, source, status_lists=status_lists, max_status_age=max_status_age
        )
    ]
