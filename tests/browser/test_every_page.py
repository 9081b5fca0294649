"""Every HTML page of the app, as every demo role sees it, in a real headless Chromium.

The page list is the app's URL map: each GET route, its URL parameters filled with the demo
organisation's records and the roles allowed to see it taken from the security matrix
(tests/lms/access_rules.py and tests/lms/test_security_matrix.py), so a page added tomorrow is
swept without anyone listing it here. Responses that are not HTML (JSON, CSV, PDF, images,
service workers, downloads) are skipped by their content type.

On each page, on a 360 x 640 phone: axe-core finds no WCAG 2.0/2.1/2.2 A or AA violation
(target size and heading order included), and the page itself does not scroll sideways, also
with the text size doubled (a wide table may scroll inside its own wrapper). The learner's
pages keep the project's 44 px tap targets. The managers' pages are checked again on a
1024 x 768 tablet. The learner is swept twice, the second time in Hindi. Every problem is
collected and the test fails once at the end, naming the URL, the role and the axe rules.

One browser, one context per role, one live server of the demo.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize
from playwright.sync_api import Error as PlaywrightError
from werkzeug.routing import Rule

from lms.extensions import db
from tests.lms.access_rules import OK, RULES
from tests.lms.test_security_matrix import EMAILS, MISSING, _values, url_for_rule

from .conftest import LiveServer, demo_app, needs_browser, needs_sqlite, serving

pytestmark = [needs_browser, needs_sqlite, pytest.mark.slow]

PHONE: ViewportSize = {"width": 360, "height": 640}
TABLET: ViewportSize = {"width": 1024, "height": 768}
# The demo logins (README.md); "anonymous" is the signed-out visitor (login, verify pages).
PASSWORDS = {
    "learner": "oakview-learner-demo-password",
    "mentor": "oakview-mentor-demo-password",
    "manager": "oakview-manager-demo-password",
    "admin": "oakview-admin-demo-password",
}
SWEPT = ("anonymous", "learner", "mentor", "manager", "admin")
# Each sweep: a label, the role, and the interface language chosen from the footer (None: the
# default). Care workers may use the Hindi interface, whose words are longer on a small screen.
SWEEPS = [(role, role, None) for role in SWEPT] + [("learner (hi)", "learner", "hi")]
# A page that does not exist: the error page people see is checked too.
NOT_FOUND = "/no-such-page"
# An uploaded staff spreadsheet waiting to be confirmed, so the import preview is swept too: one
# good row and one with mistakes (the preview lists them).
STAFF_CSV = (
    b"name,email,job_role,site,start_date\n"
    b"Nadia Rahman,nadia.rahman@example.com,Care worker,Oakview House,2025-01-06\n"
    b"Tom Price,not-an-email,Juggler,Nowhere,31/02/2025\n"
)
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"],
    },
    # Off by default in axe-core: 2.5.8 target size (24 x 24 px) is WCAG 2.2 AA. Headings in
    # order is a best practice the project keeps.
    "rules": {"target-size": {"enabled": True}, "heading-order": {"enabled": True}},
    "resultTypes": ["violations"],
}
# How far the page itself scrolls sideways: the document, not a table's own scrolling wrapper.
PAGE_WIDTH = "document.scrollingElement.scrollWidth"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with serving(demo_app(tmp_path)) as live:
        yield live


@dataclass(frozen=True)
class Target:
    rule: str
    url: str
    status: int = 200


def _seed_staff_upload() -> None:
    """A pending staff import for Oakview, as the manager's upload leaves it (the demo has
    none), so /manage/<slug>/staff/import/<token> has a token to show."""
    from sqlalchemy import select

    from lms.models import Organisation, User
    from lms.staff import importer

    org = db.session.scalar(select(Organisation).where(Organisation.slug == "oakview"))
    manager = db.session.scalar(select(User).where(User.email == EMAILS["manager"]))
    assert org is not None and manager is not None
    importer.store_upload(db.session, org, manager, "staff.csv", STAFF_CSV, datetime.now(UTC))
    db.session.commit()


def _allowed(expected: Any) -> bool:
    return OK in ({expected} if isinstance(expected, str) else set(expected))


def pages_for(server: LiveServer) -> tuple[dict[str, list[Target]], list[str]]:
    """Each role's GET URLs that the security matrix says it may open; and what could not be
    filled because the demo data has no such record."""
    with server.app.app_context():
        _seed_staff_upload()
        values = _values(server.app)
        rules: list[Rule] = sorted(server.app.url_map.iter_rules(), key=lambda r: r.rule)
    by_role: dict[str, list[Target]] = {role: [] for role in SWEPT}
    unfilled: list[str] = []
    for rule in rules:
        if "GET" not in (rule.methods or set()):
            continue
        access = RULES.get(rule.rule)
        assert access is not None and access.get is not None, (
            f"{rule.rule}: no GET rule in tests/lms/access_rules.py"
        )
        absent = [key for key in access.needs if values[key] == MISSING]
        if absent:
            unfilled.append(f"{rule.rule} (no {', '.join(absent)} in the demo data)")
            continue
        url = url_for_rule(rule, access, values)
        for role in SWEPT:
            if _allowed(access.get[role]):
                by_role[role].append(Target(rule.rule, url))
    for role in ("anonymous", "learner"):
        by_role[role].append(Target(NOT_FOUND, NOT_FOUND, status=404))
    return by_role, unfilled


def log_in(page: Page, base: str, role: str) -> None:
    page.goto(f"{base}/auth/login")
    page.get_by_label("E-mail address").fill(EMAILS[role])
    page.get_by_label("Password").fill(PASSWORDS[role])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/auth/login" not in url)


def _too_wide(page: Page, viewport: ViewportSize) -> list[str]:
    """The outermost elements that stick out past the screen, not counting those inside a box
    that scrolls (or clips) on its own."""
    return list(
        page.evaluate(
            """(limit) => {
                 const clipped = e => {
                   for (let a = e.parentElement; a && a !== document.body; a = a.parentElement)
                     if (getComputedStyle(a).overflowX !== 'visible') return true;
                   return false;
                 };
                 const over = e => e.getBoundingClientRect().right > limit + 1 && !clipped(e);
                 return [...document.querySelectorAll('body *')]
                   .filter(e => over(e) && !(e.parentElement && over(e.parentElement)))
                   .slice(0, 3).map(e => e.outerHTML.slice(0, 100));
               }""",
            viewport["width"],
        )
    )


# The project's rule for learners' controls (as tests/browser/test_phone.py checks it): at
# least 44 px in one direction and never under 24 px tall. Links count when they stand alone
# (the whole of their paragraph or list item) or list the lessons; a link inside a sentence is
# text, not a control.
SMALL_TARGETS = """() => [...document.querySelectorAll(
      'button, .button, input, select, nav a, label.option, .lessons a, p > a, li > a')]
  .filter(e => e.offsetParent !== null && e.type !== 'hidden')
  // a radio or checkbox is tapped through the label around it, measured instead
  .filter(e => !e.matches('label.option input'))
  .filter(e => !e.matches('p > a, li > a') || e.matches('.lessons a')
               || e.parentElement.textContent.trim() === e.textContent.trim())
  .map(e => [e.outerHTML.slice(0, 80), e.getBoundingClientRect()])
  .filter(([_, r]) => r.height < 24 || (r.height < 44 && r.width < 44))
  .map(([h, r]) => h + ' ' + Math.round(r.width) + 'x' + Math.round(r.height))"""


def check_page(page: Page, where: str, viewport: ViewportSize, learner: bool = False) -> list[str]:
    """axe-core's WCAG A/AA violations and sideways scrolling on the page now showing."""
    from axe_playwright_python.sync_playwright import Axe  # dev dependency

    problems: list[str] = []
    width = page.evaluate(PAGE_WIDTH)
    if width > viewport["width"] + 1:
        problems.append(
            f"{where}: page scrolls sideways ({width}px wide): {_too_wide(page, viewport)}"
        )
    elif viewport == PHONE:
        # The phone's text size doubled, as a user with low vision sets it: still no sideways
        # scrolling (tests/browser/test_phone.py checks the learner's story the same way).
        page.evaluate("document.documentElement.style.fontSize = '200%'")
        width = page.evaluate(PAGE_WIDTH)
        if width > viewport["width"] + 1:
            problems.append(
                f"{where}: page scrolls sideways with text at 200% ({width}px wide): "
                f"{_too_wide(page, viewport)}"
            )
        page.evaluate("document.documentElement.style.fontSize = ''")
    if learner:
        small = page.evaluate(SMALL_TARGETS)
        if small:
            problems.append(f"{where}: learner's tap targets under 44 px: {small}")
    results = Axe().run(page, options=AXE_OPTIONS)
    for violation in results.response["violations"]:
        nodes = [" ".join(node["target"][0:1]) for node in violation["nodes"][:3]]
        problems.append(f"{where}: axe {violation['id']} ({violation['impact']}) at {nodes}")
    return problems


