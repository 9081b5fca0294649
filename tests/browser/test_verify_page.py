"""The certificate checker at /verify/, in a real headless Chromium.

The page verifies in the browser (static/verify/*.js). Every test vector (tests/browser/
vectors.py) carries the Python verifier's verdict, and the page must give the same `valid`,
`reason_code`, `reason` and warnings. Trust lists reach the page only through its own form
(file + anchor), as a user would add them.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from credentials import load_trust_list, qr_png, verify_path, verify_token
from credentials._util import b64url_decode, b64url_encode
from credentials.errors import UnreadableInput
from credentials.passport import read_passport
from lms.extensions import db
from lms.models import IssuedCredential

from . import vectors
from .conftest import LEARNER, LIVE_BROWSER, PHONE, LiveServer, log_in
from .test_phone import check_phone_layout

pytestmark = LIVE_BROWSER

PASTE_LABEL = "Paste the certificate or its QR code text"
# What the page reports for one certificate: valid, reason code, reason, warnings.
Verdict = tuple[bool, str, str, list[str]]


@pytest.fixture(scope="module")
def world() -> vectors.VectorSet:
    return vectors.build()


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    yield context
    context.close()


def open_checker(context: BrowserContext, live_server: LiveServer) -> Page:
    page = context.new_page()
    page.goto(f"{live_server.url}/verify/")
    expect(page.locator("body[data-trust-ready=true]")).to_have_count(1)
    return page


def add_trust_list(page: Page, text: str, anchor: str, *, refused: bool = False) -> None:
    """Add a trust list through the form; wait until it is shown (or, if `refused`, the error)."""
    page.locator("#trust-error").evaluate("e => { e.textContent = '' }")
    if not page.locator("#trust-add").evaluate("d => d.open"):
        page.get_by_text("Add another trust list").click()
    page.get_by_label("Trust list file (trust.json)").set_input_files(
        {"name": "trust.json", "mimeType": "application/json", "buffer": text.encode()}
    )
    page.get_by_label("Its root key fingerprint").fill(anchor)
    page.get_by_role("button", name="Add trust list").click()
    if refused:
        expect(page.locator("#trust-error")).not_to_be_empty()
    else:
        expect(
            page.locator(f'.trust-item[data-anchor="{anchor}"][data-usable=true]')
        ).to_be_visible()


def _wait_for_result(page: Page, seq: int) -> None:
    expect(page.locator(f'#result[data-seq="{seq + 1}"][data-state="done"]')).to_have_count(1)


def _seq(page: Page) -> int:
    return int(page.locator("#result").get_attribute("data-seq") or "0")


def check_text(page: Page, text: str) -> list[Verdict]:
    """Paste `text`, press Check, wait for this check's result; the verdict per certificate."""
    seq = _seq(page)
    page.get_by_label(PASTE_LABEL).fill(text)
    page.get_by_role("button", name="Check", exact=True).click()
    _wait_for_result(page, seq)
    return verdicts(page)


def check_file(page: Page, name: str, data: bytes, mime: str) -> list[Verdict]:
    seq = _seq(page)
    page.get_by_label("Or choose a file").set_input_files(
        {"name": name, "mimeType": mime, "buffer": data}
    )
    _wait_for_result(page, seq)
    return verdicts(page)


def verdicts(page: Page) -> list[Verdict]:
    found: list[list[Any]] = page.eval_on_selector_all(
        ".result-item",
        """els => els.map(e => [
            e.dataset.valid === 'true',
            e.dataset.reasonCode,
            e.querySelector('.reason').textContent,
            [...e.querySelectorAll('.warnings li')].map(li => li.textContent)])""",
    )
    return [(v, code, reason, warnings) for v, code, reason, warnings in found]


def expected(vector: vectors.Vector) -> list[Verdict]:
    return [(e.valid, e.reason_code, e.reason, list(e.warnings)) for e in vector.expected]


