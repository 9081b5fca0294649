"""The evidence-pack page and My certificates' zip file, filled in, on a 360 px phone.

The every-page sweep sees these pages as the demo has them (no exports yet); here they hold
exports in each state. A manager presses the matrix's button and lands on the pack's page
(Ready, with a failed and a waiting one beside it); the learner asks for her zip and downloads
it. No sideways scrolling (also at 200% text), tap targets, axe-core, no script errors.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from lms.extensions import db
from lms.models import Export, Organisation, User

from .conftest import (
    LEARNER,
    MANAGER,
    PHONE,
    LiveServer,
    check_axe,
    demo_app,
    log_in,
    needs_browser,
    needs_sqlite,
    phone_with_no_errors,
    serving,
)

pytestmark = [needs_browser, needs_sqlite, pytest.mark.slow]

SMALL = """() => [...document.querySelectorAll('button, .button, input, nav a')]
  .filter(e => e.offsetParent !== null && e.type !== 'hidden')
  .map(e => [e.outerHTML.slice(0, 60), e.getBoundingClientRect()])
  .filter(([_, r]) => r.height < 24 || (r.height < 44 && r.width < 44))
  .map(([h, r]) => h + ' ' + Math.round(r.width) + 'x' + Math.round(r.height))"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with serving(demo_app(tmp_path, EXPORTS_DIR=str(tmp_path / "exports"))) as live:
        yield live


def fits(page: Page, name: str) -> None:
    for size in ("", "200%"):
        page.evaluate(f"document.documentElement.style.fontSize = '{size}'")
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"], f"{name}: {width}px wide with text at {size or '100%'}"
    page.evaluate("document.documentElement.style.fontSize = ''")
    assert not page.evaluate(SMALL), f"{name}: tap targets too small: {page.evaluate(SMALL)}"
    check_axe(page, name)


def _seed_other_packs(server: LiveServer) -> None:
    """An older failed pack, with a reason, for the list to show beside the new one."""
    with server.app.app_context():
        org = db.session.scalar(select(Organisation).where(Organisation.slug == "oakview"))
        admin = db.session.scalar(select(User).where(User.email == "admin@example.com"))
        assert org is not None and admin is not None
        db.session.add(
            Export(
                kind="evidence_pack",
                org_id=org.id,
                requested_by_id=admin.id,
                status="failed",
                error="The job queue is not available at the moment.",
                files=[],
                created_at=datetime.now(UTC) - timedelta(days=1),
            )
        )
        db.session.commit()


def test_manager_makes_a_pack_on_a_phone(server: LiveServer, browser: Browser) -> None:
    _seed_other_packs(server)
    for context in phone_with_no_errors(browser):
        page = context.new_page()
        log_in(page, server.url, MANAGER, heading=None)
        page.goto(f"{server.url}/manage/oakview/matrix")
        page.get_by_role("button", name="CQC evidence pack (PDF and CSV)").click()
        expect(page.get_by_role("heading", name="CQC evidence pack")).to_be_visible()
        assert page.url.endswith("/manage/oakview/evidence-pack")
        expect(page.get_by_text("Ready:")).to_be_visible()
        expect(page.get_by_text("Failed: The job queue is not available")).to_be_visible()
        fits(page, "evidence pack page")
        with page.expect_download() as pdf:
            page.get_by_role("link", name="Download PDF").first.click()
        assert pdf.value.suggested_filename.startswith("cqc-evidence-oakview-")
        assert Path(pdf.value.path()).read_bytes().startswith(b"%PDF-")


def test_learner_downloads_all_her_certificates_on_a_phone(
    server: LiveServer, browser: Browser
) -> None:
    for context in phone_with_no_errors(browser):
        page = context.new_page()
        log_in(page, server.url, LEARNER)
        page.goto(f"{server.url}/certificates/")
        page.get_by_role("button", name="Download all my certificates (zip)").click()
        expect(page.get_by_text("Ready:")).to_be_visible()
        fits(page, "my certificates with the zip ready")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the zip file").click()
        with zipfile.ZipFile(download.value.path()) as archive:
            names = archive.namelist()
        assert "passport.json" in names and any(n.endswith(".pdf") for n in names)
