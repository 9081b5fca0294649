"""The lesson page's per-process caches: catalogue copies and per-language fragments.

A module version is copied once per process, but which version is current is asked of the
database on every request; nothing about a person (enrolment, menu, progress) is cached.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
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


# --- the page itself, rendered once per variant (lms/pagecache.py) ------------------------------


def _fresh(app: Flask, client: FlaskClient, url: str) -> str:
    """The page rendered from its templates, with the page cache out of the way."""
    app.jinja_env.auto_reload = True  # as in debug: nothing is cached
    try:
        return client.get(url).text
    finally:
        app.jinja_env.auto_reload = False


def test_a_cached_page_is_byte_for_byte_the_page_rendered_afresh(
    app: Flask, client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    pages = app.extensions["pagecache"].pages
    for language in ("en", "hi"):
        client.get(f"/language/{language}")
        for position in (1, 2):
            url = f"/learn/{CODE}/lessons/{position}"
            first = client.get(url).text  # renders and keeps the page
            kept = len(pages)
            second = client.get(url).text  # from the cache
            assert len(pages) == kept
            assert second == first == _fresh(app, client, url)
    assert len(pages) == 4  # two languages x two lessons
    assert 'lang="hi"' in second


def _second_learner(app: Flask) -> tuple[str, str]:
    from lms import learning
    from lms.accounts import ensure_membership, get_or_create_user
    from lms.models import Organisation, Role

    email, password = "second.learner@example.com", "a second learner's long password"
    now = datetime.now(UTC)
    org = db.session.query(Organisation).filter_by(slug="oakview").one()
    user = get_or_create_user(
        db.session, app.extensions["password_hasher"], email, "Second Learner", password, now
    )
    ensure_membership(db.session, user, org, Role.LEARNER)
    learning.enrol(db.session, user.id, org.id, CODE, now)
    db.session.commit()
    return email, password


def test_people_with_the_same_roles_share_the_page_but_each_gets_their_own_token_and_id(
    app: Flask, auth: Auth, demo: dict[str, str]
) -> None:
    from tests.conftest import csrf_token

    email, password = _second_learner(app)
    first, second = app.test_client(), app.test_client()
    url = f"/learn/{CODE}/lessons/1"
    pages = []
    for client, who, secret in ((first, LEARNER, demo[LEARNER]), (second, email, password)):
        with app.app_context():
            Auth(client).login(who, secret)
        with app.app_context():
            pages.append(client.get(url).text)
    assert len(app.extensions["pagecache"].pages) == 1  # one variant, shared
    ids = [page.split('data-user="', 1)[1].split('"', 1)[0] for page in pages]
    tokens = [csrf_token(page) for page in pages]
    assert ids[0] != ids[1] and tokens[0] != tokens[1]
    # Each token is that session's own: it is accepted from its owner, refused from the other.
    with app.app_context():
        app.config["WTF_CSRF_ENABLED"] = True
        try:
            done = f"/learn/{CODE}/lessons/1/done"
            assert second.post(done, data={"csrf_token": tokens[0]}).status_code == 400
            assert second.post(done, data={"csrf_token": tokens[1]}).status_code == 302
        finally:
            app.config["WTF_CSRF_ENABLED"] = False
    # Apart from the two values, the pages are the same text.
    bare = [
        page.replace(f'data-user="{i}"', "ID").replace(f'value="{t}"', "T")
        for page, i, t in zip(pages, ids, tokens, strict=True)
    ]
    assert bare[0] == bare[1]


def test_a_page_with_a_message_waiting_is_rendered_for_that_person(
    app: Flask, client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    url = f"/learn/{CODE}/lessons/1"
    plain = client.get(url).text
    with client.session_transaction() as session:
        session["_flashes"] = [("message", "A message for Amira only")]
    shown = client.get(url).text
    assert "A message for Amira only" in shown
    assert client.get(url).text == plain  # shown once, then the shared page again


def test_a_shared_page_can_read_nothing_personal_of_the_viewer() -> None:
    from lms.pagecache import PersonalData, Viewer
    from lms.principal import Principal, Role

    person = Principal(7, "hi", (Role(1, "learner"),))
    viewer = Viewer(person, "marker")
    assert viewer.is_authenticated and viewer.id == "marker"
    assert [m.role for m in viewer.memberships] == ["learner"]
    for personal in ("locale", "name", "email", "roles_in", "get_id"):
        with pytest.raises(PersonalData):
            getattr(viewer, personal)


@pytest.mark.parametrize(
    "body",
    [
        "{{ current_user.name }}",  # through the template's current_user
        "{{ user_name() }}",  # through a global reading Flask-Login's current_user itself
        "{{ session['csrf_token'] }}",  # the session's own CSRF secret
    ],
)
def test_a_template_that_shows_something_of_the_person_is_refused_not_shared(
    app: Flask, client: FlaskClient, auth: Auth, demo: dict[str, str], body: str
) -> None:
    from flask_login import current_user
    from jinja2 import ChoiceLoader, DictLoader

    from lms.pagecache import PersonalData, render_shared

    app.jinja_env.loader = ChoiceLoader([DictLoader({"t.html": body}), app.jinja_env.loader])
    app.jinja_env.globals["user_name"] = lambda: current_user.name
    auth.login(LEARNER, demo[LEARNER])
    cookie = client.get_cookie("session")
    assert cookie is not None
    with app.test_request_context(headers={"Cookie": f"session={cookie.value}"}):
        from flask import g, session

        g.pop("_login_user", None)
        session["_id"] = app.login_manager._session_identifier_generator()  # type: ignore[attr-defined]
        assert current_user.is_authenticated
        from flask_wtf.csrf import generate_csrf

        assert generate_csrf() and session.get("csrf_token")  # the session has its secret
        with pytest.raises(PersonalData):
            render_shared("t.html", ("test",))
    assert not app.extensions["pagecache"].pages  # nothing of it kept


def test_each_set_of_roles_gets_its_own_copy_with_its_own_menu(
    app: Flask, auth: Auth, demo: dict[str, str]
) -> None:
    from lms import learning
    from lms.models import Organisation, User
    from tests.conftest import csrf_token

    org = db.session.query(Organisation).filter_by(slug="oakview").one()
    manager = db.session.query(User).filter_by(email=MANAGER).one()
    learning.enrol(db.session, manager.id, org.id, CODE, datetime.now(UTC))
    db.session.commit()
    url = f"/learn/{CODE}/lessons/1"
    pages = {}
    for who in (LEARNER, MANAGER):
        client = app.test_client()
        Auth(client).login(who, demo[who])
        pages[who] = client.get(url).text
        assert client.get(url).text == pages[who]  # the second from the cache
    assert len(app.extensions["pagecache"].pages) == 2  # one a role set
    assert ">Manage</a>" in pages[MANAGER] and ">Manage</a>" not in pages[LEARNER]
    ids = {who: page.split('data-user="', 1)[1].split('"', 1)[0] for who, page in pages.items()}
    assert ids[LEARNER] != ids[MANAGER]
    assert csrf_token(pages[LEARNER]) != csrf_token(pages[MANAGER])
