"""The offline learning client in a real headless Chromium on a 360 x 640 phone screen.

Lessons and the quiz open from the service worker's cache with no signal; answers and "I have
read this" wait in IndexedDB and reach the server once, when the signal is back. The server's
record wins a conflict. Every learner page passes axe-core, and a lesson page stays light.
"""

from __future__ import annotations

import gzip
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Route, expect
from sqlalchemy import func, select

from courses.models import Question
from lms import learning
from lms.extensions import db
from lms.models import Completion, IssuedCredential, QuizAttempt, User

from .conftest import (
    LEARNER,
    LIVE_BROWSER,
    PHONE,
    SCREENSHOTS,
    LiveServer,
    check_axe,
    log_in,
    queue_script,
)

pytestmark = LIVE_BROWSER

CODE = "DIG-01"
QUEUED = "Saved on this phone. It will be sent when you are back online."
CONFLICT = "The server already has a newer result for this quiz"
LOG_IN_TO_SEND = "Log in to send what is saved on this phone."
SENT = "Your quiz answers saved on this phone were sent."
READY_TIMEOUT = 60_000  # ms: the first visit installs the worker and saves three modules
READ_QUEUE = queue_script("carecred-offline", "getAll")
PUT_BACK = queue_script("carecred-offline", "put")


# ---- helpers ---------------------------------------------------------------------------------


def wait_until_offline_ready(page: Page) -> None:
    """The worker controls the page and every assigned module is saved on the phone."""
    expect(page.locator("html")).to_have_attribute(
        "data-offline-ready", "true", timeout=READY_TIMEOUT
    )
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    expect(page.get_by_text("Your training is saved on this phone")).to_be_visible()


def status(page: Page) -> Locator:
    return page.locator("#sync-status")


def screenshot(page: Page, name: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name}: page is {width}px wide"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def check_page(page: Page, name: str) -> None:
    """No axe-core violation (WCAG and best practice), and a screenshot at 360 px."""
    screenshot(page, f"a11y-{name}")
    check_axe(page, name)


def lesson_count(app: Flask) -> int:
    with app.app_context():
        return len(learning.current_module(db.session, CODE).lessons)


def correct_answers(page: Page, app: Flask) -> dict[str, tuple[str, ...]]:
    names = sorted(set(page.eval_on_selector_all("input[name^=q]", "els => els.map(e => e.name)")))
    assert names
    with app.app_context():
        return {n: tuple(db.session.get_one(Question, int(n[1:])).correct) for n in names}


def answer_with_keyboard(page: Page, answers: dict[str, tuple[str, ...]]) -> None:
    for name, options in answers.items():
        for option in options:
            box = page.locator(f"#{name}-{option}")
            box.focus()
            page.keyboard.press("Space")
            expect(box).to_be_checked()
    page.get_by_role("button", name="Send my answers").focus()
    page.keyboard.press("Enter")


def wrong_answers(page: Page, app: Flask) -> dict[str, tuple[str, ...]]:
    right = correct_answers(page, app)
    out = {}
    for name, options in right.items():
        offered = page.eval_on_selector_all(f"input[name={name}]", "els => els.map(e => e.value)")
        out[name] = (next(o for o in offered if o not in options),)
    return out


@dataclass(frozen=True)
class Records:
    """What the server holds for the learner's DIG-01."""

    lessons_read: int
    attempts: tuple[tuple[int, str, str | None, str], ...]  # id, status, key, answers
    completions: int
    credentials: int

    @property
    def submitted(self) -> list[tuple[int, str, str | None, str]]:
        return [a for a in self.attempts if a[1] == "submitted"]


def records(app: Flask) -> Records:
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == LEARNER[0])).one()
        module = learning.current_module(db.session, CODE)
        attempts = db.session.scalars(
            select(QuizAttempt)
            .where(QuizAttempt.user_id == user.id, QuizAttempt.module_id == module.id)
            .order_by(QuizAttempt.id)
        ).all()

        def count(model: Any) -> int:
            query = select(func.count(model.id)).where(
                model.user_id == user.id, model.module_id == module.id
            )
            if model is Completion:  # ours, not the training records the employer demo adds
                query = query.where(Completion.source == "course")
            return db.session.scalar(query)

        return Records(
            lessons_read=len(learning.done_lesson_ids(db.session, user.id, module)),
            attempts=tuple((a.id, a.status, a.submission_key, repr(a.answers)) for a in attempts),
            completions=count(Completion),
            credentials=count(IssuedCredential),
        )


