"""OB 3.0 evidence and results: how competence was assessed, inside the signed credential."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from jsonschema import Draft201909Validator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from credentials import (
    Evidence,
    ResultDescription,
    SubjectResult,
    encode_qr,
    qr_version,
    sign_credential,
    trim_credential,
    verify_qr,
    verify_token,
)

RESULT_ID = "https://lms.example.test/achievements/AMP-01/v1#observed-practice"
OBSERVED = Evidence(
    id="urn:uuid:1b7a1d7c-8d59-4c43-9d55-2f0f3f1f3a10",
    name="Observed practice: Assisting and moving people",
    description="Assessed by direct observation on 2026-11-10; assessor Tom Baker, senior carer.",
    narrative="Direct observation of practice on 10 November 2026 by Tom Baker (senior carer). "
    "10 criteria met, 1 not applicable. Signed by: assessor, learner.",
    genre="Direct observation",
    audience="Employers and regulators checking this worker's competence",
)
RESULT = SubjectResult(
    result_description=RESULT_ID,
    status="Completed",
    value="Competent: direct observation, 2026-11-10, assessed by Tom Baker (senior carer)",
)


def _no_network(uri: str) -> Resource[Any]:
    raise NoSuchResource(ref=uri)


@pytest.fixture(scope="module")
def validator(kit: Any) -> Draft201909Validator:
    schema = json.loads(kit.SCHEMA_PATH.read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry(retrieve=_no_network).with_resource(
        schema["$id"], Resource.from_contents(schema)
    )
    return Draft201909Validator(schema, registry=registry)


def observed(kit: Any, **overrides: Any) -> dict[str, Any]:
    achievement = replace(
        kit.ACHIEVEMENT,
        result_descriptions=(
            ResultDescription(id=RESULT_ID, name="Observed practice", result_type="Status"),
        ),
    )
    args: dict[str, Any] = {
        "achievement": achievement,
        "evidence": (OBSERVED,),
        "results": (RESULT,),
    }
    args.update(overrides)
    return kit.make_credential(**args)  # type: ignore[no-any-return]


def test_evidence_and_result_validate_against_the_official_schema(
    kit: Any, validator: Draft201909Validator
) -> None:
    credential = observed(kit)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(credential)]
    assert errors == []
    evidence = credential["evidence"][0]
    assert evidence["type"] == ["Evidence"]
    assert evidence["genre"] == "Direct observation"
    described = credential["credentialSubject"]["achievement"]["resultDescription"]
    assert described == [
        {
            "id": RESULT_ID,
            "type": ["ResultDescription"],
            "name": "Observed practice",
            "resultType": "Status",
        }
    ]
    assert credential["credentialSubject"]["result"][0] == {
        "type": ["Result"],
        "resultDescription": RESULT_ID,
        "status": "Completed",
        "value": RESULT.value,
    }


def test_without_evidence_nothing_is_added(kit: Any) -> None:
    credential = kit.make_credential()
    assert "evidence" not in credential
    assert "result" not in credential["credentialSubject"]
    assert "resultDescription" not in credential["credentialSubject"]["achievement"]


def test_a_result_must_name_a_result_description_of_the_achievement(kit: Any) -> None:
    with pytest.raises(ValueError, match="names no result description"):
        kit.make_credential(results=(RESULT,))


def test_a_status_result_needs_a_known_status(kit: Any) -> None:
    with pytest.raises(ValueError, match="status must be one of"):
        observed(kit, results=(replace(RESULT, status="Passed with flying colours"),))
    with pytest.raises(ValueError, match="status is required"):
        observed(kit, results=(replace(RESULT, status=None),))


def test_result_type_must_be_from_the_vocabulary(kit: Any) -> None:
    achievement = replace(
        kit.ACHIEVEMENT,
        result_descriptions=(ResultDescription(id=RESULT_ID, name="x", result_type="Grade"),),
    )
    with pytest.raises(ValueError, match="ResultType"):
        kit.make_credential(achievement=achievement)


def test_evidence_needs_a_narrative(kit: Any) -> None:
    with pytest.raises(ValueError, match="narrative"):
        observed(kit, evidence=(replace(OBSERVED, narrative=" "),))


def test_observed_credential_verifies_offline_and_fits_the_qr(kit: Any) -> None:
    credential = observed(kit)
    token = sign_credential(credential, kit.A_NEW)
    result = verify_token(token, kit.TRUST, kit.NOW)
    assert result.valid, result.reason
    text = encode_qr(credential, kit.A_NEW)
    assert qr_version(text) <= 25
    trimmed = trim_credential(credential)
    assert "evidence" not in trimmed  # the QR copy leaves the evidence to the full credential
    assert verify_qr(text, kit.TRUST, kit.NOW).valid
