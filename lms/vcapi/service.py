"""The VC API's request checking and answers (see lms/vcapi/views.py for the spec followed).

Takes the session and the clock; never commits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import CatalogueModule
from credentials import VerificationResult, decode_unverified
from credentials.ob3 import VC2_CONTEXT
from credentials.verify import JWT_CLAIMS

from .. import audit
from ..accounts import normalise_email
from ..api.models import ApiToken
from ..api.service import InvalidInput, verify_text
from ..issuance import IssuanceContext, issue_for_completion, issuer_profile
from ..learning import credential_for
from ..models import Completion, CompletionSource, Organisation, User

VCDM = "https://www.w3.org/TR/vc-data-model#"
UNKNOWN_OPTION = "https://www.w3.org/TR/vc-api#UNKNOWN_OPTION_PROVIDED"
ENVELOPED = "EnvelopedVerifiableCredential"
JWT_DATA_PREFIX = "data:application/vc+jwt,"
# Where a reason code has no type in VCDM 2.0 §7.2 the type is ours (RFC 9457 allows that): the
# OpenAPI document's list of reason codes, with `code` naming which.
OWN_TYPE = "{base}/api/v1/openapi.json#/components/schemas/ReasonCode"

# Reason codes of credentials.verify -> (problem type, short title).
_CRYPTO = VCDM + "CRYPTOGRAPHIC_SECURITY_ERROR"
PROBLEMS: dict[str, tuple[str, str]] = {
    "malformed": (VCDM + "PARSING_ERROR", "The credential could not be read"),
    "unsupported_algorithm": (_CRYPTO, "Unsupported signature algorithm"),
    "unknown_key": (_CRYPTO, "Signed by a key that is not trusted"),
    "issuer_mismatch": (_CRYPTO, "Signed by a different issuer"),
    "key_not_valid": (_CRYPTO, "Dated outside the signing key's period"),
    "key_compromised": (_CRYPTO, "Signed after the key was reported compromised"),
    "bad_signature": (_CRYPTO, "The credential was changed or its signature is damaged"),
    "claims_mismatch": (VCDM + "MALFORMED_VALUE_ERROR", "The credential's claims disagree"),
    "not_yet_valid": (OWN_TYPE, "Not yet valid"),
    "expired": (OWN_TYPE, "Expired"),
    "revoked": (OWN_TYPE, "Revoked by the issuer"),
    "suspended": (OWN_TYPE, "Suspended by the issuer"),
    "pdf_mismatch": (VCDM + "MALFORMED_VALUE_ERROR", "The PDF does not match its credential"),
    "status_not_checked": (OWN_TYPE, "Status not fully checked"),
}
# Once the signature is known good, the verified payload can be returned as the document.
_UNSIGNED = frozenset({"malformed", "unsupported_algorithm", "unknown_key", "bad_signature"})
_ACHIEVEMENT_RE = re.compile(r"/achievements/([A-Za-z0-9][A-Za-z0-9-]{0,15})/v([1-9][0-9]{0,5})")


class UnknownOption(InvalidInput):
    pass


def problem(code: str, detail: str, base_url: str) -> dict[str, Any]:
    # Request errors (401, 403, 413 ...) add nothing to their HTTP status: RFC 9457 about:blank.
    kind, title = PROBLEMS.get(code, ("about:blank", code.replace("_", " ").capitalize()))
    return {"type": kind.format(base=base_url), "title": title, "detail": detail, "code": code}


def invalid_problem(err: InvalidInput) -> dict[str, Any]:
    if isinstance(err, UnknownOption):
        return {
            "type": UNKNOWN_OPTION,
            "title": "Unknown option",
            "detail": err.message,
            "code": "unknown_option",
        }
    out = {
        "type": VCDM + "PARSING_ERROR",
        "title": "Malformed request",
        "detail": err.message,
        "code": "bad_request",
    }
    if err.pointer:
        out["pointer"] = err.pointer
    return out


def _check_keys(body: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput(
            f"{where} has a member this service does not understand: {unknown[0][:60]!r}.",
            f"/{unknown[0][:60]}",
        )


def _check_options(body: Mapping[str, Any]) -> None:
    options = body.get("options", {})
    if not isinstance(options, dict):
        raise InvalidInput("options must be a JSON object.", "/options")
    if options:
        name = sorted(options)[0][:60]
        raise UnknownOption(f"This service accepts no options; {name!r} is unknown.")


def _types(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return []


def _has_v2_context(value: object) -> bool:
    if isinstance(value, str):
        return value == VC2_CONTEXT
    return (
        isinstance(value, list)
        and bool(value)
        and value[0] == VC2_CONTEXT
        and all(isinstance(item, str) for item in value)
    )


# --- verify -----------------------------------------------------------------------------------


def enveloped_token(vc: object) -> str:
    """The compact JWS inside an EnvelopedVerifiableCredential, or InvalidInput."""
    if isinstance(vc, str):
        raise InvalidInput(
            "verifiableCredential must be an EnvelopedVerifiableCredential object, not a string.",
            "/verifiableCredential",
        )
    if not isinstance(vc, dict):
        raise InvalidInput("verifiableCredential must be a JSON object.", "/verifiableCredential")
    if ENVELOPED not in _types(vc.get("type")):
        raise InvalidInput(
            "Only enveloped VC-JWT credentials are verified here: type must be "
            f"{ENVELOPED!r} and id 'data:application/vc+jwt,<token>'.",
            "/verifiableCredential/type",
        )
    if not _has_v2_context(vc.get("@context")):
        raise InvalidInput(
            f"@context must start with {VC2_CONTEXT!r}.", "/verifiableCredential/@context"
        )
    data_url = vc.get("id")
    if not isinstance(data_url, str) or not data_url.startswith(JWT_DATA_PREFIX):
        raise InvalidInput(
            "id must be a data URL 'data:application/vc+jwt,<compact JWS>'.",
            "/verifiableCredential/id",
        )
    return data_url[len(JWT_DATA_PREFIX) :]


def verification_response(result: VerificationResult, token: str, base_url: str) -> dict[str, Any]:
    errors = [] if result.valid else [problem(result.reason_code, result.reason, base_url)]
    warnings = [problem("status_not_checked", w, base_url) for w in result.warnings]
    out: dict[str, Any] = {"verified": result.valid and not errors, "errors": errors}
    out["warnings"] = warnings
    if result.reason_code not in _UNSIGNED:
        _, payload = decode_unverified(token)  # verified above: this is what the issuer signed
        out["document"] = {k: v for k, v in payload.items() if k not in JWT_CLAIMS}
        out["mediaType"] = "application/vc"
        out["controller"] = result.issuer_id
    out["details"] = result.to_json()
    return out


def verify_request(
    session: Session, ctx: IssuanceContext, body: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    _check_keys(body, {"verifiableCredential", "options"}, "The request")
    if "verifiableCredential" not in body:
        raise InvalidInput("The request needs a verifiableCredential.", "/verifiableCredential")
    _check_options(body)
    token = enveloped_token(body["verifiableCredential"]).strip()
    if not token:
        raise InvalidInput("The data URL holds no token.", "/verifiableCredential/id")
    result = verify_text(session, ctx, token, now, jwt_only=True)
    return verification_response(result, token, ctx.base_url)


# --- issue ------------------------------------------------------------------------------------


def _email_of(subject: Mapping[str, Any]) -> str:
    identifiers = subject.get("identifier")
    if isinstance(identifiers, dict):
        identifiers = [identifiers]
    if isinstance(identifiers, list):
        for ident in identifiers:
            if (
                isinstance(ident, dict)
                and ident.get("identityType") == "emailAddress"
                and ident.get("hashed") is False
                and isinstance(ident.get("identityHash"), str)
            ):
                email: str = ident["identityHash"]
                if 3 <= len(email) <= 254 and "@" in email:
                    return normalise_email(email)
    raise InvalidInput(
        "Name the learner in credentialSubject.identifier: an IdentityObject with "
        'identityType "emailAddress", hashed false and identityHash the e-mail address.',
        "/credential/credentialSubject/identifier",
    )


def _module_of(session: Session, subject: Mapping[str, Any], base_url: str) -> CatalogueModule:
    achievement = subject.get("achievement")
    achievement_id = achievement.get("id") if isinstance(achievement, dict) else None
    match = (
        _ACHIEVEMENT_RE.fullmatch(achievement_id[len(base_url) :])
        if isinstance(achievement_id, str) and achievement_id.startswith(base_url)
        else None
    )
    module = (
        session.scalar(
            select(CatalogueModule).where(
                CatalogueModule.code == match.group(1),
                CatalogueModule.version == int(match.group(2)),
            )
        )
        if match
        else None
    )
    if module is None:
        raise InvalidInput(
            "credentialSubject.achievement.id must be one of this instance's achievements, "
            f"{base_url}/achievements/<module code>/v<version>.",
            "/credential/credentialSubject/achievement/id",
        )
    return module


def _check_credential(credential: object, org: Organisation, base_url: str) -> dict[str, Any]:
    if not isinstance(credential, dict):
        raise InvalidInput("credential must be a JSON object.", "/credential")
    if "proof" in credential:
        raise InvalidInput(
            "The credential already has a proof; send it unsigned.", "/credential/proof"
        )
    if not _has_v2_context(credential.get("@context")):
        raise InvalidInput(f"@context must start with {VC2_CONTEXT!r}.", "/credential/@context")
    types = _types(credential.get("type"))
    if "VerifiableCredential" not in types or not (
        {"OpenBadgeCredential", "AchievementCredential"} & set(types)
    ):
        raise InvalidInput(
            "type must include VerifiableCredential and OpenBadgeCredential: this service "
            "issues Open Badges 3.0 training credentials only.",
            "/credential/type",
        )
    if "issuer" in credential:
        issuer = credential["issuer"]
        issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
        if issuer_id != issuer_profile(org, base_url).id:
            raise InvalidInput(
                "issuer does not match this token's organisation "
                f"({issuer_profile(org, base_url).id}).",
                "/credential/issuer",
            )
    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict):
        raise InvalidInput(
            "credentialSubject must be a JSON object.", "/credential/credentialSubject"
        )
    return subject


def enveloped(token: str) -> dict[str, Any]:
    return {"@context": VC2_CONTEXT, "type": ENVELOPED, "id": JWT_DATA_PREFIX + token}


def issue_request(
    session: Session,
    ctx: IssuanceContext,
    token: ApiToken,
    body: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """The signed credential for an existing completion of the token's organisation."""
    _check_keys(body, {"credential", "options"}, "The request")
    _check_options(body)
    org = token.organisation
    subject = _check_credential(body.get("credential"), org, ctx.base_url)
    email = _email_of(subject)
    module = _module_of(session, subject, ctx.base_url)
    no_match = InvalidInput(
        "Your organisation has no completion of that achievement by that learner, so there is "
        "nothing to issue. Credentials are issued only for training completed here.",
        "/credential/credentialSubject",
    )
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        raise no_match
    completion = session.scalar(
        select(Completion)
        .where(
            Completion.user_id == user.id,
            Completion.org_id == org.id,
            Completion.module_id == module.id,
            Completion.source.in_([CompletionSource.COURSE.value, CompletionSource.AWARD.value]),
        )
        .order_by(Completion.completed_at.desc(), Completion.id.desc())
        .limit(1)
    )
    if completion is None:
        raise no_match
    existing = credential_for(session, completion)
    if existing is not None:
        return enveloped(existing.token)
    if completion.valid_until is not None and completion.valid_until <= now:
        raise InvalidInput(
            "That completion has expired, so no new credential is issued for it.",
            "/credential/credentialSubject",
        )
    issued = issue_for_completion(session, ctx, completion, now)
    # Issuance records "credential.issued" itself; this says who asked for it.
    audit.record(
        session,
        actor=None,
        actor_label=f"api-token {token.prefix} ({token.name})",
        action="credential.issue_requested",
        entity_type="credential",
        entity_id=issued.credential_id,
        now=now,
        org_id=org.id,
        subject_user_id=user.id,
        after={"completion_id": completion.id, "module": module.code, "via": "vc-api"},
    )
    return enveloped(issued.token)