def read_lessons_offline(page: Page, base: str, lessons: int) -> None:
    """Open each lesson from the cache and mark it read: each one is queued."""
    page.goto(f"{base}/learn/{CODE}/lessons/1")
    for number in range(1, lessons + 1):
        expect(page).to_have_url(re.compile(rf"/learn/{CODE}/lessons/{number}$"))
        expect(status(page)).to_contain_text("Offline")
        if number > 1:
            expect(status(page)).to_contain_text(f"{number - 1} waiting to send")
        page.get_by_role("button", name=re.compile("I have read this")).click()
    # after the last lesson the quiz opens, built from the saved bundle
    expect(page).to_have_url(re.compile(rf"/learn/{CODE}/quiz$"))
    expect(page.get_by_role("button", name="Send my answers")).to_be_visible()


def read_lessons_online(page: Page, base: str) -> None:
    page.goto(f"{base}/learn/{CODE}/lessons/1")
    while True:
        button = page.get_by_role("button", name=re.compile("I have read this"))
        last = "finish lessons" in (button.text_content() or "")
        with page.expect_navigation():
            button.click()
        if last:
            break
    expect(page.get_by_role("link", name="Take the quiz")).to_be_visible()


def ready_for_offline(page: Page, base: str, *, lessons_read: bool = False) -> None:
    """The learner logs in (and, if `lessons_read`, reads DIG-01's lessons online) and waits
    on My learning until the phone has saved their training."""
    log_in(page, base, LEARNER)
    if lessons_read:
        read_lessons_online(page, base)
        page.goto(f"{base}/")
    wait_until_offline_ready(page)


def take_the_quiz_offline(phone: BrowserContext, page: Page, base: str, app: Flask) -> None:
    """With no signal, the learner reads every lesson of DIG-01 and sends the right answers:
    all of it waits on the phone."""
    phone.set_offline(True)
    read_lessons_offline(page, base, lesson_count(app))
    send_right_answers(page, app)
    expect(page.get_by_text(QUEUED)).to_be_visible()


def queued_quiz(page: Page) -> dict[str, Any]:
    """The quiz answers waiting in the phone's queue (there must be exactly one)."""
    [quiz] = [i for i in page.evaluate(READ_QUEUE) if i["kind"] == "quiz"]
    return quiz


def send_right_answers(page: Page, app: Flask) -> None:
    """Answer the quiz on the page rightly, with the keyboard."""
    answer_with_keyboard(page, correct_answers(page, app))


def back_online_to_the_result(phone: BrowserContext, page: Page) -> None:
    """The signal comes back: the queue is sent (the "online" event) and the result opens.

    Returns once the result page's own script has read the phone's queue and shown that
    nothing waits ("All sent"): until then the page is still starting, and would itself send
    whatever a test puts in the queue next."""
    phone.set_offline(False)
    expect(page.get_by_role("heading", name="You passed")).to_be_visible(timeout=15_000)
    expect(status(page)).to_have_text("All sent")


# ---- tests -----------------------------------------------------------------------------------


def test_go_offline_mid_course_and_sync_when_back(
    live_server: LiveServer, phone: BrowserContext
) -> None:
    base, app = live_server.url, live_server.app
    page = phone.new_page()
    ready_for_offline(page, base)
    lessons = lesson_count(app)
    before = records(app)
    assert before.lessons_read == 0 and not before.submitted

    phone.set_offline(True)
    read_lessons_offline(page, base, lessons)
    screenshot(page, "offline-01-quiz-from-cache")
    send_right_answers(page, app)
    expect(page.get_by_text(QUEUED)).to_be_visible()
    expect(status(page)).to_have_text(f"Offline · {lessons + 1} waiting to send")
    expect(page.get_by_text(QUEUED)).to_be_focused()
    screenshot(page, "offline-02-quiz-queued")
    quiz = queued_quiz(page)
    assert 8 <= len(quiz["submission_key"]) <= 64 and quiz["answers"]
    assert len(quiz["lesson_done_urls_pending"]) == lessons
    # nothing reached the server
    assert records(app) == before

    back_online_to_the_result(phone, page)
    after = records(app)
    assert after.lessons_read == lessons
    [submitted] = after.submitted
    assert submitted[2] == quiz["submission_key"]
    assert after.completions == 1 and after.credentials == 1


