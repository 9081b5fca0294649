"""Staff import and set-password pages on a 360 px phone in Chromium: layout and axe-core.

A manager uploads a CSV with a bad row (the preview names it, nothing is saved), then a good
one, confirms, and sees the staff list; the new worker opens the e-mailed link and sets a
password. Own live server (any free port) and SMTP server (tests/lms/smtp_server.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from lms import create_app
from lms.accounts import ensure_membership, get_or_create_org, get_or_create_user
from lms.extensions import db
from lms.models import Employment, JobRole, Role, Site
from tests.conftest import PASSWORD
from tests.lms.smtp_server import Sink, smtp_config, smtp_server

from .conftest import LIVE_BROWSER, PHONE, LiveServer, check_axe, live_config, log_in, serving
from .test_phone import check_phone_layout

pytestmark = LIVE_BROWSER

MANAGER = ("grace@example.com", PASSWORD)
BAD = (
    "name,email,job_role,site,start_date\n"
    "Amira Okafor,amira.okafor@example.com,Care worker,Main house,03/02/2025\n"
    "Ben Carter,ben.carter@example.com,Cook,Main house,31/02/2025\n"
)
GOOD = (
    "name,email,job_role,site,start_date\n"
    "Amira Okafor,amira.okafor@example.com,Care worker,Main house,03/02/2025\n"
    "Ben Carter,ben.carter@example.com,Senior care worker,Garden lodge,2024-11-20\n"
)


@pytest.fixture
def sink() -> Iterator[Sink]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def server(tmp_path: Path, sink: Sink) -> Iterator[LiveServer]:
    app = create_app(live_config(tmp_path, **smtp_config(sink)))
    with app.app_context():
        db.create_all()
        now = datetime.now(UTC)
        org = get_or_create_org(db.session, "oakview", "Oakview Care", "care_provider", now)
        manager = get_or_create_user(
            db.session,
            app.extensions["password_hasher"],
            MANAGER[0],
            "Grace Mensah",
            PASSWORD,
            now,
        )
        ensure_membership(db.session, manager, org, Role.MANAGER)
        for name in ("Care worker", "Senior care worker"):
            db.session.add(JobRole(org_id=org.id, name=name, cwp_category="Care worker"))
        for name in ("Main house", "Garden lodge"):
            db.session.add(Site(org_id=org.id, name=name))
        db.session.commit()
    with serving(app) as live:
        # the e-mailed links must lead here; no request has been served yet
        app.config["BASE_URL"] = live.url
        yield live


def upload(page: Page, base: str, text: str, tmp_path: Path) -> None:
    page.goto(f"{base}/manage/oakview/staff/import")
    csv_file = tmp_path / "staff.csv"
    csv_file.write_text(text, encoding="utf-8")
    page.get_by_label("CSV file of staff").set_input_files(str(csv_file))
    page.get_by_role("button", name="Upload and preview").click()


def test_import_staff_and_set_a_password_on_a_phone(
    server: LiveServer, browser: Browser, sink: Sink, tmp_path: Path
) -> None:
    base = server.url
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    log_in(page, base, MANAGER, heading=None)

    page.goto(f"{base}/manage/oakview/staff")
    expect(page.get_by_text("No staff yet")).to_be_visible()
    check_phone_layout(page, "staff-01-empty-list")
    check_axe(page, "staff-01-empty-list")

    page.get_by_role("link", name="Import staff from a CSV file").click()
    check_phone_layout(page, "staff-02-upload")
    check_axe(page, "staff-02-upload")

    upload(page, base, BAD, tmp_path)
    expect(page.get_by_role("heading", name="2 problems to fix")).to_be_visible()
    expect(
        page.get_by_text("Row 3, job_role: 'Cook' is not one of your job roles.")
    ).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Import"))).to_have_count(0)
    check_phone_layout(page, "staff-03-preview-errors")
    check_axe(page, "staff-03-preview-errors")

    upload(page, base, GOOD, tmp_path)
    check_phone_layout(page, "staff-04-preview")
    check_axe(page, "staff-04-preview")
    with server.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Employment)) == 0
    page.get_by_role("button", name="Import 2 staff").click()
    expect(page.get_by_text("Imported 2 staff.")).to_be_visible()
    expect(page.get_by_text("Set-password e-mails sent: 2.")).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile("^Amira Okafor"))).to_be_visible()
    check_phone_layout(page, "staff-05-list")
    check_axe(page, "staff-05-list")

    [mail] = sink.to("amira.okafor@example.com")
    link = re.search(re.escape(base) + r"(/auth/set-password/\S+)", mail.text())
    assert link
    worker = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    phone = worker.new_page()
    phone.goto(base + link.group(1))
    expect(phone.get_by_role("heading", name="Set your password")).to_be_visible()
    check_phone_layout(phone, "staff-06-set-password")
    check_axe(phone, "staff-06-set-password")
    phone.get_by_label("New password", exact=True).fill("short")
    phone.get_by_label("Type the password again").fill("short")
    phone.get_by_role("button", name="Set password").click()
    expect(phone.get_by_text(re.compile("Use at least 12 characters"))).to_be_visible()
    check_axe(phone, "staff-07-set-password-error")
    phone.get_by_label("New password", exact=True).fill("kettle orchard lantern")
    phone.get_by_label("Type the password again").fill("kettle orchard lantern")
    phone.get_by_role("button", name="Set password").click()
    expect(phone.get_by_text("Your password is set. Welcome to CareCred.")).to_be_visible()
    context.close()
    worker.close()
