"""Offline verification of CareCred certificates (OB 3.0 VC-JWTs), with a plain-English result.

No web framework, database or network is used: the only inputs are the token (or a file holding
it), a trust list already loaded with :func:`credentials.trust.load_trust_list`, and the time.

Accepted inputs (:func:`read_tokens`):

* a text file (``.jwt``, ``.txt`` or anything else that is not a PDF) holding one compact JWS,
  at most 256 KB;
* a PDF (detected by its ``%PDF-`` header), at most 20 MB, carrying the token as an embedded
  file named ``credential.jwt`` (as the LMS's certificate PDFs do).

:func:`verify_token` checks, in this order, stopping at the first failure:

==========================  =================================================================
1. parse                    compact JWS with JSON header and payload (``malformed``)
2. algorithm                header ``alg`` is exactly ``ES256`` (``unsupported_algorithm``);
                            ``typ`` is absent, ``JWT`` or ``vc+jwt`` and there is no
                            ``crit``/``b64`` (``malformed``)
3. key lookup               header ``kid`` names a key in the trust list (``unknown_key``).
                            ``jwk``/``jku``/``x5u``/``x5c`` headers are ignored, never trusted.
4. signature                ES256 signature valid for that key, via PyJWT (``bad_signature``)
5. contents and claims      required credential fields present (``malformed``); ``iss`` =
                            ``issuer.id``, ``jti`` = ``id``, ``nbf`` = ``validFrom``, ``exp`` =
                            ``validUntil`` (both or neither), ``sub`` only if it equals
                            ``credentialSubject.id`` (``claims_mismatch``)
6. issuer binding           the key belongs to the issuer the credential names
                            (``issuer_mismatch``)
7. key window               ``validFrom`` lies in the key's signing window (``key_not_valid``)
8. dates                    ``now`` is not before ``validFrom`` (``not_yet_valid``) and not at
                            or after ``validUntil`` (``expired``)
==========================  =================================================================

Until the signature has been verified nothing from the payload is reported (the fields of the
result stay ``None``). After it, the details shown are the issuer-signed ones, and the issuer's
name always comes from the trust list, never from the token.

A limitation inherent to offline checking: a retired key that leaks could be used to sign
back-dated credentials inside its old window. Remove compromised keys from the trust list.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from credentials._util import (
    format_datetime,
    human_date,
    is_numeric_date,
    parse_datetime,
    require_aware,
    to_numeric_date,
)
from credentials.errors import CredentialError, UnreadableInput
from credentials.ob3 import VC2_CONTEXT
from credentials.trust import TrustedIssuer, TrustList
from credentials.vcjwt import MAX_TOKEN_CHARS, SignatureInvalid, parse_compact, verify_es256

__all__ = [
    "MAX_PDF_BYTES",
    "REASON_CODES",
    "VerificationResult",
    "human_date",
    "read_tokens",
    "verify_path",
    "verify_token",
]

#: Largest PDF accepted (20 MB).
MAX_PDF_BYTES = 20 * 1024 * 1024
#: Largest token text file accepted (256 KB).
MAX_TOKEN_FILE_BYTES = MAX_TOKEN_CHARS
ATTACHMENT_NAME = "credential.jwt"
_ACCEPTED_TYP = frozenset({"jwt", "application/jwt", "vc+jwt", "application/vc+jwt"})
_OB_CONTEXT_RE = re.compile(r"https://purl\.imsglobal\.org/spec/ob/v3p0/context(-3\.\d\.\d)*\.json")
_TOKEN_SHAPE_RE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_MAX_ALIGNMENTS = 100

REASON_CODES = (
    "valid",
    "malformed",
    "unsupported_algorithm",
    "unknown_key",
    "issuer_mismatch",
    "key_not_valid",
    "bad_signature",
    "claims_mismatch",
    "not_yet_valid",
    "expired",
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
    "bad_signature": (
        "This certificate has been changed since it was issued, or its signature is damaged, so "
        "it cannot be trusted."
    ),
    "claims_mismatch": (
        "The details inside this certificate do not agree with each other (for example its "
        "dates or reference number), so it cannot be trusted."
    ),
}


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
class VerificationResult:
    """The outcome of checking one certificate.

    ``achievement_version`` and ``activity_end`` are extra display fields (used by the CLI's
    "For:" and "Completed:" lines); they are not part of :meth:`to_json`.
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
        }


class _Malformed(Exception):
    pass


@dataclass(frozen=True)
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


