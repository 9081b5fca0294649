"""The certificate PDF says how competence was assessed, as its signed credential does, and the
offline verifier reads the same from the PDF (issue 5's evidence, shown where it matters)."""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import select

from credentials import load_trust_list, qr_version, verify_path
from lms import observations as svc
from lms.extensions import db
from lms.issuance import trust_list
from lms.models import IssuedCredential
from lms.pdf import certificate_context, render_certificate
from tests.lms.test_observations import AMP, NOW, _ctx, make_people, observe, pass_quiz

LINE = re.compile(
    r"How this was assessed: Observed in practice \(direct observation\): (\d+) of (\d+) "
    r"criteria met; assessed by Tom Baker, Senior care worker and moving and handling trainer, "
    r"on 29 November 2026\."
)


@pytest.fixture
def observed(app: Flask, catalogue: None) -> IssuedCredential:
    people = make_people(app)
    pass_quiz(app, people.learner, AMP)
    obs = observe(app, people, AMP)
    progress = svc.countersign(db.session, _ctx(app), obs, people.learner, None, NOW)
    db.session.commit()
    assert progress.credential is not None
    return progress.credential


def _text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(BytesIO(pdf))
    return len(reader.pages), " ".join(reader.pages[0].extract_text().split())


def test_the_pdf_says_how_it_was_assessed(observed: IssuedCredential) -> None:
    criteria = observed.module.observation["criteria"]
    ctx = certificate_context(observed, "Test")
    assert len(ctx.assessed) == 1 and LINE.fullmatch("How this was assessed: " + ctx.assessed[0])
    pages, text = _text(render_certificate(ctx, observed))
    assert pages == 1  # still one page
    found = LINE.search(text)
    assert found is not None, text
    assert found.groups() == (str(len(criteria)), str(len(criteria)))
    assert qr_version(observed.qr_text) <= 25  # the QR code is as before: no evidence in it


def test_a_pdf_without_evidence_has_no_such_line(app: Flask, demo: dict[str, str]) -> None:
    cred = db.session.scalars(select(IssuedCredential)).first()
    assert cred is not None and "evidence" not in cred.credential_json
    ctx = certificate_context(cred, "Test")
    assert ctx.assessed == ()
    _, text = _text(render_certificate(ctx, cred))
    assert "How this was assessed" not in text and "Health and safety awareness" in text


def test_the_genuine_pdf_verifies_and_shows_the_same_assessment(
    app: Flask, observed: IssuedCredential, tmp_path: Path
) -> None:
    pdf = render_certificate(certificate_context(observed, "Test"), observed)
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    text, anchor = trust_list(db.session, _ctx(app), NOW + timedelta(minutes=1))
    db.session.commit()
    moment = NOW + timedelta(minutes=2)
    [result] = verify_path(path, load_trust_list(text, anchor, moment), moment)
    assert result.valid, result.reason  # not a pdf_mismatch
    assert result.reason_code == "valid"
    [assessment] = result.assessments
    assert assessment.assessor_name == "Tom Baker"
    assert assessment.assessor_role == "Senior care worker and moving and handling trainer"
    assert assessment.assessed_on is not None and assessment.assessed_on.isoformat() == (
        "2026-11-29"
    )
    assert "How this was assessed: " + assessment.summary in _text(pdf)[1]


def test_the_pdf_is_still_pdf_a_3b_with_both_attachments(observed: IssuedCredential) -> None:
    reader = PdfReader(BytesIO(render_certificate(certificate_context(observed, "T"), observed)))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert re.search(r"pdfaid:part[^0-9]{0,3}3", xmp), xmp
    assert re.search(r"pdfaid:conformance[^A-Z]{0,3}B", xmp), xmp
    intents = reader.trailer["/Root"]["/OutputIntents"]
    assert intents[0].get_object()["/S"] == "/GTS_PDFA1"
    assert set(reader.attachments) == {"credential.jwt", "credential.json"}
    assert reader.attachments["credential.jwt"] == [observed.token.encode()]


def test_the_api_returns_the_assessment_as_its_document_says(
    app: Flask, observed: IssuedCredential
) -> None:
    """POST /api/v1/verify (the JSON API's verifier, no token needed) gives the assessment, and
    the answer keeps to VerificationResult in /api/v1/openapi.json."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    from lms.api.views import openapi_document

    with app.test_request_context():
        document = openapi_document()
    response = app.test_client().post("/api/v1/verify", json={"credential": observed.token})
    assert response.status_code == 200, response.text
    body = response.json
    assert body is not None and body["valid"] is True
    [assessment] = body["assessments"]
    assert assessment["assessor_name"] == "Tom Baker" and assessment["assessed_on"] == "2026-11-29"
    assert assessment["summary"].startswith("Observed in practice (direct observation): ")
    registry = Registry().with_resource(
        "urn:api", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    schema = {"$ref": "urn:api#/components/schemas/VerificationResult"}
    errors = list(Draft202012Validator(schema, registry=registry).iter_errors(body))
    assert errors == []
    # The document says what an assessment holds: an undeclared shape would be caught.
    bad = {**body, "assessments": [{"kind": 3}]}
    assert list(Draft202012Validator(schema, registry=registry).iter_errors(bad))