def test_a_lost_reply_is_sent_again_and_recorded_once(
    live_server: LiveServer, phone: BrowserContext
) -> None:
    base, app = live_server.url, live_server.app
    page = phone.new_page()
    ready_for_offline(page, base)
    take_the_quiz_offline(phone, page, base, app)
    quiz = queued_quiz(page)
    back_online_to_the_result(phone, page)
    once = records(app)
    assert len(once.submitted) == 1 and once.completions == 1

    # The reply was lost: the phone still holds the submission and sends it again when the
    # app is next opened. (It is put back only now that the result page has read the queue:
    # a page still starting would send it itself, and the reload would drop its "sent".)
    page.evaluate(PUT_BACK, quiz)
    page.reload()
    expect(page.get_by_text(SENT)).to_be_visible()
    expect(status(page)).to_have_text("All sent")
    assert page.evaluate(READ_QUEUE) == []
    assert records(app).submitted == once.submitted
    assert records(app).completions == 1 and records(app).credentials == 1
    page.get_by_text(SENT).get_by_role("link", name="See the result").click()
    expect(page.get_by_role("heading", name="You passed")).to_be_visible()


def test_sending_is_tried_again_when_the_signal_comes_back_weak(
    live_server: LiveServer, phone: BrowserContext
) -> None:
    """The signal returns, but for a moment nothing gets through: the first tries to send
    fail. The open page tries again by itself (no reload, no new "online" event)."""
    base, app = live_server.url, live_server.app
    page = phone.new_page()
    ready_for_offline(page, base)
    take_the_quiz_offline(phone, page, base, app)

    weak_until = time.monotonic() + 1.5  # seconds: the worker's requests in that time are lost
    failed: list[str] = []

    def weak(route: Route) -> None:
        if route.request.service_worker is not None and time.monotonic() < weak_until:
            failed.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    phone.route(re.compile(r".*/learn/sync-token$"), weak)
    back_online_to_the_result(phone, page)
    assert failed, "no send was tried while the signal was weak"
    after = records(app)
    assert len(after.submitted) == 1 and after.completions == 1
    assert page.evaluate(READ_QUEUE) == []


def test_the_server_record_wins_a_conflict(
    live_server: LiveServer, browser: Browser, phone: BrowserContext
) -> None:
    base, app = live_server.url, live_server.app
    page = phone.new_page()
    ready_for_offline(page, base, lessons_read=True)

    phone.set_offline(True)
    page.goto(f"{base}/learn/{CODE}/quiz")  # saved by the worker: every lesson was read
    expect(status(page)).to_contain_text("Offline")
    for name, options in wrong_answers(page, app).items():
        page.locator(f"#{name}-{options[0]}").check()
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_text(QUEUED)).to_be_visible()
    expect(status(page)).to_have_text("Offline · 1 waiting to send")

    # Meanwhile the same attempt is sent online from another phone, with the right answers.
    other = browser.new_context(viewport=PHONE)
    try:
        second = other.new_page()
        log_in(second, base, LEARNER)
        second.goto(f"{base}/learn/{CODE}/quiz")
        send_right_answers(second, app)
        expect(second.get_by_role("heading", name="You passed")).to_be_visible()
    finally:
        other.close()
    recorded = records(app)
    assert len(recorded.submitted) == 1 and recorded.completions == 1

    phone.set_offline(False)
    conflict = page.get_by_role("alert").filter(has_text=CONFLICT)
    expect(conflict).to_be_visible(timeout=15_000)
    expect(conflict).to_contain_text("The server's record wins.")
    expect(status(page)).to_have_text("All sent")
    check_page(page, "offline-03-conflict")
    assert records(app).submitted == recorded.submitted  # the offline answers were not applied
    assert records(app).completions == 1 and records(app).credentials == 1
    conflict.get_by_role("link", name="See the result").click()
    expect(page.get_by_role("heading", name="You passed")).to_be_visible()


