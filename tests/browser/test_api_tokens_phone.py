"""The managers' API tokens page on a 360 px phone in Chromium: layout and axe-core.

A manager creates a token (its secret is shown once), sees it listed and revokes it. Own live
server of the demo.
"""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from .conftest import LIVE_BROWSER, MANAGER, PHONE, LiveServer, check_axe, log_in
from .test_phone import check_phone_layout

pytestmark = LIVE_BROWSER


def test_api_tokens_page_on_a_phone(demo_server: LiveServer, browser: Browser) -> None:
    page = browser.new_page(viewport=PHONE)
    base = demo_server.url
    log_in(page, base, MANAGER)
    page.goto(f"{base}/manage/oakview/api-tokens")
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    check_phone_layout(page, "api-tokens")
    check_axe(page, "api-tokens")

    page.get_by_label("What is it for?").fill("Rota system")
    page.get_by_label("learners:read").check()
    page.get_by_label("matrix:read").check()
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", name="Token created: copy it now")).to_be_visible()
    secret = page.get_by_label("Token for Rota system").input_value()
    assert len(secret) == 43
    check_phone_layout(page, "api-tokens-created")
    check_axe(page, "api-tokens-created")

    page.goto(f"{base}/manage/oakview/api-tokens")
    assert secret not in page.content()
    page.get_by_role("button", name="Revoke Rota system").click()
    expect(page.get_by_text("is revoked: it stops working now")).to_be_visible()
    check_phone_layout(page, "api-tokens-revoked")
    check_axe(page, "api-tokens-revoked")
    page.close()