def test_page_agrees_with_python_on_every_vector(
    live_server: LiveServer, phone: BrowserContext, world: vectors.VectorSet
) -> None:
    page = open_checker(phone, live_server)
    add_trust_list(page, world.trust_text, world.anchor)
    item = page.locator(f'.trust-item[data-anchor="{world.anchor}"]')
    expect(item).to_contain_text("Browser test trust list")
    expect(item).to_contain_text(world.anchor)
    expect(item).to_contain_text("Oakview Care Ltd; Riverside Care; Compromised Care")

    # A credential from an issuer on the second list only: not trusted until it is added.
    second = world.by_name("issuer on the second (v1) list")
    assert world.trust is not None
    alone = verify_token(second.text, world.trust, datetime.now(UTC))
    assert check_text(page, second.text) == [(False, alone.reason_code, alone.reason, [])]
    add_trust_list(page, world.trust_v1_text, world.anchor_v1)
    expect(page.locator(f'.trust-item[data-anchor="{world.anchor_v1}"]')).to_contain_text(
        "Second trust list (version 1)"
    )

    mismatches = []
    for vector in world.vectors:
        got = check_text(page, vector.text)
        if got != expected(vector):
            mismatches.append(f"{vector.name}:\n  page   {got}\n  python {expected(vector)}")
    assert not mismatches, "\n".join(mismatches)
    assert len(world.vectors) >= 30


def test_the_result_shows_the_details(
    live_server: LiveServer, phone: BrowserContext, world: vectors.VectorSet
) -> None:
    page = open_checker(phone, live_server)
    add_trust_list(page, world.trust_text, world.anchor)
    assert check_text(page, world.by_name("valid").text)[0][:2] == (True, "valid")
    result = page.locator(".result-item")
    expect(page.locator("#result-summary")).to_contain_text("Valid: This certificate is genuine")
    for text in (
        "Oakview Care Ltd (https://lms.example.test/issuers/oakview)",  # the trust list's name
        "CQC provider ID 1-101010101",
        "Amira Okafor",
        "Health and safety awareness (version 1)",
        "ASC-WDS training category: Health and safety awareness",
        "Care Certificate (2025): Standard 13 [CC13]",
        "urn:uuid:6f1c1a52-4d1e-4c63-9a55-0d6d8f1d2b7e",
        "Not revoked or suspended (revocation status as of",
        "Checked against",
    ):
        expect(result).to_contain_text(text)

    assert check_text(page, world.by_name("revoked").text)[0][1] == "revoked"
    expect(result).to_contain_text("Revoked (revocation status as of")
    stale = check_text(page, world.by_name("stale status list (warning)").text)
    assert stale[0][0] is True and "days old" in stale[0][3][0]
    expect(page.locator(".result-item h4")).to_have_text("Warnings")

    # Certificate data is shown as text, never as HTML.
    check_text(page, world.by_name("HTML in the learner's name").text)
    expect(result).to_contain_text('<img src="x" id="injected">Amira')
    expect(page.locator("#injected")).to_have_count(0)

    # A picture of the QR code: read where the browser has BarcodeDetector, else a plain answer.
    png = qr_png(world.by_name("QR valid").text)
    [(valid, code, reason, _)] = check_file(page, "qr.png", png, "image/png")
    if page.evaluate("'BarcodeDetector' in window"):
        assert (valid, code) == (True, "valid")
    else:
        assert (valid, code) == (False, "unreadable")
        assert "cannot read QR codes from pictures" in reason
        # and no camera button either (the camera also needs BarcodeDetector)
        expect(page.get_by_role("button", name="Scan the QR code with the camera")).to_be_hidden()

    # A forged certificate shows no details from its contents.
    check_text(page, world.by_name("tampered payload").text)
    expect(result).not_to_contain_text("Amira Okafor")
    expect(page.locator("#result")).to_have_attribute("data-reason-code", "bad_signature")

    # A passport: one result per certificate, the tampered one refused.
    passport = world.by_name("passport with one tampered credential")
    got = check_file(page, "passport.json", passport.text.encode(), "application/json")
    assert got == expected(passport)
    expect(page.locator("#result")).to_have_attribute("data-count", "3")
    expect(page.locator("#result-summary")).to_contain_text("3 certificates checked: 2 valid")


