"""Ordering questions on a 360 px phone in headless Chromium: position selects that work with
the keyboard, a clear message when two steps share a place, and the same question offline
(built by the service worker from the saved bundle, which never holds the answer)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from lms import learning
from lms.extensions import db
from lms.models import QuizAttempt, User

from .conftest import LEARNER, LIVE_BROWSER, MANAGER, LiveServer, log_in, phone_with_no_errors
from .test_offline import (
    QUEUED,
    READ_QUEUE,
    check_page,
    queued_quiz,
    ready_for_offline,
    screenshot,
    status,
)

pytestmark = LIVE_BROWSER

FIRE = "FIRE-01"
PROBLEM = "Give each step a different position, or leave them all blank."


@pytest.fixture
def form_phone(browser: Browser) -> Iterator[BrowserContext]:
    """For a form sent with a mistake: its page comes back with status 400, which Chromium
    reports on the console."""
    yield from phone_with_no_errors(browser, lambda e: "status of 400 (BAD REQUEST)" in e)


@dataclass(frozen=True)
class Ordering:
    id: int
    correct: list[str]

    @property
    def options(self) -> list[str]:
        return self.correct


def ordering_attempt(app: Flask, read_lessons: bool) -> list[Ordering]:
    """FIRE-01 assigned to the learner, with an open attempt bound to its ordering questions."""
    with app.app_context():
        now = datetime.now(UTC)
        user = db.session.scalars(select(User).where(User.email == LEARNER[0])).one()
        enrolment = learning.enrol(db.session, user.id, user.memberships[0].org_id, FIRE, now)
        module = learning.current_module(db.session, FIRE)
        if read_lessons:
            for lesson in module.lessons:
                learning.mark_lesson_read(db.session, user.id, lesson, now)
        attempt = learning.open_attempt(
            db.session,
            user.id,
            enrolment,
            module,
            learning.random.Random(3),
            now,
            require_lessons=False,
        )
        ordering = [
            Ordering(q.id, list(q.correct)) for q in module.questions if q.type == "ordering"
        ]
        attempt.question_ids = [q.id for q in ordering]
        db.session.commit()
        return ordering


def place(page: Page, question: Ordering, order: list[str]) -> None:
    """Choose each step's position with the keyboard: focus its list, type the number."""
    for step in order:
        box = page.locator(f"#q{question.id}-{step}")
        box.focus()
        page.keyboard.type(str(order.index(step) + 1))
        expect(box).to_have_value(str(order.index(step) + 1))


def attempt_of(app: Flask) -> QuizAttempt:
    """The first FIRE-01 attempt (the one bound to the ordering questions)."""
    with app.app_context():
        module = learning.current_module(db.session, FIRE)
        row = db.session.scalars(
            select(QuizAttempt).where(QuizAttempt.module_id == module.id).order_by(QuizAttempt.id)
        ).first()
        assert row is not None
        db.session.expunge(row)
        return row


def test_ordering_online_with_the_keyboard(live_server: LiveServer, phone: BrowserContext) -> None:
    base, app = live_server.url, live_server.app
    questions = ordering_attempt(app, read_lessons=True)
    page = phone.new_page()
    log_in(page, base, LEARNER)
    page.goto(f"{base}/learn/{FIRE}/quiz")
    for q in questions:
        shown = page.eval_on_selector_all(
            f"select[name^='q{q.id}-']", "els => els.map(e => e.name.split('-')[1])"
        )
        assert sorted(shown) == sorted(q.correct) and shown != list(q.correct)
        heights = page.eval_on_selector_all(
            f"select[name^='q{q.id}-']", "els => els.map(e => e.getBoundingClientRect().height)"
        )
        assert min(heights) >= 44
    check_page(page, "quiz-ordering")

    # two steps in first place: nothing is sent, the question says what to do
    first, second = questions
    place(page, first, list(first.correct))
    clash = page.locator(f"#q{second.id}-{second.correct[0]}")
    clash.focus()
    page.keyboard.type("1")
    other = page.locator(f"#q{second.id}-{second.correct[1]}")
    other.focus()
    page.keyboard.type("1")
    page.get_by_role("button", name="Send my answers").click()
    problem = page.get_by_role("alert").filter(has_text=PROBLEM)
    expect(problem).to_be_visible()
    expect(page.locator(f"#q{second.id} select").first).to_be_focused()
    screenshot(page, "quiz-ordering-problem")
    assert attempt_of(app).status == "open"
    assert [i for i in page.evaluate(READ_QUEUE) if i["kind"] == "quiz"] == []

    place(page, second, list(second.correct))
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("heading", name="You passed")).to_be_visible(timeout=15_000)
    recorded = attempt_of(app)
    assert recorded.passed is True and recorded.score_percent == 100


