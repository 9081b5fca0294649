"""The demo mentor records an observation on a 360 x 640 phone, with no signal, in Chromium.

The form opens from the phone's cache offline, the filled observation waits in IndexedDB and
reaches the server exactly once when the signal is back; evidence is uploaded online; the
worker countersigns on their phone and the certificate is issued. axe-core checks each page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, expect
from sqlalchemy import func, select

from lms.assess.models import EvidenceFile, Observation
from lms.extensions import db
from lms.models import IssuedCredential

from .conftest import (
    LEARNER,
    LIVE_BROWSER,
    MENTOR,
    SCREENSHOTS,
    LiveServer,
    check_axe,
    demo_app,
    log_in,
    new_phone,
    queue_script,
    serving,
)
from .test_phone import check_phone_layout

pytestmark = LIVE_BROWSER

OBSERVE_LINK = "Observe Amira Okafor, Assisting and moving people"
QUEUED = "Saved on this phone. It will be sent when you are back online."
READ_QUEUE = queue_script("carecred-assess", "getAll")
PUT_BACK = queue_script("carecred-assess", "put")
QUEUE_SIZE = queue_script("carecred-assess", "count")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with serving(demo_app(tmp_path, EVIDENCE_DIR=str(tmp_path / "evidence"))) as live:
        yield live


def observations(server: LiveServer) -> list[tuple[int, str]]:
    with server.app.app_context():
        rows = db.session.execute(
            select(Observation.id, Observation.status).where(Observation.module_code == "AMP-01")
        ).all()
        return [(r[0], r[1]) for r in rows]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 80), (240, 240, 240)).save(out, format="PNG")
    return out.getvalue()


def test_demo_mentor_observes_on_a_phone_with_no_signal(
    server: LiveServer, browser: Browser
) -> None:
    errors: list[str] = []
    phone = new_phone(browser, errors, console=False)
    page = phone.new_page()
    base = server.url
    log_in(page, base, MENTOR)
    page.goto(f"{base}/assess/")
    expect(page.get_by_role("heading", name="Observations", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("data-assess-offline", "true", timeout=60_000)
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30_000)
    check_phone_layout(page, "mentor-01-workers")
    check_axe(page, "mentor-01-workers")

    # No signal: the form opens from the phone's cache and the observation waits there.
    phone.set_offline(True)
    page.get_by_role("link", name=OBSERVE_LINK).click()
    expect(page.get_by_role("heading", name="Observe Amira Okafor")).to_be_visible()
    check_phone_layout(page, "mentor-02-form-offline")
    check_axe(page, "mentor-02-form-offline")
    page.get_by_label("Direct observation").check()
    page.get_by_label("Date observed").fill(date.today().isoformat())
    page.get_by_label(re.compile("^Setting")).fill("Care home, first floor lounge")
    for fieldset in page.locator("fieldset.criterion").all():
        fieldset.get_by_label("Met", exact=True).check()
    page.get_by_label("Your role").fill("Senior care worker, moving and handling lead")
    page.get_by_label("Your statement of occupational competence").fill(
        "I hold a moving and handling assessor qualification and assess this task every month."
    )
    page.get_by_role("button", name="Submit observation").click()
    expect(page.locator("#observe-status")).to_contain_text(QUEUED)
    queued = page.evaluate(READ_QUEUE)
    assert len(queued) == 1 and queued[0]["submit"] is True
    assert observations(server) == []  # nothing reached the server yet

    # Signal back: sent once, and the phone opens the recorded observation.
    phone.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.get_by_role("heading", name="Observation of Amira Okafor")).to_be_visible(
        timeout=30_000
    )
    recorded = observations(server)
    assert [status for _, status in recorded] == ["submitted"]
    assert page.evaluate(READ_QUEUE) == []
    check_phone_layout(page, "mentor-03-recorded")
    check_axe(page, "mentor-03-recorded")

    # A lost reply makes the phone send the same observation again: recorded once.
    page.evaluate(PUT_BACK, queued[0])
    page.reload()
    page.wait_for_function(f"async () => (await ({QUEUE_SIZE})()) === 0", timeout=30_000)
    assert observations(server) == recorded

    # Evidence needs a signal: a photo of a signed record.
    expect(page.get_by_text("Never photograph people who use services")).to_be_visible()
    page.get_by_label("Photo of a document, or a PDF").set_input_files(
        {"name": "signed-record.jpg", "mimeType": "image/jpeg", "buffer": png()}
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("Evidence added.")).to_be_visible()
    expect(page.get_by_role("link", name="signed-record.png")).to_be_visible()
    with server.app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(EvidenceFile)
                .where(EvidenceFile.observation_id == recorded[0][0])
            )
            == 1
        )
    phone.close()

    # The worker countersigns on their own phone; the certificate follows.
    worker = new_phone(browser, errors, console=False)
    page = worker.new_page()
    log_in(page, base, LEARNER)
    page.goto(f"{base}/learn/AMP-01")
    page.get_by_role("link", name=re.compile("recorded an observation of your practice")).click()
    expect(page.get_by_role("heading", name="Your observation")).to_be_visible()
    check_phone_layout(page, "mentor-04-countersign")
    check_axe(page, "mentor-04-countersign")
    page.get_by_label(re.compile("This is a true account")).check()
    page.get_by_role("button", name="Sign").click()
    expect(page.get_by_role("heading", name="My certificates", exact=True)).to_be_visible()
    with server.app.app_context():
        cred = db.session.scalar(
            select(IssuedCredential).order_by(IssuedCredential.id.desc()).limit(1)
        )
        assert cred is not None and cred.module.code == "AMP-01"
        assert cred.credential_json["evidence"][0]["genre"] == "Direct observation"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "mentor-05-certificate.png"), full_page=True)
    worker.close()
    assert not errors, errors
