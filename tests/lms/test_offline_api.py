"""The server side of offline learning: bundles without answers, exactly-once quiz sync."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select

from courses.models import Question
from lms.extensions import db
from lms.models import Completion, IssuedCredential, QuizAttempt
from tests.conftest import Auth

from .helpers import LEARNER

CODE = "DIG-01"
JSON = {"Accept": "application/json"}


def bundle(client: FlaskClient) -> dict:
    response = client.get(f"/learn/{CODE}/offline.json")
    assert response.status_code == 200
    return response.get_json()


def right_answers(data: dict) -> dict[str, list[str]]:
    out = {}
    for q in data["quiz"]["questions"]:
        out[f"q{q['id']}"] = list(db.session.get_one(Question, q["id"]).correct)
    return out


def read_lessons_as_json(client: FlaskClient, data: dict) -> None:
    for lesson in data["lessons"]:
        r = client.post(f"/learn/{CODE}/lessons/{lesson['position']}/done", json={}, headers=JSON)
        assert r.status_code == 204


def test_bundle_has_lessons_and_questions_but_no_answers(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    data = bundle(client)
    assert data["code"] == CODE and len(data["lessons"]) >= 4
    assert all(lesson["html"] for lesson in data["lessons"])
    questions = data["quiz"]["questions"]
    assert questions and all(set(q) == {"id", "type", "prompt", "options"} for q in questions)
    raw = str(data)
    for q in questions:
        assert db.session.get_one(Question, q["id"]).explanation not in raw
    # the same open attempt is reused, not a fresh draw per download
    assert bundle(client)["quiz"]["attempt_id"] == data["quiz"]["attempt_id"]
    index = client.get("/learn/offline.json").get_json()
    assert CODE in {m["code"] for m in index["modules"]}


def test_quiz_syncs_exactly_once(client: FlaskClient, auth: Auth, demo: dict[str, str]) -> None:
    auth.login(LEARNER, demo[LEARNER])
    data = bundle(client)
    url = data["quiz"]["submit_url"]
    body = {"answers": right_answers(data), "submission_key": "phone-1-attempt-abcdef"}
    early = client.post(url, json=body, headers=JSON)
    assert early.status_code == 409 and early.get_json()["error"] == "Lessons outstanding"
    read_lessons_as_json(client, data)
    first = client.post(url, json=body, headers=JSON)
    assert first.status_code == 200, first.text
    result = first.get_json()
    assert result["status"] == "recorded" and result["passed"] is True and result["certificate"]
    # the reply was lost; the phone sends the same thing again
    again = client.post(url, json=body, headers=JSON)
    assert again.status_code == 200
    assert again.get_json() == {**result, "status": "replayed"}
    # another device (or an old queue) tries a different submission: the server's record wins
    other = client.post(
        url, json={**body, "submission_key": "phone-2-attempt-zzzzzz"}, headers=JSON
    )
    assert other.status_code == 409 and "already submitted" in other.get_json()["message"]
    attempt_id = data["quiz"]["attempt_id"]
    assert (
        db.session.scalar(
            select(func.count(Completion.id)).where(Completion.attempt_id == attempt_id)
        )
        == 1
    )
    assert (
        db.session.scalar(
            select(func.count(IssuedCredential.id))
            .join(Completion)
            .where(Completion.attempt_id == attempt_id)
        )
        == 1
    )


def test_bad_offline_submissions_are_refused(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    data = bundle(client)
    read_lessons_as_json(client, data)
    url = data["quiz"]["submit_url"]
    for body in (
        {"answers": [], "submission_key": "k" * 10},
        {"answers": {}, "submission_key": "short"},
        {"answers": {"q1": "a"}, "submission_key": "k" * 10},
    ):
        assert client.post(url, json=body, headers=JSON).status_code == 400
    forged = client.post(
        url, json={"answers": {"q999999": ["a"]}, "submission_key": "k" * 10}, headers=JSON
    )
    assert forged.status_code == 400
    attempt = db.session.get_one(QuizAttempt, data["quiz"]["attempt_id"])
    db.session.refresh(attempt)
    assert attempt.status == "open"


def test_sync_token_and_app_files(client: FlaskClient, auth: Auth, demo: dict[str, str]) -> None:
    assert client.get("/learn/sync-token").status_code == 302  # login first
    auth.login(LEARNER, demo[LEARNER])
    token = client.get("/learn/sync-token")
    assert token.get_json()["csrf_token"] and token.headers["Cache-Control"] == "no-store"
    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    assert manifest.get_json()["start_url"] == "/"


def test_a_form_post_with_the_queued_copys_key_is_the_same_submission(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    """The phone's queue was too slow, so its script posted the form itself, with the key of
    the copy it queued. When that copy is sent later, the server recognises it (replayed), so
    the learner is not told that "the server has a newer result" for her own answers."""
    auth.login(LEARNER, demo[LEARNER])
    data = bundle(client)
    read_lessons_as_json(client, data)
    url = data["quiz"]["submit_url"]
    answers = right_answers(data)
    key = "phone-slow-queue-123456"
    posted = client.post(url, data={**answers, "submission_key": key})
    assert posted.status_code == 302 and "/result" in posted.headers["Location"]
    attempt = db.session.get_one(QuizAttempt, data["quiz"]["attempt_id"])
    assert attempt.submission_key == key and attempt.passed
    queued = client.post(url, json={"answers": answers, "submission_key": key}, headers=JSON)
    assert queued.status_code == 200 and queued.get_json()["status"] == "replayed"
    # A key that is not one (too short) is ignored, as a post without a key always was.
    other = bundle(client)  # the module is passed; a new attempt can still be drawn
    assert other["quiz"]["attempt_id"] != attempt.id
    short = client.post(
        other["quiz"]["submit_url"], data={**right_answers(other), "submission_key": "x"}
    )
    assert short.status_code == 302
    assert db.session.get_one(QuizAttempt, other["quiz"]["attempt_id"]).submission_key is None
