"""Session cookies: each checked one is remembered per process (lms/sessions.py), and a
forged, altered or expired one is still refused."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from lms import sessions
from lms.sessions import CheckedCookieSessions
from tests.conftest import Auth

from .helpers import LEARNER

PAGE = "/learn/DIG-01/lessons/1"


def _cookie(client: FlaskClient) -> str:
    found = client.get_cookie("session")
    assert found is not None
    return found.value


def _get(app: Flask, value: str, url: str = PAGE) -> TestResponse:
    """A request carrying this session cookie, in its own app context as in a server (the
    fixture's context outlives requests and would keep the last request's user in `g`)."""
    other = app.test_client()
    other.set_cookie("session", value)
    with app.app_context():
        return other.get(url)


def test_the_same_cookie_is_checked_once_and_still_works(
    app: Flask,
    client: FlaskClient,
    auth: Auth,
    demo: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    interface = app.session_interface
    assert isinstance(interface, CheckedCookieSessions)
    auth.login(LEARNER, demo[LEARNER])
    assert client.get(PAGE).status_code == 200  # the first page adds the CSRF token
    cookie = _cookie(client)
    assert _get(app, cookie).status_code == 200
    assert any(value == cookie for _, value in interface._checked)

    def no_second_check(*_: object) -> None:
        raise AssertionError("the remembered cookie was checked again")

    monkeypatch.setattr(interface, "get_signing_serializer", no_second_check)
    assert _get(app, cookie).status_code == 200  # from memory: no serializer built


@pytest.mark.parametrize("position", [5, 40, -3])
def test_an_altered_cookie_is_refused_even_after_the_genuine_one_was_remembered(
    app: Flask, client: FlaskClient, auth: Auth, demo: dict[str, str], position: int
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    genuine = _cookie(client)
    assert _get(app, genuine).status_code == 200  # remembered now
    at = position % len(genuine)
    swapped = "A" if genuine[at] != "A" else "B"
    altered = genuine[:at] + swapped + genuine[at + 1 :]
    refused = _get(app, altered)
    assert refused.status_code == 302 and "/auth/login" in refused.headers["Location"]
    assert _get(app, genuine).status_code == 200


def test_a_remembered_cookie_older_than_the_session_lifetime_is_refused(
    app: Flask,
    client: FlaskClient,
    auth: Auth,
    demo: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    genuine = _cookie(client)
    assert _get(app, genuine).status_code == 200  # remembered now
    lifetime = app.permanent_session_lifetime.total_seconds()
    later = time.time() + lifetime + 60
    monkeypatch.setattr(sessions.time, "time", lambda: later)
    refused = _get(app, genuine)
    assert refused.status_code == 302 and "/auth/login" in refused.headers["Location"]


def test_each_request_gets_its_own_copy_of_a_remembered_session(app: Flask) -> None:
    first = app.test_client()
    with first.session_transaction() as saved:
        saved["nested"] = {"list": [1]}
    cookie = _cookie(first)
    reader = app.test_client()
    reader.set_cookie("session", cookie)
    with reader.session_transaction() as opened:  # checked in full, then remembered
        assert opened["nested"] == {"list": [1]}
        opened["nested"]["list"].append(2)  # changes this request's copy, deep inside
    again = app.test_client()
    again.set_cookie("session", cookie)
    with again.session_transaction() as opened:  # from memory
        assert opened["nested"] == {"list": [1]}
