"""/verify/ says how competence was assessed (the signed OB 3.0 evidence), in the same words as
the Python verifier, only for a valid certificate, and stays readable at 360 px."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from credentials import (
    Evidence,
    ResultDescription,
    SubjectResult,
    build_credential,
    encode_qr,
    sign_credential,
    status_entry,
    verify_token,
)
from credentials._util import b64url_decode, b64url_encode

from . import vectors
from .conftest import LiveServer, check_axe, needs_browser, needs_sqlite
from .test_phone import check_phone_layout
from .test_verify_page import add_trust_list, check_file, check_text, open_checker

pytestmark = [needs_browser, needs_sqlite, pytest.mark.slow]

LABEL = "How this was assessed"
RESULT_ID = "https://lms.example.test/achievements/MP-01/v1#observed-practice"
ACHIEVEMENT = replace(
    vectors.ACHIEVEMENT,
    id="https://lms.example.test/achievements/MP-01/v1",
    name="Moving and positioning",
    criteria="Read all 4 lessons and passed the quiz. Then an assessor observed the learner's "
    "practice by direct observation and found every one of its 3 criteria met or not "
    "applicable; the record was signed by the assessor and the learner.",
    result_descriptions=(
        ResultDescription(id=RESULT_ID, name="Observed practice", result_type="Status"),
    ),
)
OBSERVED = Evidence(
    name="Observed practice: Moving and positioning",
    description="Assessed by direct observation on 2026-11-10; assessor Tom Baker, Senior carer.",
    narrative="Direct observation of practice on 10 November 2026 by Tom Baker (Senior carer). "
    "3 criteria met. Signed by: assessor, learner.",
    genre="Direct observation",
)
RESULT = SubjectResult(result_description=RESULT_ID, status="Completed", value="Competent")


@pytest.fixture(scope="module")
def world() -> vectors.VectorSet:
    return vectors.build()


def _credential(world: vectors.VectorSet, index: int, **overrides: Any) -> dict[str, Any]:
    day = timedelta(days=1)
    args: dict[str, Any] = {
        "credential_id": f"urn:uuid:0b5e6a1c-6d1e-4c63-9a55-0d6d8f1d{index:04d}",
        "issuer": vectors.ISSUER_A,
        "achievement": ACHIEVEMENT,
        "learner_name": vectors.LEARNER,
        "learner_email": "amira@example.org",
        "salt": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "valid_from": world.now - 5 * day,
        "valid_until": world.now + 365 * day,
        "activity_end": world.now - 5 * day,
        "status": status_entry(vectors.A_REVOCATION, index),
        "evidence": (OBSERVED,),
        "results": (RESULT,),
    }
    args.update(overrides)
    return build_credential(**args)


def _token(world: vectors.VectorSet, index: int = 9, **overrides: Any) -> str:
    return sign_credential(_credential(world, index, **overrides), world.keys["a_new"])


def _python(world: vectors.VectorSet, token: str) -> list[str]:
    assert world.trust is not None
    result = verify_token(token, world.trust, datetime.now(UTC))
    return [a.summary for a in result.assessments]


def shown(page: Page) -> list[str]:
    return page.eval_on_selector_all(".result-item .assessed", "els => els.map(e => e.textContent)")


def _ready(live_server: LiveServer, phone: BrowserContext, world: vectors.VectorSet) -> Page:
    page = open_checker(phone, live_server)
    add_trust_list(page, world.trust_text, world.anchor)
    return page


def test_the_page_shows_how_it_was_assessed_as_python_does(
    live_server: LiveServer, phone: BrowserContext, world: vectors.VectorSet
) -> None:
    page = _ready(live_server, phone, world)
    token = _token(world)
    expected = _python(world, token)
    assert expected == [
        "Observed in practice (direct observation): 3 of 3 criteria met; assessed by Tom Baker, "
        "Senior carer, on 10 November 2026."
    ]
    assert check_text(page, token)[0][:2] == (True, "valid")
    result = page.locator(".result-item")
    expect(result.locator("dt", has_text=LABEL)).to_be_visible()
    assert shown(page) == expected
    check_axe(page, "verify-assessed")
    check_phone_layout(page, "verify-04-assessed")

    # Other words, several items, control characters: the same text as Python, item by item.
    odd = (
        Evidence(name="Practical assessment", narrative="Seen\u202e helping\n\x1b[2J to stand."),
        replace(OBSERVED, genre="Simulation", narrative=OBSERVED.narrative.replace("3 c", "2 c")),
    )
    token = _token(world, evidence=odd)
    check_text(page, token)
    assert shown(page) == _python(world, token)
    assert len(shown(page)) == 2 and "\u202e" not in shown(page)[0]
    expect(result.locator("dd ul.plain li.assessed")).to_have_count(2)

    # Without evidence: no such line.
    check_text(page, _token(world, evidence=(), results=()))
    expect(result.locator("dt", has_text=LABEL)).to_have_count(0)


def test_a_refused_certificate_says_nothing_of_its_assessment(
    live_server: LiveServer, phone: BrowserContext, world: vectors.VectorSet
) -> None:
    page = _ready(live_server, phone, world)
    result = page.locator(".result-item")
    token = _token(world)
    head, body, sig = token.split(".")
    payload = json.loads(b64url_decode(body))
    payload["evidence"][0]["description"] = payload["evidence"][0]["description"].replace(
        "Tom Baker", "Dr T Baker"
    )
    tampered = f"{head}.{b64url_encode(json.dumps(payload).encode())}.{sig}"
    assert check_text(page, tampered)[0][:2] == (False, "bad_signature")
    expect(result).not_to_contain_text("Tom Baker")

    # Revoked (index 101 is set in the world's list): details shown, the assessment not.
    assert check_text(page, _token(world, vectors.REVOKED))[0][:2] == (False, "revoked")
    expect(result).to_contain_text("Moving and positioning")
    expect(result.locator("dt", has_text=LABEL)).to_have_count(0)
    expect(result).not_to_contain_text("Tom Baker")

    # The QR code's trimmed copy has no evidence.
    qr = encode_qr(_credential(world, 9), world.keys["a_new"])
    assert check_text(page, qr)[0][:2] == (True, "valid")
    expect(result.locator("dt", has_text=LABEL)).to_have_count(0)


def test_pdfs_show_the_signed_assessment_never_the_attached_json(
    live_server: LiveServer, phone: BrowserContext, world: vectors.VectorSet
) -> None:
    page = _ready(live_server, phone, world)
    token = _token(world)
    lines = ("Certificate of completion", vectors.LEARNER, ACHIEVEMENT.name)
    attached = vectors.credential_json(token)
    genuine = vectors.printed_pdf(lines, {"credential.jwt": token, "credential.json": attached})
    [(valid, code, _, _)] = check_file(page, "certificate.pdf", genuine, "application/pdf")
    assert (valid, code) == (True, "valid")
    assert shown(page) == _python(world, token)

    # Unsigned JSON claiming a different assessor: refused, and no assessment shown.
    changed = json.loads(attached)
    changed["evidence"][0]["narrative"] = "Seen by Someone Else."
    altered = vectors.printed_pdf(
        lines, {"credential.jwt": token, "credential.json": json.dumps(changed)}
    )
    [(valid, code, _, _)] = check_file(page, "altered.pdf", altered, "application/pdf")
    assert (valid, code) == (False, "pdf_mismatch")
    assert shown(page) == []
