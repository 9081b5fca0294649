"""How competence was assessed, as the verifier reports it: from the signed evidence only, and
only for a valid certificate (API, CLI text and --json)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from credentials import (
    Evidence,
    ResultDescription,
    SubjectResult,
    build_passport,
    encode_qr,
    read_passport,
    sign_credential,
    verify_passport,
    verify_path,
    verify_qr,
    verify_token,
)
from credentials.__main__ import main
from credentials.verify import Assessment, assessments_of

RESULT_ID = "https://lms.example.test/achievements/MP-01/v1#observed-practice"
CRITERIA = (
    "Read all 4 lessons of Moving and positioning (version 1) and passed its knowledge quiz. "
    "Then an assessor in the employer's organisation observed the learner's practice by direct "
    "observation, in real work (simulation does not count), and found every one of its 3 "
    "criteria met or not applicable; the record was signed by the assessor and the learner."
)
# Exactly the wording lms/issuance.py observation_evidence signs.
OBSERVED = Evidence(
    id="urn:uuid:1b7a1d7c-8d59-4c43-9d55-2f0f3f1f3a10",
    name="Observed practice: Moving and positioning",
    description="Assessed by direct observation on 2026-11-10; assessor Tom Baker, Senior carer.",
    narrative="Direct observation of practice on 10 November 2026 by Tom Baker (Senior carer). "
    "3 criteria met. Signed by: assessor, learner.",
    genre="Direct observation",
    audience="Employers and regulators checking this worker's competence",
)
RESULT = SubjectResult(
    result_description=RESULT_ID,
    status="Completed",
    value="Competent: direct observation, 2026-11-10, assessed by Tom Baker (Senior carer)",
)
LINE = (
    "Observed in practice (direct observation): 3 of 3 criteria met; assessed by Tom Baker, "
    "Senior carer, on 10 November 2026."
)


def observed(kit: Any, evidence: tuple[Evidence, ...] = (OBSERVED,), **overrides: Any) -> str:
    achievement = replace(
        kit.ACHIEVEMENT,
        name="Moving and positioning",
        criteria=CRITERIA,
        result_descriptions=(
            ResultDescription(id=RESULT_ID, name="Observed practice", result_type="Status"),
        ),
    )
    credential = kit.make_credential(
        achievement=achievement, evidence=evidence, results=(RESULT,), **overrides
    )
    return sign_credential(credential, kit.A_NEW)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- the result


def test_a_valid_observed_credential_says_how_it_was_assessed(kit: Any) -> None:
    result = verify_token(observed(kit), kit.TRUST, kit.NOW)
    assert result.valid, result.reason
    assert result.assessments == (
        Assessment(
            kind="Observed practice: Moving and positioning",
            method="Direct observation",
            assessor_name="Tom Baker",
            assessor_role="Senior carer",
            assessed_on=date(2026, 11, 10),
            criteria_met=3,
            criteria_not_applicable=None,
            criteria_total=3,
            narrative=OBSERVED.narrative,
        ),
    )
    [assessment] = result.assessments
    assert assessment.criteria == "3 of 3 criteria met"
    assert assessment.summary == LINE
    assert result.to_json()["assessments"] == [
        {
            "kind": "Observed practice: Moving and positioning",
            "method": "Direct observation",
            "assessor_name": "Tom Baker",
            "assessor_role": "Senior carer",
            "assessed_on": "2026-11-10",
            "criteria_met": 3,
            "criteria_not_applicable": None,
            "criteria_total": 3,
            "criteria": "3 of 3 criteria met",
            "narrative": OBSERVED.narrative,
            "summary": LINE,
        }
    ]


def test_a_credential_without_evidence_has_no_assessment(kit: Any, token: str) -> None:
    result = verify_token(token, kit.TRUST, kit.NOW)
    assert result.valid
    assert result.assessments == ()
    assert result.to_json()["assessments"] == []


def test_not_applicable_criteria_are_counted_and_names_with_commas_are_split_right(
    kit: Any,
) -> None:
    evidence = replace(
        OBSERVED,
        description="Assessed by direct observation on 2026-11-10; assessor Baker, Tom, Nurse, "
        "RGN.",
        narrative="Direct observation of practice on 10 November 2026 by Baker, Tom (Nurse, RGN)"
        ". 2 criteria met, 1 not applicable. Signed by: assessor, learner.",
    )
    [assessment] = verify_token(observed(kit, (evidence,)), kit.TRUST, kit.NOW).assessments
    assert (assessment.assessor_name, assessment.assessor_role) == ("Baker, Tom", "Nurse, RGN")
    assert assessment.criteria == "2 of 3 criteria met, 1 not applicable"
    assert assessment.summary.endswith("assessed by Baker, Tom, Nurse, RGN, on 10 November 2026.")


def test_counts_that_do_not_add_up_to_the_signed_total_give_no_total(kit: Any) -> None:
    evidence = replace(OBSERVED, narrative=OBSERVED.narrative.replace("3 criteria", "2 criteria"))
    [assessment] = verify_token(observed(kit, (evidence,)), kit.TRUST, kit.NOW).assessments
    assert assessment.criteria_total is None
    assert assessment.criteria == "2 criteria met"


def test_evidence_in_other_words_is_shown_by_its_name_and_narrative(kit: Any) -> None:
    evidence = Evidence(
        name="Practical assessment",
        narrative="Watched helping a resident to stand, using a frame.",
        genre="Observation",
    )
    [assessment] = verify_token(observed(kit, (evidence,)), kit.TRUST, kit.NOW).assessments
    assert assessment == Assessment(
        kind="Practical assessment",
        method="Observation",
        narrative="Watched helping a resident to stand, using a frame.",
    )
    assert assessment.summary == (
        "Practical assessment: Watched helping a resident to stand, using a frame."
    )


def test_description_and_narrative_that_disagree_name_no_assessor(kit: Any) -> None:
    evidence = replace(OBSERVED, narrative=OBSERVED.narrative.replace("Tom Baker", "Tim Baker"))
    [assessment] = verify_token(observed(kit, (evidence,)), kit.TRUST, kit.NOW).assessments
    assert assessment.assessor_name is None and assessment.assessor_role is None
    assert assessment.summary == f"{OBSERVED.name}: {evidence.narrative}"


def test_control_and_bidi_characters_are_not_shown(kit: Any) -> None:
    evidence = replace(
        OBSERVED,
        name="Observed practice:\n\x1b[2J Moving\u202e and positioning",
        description=OBSERVED.description.replace("Tom Baker", "Tom\u200b Baker"),
        narrative=OBSERVED.narrative.replace("Tom Baker", "Tom\u200b Baker"),
    )
    [assessment] = verify_token(observed(kit, (evidence,)), kit.TRUST, kit.NOW).assessments
    assert assessment.kind == "Observed practice: [2J Moving and positioning"
    assert assessment.assessor_name == "Tom Baker"
    assert "\x1b" not in assessment.summary and "\u202e" not in assessment.summary


def test_a_very_long_narrative_is_cut(kit: Any) -> None:
    evidence = Evidence(name="Portfolio", narrative="x" * 5000)
    [assessment] = verify_token(observed(kit, (evidence,)), kit.TRUST, kit.NOW).assessments
    assert assessment.narrative is not None and len(assessment.narrative) == 1000
    assert assessment.narrative.endswith("\N{HORIZONTAL ELLIPSIS}")


def test_evidence_it_cannot_read_is_left_out_and_the_verdict_is_unchanged(kit: Any) -> None:
    payload = kit.payload_of(observed(kit))
    for odd in ("observed", ["observed", 3], {"name": 7, "narrative": None}, []):
        token = kit.signed_payload({**payload, "evidence": odd})
        result = verify_token(token, kit.TRUST, kit.NOW)
        assert result.valid, (odd, result.reason)
        if isinstance(odd, dict):  # an object with no readable text: shown as "Evidence"
            assert result.assessments == (Assessment(kind="Evidence"),)
        else:
            assert result.assessments == ()


def test_tampered_evidence_is_refused_and_shows_nothing(kit: Any) -> None:
    token = kit.replace_segment(observed(kit), 1, lambda p: p.replace(b"Tom Baker", b"Dr T Bake"))
    result = verify_token(token, kit.TRUST, kit.NOW)
    assert result.reason_code == "bad_signature"
    assert result.assessments == ()
    assert result.to_json()["assessments"] == []


@pytest.mark.parametrize(
    ("when", "code"), [(-30, "not_yet_valid"), (365 * 4, "expired")], ids=["early", "late"]
)
def test_a_refused_credential_shows_no_assessment(kit: Any, when: int, code: str) -> None:
    result = verify_token(observed(kit), kit.TRUST, kit.later(when))
    assert result.reason_code == code
    assert result.assessments == ()


def test_a_revoked_credential_shows_no_assessment(kit: Any) -> None:
    token = observed(kit, status=kit.entry_a(7))
    lists = kit.default_status_tokens(revoked_a=(7,))
    trust = kit.load_trust_list(kit.make_trust_v2_text(lists), kit.ANCHOR, kit.NOW)
    result = verify_token(token, trust, kit.NOW)
    assert result.reason_code == "revoked"
    assert result.assessments == ()
    assert verify_token(observed(kit, status=kit.entry_a(8)), trust, kit.NOW).assessments


def test_an_invalid_result_drops_assessments_even_when_replaced() -> None:
    from credentials.verify import VerificationResult

    shown = (Assessment(kind="Observed practice: X", narrative="Seen."),)
    valid = VerificationResult("x", True, "valid", "ok", assessments=shown)
    assert valid.assessments == shown
    assert replace(valid, valid=False, reason_code="pdf_mismatch").assessments == ()
    assert VerificationResult("x", False, "expired", "no", assessments=shown).assessments == ()


def test_the_qr_copy_carries_no_evidence_so_no_assessment(kit: Any) -> None:
    credential = kit.payload_of(observed(kit))
    for claim in ("iss", "jti", "nbf", "exp", "sub"):
        credential.pop(claim, None)
    result = verify_qr(encode_qr(credential, kit.A_NEW), kit.TRUST, kit.NOW)
    assert result.valid and result.assessments == ()


def test_a_passport_shows_each_valid_certificates_assessment(kit: Any, token: str) -> None:
    text = build_passport("Amira Okafor", [observed(kit), token], [], kit.NOW)
    results = verify_passport(read_passport(text), kit.TRUST, kit.NOW)
    assert [r.valid for r in results] == [True, True]
    assert [a.summary for a in results[0].assessments] == [LINE]
    assert results[1].assessments == ()


# --------------------------------------------------------------------------- PDFs


def _pdf(kit: Any, tmp_path: Path, token: str, attached_json: bytes | None) -> Path:
    attachments: dict[str, bytes | str] = {"credential.jwt": token}
    if attached_json is not None:
        attachments["credential.json"] = attached_json
    lines = ("Certificate of completion", kit.LEARNER_NAME, "Moving and positioning")
    return kit.make_pdf(tmp_path / "certificate.pdf", attachments, lines=lines)  # type: ignore[no-any-return]


def test_a_genuine_pdf_shows_the_signed_assessment(kit: Any, tmp_path: Path) -> None:
    token = observed(kit)
    [result] = verify_path(
        _pdf(kit, tmp_path, token, kit.credential_json(token)), kit.TRUST, kit.NOW
    )
    assert result.valid, result.reason
    assert [a.summary for a in result.assessments] == [LINE]


def test_the_unsigned_json_in_a_pdf_is_never_the_source(kit: Any, tmp_path: Path) -> None:
    plain = kit.make_token(achievement=replace(kit.ACHIEVEMENT, name="Moving and positioning"))
    document = json.loads(kit.credential_json(plain))
    document["evidence"] = json.loads(kit.credential_json(observed(kit)))["evidence"]
    pdf = _pdf(kit, tmp_path, plain, json.dumps(document).encode())
    [result] = verify_path(pdf, kit.TRUST, kit.NOW)
    assert result.reason_code == "pdf_mismatch"
    assert result.assessments == ()


def test_assessments_of_reads_an_unsigned_credential_for_its_issuer(kit: Any) -> None:
    """lms uses it on credentials it issued itself (the certificate PDF)."""
    payload = kit.payload_of(observed(kit))
    assert [a.summary for a in assessments_of(payload)] == [LINE]
    assert assessments_of({}) == ()


# --------------------------------------------------------------------------- the command line


def _cli(kit: Any, trust_file: Path, path: Path, *extra: str) -> list[str]:
    return [
        "verify",
        str(path),
        "--trust",
        str(trust_file),
        "--anchor",
        kit.ANCHOR,
        "--now",
        "2026-11-20T12:00:00Z",
        *extra,
    ]


def test_cli_prints_the_assessment_line(
    kit: Any, trust_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "observed.jwt"
    path.write_text(observed(kit))
    assert main(_cli(kit, trust_file, path)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == f"{path}: VALID"
    assert f"  Assessed:    {LINE}" in lines
    assert (
        lines.index(f"  Assessed:    {LINE}") == lines.index("  Valid until: 12 November 2029") + 1
    )


def test_cli_json_has_the_assessments(
    kit: Any, trust_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "observed.jwt"
    path.write_text(observed(kit))
    assert main(_cli(kit, trust_file, path, "--json")) == 0
    [item] = json.loads(capsys.readouterr().out)
    [assessment] = item["assessments"]
    assert assessment["assessor_name"] == "Tom Baker"
    assert assessment["assessor_role"] == "Senior carer"
    assert assessment["assessed_on"] == "2026-11-10"
    assert assessment["criteria"] == "3 of 3 criteria met"
    assert assessment["summary"] == LINE


def test_cli_says_nothing_of_the_assessment_of_a_refused_certificate(
    kit: Any, trust_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "expired.jwt"
    path.write_text(observed(kit, valid_until=kit.later(-5)))
    args = _cli(kit, trust_file, path)
    assert main(args) == 1
    out, _ = capsys.readouterr()
    assert "expired" in out.splitlines()[0]
    assert "Issued to:   Amira Okafor" in out  # the details still shown for an expired one
    assert "Assessed" not in out and "Tom Baker" not in out
    assert main([*args, "--json"]) == 1
    [item] = json.loads(capsys.readouterr().out)
    assert item["reason_code"] == "expired" and item["assessments"] == []