def test_trust_lists_are_checked_against_their_anchor(
    live_server: LiveServer, phone: BrowserContext, world: vectors.VectorSet
) -> None:
    page = open_checker(phone, live_server)
    error = page.locator("#trust-error")
    add_trust_list(page, world.trust_text, world.anchor_v1, refused=True)
    expect(error).to_have_text(
        "The trust list was not signed by the trusted root key (the anchor does not match)."
    )
    add_trust_list(page, world.expired_trust_text, world.anchor, refused=True)
    expect(error).to_contain_text("The trust list expired on")
    document = json.loads(world.trust_text)
    head, body, sig = document["token"].split(".")
    payload = json.loads(b64url_decode(body))
    payload["issuers"][0]["name"] = "Forged Care Ltd"
    document["token"] = f"{head}.{b64url_encode(json.dumps(payload).encode())}.{sig}"
    add_trust_list(page, json.dumps(document), world.anchor, refused=True)
    expect(error).to_have_text(
        "The trust list has been changed since it was signed, so it cannot be used."
    )
    expect(page.locator(".trust-item")).to_have_count(1)  # only this site's own list
    # Nothing refused was kept: the test list's issuers are still unknown.
    assert check_text(page, world.by_name("valid").text)[0][1] == "unknown_key"


QR_NOTE = "The QR code printed on the PDF was not checked here"


def test_pdfs_agree_with_python(
    live_server: LiveServer, phone: BrowserContext, world: vectors.VectorSet, tmp_path: Path
) -> None:
    page = open_checker(phone, live_server)
    add_trust_list(page, world.trust_text, world.anchor)
    assert world.trust is not None
    mismatches = []
    for name, data in vectors.pdf_vectors(world).items():
        path = tmp_path / name
        path.write_bytes(data)
        try:
            [result] = verify_path(path, world.trust, datetime.now(UTC))
            python = (result.valid, result.reason_code, result.reason, list(result.warnings))
        except UnreadableInput as exc:
            python = (False, "unreadable", str(exc), [])
        [(valid, code, reason, warnings)] = check_file(page, name, data, "application/pdf")
        got = (valid, code, reason, [w for w in warnings if not w.startswith(QR_NOTE)])
        if got != python:
            mismatches.append(f"{name}:\n  page   {got}\n  python {python}")
    assert not mismatches, "\n".join(mismatches)


def _download(page: Page, link: str) -> bytes:
    card = page.locator(".card").first
    with page.expect_download() as download:
        card.get_by_role("link", name=re.compile(link)).click()
    return Path(download.value.path()).read_bytes()