def _req_str(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _Malformed(name)
    return value


def _opt_str(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) and value.strip() else None


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


def _contents(payload: Mapping[str, Any]) -> _Contents:
    """The fields we rely on, checked for presence and type. Raises ``_Malformed``."""
    if "vc" in payload or "vp" in payload:
        raise _Malformed("legacy vc claim")
    context = payload.get("@context")
    if (
        not isinstance(context, list)
        or len(context) < 2
        or context[0] != VC2_CONTEXT
        or not isinstance(context[1], str)
        or not _OB_CONTEXT_RE.fullmatch(context[1])
    ):
        raise _Malformed("@context")
    types = payload.get("type")
    if (
        not isinstance(types, list)
        or "VerifiableCredential" not in types
        or not (
            {"OpenBadgeCredential", "AchievementCredential"}
            & {t for t in types if isinstance(t, str)}
        )
    ):
        raise _Malformed("type")
    credential_id = _req_str(payload, "id")
    issuer = payload.get("issuer")
    if isinstance(issuer, Mapping):
        issuer_id = _req_str(issuer, "id")
    elif isinstance(issuer, str) and issuer:
        issuer_id = issuer
    else:
        raise _Malformed("issuer")
    valid_from = _date(payload.get("validFrom"))
    valid_until = _date(payload["validUntil"]) if "validUntil" in payload else None
    if valid_until is not None and valid_until < valid_from:
        raise _Malformed("validUntil before validFrom")

    subject = payload.get("credentialSubject")
    if not isinstance(subject, Mapping):
        raise _Malformed("credentialSubject")
    subject_id = _opt_str(subject, "id")
    identifiers = subject.get("identifier", [])
    if not isinstance(identifiers, list):
        raise _Malformed("identifier")
    if subject_id is None and not identifiers:
        raise _Malformed("subject has neither id nor identifier")
    learner_name: str | None = None
    for ident in identifiers:
        if not isinstance(ident, Mapping):
            raise _Malformed("identifier")
        if (
            learner_name is None
            and ident.get("identityType") == "name"
            and ident.get("hashed") is False
        ):
            learner_name = _opt_str(ident, "identityHash")
    achievement = subject.get("achievement")
    if not isinstance(achievement, Mapping):
        raise _Malformed("achievement")
    raw_alignments = achievement.get("alignment", [])
    if not isinstance(raw_alignments, list):
        raise _Malformed("alignment")
    alignments: list[str] = []
    for item in raw_alignments[:_MAX_ALIGNMENTS]:
        if not isinstance(item, Mapping):
            raise _Malformed("alignment")
        text = _format_alignment(item)
        if text is not None:
            alignments.append(text)
    activity_end = (
        _date(subject["activityEndDate"]) if subject.get("activityEndDate") is not None else None
    )
    return _Contents(
        credential_id=credential_id,
        issuer_id=issuer_id,
        subject_id=subject_id,
        learner_name=learner_name,
        achievement_name=_req_str(achievement, "name"),
        achievement_id=_req_str(achievement, "id"),
        achievement_version=_opt_str(achievement, "version"),
        alignments=tuple(alignments),
        valid_from=valid_from,
        valid_until=valid_until,
        activity_end=activity_end,
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


def verify_token(
    token: str, trust: TrustList, now: datetime, source: str = "<token>"
) -> VerificationResult:
    """Check one compact JWS against a loaded trust list at time ``now`` (aware datetime).

    Never raises for a bad token: the problem is described by ``reason_code``/``reason``.
    """
    require_aware(now, "now")

    def fail(code: str) -> VerificationResult:
        return VerificationResult(
            source=source, valid=False, reason_code=code, reason=_reason(code)
        )

    try:
        parsed = parse_compact(token)
    except UnreadableInput:
        return fail("malformed")
    header = parsed.header
    if header.get("alg") != "ES256":
        return fail("unsupported_algorithm")
    if not _header_ok(header):
        return fail("malformed")
    kid = header.get("kid")
    found = trust.find_key(kid) if isinstance(kid, str) else None
    if found is None:
        return fail("unknown_key")
    signer, key = found
    try:
        public_key = key.public_key()
    except CredentialError:
        return fail("unknown_key")
    try:
        verify_es256(parsed.token, public_key)
    except SignatureInvalid:
        return fail("bad_signature")

    # From here on the payload is exactly what the listed key signed.
    payload = parsed.payload
    try:
        contents = _contents(payload)
    except _Malformed:
        return fail("malformed")

    def result(code: str) -> VerificationResult:
        return _result(source, code, contents, signer)

    if not _claims_match(payload, contents):
        return result("claims_mismatch")
    if not _same_issuer(contents.issuer_id, signer):
        return result("issuer_mismatch")
    if not key.may_sign_at(contents.valid_from):
        return result("key_not_valid")
    if now < contents.valid_from:
        return result("not_yet_valid")
    if contents.valid_until is not None and now >= contents.valid_until:
        return result("expired")
    return result("valid")


def _same_issuer(issuer_id: str, signer: TrustedIssuer) -> bool:
    return issuer_id == signer.id


def _result(
    source: str, code: str, contents: _Contents, signer: TrustedIssuer
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
    )


# --------------------------------------------------------------------------- reading files


def _token_from_bytes(data: bytes, where: str) -> str:
    try:
        text = data.decode("utf-8").removeprefix("\ufeff").strip()
    except UnicodeDecodeError as exc:
        raise UnreadableInput(f"{where} is not a certificate token.", "not_a_token") from exc
    if not text:
        raise UnreadableInput(f"{where} is empty.", "not_a_token")
    if len(text) > MAX_TOKEN_CHARS:
        raise UnreadableInput(f"{where} is too large to be a certificate token.", "too_large")
    if not _TOKEN_SHAPE_RE.fullmatch(text):
        raise UnreadableInput(
            f"{where} is not a certificate token (expected a .jwt, .txt or .pdf certificate).",
            "not_a_token",
        )
    return text


def _tokens_from_pdf(data: bytes) -> list[str]:
    # Imported here so that reading plain tokens does not pay for loading pypdf.
    from pypdf import PdfReader

    try:
        with warnings.catch_warnings():
            # Damaged PDFs make pypdf warn; the outcome is reported through our own errors.
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                try:
                    reader.decrypt("")
                except Exception as exc:
                    raise UnreadableInput(
                        "The PDF is password-protected, so its certificate cannot be read.",
                        "pdf_encrypted",
                    ) from exc
            blobs = list(reader.attachments.get(ATTACHMENT_NAME, []))
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
    return tokens


def read_tokens(path: str | os.PathLike[str]) -> list[str]:
    """The certificate token(s) in a file: a compact-JWS text file or a PDF with attachments.

    Raises :class:`UnreadableInput` (codes ``not_found``, ``not_a_file``, ``too_large``,
    ``not_a_pdf``, ``pdf_damaged``, ``pdf_encrypted``, ``no_attachment``, ``not_a_token``,
    ``unreadable``). Messages do not repeat the path; callers add it.
    """
    p = Path(path)
    try:
        if not p.exists():
            raise UnreadableInput("There is no such file.", "not_found")
        if not p.is_file():
            raise UnreadableInput("This is not a file.", "not_a_file")
        with p.open("rb") as fh:
            head = fh.read(1024)
            is_pdf = b"%PDF-" in head
            limit = MAX_PDF_BYTES if is_pdf else MAX_TOKEN_FILE_BYTES
            if os.fstat(fh.fileno()).st_size > limit:
                raise UnreadableInput(_too_large(is_pdf), "too_large")
            rest = fh.read(limit + 1 - len(head))
    except OSError as exc:
        raise UnreadableInput("The file cannot be opened.", "unreadable") from exc
    data = head + rest
    if len(data) > limit:
        raise UnreadableInput(_too_large(is_pdf), "too_large")
    if is_pdf:
        return _tokens_from_pdf(data)
    if p.suffix.lower() == ".pdf":
        raise UnreadableInput("The file is named .pdf but is not a PDF.", "not_a_pdf")
    return [_token_from_bytes(data, "The file")]


def _too_large(is_pdf: bool) -> str:
    if is_pdf:
        return f"The PDF is too large (the limit is {MAX_PDF_BYTES // (1024 * 1024)} MB)."
    return (
        "The file is too large to be a certificate token "
        f"(the limit is {MAX_TOKEN_FILE_BYTES // 1024} KB)."
    )


def verify_path(
    path: str | os.PathLike[str], trust: TrustList, now: datetime
) -> list[VerificationResult]:
    """Read a file with :func:`read_tokens` and verify each token in it.

    Raises :class:`UnreadableInput` if the file cannot be read as a certificate.
    ``source`` is the path, with ``#n`` appended when a PDF carries more than one token.
    """
    tokens = read_tokens(path)
    source = os.fspath(path)
    if len(tokens) == 1:
        return [verify_token(tokens[0], trust, now, source=source)]
    return [
        verify_token(token, trust, now, source=f"{source}#{n}")
        for n, token in enumerate(tokens, start=1)
    ]
