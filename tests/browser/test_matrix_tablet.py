"""Employer pages in headless Chromium at 360 px (phone) and 768 px (tablet): layout and axe.

No server is started: the browser's requests are answered by the Flask test client of a
logged-in manager (Playwright request routing), so this suite binds no port.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page, Route
from sqlalchemy import select

from lms.extensions import db
from lms.models import JobRole, Organisation, User
from tests.conftest import Auth

from .conftest import PHONE, check_axe, needs_browser
from .test_phone import check_phone_layout

pytestmark = [needs_browser, pytest.mark.slow]

BASE = "http://carecred.test"
TABLET = {"width": 768, "height": 1024}


def _page(browser: Browser, client: FlaskClient, viewport: dict[str, int]) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport, device_scale_factor=2, is_mobile=True)

    def answer(route: Route) -> None:
        path = route.request.url.removeprefix(BASE)
        resp = client.get(path)
        headers: dict[str, Any] = {
            k: v
            for k, v in resp.headers.items()
            if k.lower() not in {"content-length", "set-cookie"}
        }
        body = resp.data
        resp.close()  # static files are sent from an open file
        route.fulfill(status=resp.status_code, headers=headers, body=body)

    context.route(f"{BASE}/**", answer)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def manager(client: FlaskClient, auth: Auth, demo: dict[str, str]) -> FlaskClient:
    assert auth.login("manager@example.com", demo["manager@example.com"]).status_code == 302
    return client


def _paths() -> list[str]:
    oak = db.session.scalar(select(Organisation).where(Organisation.slug == "oakview"))
    amira = db.session.scalar(select(User).where(User.email == "learner@example.com"))
    role = db.session.scalar(select(JobRole).where(JobRole.name == "Senior care worker"))
    assert oak is not None and amira is not None and role is not None
    return [
        "/manage/oakview/matrix",
        f"/manage/oakview/matrix/{amira.id}/HSA-01",
        "/manage/oakview/job-roles",
        f"/manage/oakview/job-roles/{role.id}",
        f"/manage/oakview/job-roles/{role.id}/requirements/{role.requirements[0].id}",
        "/manage/oakview/training-settings",
        "/manage/oakview/sites",
    ]


def test_employer_pages_on_a_phone(manager: FlaskClient, browser: Browser) -> None:
    for page in _page(browser, manager, PHONE):
        for n, path in enumerate(_paths()):
            page.goto(BASE + path)
            check_phone_layout(page, f"employer-{n:02d}-phone")
            check_axe(page, f"employer {path}")


def test_matrix_on_a_tablet_scrolls_inside_its_frame(
    manager: FlaskClient, browser: Browser
) -> None:
    for page in _page(browser, manager, TABLET):
        page.goto(BASE + "/manage/oakview/matrix")
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
        frame = page.locator(".matrix-wrap")
        inner, outer = frame.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert inner > outer  # 17 modules do not fit: the table scrolls inside its frame
        # the worker's name stays in view while the table scrolls sideways
        frame.evaluate("e => e.scrollLeft = 400")
        name = page.locator("th.worker").first.bounding_box()
        assert name is not None and name["x"] < 40
        check_axe(page, "matrix on a tablet")