def test_ordering_offline_from_the_saved_bundle(
    live_server: LiveServer, phone: BrowserContext
) -> None:
    base, app = live_server.url, live_server.app
    questions = ordering_attempt(app, read_lessons=False)
    page = phone.new_page()
    ready_for_offline(page, base)
    with app.app_context():
        lessons = len(learning.current_module(db.session, FIRE).lessons)

    phone.set_offline(True)
    page.goto(f"{base}/learn/{FIRE}/lessons/1")
    for number in range(1, lessons + 1):
        expect(page).to_have_url(re.compile(rf"/learn/{FIRE}/lessons/{number}$"))
        page.get_by_role("button", name=re.compile("I have read this")).click()
    expect(page).to_have_url(re.compile(rf"/learn/{FIRE}/quiz$"))
    expect(status(page)).to_contain_text("Offline")
    for q in questions:
        expect(page.locator(f"#q{q.id} select")).to_have_count(len(q.options))
    check_page(page, "quiz-ordering-offline")
    first, second = questions
    place(page, first, list(first.correct))
    # the second is left untouched (all blank): allowed, it simply scores nothing
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_text(QUEUED)).to_be_visible()
    quiz = queued_quiz(page)
    assert quiz["answers"] == {
        f"q{first.id}-{step}": [str(n)] for n, step in enumerate(first.correct, start=1)
    }

    phone.set_offline(False)
    expect(page.get_by_role("heading", name="Not passed yet")).to_be_visible(timeout=15_000)
    recorded = attempt_of(app)
    assert recorded.status == "submitted" and (recorded.correct_count, recorded.total) == (1, 2)
    assert recorded.submission_key == quiz["submission_key"]


def test_the_quiz_reset_page_on_a_phone(
    live_server: LiveServer, form_phone: BrowserContext
) -> None:
    base, app = live_server.url, live_server.app
    with app.app_context():
        now = datetime.now(UTC)
        user = db.session.scalars(select(User).where(User.email == LEARNER[0])).one()
        module = learning.current_module(db.session, "DIG-01")
        for n in range(module.max_attempts):
            db.session.add(
                QuizAttempt(
                    user_id=user.id,
                    org_id=user.memberships[0].org_id,
                    module_id=module.id,
                    question_ids=[],
                    status="submitted",
                    started_at=now - timedelta(minutes=20 - n),
                    submitted_at=now - timedelta(minutes=19 - n),
                    passed=False,
                )
            )
        db.session.commit()
    page = form_phone.new_page()
    log_in(page, base, MANAGER, heading=None)
    page.goto(f"{base}/manage/oakview/quiz-resets")
    expect(page.get_by_role("heading", name="Amira Okafor")).to_be_visible()
    check_page(page, "manage-quiz-resets")
    button = page.get_by_role("button", name="Let Amira Okafor try now")
    button.click()  # no reason yet
    expect(page.get_by_role("alert")).to_contain_text("Give a reason")
    check_page(page, "manage-quiz-resets-error")
    page.get_by_label("Reason (recorded in the audit trail)").fill("Went through lesson 3 together")
    button.click()
    expect(page.get_by_text("can take the DIG-01 quiz again now")).to_be_visible()
    expect(page.get_by_text("No learner is waiting")).to_be_visible()
