"""credentials.ob3: the OpenBadgeCredential shape, privacy, and the official OB 3.0 schema."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from jsonschema import Draft201909Validator, FormatChecker
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from credentials import (
    AchievementSpec,
    Alignment,
    IssuerProfile,
    build_credential,
    email_matches,
    hash_email,
    new_credential_id,
)

_DATE_TIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.IGNORECASE
)


def _no_network(uri: str) -> Resource[Any]:
    raise NoSuchResource(ref=uri)


@pytest.fixture(scope="module")
def validator(kit: Any) -> Draft201909Validator:
    """The official schema, validated fully offline (no $ref may be fetched)."""
    schema = json.loads(kit.SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"].startswith("https://json-schema.org/draft/2019-09/schema")
    Draft201909Validator.check_schema(schema)
    registry: Registry[Any] = Registry(retrieve=_no_network).with_resource(
        schema["$id"], Resource.from_contents(schema)
    )
    checker = FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _DATE_TIME_RE.fullmatch(value):
            raise ValueError(f"not an RFC 3339 date-time: {value!r}")
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True

    return Draft201909Validator(schema, registry=registry, format_checker=checker)


def _errors(validator: Draft201909Validator, doc: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def _walk(value: Any) -> list[Any]:
    out = [value]
    if isinstance(value, dict):
        for v in value.values():
            out.extend(_walk(v))
    elif isinstance(value, list):
        for v in value:
            out.extend(_walk(v))
    return out


def test_full_credential_validates_against_official_schema(
    kit: Any, validator: Draft201909Validator
) -> None:
    assert _errors(validator, kit.make_credential()) == []


def test_minimal_credential_validates_against_official_schema(
    kit: Any, validator: Draft201909Validator
) -> None:
    credential = build_credential(
        credential_id=new_credential_id(),
        issuer=IssuerProfile(id="did:web:lms.example.test", name="Oakview Care"),
        achievement=AchievementSpec(
            id="https://lms.example.test/achievements/DIG-01/v2",
            name="Digital skills",
            description="Using digital care records safely.",
            criteria="Passed the quiz.",
        ),
        learner_name="Jo Bloggs",
        learner_email="jo@example.org",
        salt="s",
        valid_from=kit.ISSUED,
        valid_until=None,
    )
    assert _errors(validator, credential) == []
    assert "validUntil" not in credential
    assert "activityEndDate" not in credential["credentialSubject"]
    assert "alignment" not in credential["credentialSubject"]["achievement"]
    assert "url" not in credential["issuer"]


def test_schema_really_checks(kit: Any, validator: Draft201909Validator) -> None:
    """Negative controls: the offline validator does reject broken credentials."""
    broken = kit.make_credential()
    del broken["validFrom"]
    assert _errors(validator, broken)
    broken = kit.make_credential()
    broken["@context"] = ["https://www.w3.org/ns/credentials/v2", "https://example.org/ctx"]
    assert _errors(validator, broken)
    broken = kit.make_credential()
    broken["validFrom"] = "12/11/2026"
    assert _errors(validator, broken)
    broken = kit.make_credential()
    del broken["credentialSubject"]["achievement"]["criteria"]
    assert _errors(validator, broken)


def test_exact_shape(kit: Any) -> None:
    credential = kit.make_credential()
    assert credential == {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": "urn:uuid:6f1c1a52-4d1e-4c63-9a55-0d6d8f1d2b7e",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {
            "id": "https://lms.example.test/issuers/oakview",
            "type": ["Profile"],
            "name": "Oakview Care",
            "url": "https://lms.example.test",
        },
        "name": "Health and safety awareness",
        "validFrom": "2026-11-12T14:30:05Z",
        "validUntil": "2029-11-12T14:30:05Z",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "name",
                    "hashed": False,
                    "identityHash": "Amira Okafor",
                },
                {
                    "type": "IdentityObject",
                    "identityType": "emailAddress",
                    "hashed": True,
                    "identityHash": hash_email(kit.LEARNER_EMAIL, kit.SALT),
                    "salt": kit.SALT,
                },
            ],
            "achievement": {
                "id": "https://lms.example.test/achievements/HSA-01/v1",
                "type": ["Achievement"],
                "achievementType": "CertificateOfCompletion",
                "name": "Health and safety awareness",
                "description": kit.ACHIEVEMENT.description,
                "criteria": {"narrative": kit.ACHIEVEMENT.criteria},
                "version": "1",
                "humanCode": "HSA-01",
                "alignment": [
                    {
                        "type": ["Alignment"],
                        "targetName": "Health and safety awareness",
                        "targetUrl": "https://www.skillsforcare.org.uk/ascwds",
                        "targetFramework": "ASC-WDS training category",
                        "targetType": "ext:ASCWDSTrainingCategory",
                    },
                    {
                        "type": ["Alignment"],
                        "targetName": "Standard 13",
                        "targetUrl": "https://www.skillsforcare.org.uk/care-certificate",
                        "targetFramework": "Care Certificate (2025)",
                    },
                ],
            },
            "activityEndDate": "2026-11-12T14:30:05Z",
        },
    }


def test_no_nulls_and_nothing_else_about_the_person(kit: Any) -> None:
    credential = kit.make_credential()
    assert None not in _walk(credential)
    text = json.dumps(credential).lower()
    assert "amira.okafor@example.org" not in text
    assert "example.org" not in text
    subject = credential["credentialSubject"]
    assert "id" not in subject
    assert set(subject) == {"type", "identifier", "achievement", "activityEndDate"}


def test_hash_email_normalises_and_salts() -> None:
    expected = "sha256$" + hashlib.sha256(b"amira.okafor@example.org" + b"pepper").hexdigest()
    assert hash_email("  Amira.Okafor@Example.ORG \n", "pepper") == expected
    assert hash_email("amira.okafor@example.org", "other") != expected
    assert re.fullmatch(r"sha256\$[0-9a-f]{64}", expected)


def test_email_matches(kit: Any) -> None:
    credential = kit.make_credential()
    assert email_matches(credential, "amira.okafor@example.org")
    assert email_matches(credential, " AMIRA.OKAFOR@EXAMPLE.ORG")
    assert not email_matches(credential, "someone.else@example.org")
    assert not email_matches({}, "amira.okafor@example.org")


def test_new_credential_id_is_urn_uuid4() -> None:
    ids = {new_credential_id() for _ in range(50)}
    assert len(ids) == 50
    for value in ids:
        assert re.fullmatch(
            r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", value
        )


def test_dates_are_utc_seconds_precision(kit: Any) -> None:
    plus_one = timezone(timedelta(hours=1))
    credential = kit.make_credential(
        valid_from=datetime(2026, 6, 1, 10, 0, 0, 999_999, tzinfo=plus_one),
        valid_until=datetime(2027, 6, 1, 10, 0, tzinfo=plus_one),
        activity_end=datetime(2026, 6, 1, 9, 59, 59, 500_000, tzinfo=plus_one),
    )
    assert credential["validFrom"] == "2026-06-01T09:00:00Z"
    assert credential["validUntil"] == "2027-06-01T09:00:00Z"
    assert credential["credentialSubject"]["activityEndDate"] == "2026-06-01T08:59:59Z"


@pytest.mark.parametrize("field", ["valid_from", "valid_until", "activity_end"])
def test_naive_datetimes_are_rejected(kit: Any, field: str) -> None:
    with pytest.raises(ValueError, match="timezone"):
        kit.make_credential(**{field: datetime(2026, 11, 12, 9, 0)})


@pytest.mark.parametrize(
    "overrides",
    [
        {"valid_until": datetime(2026, 11, 12, 14, 30, 5, tzinfo=UTC)},  # == valid_from
        {"valid_until": datetime(2025, 1, 1, tzinfo=UTC)},
        {"learner_name": "  "},
        {"learner_email": "not-an-email"},
        {"salt": ""},
        {"credential_id": "not a uri"},
        {"issuer": IssuerProfile(id="oakview", name="Oakview Care")},
        {"issuer": IssuerProfile(id="https://x.test/i", name="")},
        {
            "achievement": AchievementSpec(
                id="https://x.test/a",
                name="A",
                description="d",
                criteria="c",
                achievement_type="Diploma2",
            )
        },
        {
            "achievement": AchievementSpec(
                id="https://x.test/a",
                name="A",
                description="d",
                criteria="c",
                alignments=(
                    Alignment(
                        target_name="S1", target_url="https://x.test", target_type="Standard"
                    ),
                ),
            )
        },
    ],
)
def test_bad_input_is_rejected(kit: Any, overrides: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        kit.make_credential(**overrides)


def test_extension_achievement_type_allowed(kit: Any, validator: Draft201909Validator) -> None:
    spec = AchievementSpec(
        id="https://x.test/a",
        name="A",
        description="d",
        criteria="c",
        achievement_type="ext:CareTraining",
    )
    credential = kit.make_credential(achievement=spec)
    assert credential["credentialSubject"]["achievement"]["achievementType"] == "ext:CareTraining"
    assert _errors(validator, credential) == []


def test_dataclasses_are_frozen(kit: Any) -> None:
    with pytest.raises(AttributeError):
        kit.ISSUER_A.name = "Other"


def test_credential_with_status_validates_against_official_schema(
    kit: Any, validator: Draft201909Validator
) -> None:
    from credentials import status_entry

    credential = kit.make_credential(status=status_entry(kit.A_REVOCATION, 94_567))
    assert credential["credentialStatus"] == {
        "id": f"{kit.A_REVOCATION}#94567",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": kit.A_REVOCATION,
    }
    assert _errors(validator, credential) == []
    # the schema allows only one status object: an array is refused
    broken = dict(credential, credentialStatus=[credential["credentialStatus"]] * 2)
    assert _errors(validator, broken)
    for bad in ({"type": "BitstringStatusListEntry"}, {"id": "x", "type": 5}, "x"):
        with pytest.raises((ValueError, TypeError)):
            kit.make_credential(status=bad)
