"""The Care Certificate and external-training pages on a 360 px phone: layout and axe-core."""

from __future__ import annotations

from playwright.sync_api import Browser, expect
from sqlalchemy import select

from lms.extensions import db
from lms.models import User

from .conftest import LEARNER, LIVE_BROWSER, MANAGER, PHONE, LiveServer, check_axe, log_in
from .test_phone import check_phone_layout

pytestmark = LIVE_BROWSER


def test_care_certificate_pages_on_a_phone(live_server: LiveServer, browser: Browser) -> None:
    base = live_server.url
    with live_server.app.app_context():
        amira = db.session.scalar(select(User.id).where(User.email == LEARNER[0]))
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    log_in(page, base, LEARNER)
    # training her manager recorded (the Care Certificate and employer demos both add some)
    expect(page.get_by_text("Recorded by your manager: completed on").first).to_be_visible()
    page.goto(f"{base}/care-certificate/")
    expect(page.get_by_text("2 of 16 standards signed off")).to_be_visible()
    page.get_by_text("What this standard asks").first.click()
    expect(page.get_by_text("Quiz passed").first).to_be_visible()
    check_phone_layout(page, "carecert-01-learner")
    check_axe(page, "carecert-01-learner")
    context.close()

    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    log_in(page, base, MANAGER)
    page.goto(f"{base}/manage/oakview/care-certificate/")
    expect(page.get_by_role("link", name="Amira Okafor")).to_be_visible()
    check_axe(page, "carecert-02-progress")
    page.goto(f"{base}/manage/oakview/care-certificate/{amira}")
    expect(page.get_by_role("button", name="Sign off standard 7")).to_be_visible()
    check_phone_layout(page, "carecert-03-worker")
    check_axe(page, "carecert-03-worker")
    page.get_by_role("button", name="Sign off standard 7").click()
    expect(page.get_by_text("Standard 7 signed off.")).to_be_visible()
    page.goto(f"{base}/manage/oakview/external/new")
    check_phone_layout(page, "external-01-form")
    check_axe(page, "external-01-form")
    page.get_by_role("button", name="Save the record").click()
    expect(page.get_by_text("Nothing was saved yet")).to_be_visible()
    check_axe(page, "external-02-errors")
    page.goto(f"{base}/manage/oakview/external/")
    page.get_by_role("link", name="Amira Okafor").first.click()
    expect(page.get_by_role("heading", name="Withdraw this record")).to_be_visible()
    check_phone_layout(page, "external-03-record")
    check_axe(page, "external-03-record")
    context.close()
