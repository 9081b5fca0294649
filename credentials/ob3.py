"""Open Badges 3.0 ``OpenBadgeCredential`` objects (W3C VC Data Model 2.0), built purely.

Nothing here reads the clock, the network or a database: callers pass every value in,
including the dates. The output of :func:`build_credential` validates against the official
1EdTech JSON Schema ``ob_v3p0_achievementcredential_schema.json`` (draft 2019-09).

Shape produced (fields in ``[]`` are omitted when not given; ``null`` is never emitted)::

    {
      "@context": ["https://www.w3.org/ns/credentials/v2",
                   "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
      "id": "urn:uuid:...",
      "type": ["VerifiableCredential", "OpenBadgeCredential"],
      "issuer": {"id": ..., "type": ["Profile"], "name": ..., ["url": ...]},
      "name": <achievement name>,
      "validFrom": "YYYY-MM-DDTHH:MM:SSZ",
      ["validUntil": "YYYY-MM-DDTHH:MM:SSZ"],
      "credentialSubject": {
        "type": ["AchievementSubject"],
        "identifier": [
          {"type": "IdentityObject", "identityType": "name", "hashed": false,
           "identityHash": <learner name>},
          {"type": "IdentityObject", "identityType": "emailAddress", "hashed": true,
           "identityHash": "sha256$<hex>", "salt": <salt>}
        ],
        "achievement": {"id", "type": ["Achievement"], "achievementType", "name",
                        "description", "criteria": {"narrative"}, ["version"], ["humanCode"],
                        ["alignment": [{"type": ["Alignment"], "targetName", "targetUrl",
                                        ["targetFramework"], ["targetCode"], ["targetType"],
                                        ["targetDescription"]}]],
                        ["resultDescription": [{"id", "type": ["ResultDescription"], "name",
                                                "resultType", ["allowedValue"],
                                                ["requiredValue"]}]]},
        ["result": [{"type": ["Result"], "resultDescription": <its id>, ["status"],
                     ["value"], ["achievedLevel"]}]],
        ["activityEndDate": "YYYY-MM-DDTHH:MM:SSZ"]
      },
      ["evidence": [{["id"], "type": ["Evidence"], ["name"], ["description"], ["narrative"],
                     ["genre"], ["audience"]}]],
      ["credentialStatus": {"id": "<list url>#<index>", "type": "BitstringStatusListEntry",
                            "statusPurpose": "revocation", "statusListIndex": "<index>",
                            "statusListCredential": "<list url>"}]
    }

Privacy: the learner is identified only by their name (printed on the certificate anyway) and
a salted SHA-256 of their normalised e-mail address (``email.strip().lower()`` followed by the
salt, UTF-8), as OB 3.0 ``IdentityHash`` specifies. No ``credentialSubject.id``, date of birth or
other identifier is included. An employer who knows the learner's e-mail can confirm the match
with :func:`email_matches`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from credentials._util import format_datetime, require_aware, truncate_to_seconds

__all__ = [
    "ACHIEVEMENT_TYPES",
    "OB3_CONTEXT",
    "VC2_CONTEXT",
    "RESULT_STATUSES",
    "RESULT_TYPES",
    "AchievementSpec",
    "Alignment",
    "Evidence",
    "IssuerProfile",
    "ResultDescription",
    "SubjectResult",
    "build_credential",
    "email_matches",
    "hash_email",
    "new_credential_id",
    "new_salt",
]

VC2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"

#: The OB 3.0 ``AchievementType`` vocabulary; values starting ``ext:`` are also allowed.
ACHIEVEMENT_TYPES = frozenset(
    {
        "Achievement",
        "ApprenticeshipCertificate",
        "Assessment",
        "Assignment",
        "AssociateDegree",
        "Award",
        "Badge",
        "BachelorDegree",
        "Certificate",
        "CertificateOfCompletion",
        "Certification",
        "CommunityService",
        "Competency",
        "Course",
        "CoCurricular",
        "Degree",
        "Diploma",
        "DoctoralDegree",
        "Fieldwork",
        "GeneralEducationDevelopment",
        "JourneymanCertificate",
        "LearningProgram",
        "License",
        "Membership",
        "ProfessionalDoctorate",
        "QualityAssuranceCredential",
        "MasterCertificate",
        "MasterDegree",
        "MicroCredential",
        "ResearchDoctorate",
        "SecondarySchoolDiploma",
    }
)
#: The OB 3.0 ``AlignmentTargetType`` vocabulary; values starting ``ext:`` are also allowed.
ALIGNMENT_TARGET_TYPES = frozenset(
    {
        "ceasn:Competency",
        "ceterms:Credential",
        "CFItem",
        "CFRubric",
        "CFRubricCriterion",
        "CFRubricCriterionLevel",
        "CTDL",
    }
)
#: The OB 3.0 ``ResultType`` vocabulary; values starting ``ext:`` are also allowed.
RESULT_TYPES = frozenset(
    {
        "GradePointAverage",
        "LetterGrade",
        "Percent",
        "PerformanceLevel",
        "PredictedScore",
        "RawScore",
        "Result",
        "RubricCriterion",
        "RubricCriterionLevel",
        "RubricScore",
        "ScaledScore",
        "Status",
    }
)
#: The OB 3.0 ``ResultStatusType`` enumeration.
RESULT_STATUSES = frozenset(
    {"Completed", "Enrolled", "Failed", "InProgress", "OnHold", "Provisional", "Withdrew"}
)
_EXT_RE = re.compile(r"ext:[A-Za-z0-9.\-_|]+")
_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
_MAX_TEXT = 20_000


@dataclass(frozen=True)
class IssuerProfile:
    """The issuing organisation. ``id`` is a URI (``did:web:...`` or an https URL)."""

    id: str
    name: str
    url: str | None = None


@dataclass(frozen=True)
class Alignment:
    """A link from the achievement to a framework node (e.g. a Care Certificate standard)."""

    target_name: str
    target_url: str
    target_framework: str | None = None
    target_code: str | None = None
    target_type: str | None = None
    target_description: str | None = None


@dataclass(frozen=True)
class ResultDescription:
    """A kind of result the achievement can have (OB 3.0 ``ResultDescription``).

    ``result_type`` "Status" means results say ``status`` (e.g. "Completed").
    """

    id: str
    name: str
    result_type: str = "Status"
    allowed_values: tuple[str, ...] = ()
    required_value: str | None = None


@dataclass(frozen=True)
class SubjectResult:
    """The learner's result against one of the achievement's result descriptions."""

    result_description: str  # the ResultDescription's id
    status: str | None = None
    value: str | None = None
    achieved_level: str | None = None


@dataclass(frozen=True)
class Evidence:
    """How the achievement was shown (OB 3.0 ``Evidence``): e.g. an observation of practice.

    Carries a description only: never a link to, or the content of, an uploaded file.
    """

    name: str
    narrative: str
    description: str | None = None
    genre: str | None = None
    audience: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class AchievementSpec:
    """What was achieved (one version of one course)."""

    id: str
    name: str
    description: str
    criteria: str
    achievement_type: str = "CertificateOfCompletion"
    version: str | None = None
    human_code: str | None = None
    alignments: tuple[Alignment, ...] = ()
    result_descriptions: tuple[ResultDescription, ...] = ()


def hash_email(email: str, salt: str) -> str:
    """OB 3.0 IdentityHash of an e-mail: ``"sha256$" + hex(sha256(normalised_email + salt))``.

    The address is normalised with ``strip().lower()`` before hashing.
    """
    if not isinstance(email, str) or not isinstance(salt, str):
        raise TypeError("email and salt must be strings")
    normalised = email.strip().lower()
    return "sha256$" + hashlib.sha256((normalised + salt).encode("utf-8")).hexdigest()


def email_matches(credential: Mapping[str, Any], email: str) -> bool:
    """True if ``email`` is the address hashed into the credential's ``emailAddress`` identifier.

    Use this only on a credential whose signature has already been verified.
    """
    subject = credential.get("credentialSubject")
    identifiers = subject.get("identifier") if isinstance(subject, Mapping) else None
    if not isinstance(identifiers, list):
        return False
    for ident in identifiers:
        if not isinstance(ident, Mapping) or ident.get("identityType") != "emailAddress":
            continue
        expected = ident.get("identityHash")
        salt = ident.get("salt", "")
        if ident.get("hashed") is not True or not isinstance(expected, str):
            continue
        if not isinstance(salt, str) or not expected.lower().startswith("sha256$"):
            continue
        actual = hash_email(email, salt)
        if hmac.compare_digest(actual.encode(), ("sha256$" + expected[7:].lower()).encode()):
            return True
    return False


def new_credential_id() -> str:
    """A fresh credential id: ``urn:uuid:<uuid4>``."""
    return f"urn:uuid:{uuid.uuid4()}"


def new_salt() -> str:
    """A fresh random salt for :func:`hash_email` (128 bits, hex)."""
    return secrets.token_hex(16)


def _text(value: object, name: str, *, limit: int = _MAX_TEXT) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    if len(value) > limit:
        raise ValueError(f"{name} is too long ({len(value)} > {limit} characters)")
    return value


def _uri(value: object, name: str) -> str:
    text = _text(value, name, limit=2048)
    if not _URI_RE.fullmatch(text):
        raise ValueError(f"{name} must be an absolute URI (e.g. https://... or did:web:...)")
    return text


def _alignment(item: Alignment, index: int) -> dict[str, Any]:
    if not isinstance(item, Alignment):
        raise TypeError(f"alignments[{index}] must be an Alignment")
    where = f"alignments[{index}]"
    out: dict[str, Any] = {
        "type": ["Alignment"],
        "targetName": _text(item.target_name, f"{where}.target_name"),
        "targetUrl": _uri(item.target_url, f"{where}.target_url"),
    }
    if item.target_framework is not None:
        out["targetFramework"] = _text(item.target_framework, f"{where}.target_framework")
    if item.target_code is not None:
        out["targetCode"] = _text(item.target_code, f"{where}.target_code")
    if item.target_type is not None:
        ttype = _text(item.target_type, f"{where}.target_type")
        if ttype not in ALIGNMENT_TARGET_TYPES and not _EXT_RE.fullmatch(ttype):
            raise ValueError(
                f"{where}.target_type must be an OB 3.0 AlignmentTargetType or ext:..."
            )
        out["targetType"] = ttype
    if item.target_description is not None:
        out["targetDescription"] = _text(item.target_description, f"{where}.target_description")
    return out


def _achievement(spec: AchievementSpec) -> dict[str, Any]:
    if not isinstance(spec, AchievementSpec):
        raise TypeError("achievement must be an AchievementSpec")
    if spec.achievement_type not in ACHIEVEMENT_TYPES and not _EXT_RE.fullmatch(
        str(spec.achievement_type)
    ):
        raise ValueError("achievement_type must be an OB 3.0 AchievementType or ext:...")
    out: dict[str, Any] = {
        "id": _uri(spec.id, "achievement.id"),
        "type": ["Achievement"],
        "achievementType": spec.achievement_type,
        "name": _text(spec.name, "achievement.name", limit=500),
        "description": _text(spec.description, "achievement.description"),
        "criteria": {"narrative": _text(spec.criteria, "achievement.criteria")},
    }
    if spec.version is not None:
        out["version"] = _text(spec.version, "achievement.version", limit=100)
    if spec.human_code is not None:
        out["humanCode"] = _text(spec.human_code, "achievement.human_code", limit=100)
    if spec.alignments:
        out["alignment"] = [_alignment(a, i) for i, a in enumerate(spec.alignments)]
    if spec.result_descriptions:
        out["resultDescription"] = [
            _result_description(r, i) for i, r in enumerate(spec.result_descriptions)
        ]
        ids = [r["id"] for r in out["resultDescription"]]
        if len(set(ids)) != len(ids):
            raise ValueError("result_descriptions: ids must be unique")
    return out


def _result_description(item: ResultDescription, index: int) -> dict[str, Any]:
    if not isinstance(item, ResultDescription):
        raise TypeError(f"result_descriptions[{index}] must be a ResultDescription")
    where = f"result_descriptions[{index}]"
    rtype = _text(item.result_type, f"{where}.result_type", limit=200)
    if rtype not in RESULT_TYPES and not _EXT_RE.fullmatch(rtype):
        raise ValueError(f"{where}.result_type must be an OB 3.0 ResultType or ext:...")
    out: dict[str, Any] = {
        "id": _uri(item.id, f"{where}.id"),
        "type": ["ResultDescription"],
        "name": _text(item.name, f"{where}.name", limit=500),
        "resultType": rtype,
    }
    if item.allowed_values:
        out["allowedValue"] = [
            _text(v, f"{where}.allowed_values", limit=200) for v in item.allowed_values
        ]
    if item.required_value is not None:
        out["requiredValue"] = _text(item.required_value, f"{where}.required_value", limit=200)
    return out


def _result(item: SubjectResult, index: int, descriptions: Mapping[str, str]) -> dict[str, Any]:
    if not isinstance(item, SubjectResult):
        raise TypeError(f"results[{index}] must be a SubjectResult")
    where = f"results[{index}]"
    ref = _uri(item.result_description, f"{where}.result_description")
    if ref not in descriptions:
        raise ValueError(
            f"{where}.result_description names no result description of the achievement"
        )
    out: dict[str, Any] = {"type": ["Result"], "resultDescription": ref}
    if item.status is not None:
        if item.status not in RESULT_STATUSES:
            raise ValueError(f"{where}.status must be one of {sorted(RESULT_STATUSES)}")
        out["status"] = item.status
    elif descriptions[ref] == "Status":
        raise ValueError(f"{where}.status is required by a Status result description")
    if item.value is not None:
        out["value"] = _text(item.value, f"{where}.value", limit=2000)
    if item.achieved_level is not None:
        out["achievedLevel"] = _uri(item.achieved_level, f"{where}.achieved_level")
    return out


def _evidence(item: Evidence, index: int) -> dict[str, Any]:
    if not isinstance(item, Evidence):
        raise TypeError(f"evidence[{index}] must be an Evidence")
    where = f"evidence[{index}]"
    out: dict[str, Any] = {}
    if item.id is not None:
        out["id"] = _uri(item.id, f"{where}.id")
    out["type"] = ["Evidence"]
    out["name"] = _text(item.name, f"{where}.name", limit=500)
    if item.description is not None:
        out["description"] = _text(item.description, f"{where}.description")
    out["narrative"] = _text(item.narrative, f"{where}.narrative")
    if item.genre is not None:
        out["genre"] = _text(item.genre, f"{where}.genre", limit=200)
    if item.audience is not None:
        out["audience"] = _text(item.audience, f"{where}.audience", limit=500)
    return out


def build_credential(
    *,
    credential_id: str,
    issuer: IssuerProfile,
    achievement: AchievementSpec,
    learner_name: str,
    learner_email: str,
    salt: str,
    valid_from: datetime,
    valid_until: datetime | None,
    activity_end: datetime | None = None,
    status: Mapping[str, Any] | None = None,
    evidence: Sequence[Evidence] = (),
    results: Sequence[SubjectResult] = (),
) -> dict[str, Any]:
    """Build an unsigned ``OpenBadgeCredential`` (see the module docstring for the shape).

    ``status``, if given, becomes the ``credentialStatus`` object: normally
    :func:`credentials.status.status_entry` (a ``BitstringStatusListEntry``). The OB 3.0 schema
    allows exactly one object, so only the revocation entry is carried; the paired suspension
    list is found through the trust list.

    ``evidence`` (how competence was shown, e.g. an observation by a named assessor) becomes the
    credential's ``evidence``; ``results`` become ``credentialSubject.result`` and must each
    name one of the achievement's ``result_descriptions``.

    Datetimes must be timezone-aware; they are written in UTC with seconds precision
    (sub-seconds are truncated). Raises ``ValueError``/``TypeError`` on bad input.
    """
    if not isinstance(issuer, IssuerProfile):
        raise TypeError("issuer must be an IssuerProfile")
    _text(learner_email, "learner_email", limit=320)
    if "@" not in learner_email:
        raise ValueError("learner_email must be an e-mail address")
    _text(salt, "salt", limit=256)
    start = truncate_to_seconds(require_aware(valid_from, "valid_from"))

    issuer_obj: dict[str, Any] = {
        "id": _uri(issuer.id, "issuer.id"),
        "type": ["Profile"],
        "name": _text(issuer.name, "issuer.name", limit=500),
    }
    if issuer.url is not None:
        issuer_obj["url"] = _uri(issuer.url, "issuer.url")

    achievement_obj = _achievement(achievement)
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": [
            {
                "type": "IdentityObject",
                "identityType": "name",
                "hashed": False,
                "identityHash": _text(learner_name, "learner_name", limit=500).strip(),
            },
            {
                "type": "IdentityObject",
                "identityType": "emailAddress",
                "hashed": True,
                "identityHash": hash_email(learner_email, salt),
                "salt": salt,
            },
        ],
        "achievement": achievement_obj,
    }
    if results:
        kinds = {r["id"]: r["resultType"] for r in achievement_obj.get("resultDescription", [])}
        subject["result"] = [_result(r, i, kinds) for i, r in enumerate(results)]
    if activity_end is not None:
        subject["activityEndDate"] = format_datetime(activity_end, "activity_end")

    credential: dict[str, Any] = {
        "@context": [VC2_CONTEXT, OB3_CONTEXT],
        "id": _uri(credential_id, "credential_id"),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer_obj,
        "name": achievement_obj["name"],
        "validFrom": format_datetime(start, "valid_from"),
    }
    if valid_until is not None:
        end = truncate_to_seconds(require_aware(valid_until, "valid_until"))
        if end <= start:
            raise ValueError("valid_until must be later than valid_from")
        credential["validUntil"] = format_datetime(end, "valid_until")
    credential["credentialSubject"] = subject
    if evidence:
        credential["evidence"] = [_evidence(e, i) for i, e in enumerate(evidence)]
    if status is not None:
        credential["credentialStatus"] = _status(status)
    return credential


def _status(status: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(status, Mapping):
        raise TypeError("status must be a mapping (see credentials.status.status_entry)")
    out = dict(status)
    _uri(out.get("id"), "status.id")
    _text(out.get("type"), "status.type", limit=200)
    for key, value in out.items():
        if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError("status members must be strings or integers")
    return out
