"""The quiz engine on the web: ordering questions, attempt limits and manager resets, feedback
per outcome without the answers, and refused submissions logged and audited."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import func, select

from courses.models import CatalogueModule, Question
from lms import audit, learning, quiz_limits
from lms.accounts import ensure_membership, get_or_create_org, get_or_create_user
from lms.extensions import db
from lms.models import AuditEvent, OrgKind, QuizAttempt, Role, User
from lms.quiz_limits import QuizReset
from tests.conftest import PASSWORD, Auth, csrf_token, make_app

from .helpers import LEARNER, answers_for, open_quiz, read_all_lessons

MANAGER = "manager@example.com"
CODE = "DIG-01"  # assigned to the demo learner, not yet done
FIRE = "FIRE-01"  # has ordering questions


def learner() -> User:
    user = db.session.scalar(select(User).where(User.email == LEARNER))
    assert user is not None
    return user


def module(code: str) -> CatalogueModule:
    return learning.current_module(db.session, code)


def events(action: str, *attempt_ids: int) -> list[AuditEvent]:
    """Events of one kind (about these attempts, when given): the demo records its own."""
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
    if attempt_ids:
        query = query.where(AuditEvent.entity_id.in_([str(i) for i in attempt_ids]))
    return list(db.session.scalars(query))


def enrol_fire() -> None:
    user = learner()
    org_id = user.memberships[0].org_id
    learning.enrol(db.session, user.id, org_id, FIRE, datetime.now(UTC))
    db.session.commit()


def ordering_attempt(client: FlaskClient) -> tuple[int, list[Question]]:
    """An open FIRE-01 attempt bound to its two ordering questions."""
    enrol_fire()
    read_all_lessons(client, FIRE)
    attempt_id, _, _ = open_quiz(client, FIRE)
    ordering = [q for q in module(FIRE).questions if q.type == "ordering"]
    assert len(ordering) >= 2
    attempt = db.session.get_one(QuizAttempt, attempt_id)
    attempt.question_ids = [q.id for q in ordering[:2]]
    db.session.commit()
    return attempt_id, ordering[:2]


def shown_order(html: str, question: Question) -> list[str]:
    return re.findall(rf'<select name="q{question.id}-([a-z]+)"', html)


def positions(question: Question, order: list[str]) -> dict[str, list[str]]:
    return {f"q{question.id}-{step}": [str(order.index(step) + 1)] for step in order}


# --- ordering questions -----------------------------------------------------------------------


def test_ordering_steps_are_shuffled_stably_and_marked_on_the_whole_order(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    attempt_id, (first, second) = ordering_attempt(client)
    page = client.get(f"/learn/{FIRE}/quiz").text
    for q in (first, second):
        written = [o["id"] for o in q.options]
        shown = shown_order(page, q)
        assert sorted(shown) == sorted(written) and shown != written  # never the answer
        assert page.count(f'<select name="q{q.id}-') == len(written)
        for n in range(1, len(written) + 1):
            assert f'<option value="{n}"' in page
    assert shown_order(client.get(f"/learn/{FIRE}/quiz").text, first) == shown_order(page, first)
    # the offline bundle shows the steps the same way, and no answers
    bundle = client.get(f"/learn/{FIRE}/offline.json").get_json()
    by_id = {q["id"]: q for q in bundle["quiz"]["questions"]}
    assert [o["id"] for o in by_id[first.id]["options"]] == shown_order(page, first)
    assert "correct" not in str(bundle) and first.explanation not in str(bundle)

    right = {**positions(first, list(first.correct)), **positions(second, list(second.correct))}
    wrong_order = list(second.correct)
    wrong_order[0], wrong_order[1] = wrong_order[1], wrong_order[0]
    almost = {**positions(first, list(first.correct)), **positions(second, wrong_order)}
    response = client.post(f"/learn/{FIRE}/quiz/{attempt_id}", data=almost)
    assert response.status_code == 302
    attempt = db.session.get_one(QuizAttempt, attempt_id)
    db.session.refresh(attempt)
    assert (attempt.correct_count, attempt.total, attempt.passed) == (1, 2, False)
    assert attempt.answers == {str(second.id): wrong_order, str(first.id): list(first.correct)}

    # a new attempt, answered right through the position selects
    again_id, _, _ = open_quiz(client, FIRE)
    fresh = db.session.get_one(QuizAttempt, again_id)
    fresh.question_ids = [first.id, second.id]
    db.session.commit()
    assert client.post(f"/learn/{FIRE}/quiz/{again_id}", data=right).status_code == 302
    db.session.refresh(fresh)
    assert fresh.passed is True and fresh.score_percent == 100


def test_a_part_done_ordering_question_is_shown_again_with_the_answers_kept(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    attempt_id, (first, second) = ordering_attempt(client)
    form = positions(first, list(first.correct))
    steps = [o["id"] for o in second.options]
    form.update({f"q{second.id}-{steps[0]}": ["1"], f"q{second.id}-{steps[1]}": ["1"]})
    response = client.post(f"/learn/{FIRE}/quiz/{attempt_id}", data=form)
    assert response.status_code == 400
    assert "Give each step a different position" in response.text
    assert f'aria-describedby="q{second.id}-error"' in response.text
    assert f'href="#q{second.id}"' in response.text
    # what the learner chose is still chosen
    chosen = re.search(
        rf'<select name="q{first.id}-{first.correct[0]}".*?</select>', response.text, re.S
    )
    assert chosen and '<option value="1" selected>' in chosen.group(0)
    attempt = db.session.get_one(QuizAttempt, attempt_id)
    db.session.refresh(attempt)
    assert attempt.status == "open" and attempt.submitted_at is None
    assert not events("quiz.refused")  # a slip, not a forgery


def test_malformed_orders_from_the_offline_queue_are_refused(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    attempt_id, (first, _) = ordering_attempt(client)
    url = f"/learn/{FIRE}/quiz/{attempt_id}"
    steps = list(first.correct)
    for order in ([steps[0], *steps[:-1]], steps[:-1], [*steps[:-1], "zz"]):
        body = {"answers": {f"q{first.id}": order}, "submission_key": "phone-order-123456"}
        response = client.post(url, json=body, headers={"Accept": "application/json"})
        assert response.status_code == 400, order
    reasons = [e.reason for e in events("quiz.refused")]
    assert reasons == ["malformed_order", "malformed_order", "unknown_option"]
    ok = {"answers": {f"q{first.id}": steps}, "submission_key": "phone-order-123456"}
    assert client.post(url, json=ok, headers={"Accept": "application/json"}).status_code == 200


# --- per-outcome feedback ----------------------------------------------------------------------


def test_result_gives_feedback_per_outcome_and_never_the_answers(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    read_all_lessons(client, CODE)
    attempt_id, qids, _ = open_quiz(client, CODE)
    answers = answers_for(qids, right=False)
    answers.update(answers_for(qids[:1]))  # one right, the rest wrong
    response = client.post(f"/learn/{CODE}/quiz/{attempt_id}", data=answers)
    page = client.get(response.headers["Location"]).text
    mod = module(CODE)
    drawn = [db.session.get_one(Question, qid) for qid in qids]
    for outcome in {q.outcome for q in drawn}:
        assert escape(mod.outcome_text[outcome]) in page
    assert "Review this" in page and "Read again:" in page
    lesson = next(lesson for lesson in mod.lessons if lesson.outcomes)
    assert f'href="/learn/{CODE}/lessons/{lesson.position}"' in page or "Met" in page
    for q in drawn:
        assert escape(q.explanation) not in page and escape(q.prompt) not in page
        for option in q.options:
            if len(option["text"]) > 12:  # short ones ("True") are ordinary words
                assert escape(option["text"]) not in page, option["text"]


# --- attempt limits and resets -----------------------------------------------------------------


def fail_quiz(client: FlaskClient, times: int) -> list[int]:
    ids = []
    for _ in range(times):
        attempt_id, qids, _ = open_quiz(client, CODE)
        response = client.post(f"/learn/{CODE}/quiz/{attempt_id}", data=answers_for(qids, False))
        assert response.status_code == 302
        ids.append(attempt_id)
    return ids


def test_three_failures_close_the_quiz_until_the_cooling_off_ends(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    read_all_lessons(client, CODE)
    ids = fail_quiz(client, 2)
    # two failures: a third try is still allowed, and the result says "Try again"
    assert "Try again" in client.get(f"/learn/{CODE}/quiz/{ids[-1]}/result").text
    ids += fail_quiz(client, 1)
    result = client.get(f"/learn/{CODE}/quiz/{ids[-1]}/result").text
    assert "closed for now" in result and "Try again</a>" not in result
    locked = client.get(f"/learn/{CODE}/quiz")
    assert locked.status_code == 409
    assert "3 tries in a row" in locked.text and "UK time" in locked.text
    assert 'name="q' not in locked.text  # no questions drawn
    drawn = select(func.count(QuizAttempt.id)).where(QuizAttempt.module_id == module(CODE).id)
    assert db.session.scalar(drawn) == len(ids)
    # offline: lessons still come, the quiz does not
    bundle = client.get(f"/learn/{CODE}/offline.json")
    assert bundle.status_code == 200 and bundle.get_json()["quiz"] is None

    user, mod = learner(), module(CODE)
    org_id = user.memberships[0].org_id
    last = db.session.get_one(QuizAttempt, ids[-1]).submitted_at
    assert last is not None
    opens = last + timedelta(hours=mod.cooling_off_hours)
    lock = quiz_limits.lock_for(db.session, user.id, org_id, mod, opens - timedelta(microseconds=1))
    assert lock.opens_at == opens and lock.failed == 3
    assert quiz_limits.lock_for(db.session, user.id, org_id, mod, opens).opens_at is None
    enrolment = learning.enrolment_for(db.session, user.id, CODE)
    with pytest.raises(quiz_limits.QuizLocked):
        learning.open_attempt(
            db.session, user.id, enrolment, mod, learning.random.Random(1), opens - timedelta(1)
        )
    attempt = learning.open_attempt(
        db.session, user.id, enrolment, mod, learning.random.Random(1), opens
    )
    assert attempt.id not in ids and attempt.status == "open"


def test_an_open_attempt_can_always_be_sent(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    """The limit is on drawing new attempts: one already drawn (say, for offline) is marked."""
    auth.login(LEARNER, demo[LEARNER])
    read_all_lessons(client, CODE)
    ids = fail_quiz(client, 2)
    attempt_id, qids, _ = open_quiz(client, CODE)
    # two more failures land while this attempt is open (e.g. from another phone)
    for old in ids:
        row = db.session.get_one(QuizAttempt, old)
        row.submitted_at = datetime.now(UTC) - timedelta(minutes=5)
    extra = QuizAttempt(
        user_id=learner().id,
        org_id=learner().memberships[0].org_id,
        module_id=module(CODE).id,
        question_ids=qids,
        status="submitted",
        started_at=datetime.now(UTC) - timedelta(minutes=9),
        submitted_at=datetime.now(UTC) - timedelta(minutes=4),
        passed=False,
    )
    db.session.add(extra)
    db.session.commit()
    assert client.get(f"/learn/{CODE}/quiz").status_code == 200  # the open one is shown
    response = client.post(f"/learn/{CODE}/quiz/{attempt_id}", data=answers_for(qids))
    assert response.status_code == 302
    assert "You passed" in client.get(response.headers["Location"]).text
    # a pass starts a new count
    user = learner()
    lock = quiz_limits.lock_for(
        db.session, user.id, user.memberships[0].org_id, module(CODE), datetime.now(UTC)
    )
    assert lock.opens_at is None and lock.failed == 0


def other_org_manager() -> str:
    now = datetime.now(UTC)
    org = get_or_create_org(db.session, "elmhurst", "Elmhurst Care", OrgKind.CARE_PROVIDER, now)
    from flask import current_app

    user = get_or_create_user(
        db.session,
        current_app.extensions["password_hasher"],
        "elm-manager@example.com",
        "Elm Manager",
        PASSWORD,
        now,
    )
    ensure_membership(db.session, user, org, Role.MANAGER)
    db.session.commit()
    return user.email


def test_a_manager_resets_a_locked_out_learner_with_a_reason(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    read_all_lessons(client, CODE)
    fail_quiz(client, 3)
    assert client.get("/manage/oakview/quiz-resets").status_code == 404  # learners cannot
    assert client.post("/manage/oakview/quiz-resets", data={}).status_code == 404
    auth.logout()
    assert client.get("/manage/oakview/quiz-resets").status_code in (302, 401)

    elm = other_org_manager()
    auth.login(elm, PASSWORD)
    assert client.get("/manage/oakview/quiz-resets").status_code == 404
    user = learner()
    body = {"user_id": str(user.id), "module_code": CODE, "reason": "Talked it through"}
    assert client.post("/manage/oakview/quiz-resets", data=body).status_code == 404
    assert client.get("/manage/elmhurst/quiz-resets").status_code == 200
    # nor through their own organisation's page: Amira is not their learner
    assert client.post("/manage/elmhurst/quiz-resets", data=body).status_code == 404
    auth.logout()

    auth.login(MANAGER, demo[MANAGER])
    page = client.get("/manage/oakview/quiz-resets")
    assert page.status_code == 200
    assert "Amira Okafor" in page.text and CODE in page.text and "3 failed" in page.text
    no_reason = client.post("/manage/oakview/quiz-resets", data={**body, "reason": "  "})
    assert no_reason.status_code == 400 and "Give a reason" in no_reason.text
    assert db.session.scalar(select(func.count(QuizReset.id))) == 0
    done = client.post("/manage/oakview/quiz-resets", data=body)
    assert done.status_code == 302
    after = client.get("/manage/oakview/quiz-resets").text
    assert "can take the DIG-01 quiz again now" in after and "No learner is waiting" in after
    [reset] = db.session.scalars(select(QuizReset)).all()
    assert (reset.user_id, reset.module_code, reset.reason) == (user.id, CODE, body["reason"])
    [event] = events("quiz.reset")
    assert event.subject_user_id == user.id and event.reason == body["reason"]
    assert event.actor_label == MANAGER and event.before and event.before["failed"] == 3
    # a second reset of someone no longer locked out changes nothing
    twice = client.post("/manage/oakview/quiz-resets", data=body)
    assert twice.status_code == 409
    assert db.session.scalar(select(func.count(QuizReset.id))) == 1
    auth.logout()

    auth.login(LEARNER, demo[LEARNER])
    assert client.get(f"/learn/{CODE}/quiz").status_code == 200
    assert audit.verify_chain(db.session).ok


@pytest.fixture
def csrf_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path, WTF_CSRF_ENABLED=True)


def test_the_reset_form_needs_its_csrf_token(csrf_app: Flask) -> None:
    from courses.loader import load_catalogue, read_catalogue

    load_catalogue(db.session, read_catalogue(), datetime.now(UTC))
    db.session.commit()
    result = csrf_app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    passwords = dict(line.split(" ", 1) for line in result.output.strip().splitlines())
    user, mod = learner(), module(CODE)
    org_id = user.memberships[0].org_id
    now = datetime.now(UTC)
    for n in range(3):
        db.session.add(
            QuizAttempt(
                user_id=user.id,
                org_id=org_id,
                module_id=mod.id,
                question_ids=[],
                status="submitted",
                started_at=now - timedelta(minutes=10 - n),
                submitted_at=now - timedelta(minutes=9 - n),
                passed=False,
            )
        )
    db.session.commit()
    client = csrf_app.test_client()
    login = client.get("/auth/login").text
    client.post(
        "/auth/login",
        data={"email": MANAGER, "password": passwords[MANAGER], "csrf_token": csrf_token(login)},
    )
    page = client.get("/manage/oakview/quiz-resets")
    assert page.status_code == 200 and "Amira Okafor" in page.text
    body = {"user_id": str(user.id), "module_code": CODE, "reason": "Agreed extra support"}
    refused = client.post("/manage/oakview/quiz-resets", data=body)
    assert refused.status_code == 400 and "Nothing was saved" in refused.text
    assert db.session.scalar(select(func.count(QuizReset.id))) == 0
    ok = client.post(
        "/manage/oakview/quiz-resets", data={**body, "csrf_token": csrf_token(page.text)}
    )
    assert ok.status_code == 302
    assert db.session.scalar(select(func.count(QuizReset.id))) == 1


# --- refusals: logged and audited --------------------------------------------------------------


def test_forged_ids_and_unknown_options_are_refused_logged_and_audited(
    client: FlaskClient, auth: Auth, demo: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    read_all_lessons(client, CODE)
    attempt_id, qids, _ = open_quiz(client, CODE)
    forged = answers_for(qids)
    other = db.session.scalar(select(Question.id).where(Question.id.notin_(qids)).limit(1))
    forged[f"q{other}"] = ["a"]
    with caplog.at_level(logging.WARNING, logger="lms.learning"):
        response = client.post(f"/learn/{CODE}/quiz/{attempt_id}", data=forged)
    assert response.status_code == 400 and "is not one of this quiz" in response.text
    user = learner()
    lines = [r.getMessage() for r in caplog.records if r.name == "lms.learning"]
    assert lines == [
        f"quiz submission refused: user {user.id}, attempt {attempt_id}, reason unknown_question"
    ]
    assert LEARNER not in caplog.text and user.name not in caplog.text
    assert not any(f"'{v[0]}'" in caplog.text for v in forged.values() if v)

    answers = answers_for(qids)
    answers[f"q{qids[0]}"] = ["zz"]
    assert client.post(f"/learn/{CODE}/quiz/{attempt_id}", data=answers).status_code == 400

    refused = events("quiz.refused")
    assert [e.reason for e in refused] == ["unknown_question", "unknown_option"]
    assert all(e.subject_user_id == user.id and e.entity_id == str(attempt_id) for e in refused)
    assert all(e.actor_id == user.id and e.org_id is not None for e in refused)
    attempt = db.session.get_one(QuizAttempt, attempt_id)
    db.session.refresh(attempt)
    assert attempt.status == "open" and attempt.answers is None  # nothing else saved
    assert not events("quiz.submitted", attempt_id)


def test_double_and_expired_submissions_are_refused_and_audited(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    read_all_lessons(client, CODE)
    attempt_id, qids, _ = open_quiz(client, CODE)
    assert (
        client.post(f"/learn/{CODE}/quiz/{attempt_id}", data=answers_for(qids)).status_code == 302
    )
    again = client.post(f"/learn/{CODE}/quiz/{attempt_id}", data=answers_for(qids, False))
    assert again.status_code == 409
    json_again = client.post(
        f"/learn/{CODE}/quiz/{attempt_id}",
        json={"answers": answers_for(qids), "submission_key": "another-phone-1234"},
        headers={"Accept": "application/json"},
    )
    assert json_again.status_code == 409
    [submitted] = events("quiz.submitted", attempt_id)
    assert submitted.entity_id == str(attempt_id)
    assert submitted.after and submitted.after["passed"] is True
    assert submitted.after["score_percent"] == 100 and submitted.after["total"] == len(qids)

    # an attempt left open past its time
    mod = module("CC-16")
    read_all_lessons(client, "CC-16")
    late_id, late_qids, _ = open_quiz(client, "CC-16")
    late = db.session.get_one(QuizAttempt, late_id)
    late.started_at = late.started_at - learning.ATTEMPT_TTL - timedelta(minutes=1)
    db.session.commit()
    response = client.post(f"/learn/{mod.code}/quiz/{late_id}", data=answers_for(late_qids))
    assert response.status_code == 409 and "expired" in response.text
    reasons = [(e.entity_id, e.reason) for e in events("quiz.refused", attempt_id, late_id)]
    assert reasons == [
        (str(attempt_id), "already_submitted"),
        (str(attempt_id), "already_submitted"),
        (str(late_id), "attempt_expired"),
    ]
    assert len(events("quiz.submitted", attempt_id, late_id)) == 1
    assert audit.verify_chain(db.session).ok


def test_someone_elses_attempt_is_refused_and_logged(
    client: FlaskClient, auth: Auth, demo: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    read_all_lessons(client, CODE)
    attempt_id, qids, _ = open_quiz(client, CODE)
    auth.logout()
    auth.login(MANAGER, demo[MANAGER])
    with caplog.at_level(logging.WARNING, logger="lms.learn.views"):
        response = client.post(f"/learn/{CODE}/quiz/{attempt_id}", data=answers_for(qids))
    assert response.status_code == 404
    manager = db.session.scalar(select(User).where(User.email == MANAGER))
    assert manager is not None
    assert (
        f"quiz submission refused: user {manager.id}, attempt {attempt_id}, reason not_found"
        in caplog.text
    )
    assert not events("quiz.refused", attempt_id)
    attempt = db.session.get_one(QuizAttempt, attempt_id)
    db.session.refresh(attempt)
    assert attempt.status == "open"