def test_the_queue_survives_an_expired_session(
    live_server: LiveServer, phone: BrowserContext
) -> None:
    base, app = live_server.url, live_server.app
    page = phone.new_page()
    ready_for_offline(page, base)
    phone.set_offline(True)
    page.goto(f"{base}/learn/{CODE}/lessons/1")
    page.get_by_role("button", name=re.compile("I have read this")).click()
    expect(page).to_have_url(re.compile(rf"/learn/{CODE}/lessons/2$"))
    expect(status(page)).to_have_text("Offline · 1 waiting to send")

    phone.clear_cookies()  # the session expired while the phone was offline
    phone.set_offline(False)
    expect(page.get_by_text(LOG_IN_TO_SEND)).to_be_visible(timeout=15_000)
    expect(status(page)).to_have_text("1 waiting to send")
    check_page(page, "offline-04-log-in-to-send")
    assert len(page.evaluate(READ_QUEUE)) == 1
    assert records(app).lessons_read == 0

    page.get_by_text(LOG_IN_TO_SEND).get_by_role("link", name="Log in").click()
    expect(page.get_by_text(LOG_IN_TO_SEND)).to_be_visible()  # on the log-in page too
    expect(status(page)).to_have_text("1 waiting to send")
    page.get_by_label("E-mail address").fill(LEARNER[0])
    page.get_by_label("Password").fill(LEARNER[1])
    page.get_by_role("button", name="Log in").click()
    expect(status(page)).to_have_text("All sent")
    assert records(app).lessons_read == 1
    assert page.evaluate(READ_QUEUE) == []


def test_every_learner_page_passes_axe(live_server: LiveServer, phone: BrowserContext) -> None:
    base, app = live_server.url, live_server.app
    page = phone.new_page()
    page.goto(f"{base}/auth/login")
    check_page(page, "01-login")
    ready_for_offline(page, base)
    check_page(page, "02-my-learning")
    page.goto(f"{base}/learn/{CODE}")
    check_page(page, "03-module")
    page.goto(f"{base}/learn/{CODE}/lessons/1")
    check_page(page, "04-lesson")

    # offline: a lesson read with no signal, and the quiz built from the saved bundle
    phone.set_offline(True)
    read_lessons_offline(page, base, lesson_count(app))
    check_page(page, "05-quiz-offline")
    send_right_answers(page, app)
    expect(page.get_by_text(QUEUED)).to_be_visible()
    check_page(page, "06-quiz-queued")
    back_online_to_the_result(phone, page)
    check_page(page, "08-result")

    # the quiz page as the server renders it (a new attempt, online)
    page.goto(f"{base}/learn/{CODE}/quiz")
    expect(page.get_by_role("button", name="Send my answers")).to_be_visible()
    check_page(page, "07-quiz")

    page.goto(f"{base}/certificates/")
    expect(page.get_by_role("heading", name="My certificates", exact=True)).to_be_visible()
    check_page(page, "09-certificates")
    page.get_by_role("link", name=re.compile("Show QR code")).first.click()
    expect(page.get_by_role("img")).to_be_visible()
    check_page(page, "10-qr")


def test_a_lesson_page_is_light_and_first_party(
    live_server: LiveServer, phone: BrowserContext
) -> None:
    base = live_server.url
    requests: list[str] = []
    phone.on("request", lambda r: requests.append(r.url))
    page = phone.new_page()
    ready_for_offline(page, base)

    # a fresh page with an empty HTTP cache: everything the lesson page loads is counted
    loaded: list[tuple[str, int, int]] = []
    lesson = phone.new_page()

    def record(response: Any) -> None:
        if response.request.resource_type == "document" or response.url.startswith(base):
            body = response.body()
            loaded.append((response.url, len(body), len(gzip.compress(body))))

    lesson.on("requestfinished", lambda r: record(r.response()))
    lesson.goto(f"{base}/learn/{CODE}/lessons/1")
    expect(lesson.locator("#sync-status")).to_have_text("All sent")
    kinds = {url.rsplit("/", 1)[-1] for url, _, _ in loaded}
    assert {"1", "app.css", "app.js"} <= kinds, loaded
    # a first visit also fetches the worker script
    worker = lesson.request.get(f"{base}/sw.js").body()
    loaded.append((f"{base}/sw.js", len(worker), len(gzip.compress(worker))))
    total = sum(size for _, _, size in loaded)
    print(f"lesson page: {len(loaded)} files, {total} bytes gzipped: {loaded}")
    assert total <= 60 * 1024, loaded
    third_party = [u for u in requests if not u.startswith((base, "data:"))]
    assert not third_party, third_party


