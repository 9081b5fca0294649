"""The lesson page's per-process caches: catalogue copies and per-language fragments.

A module version is copied once per process, but which version is current is asked of the
database on every request; nothing about a person (enrolment, menu, progress) is cached.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from courses.loader import load_catalogue, read_catalogue
from lms.extensions import db
from tests.conftest import Auth

from .helpers import LEARNER

CODE = "DIG-01"  # assigned to the demo learner
MANAGER = "manager@example.com"


def _new_version(code: str, lesson_title: str) -> None:
    """Load version n+1 of a module whose first lesson has another title (as `courses load`)."""
    folder = next(f for f in read_catalogue() if f.spec.id == code)
    lessons = list(folder.spec.lessons)
    lessons[0] = lessons[0].model_copy(update={"title": lesson_title})
    spec = folder.spec.model_copy(update={"version": folder.spec.version + 1, "lessons": lessons})
    changed = dataclasses.replace(folder, spec=spec, content_hash="0" * 64)
    load_catalogue(db.session, [changed], datetime.now(UTC))
    db.session.commit()


def test_a_new_version_is_shown_by_the_next_request(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    before = client.get(f"/learn/{CODE}/lessons/1")
    assert before.status_code == 200
    assert "Brand-new first lesson" not in before.text
    _new_version(CODE, "Brand-new first lesson")
    after = client.get(f"/learn/{CODE}/lessons/1")
    assert after.status_code == 200
    assert "<h1>Brand-new first lesson</h1>" in after.text
    assert "<title>Brand-new first lesson" in after.text


def test_the_cache_never_serves_another_persons_page(
    app: Flask, auth: Auth, demo: dict[str, str]
) -> None:
    learner, manager = app.test_client(), app.test_client()

    def get(client: FlaskClient, url: str) -> TestResponse:
        # Each request in its own app context, as in a server (the fixture's context would
        # otherwise keep the first request's user in `g` for the next client).
        with app.app_context():
            return client.get(url)

    with app.app_context():
        Auth(learner).login(LEARNER, demo[LEARNER])
    with app.app_context():
        Auth(manager).login(MANAGER, demo[MANAGER])
    page = get(learner, f"/learn/{CODE}/lessons/1")
    assert page.status_code == 200  # the module version is now cached
    # The manager has no assignment of this module: still refused, cache or not.
    assert get(manager, f"/learn/{CODE}/lessons/1").status_code == 404
    # Each sees their own menu and id, whoever warmed the per-language fragments first.
    mine = get(manager, "/")
    assert mine.status_code == 200
    assert "Manage" in mine.text
    assert "Manage" not in page.text
    learner_id, manager_id = (
        text.split('data-user="', 1)[1].split('"', 1)[0] for text in (page.text, mine.text)
    )
    assert learner_id and manager_id and learner_id != manager_id
    assert get(learner, f"/learn/{CODE}/lessons/1").text.count(f'data-user="{learner_id}"') == 1


def test_the_lesson_page_shows_no_progress_so_reading_one_changes_nothing_else(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    first = client.get(f"/learn/{CODE}/lessons/2").text
    assert client.post(f"/learn/{CODE}/lessons/2/done").status_code == 302
    again = client.get(f"/learn/{CODE}/lessons/2").text
    strip = lambda html: "".join(  # noqa: E731
        line for line in html.splitlines() if "csrf_token" not in line
    )
    assert strip(first) == strip(again)
    assert client.get(f"/learn/{CODE}/lessons/999").status_code == 404


def test_per_language_fragments_follow_the_language(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    english = client.get(f"/learn/{CODE}/lessons/1").text
    assert 'data-msg-sent="All sent"' in english
    assert 'data-send="Send my answers"' in english
    client.get("/language/hi")
    hindi = client.get(f"/learn/{CODE}/lessons/1").text
    assert 'data-msg-sent="All sent"' not in hindi
    assert 'data-send="Send my answers"' not in hindi
    client.get("/language/en")
    assert client.get(f"/learn/{CODE}/lessons/1").text.count('data-msg-sent="All sent"') == 1