def _altered_json_pdf(pdf: bytes) -> bytes:
    """The same PDF rewritten by pypdf with its readable credential.json changed."""
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(io.BytesIO(pdf))
    writer = PdfWriter(clone_from=reader)
    for attachment in list(writer.attachment_list):
        if attachment.name == "credential.json":
            document = json.loads(attachment.content)
            document["credentialSubject"]["achievement"]["name"] = "Advanced surgery"
            attachment.content = json.dumps(document).encode()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_the_demo_learners_certificate_verifies(
    live_server: LiveServer, phone: BrowserContext, tmp_path: Path
) -> None:
    page = phone.new_page()
    log_in(page, live_server.url, LEARNER)
    page.goto(f"{live_server.url}/certificates/")
    jwt_file = _download(page, "Download credential file")
    pdf_file = _download(page, "Download PDF")

    page.goto(f"{live_server.url}/verify/")
    expect(page.locator("body[data-trust-ready=true]")).to_have_count(1)
    served = page.request.get(f"{live_server.url}/verify/trust.json").json()
    now = datetime.now(UTC)
    instance = load_trust_list(served["trust_list"], served["anchor"], now)
    item = page.locator(".trust-item")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("CareCred test instance")
    expect(item).to_contain_text(served["anchor"])
    expect(item).to_contain_text("This website")

    altered = _altered_json_pdf(pdf_file)
    for name, data, mime in (
        ("credential.jwt", jwt_file, "application/octet-stream"),
        ("certificate.pdf", pdf_file, "application/pdf"),
        ("altered.pdf", altered, "application/pdf"),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        [python] = verify_path(path, instance, now)
        [(valid, code, reason, warnings)] = check_file(page, name, data, mime)
        assert (valid, code) == (python.valid, python.reason_code), (name, reason)
        if name == "credential.jwt":
            assert (reason, warnings) == (python.reason, list(python.warnings))
    assert python.reason_code == "pdf_mismatch"
    check_file(page, "certificate.pdf", pdf_file, "application/pdf")
    expect(page.locator(".result-item")).to_contain_text("Status")
    expect(page.locator(".result-item")).to_contain_text(QR_NOTE)

    # Unreadable files get a plain answer, not a verdict.
    [(valid, code, reason, _)] = check_file(page, "notes.pdf", b"hello", "application/pdf")
    assert (valid, code, reason) == (
        False,
        "unreadable",
        "The file is named .pdf but is not a PDF.",
    )


def test_works_offline_once_visited(live_server: LiveServer, browser: Browser) -> None:
    with live_server.app.app_context():
        issued = db.session.scalars(select(IssuedCredential)).first()
        assert issued is not None and issued.qr_text
        token, qr_text = issued.token, issued.qr_text
    head, body, sig = token.split(".")
    payload = json.loads(b64url_decode(body))
    payload["credentialSubject"]["achievement"]["name"] = "Advanced surgery"
    tampered = f"{head}.{b64url_encode(json.dumps(payload).encode())}.{sig}"

    context = browser.new_context(viewport=PHONE)
    try:
        page = open_checker(context, live_server)
        # Wait (on events, not polling: the page's CSP forbids eval) for the worker to control it.
        page.evaluate(
            """() => new Promise(resolve => {
                if (navigator.serviceWorker.controller) resolve(true);
                navigator.serviceWorker.addEventListener('controllerchange', () => resolve(true));
            })"""
        )
        page.reload()  # now through the service worker, which caches trust.json too
        expect(page.locator("body[data-trust-ready=true]")).to_have_count(1)

        context.set_offline(True)
        page.reload()
        expect(page.locator("body[data-trust-ready=true]")).to_have_count(1)
        # Really offline, service worker included: an uncached file cannot be fetched.
        fetched = page.evaluate(
            "fetch('/static/never-cached.css').then(r => 'fetched ' + r.status, () => 'failed')"
        )
        assert fetched == "failed"
        expect(page.locator(".trust-item")).to_contain_text("CareCred test instance")
        assert check_text(page, token)[0][:2] == (True, "valid")
        assert check_text(page, qr_text)[0][:2] == (True, "valid")
        assert check_text(page, tampered)[0][:2] == (False, "bad_signature")
    finally:
        context.close()


def test_accessible_on_a_phone(
    live_server: LiveServer, phone: BrowserContext, world: vectors.VectorSet
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    page = open_checker(phone, live_server)
    results = axe.run(page)
    assert results.violations_count == 0, results.generate_report()
    check_phone_layout(page, "verify-01-empty")

    add_trust_list(page, world.trust_text, world.anchor)
    # Keyboard only: into the text box, type, then Check.
    page.get_by_label(PASTE_LABEL).focus()
    page.keyboard.insert_text(world.by_name("stale status list (warning)").text)
    seq = _seq(page)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Check", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    _wait_for_result(page, seq)
    expect(page.locator("#result-heading")).to_be_focused()
    results = axe.run(page)
    assert results.violations_count == 0, results.generate_report()
    check_phone_layout(page, "verify-02-valid-with-warning")

    passport = world.by_name("passport whose newer status list revokes one")
    assert check_file(page, "passport.json", passport.text.encode(), "application/json") == (
        expected(passport)
    )
    assert read_passport(passport.text).holder_name == "A. Okafor"
    results = axe.run(page)
    assert results.violations_count == 0, results.generate_report()
    check_phone_layout(page, "verify-03-passport")