def test_the_quiz_still_posts_without_javascript(live_server: LiveServer, browser: Browser) -> None:
    base, app = live_server.url, live_server.app
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, base, LEARNER)
        read_lessons_online(page, base)
        page.get_by_role("link", name="Take the quiz").click()
        send_right_answers(page, app)
        expect(page.get_by_role("heading", name="You passed")).to_be_visible()
        expect(page.locator("#sync-status")).to_be_hidden()  # empty: nothing to say without JS
    finally:
        context.close()
    [submitted] = records(app).submitted
    assert submitted[2] is None  # the plain form post, not the queue


def test_posts_that_fail_on_a_bad_signal_are_queued(
    live_server: LiveServer, phone: BrowserContext
) -> None:
    """The phone says it is online, but the posts never arrive (a weak signal)."""
    base, app = live_server.url, live_server.app
    page = phone.new_page()
    ready_for_offline(page, base)
    lost = re.compile(r".*/learn/DIG-01/(lessons/1/done|quiz/\d+)$")
    phone.route(lost, lambda route: route.abort("internetdisconnected"))

    page.goto(f"{base}/learn/{CODE}/lessons/1")
    page.get_by_role("button", name=re.compile("I have read this")).click()
    expect(page).to_have_url(re.compile(rf"/learn/{CODE}/lessons/2$"))
    expect(status(page)).to_have_text("1 waiting to send")
    assert records(app).lessons_read == 0
    phone.unroute(lost)
    read_lessons_online(page, base)  # the next page load sent lesson 1 from the queue
    assert records(app).lessons_read == lesson_count(app)
    assert page.evaluate(READ_QUEUE) == []

    phone.route(lost, lambda route: route.abort("internetdisconnected"))
    page.get_by_role("link", name="Take the quiz").click()
    send_right_answers(page, app)
    expect(page.get_by_text(QUEUED)).to_be_visible()
    expect(status(page)).to_have_text("1 waiting to send")
    assert not records(app).submitted
    phone.unroute(lost)
    page.reload()
    expect(page.get_by_role("heading", name="You passed")).to_be_visible()
    assert len(records(app).submitted) == 1 and records(app).completions == 1


def test_a_quiz_that_expired_while_queued_records_nothing(
    live_server: LiveServer, phone: BrowserContext
) -> None:
    base, app = live_server.url, live_server.app
    page = phone.new_page()
    ready_for_offline(page, base, lessons_read=True)
    phone.set_offline(True)
    page.goto(f"{base}/learn/{CODE}/quiz")
    send_right_answers(page, app)
    expect(page.get_by_text(QUEUED)).to_be_visible()

    # the phone stays offline for longer than an attempt stays open
    attempt_id = int(page.locator("form[data-quiz]").get_attribute("data-attempt") or 0)
    with app.app_context():
        attempt = db.session.get_one(QuizAttempt, attempt_id)
        assert attempt.status == "open"
        attempt.started_at -= learning.ATTEMPT_TTL + timedelta(days=1)
        db.session.commit()

    phone.set_offline(False)
    expired = page.get_by_role("alert").filter(has_text="This quiz expired")
    expect(expired).to_be_visible(timeout=15_000)
    expect(status(page)).to_have_text("All sent")
    check_page(page, "offline-05-expired")
    assert not records(app).submitted and records(app).completions == 0
    expired.get_by_role("link", name="Take the quiz").click()
    expect(page.get_by_role("button", name="Send my answers")).to_be_visible()
