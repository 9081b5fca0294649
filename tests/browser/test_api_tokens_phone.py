"""The managers' API tokens page on a 360 px phone in Chromium: layout and axe-core.

A manager creates a token (its secret is shown once), sees it listed and revokes it. Own live
server of the demo.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from .conftest import (
    MANAGER,
    PHONE,
    LiveServer,
    check_axe,
    demo_app,
    log_in,
    needs_browser,
    needs_sqlite,
    serving,
)
from .test_phone import check_phone_layout

pytestmark = [needs_browser, needs_sqlite, pytest.mark.slow]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with serving(demo_app(tmp_path)) as live:
        yield live


def test_api_tokens_page_on_a_phone(server: LiveServer, browser: Browser) -> None:
    page = browser.new_page(viewport=PHONE)
    base = server.url
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
