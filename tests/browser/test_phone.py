"""The learner's story on a 360 x 640 phone screen, in a real headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from credentials import read_tokens
from lms.extensions import db
from lms.models import IssuedCredential

from .conftest import LEARNER, LIVE_BROWSER, PHONE, SCREENSHOTS, LiveServer
from .test_offline import answer_with_keyboard, correct_answers

pytestmark = LIVE_BROWSER


def check_phone_layout(page: Page, name: str) -> None:
    """No sideways scrolling, controls big enough to tap, and a screenshot for people to look at."""
    page.wait_for_load_state("load")
    expect(page.locator("main h1")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name}: page is {width}px wide on a {PHONE['width']}px screen"
    small = page.evaluate(
        """() => [...document.querySelectorAll('button, .button, input, nav a, label.option')]
              .filter(e => e.offsetParent !== null && e.type !== 'hidden')
              // a radio or checkbox is tapped through the label around it, measured instead
              .filter(e => !(e.matches('label.option input')))
              .map(e => [e.outerHTML.slice(0, 60), e.getBoundingClientRect()])
              .filter(([_, r]) => r.height < 24 || (r.height < 44 && r.width < 44))
              .map(([h, r]) => h + ' ' + Math.round(r.width) + 'x' + Math.round(r.height))"""
    )
    assert not small, f"{name}: tap targets too small: {small}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    # The same page with the phone's text size doubled (as a user with low vision sets it):
    # still no sideways scrolling.
    page.evaluate("document.documentElement.style.fontSize = '200%'")
    wide = page.evaluate("document.documentElement.scrollWidth")
    page.evaluate("document.documentElement.style.fontSize = ''")
    assert wide <= PHONE["width"], f"{name}: {wide}px wide with text at 200%"


def test_learner_completes_a_module_on_a_phone(live_server: LiveServer, browser: Browser) -> None:
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/auth/login"))
    check_phone_layout(page, "01-login")
    page.get_by_label("E-mail address").fill(LEARNER[0])
    page.get_by_label("Password").fill(LEARNER[1])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My learning")).to_be_visible()
    check_phone_layout(page, "02-my-learning")

    page.get_by_role("link", name="Data security, protection and cyber basics", exact=True).click()
    expect(page.get_by_role("heading", name="What you will learn")).to_be_visible()
    check_phone_layout(page, "03-module")
    page.locator("ol.lessons a").first.click()
    for number in range(1, 50):
        check_phone_layout(page, f"04-lesson-{number}")
        button = page.get_by_role("button", name=re.compile("I have read this"))
        last = "finish lessons" in (button.text_content() or "")
        button.click()
        if last:
            break
    page.get_by_role("link", name="Take the quiz").click()
    check_phone_layout(page, "05-quiz")

    # Answer with the keyboard only: the quiz must work without a mouse.
    answer_with_keyboard(page, correct_answers(page, live_server.app))
    expect(page.get_by_role("heading", name="You passed")).to_be_visible()
    check_phone_layout(page, "06-result")

    page.get_by_role("link", name="See my certificates").click()
    expect(page.get_by_role("heading", name="My certificates", exact=True)).to_be_visible()
    check_phone_layout(page, "07-certificates")
    card = page.locator(".card").filter(has_text="Data security")
    with page.expect_download() as download:
        card.get_by_role("link", name=re.compile("Download PDF")).click()
    pdf = Path(download.value.path()).rename(Path(download.value.path()).with_suffix(".pdf"))
    [token] = read_tokens(pdf)
    with live_server.app.app_context():
        issued = db.session.scalars(
            select(IssuedCredential).order_by(IssuedCredential.id.desc())
        ).first()
        assert issued is not None and issued.token == token
    context.close()