def _open(page: Page, url: str, status: int = 200) -> str | None:
    """Go to the URL; the reason to skip it if it is not an HTML page, else None."""
    try:
        response = page.goto(url, wait_until="load")
    except PlaywrightError as err:
        if "Download is starting" in str(err):
            return "download"
        raise
    if response is None:
        return "no response"
    kind = (response.header_value("content-type") or "").split(";")[0].strip()
    if kind != "text/html":
        return kind or "no content type"
    if response.status != status and not (status == 200 and 200 <= response.status < 300):
        return f"status {response.status}"
    return None


def _tablet_page(role: str, target: Target) -> bool:
    """The managers' pages, which they also use on a tablet: their organisation's pages and the
    observation sign-off."""
    return role in ("manager", "admin") and target.rule.startswith(("/manage/", "/assess/"))


def test_every_page_is_accessible_and_fits(server: LiveServer, browser: Browser) -> None:
    by_role, unfilled = pages_for(server)
    problems: list[str] = []
    covered: dict[str, int] = {}
    skipped: list[str] = []
    not_loaded: list[str] = []
    for label, role, language in SWEEPS:
        context: BrowserContext = browser.new_context(
            viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
        if role != "anonymous":
            log_in(page, server.url, role)
        if language:
            page.goto(f"{server.url}/language/{language}")
            assert page.get_attribute("html", "lang") == language, f"{label}: not in {language}"
        tablet: list[Target] = []
        covered[label] = 0
        for target in by_role[role]:
            where = f"{target.url} as {label}"
            skip = _open(page, server.url + target.url, target.status)
            if skip is not None:
                # A wrong status is the security matrix's to report (tests/lms/
                # test_security_matrix.py); here it is listed, and the page is not swept.
                (not_loaded if skip.startswith("status") else skipped).append(f"{where}: {skip}")
                continue
            covered[label] += 1
            problems += check_page(page, f"{where} (phone)", PHONE, learner=role == "learner")
            if _tablet_page(role, target) and not language:
                tablet.append(target)
        page.set_viewport_size(TABLET)
        for target in tablet:
            assert _open(page, server.url + target.url) is None, target.url
            problems += check_page(page, f"{target.url} as {label} (tablet)", TABLET)
        covered[f"{label}, tablet"] = len(tablet)
        problems += [f"{label}: script error: {e}" for e in errors]
        context.close()
    print(f"\npages covered: {covered}")
    print("not HTML, skipped:\n  " + "\n  ".join(skipped))
    print("did not load (wrong status):\n  " + "\n  ".join(not_loaded))
    print("not in the demo data, unchecked:\n  " + "\n  ".join(unfilled))
    empty = [label for label, _, _ in SWEEPS if not covered[label]]
    assert not empty, f"no pages swept for {empty}"
    assert not problems, f"{len(problems)} accessibility or layout problems:\n" + "\n".join(
        problems
    )
