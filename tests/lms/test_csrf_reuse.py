"""A session's signed CSRF token is reused for up to a minute (lms/security.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, g

from lms import security

from ..conftest import csrf_token, make_app


@pytest.fixture
def csrf_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path, WTF_CSRF_ENABLED=True)


def _page_token(app: Flask, client: object) -> str:
    g.pop("csrf_token", None)  # the fixture's app context outlives requests
    return csrf_token(client.get("/auth/login").get_data(as_text=True))  # type: ignore[attr-defined]


def test_pages_within_a_minute_carry_the_same_signed_token_and_it_is_accepted(
    csrf_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = csrf_app.test_client()
    first = _page_token(csrf_app, client)
    # Signed again, the token would differ: itsdangerous puts the second in it.
    later = time.time() + 5
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    assert _page_token(csrf_app, client) == first
    # accepted as the form's token: refused for the password (401), not for CSRF (400)
    answer = client.post(
        "/auth/login",
        data={"email": "nobody@example.com", "password": "x" * 20, "csrf_token": first},
    )
    assert answer.status_code == 401


def test_a_token_older_than_the_reuse_window_is_signed_again(
    csrf_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = csrf_app.test_client()
    clock = [1000.0]
    monkeypatch.setattr(security.time, "monotonic", lambda: clock[0])
    first = _page_token(csrf_app, client)
    clock[0] += security.CSRF_REUSE_SECONDS - 1
    assert _page_token(csrf_app, client) == first
    clock[0] += 2
    # itsdangerous signs with whole seconds: a new signature needs the wall clock to move on
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: 2_000_000_000.0)
    again = _page_token(csrf_app, client)
    assert again != first


def test_another_session_never_gets_this_sessions_token(csrf_app: Flask) -> None:
    one, two = csrf_app.test_client(), csrf_app.test_client()
    mine = _page_token(csrf_app, one)
    theirs = _page_token(csrf_app, two)
    assert mine != theirs
    refused = two.post(
        "/auth/login",
        data={"email": "nobody@example.com", "password": "x" * 20, "csrf_token": mine},
    )
    assert refused.status_code == 400


def test_logging_in_and_out_gives_the_session_a_new_token(csrf_app: Flask) -> None:
    from datetime import UTC, datetime

    from lms.accounts import get_or_create_user
    from lms.extensions import db

    password = "a long enough password for this test"
    get_or_create_user(
        db.session,
        csrf_app.extensions["password_hasher"],
        "token.person@example.com",
        "Token Person",
        password,
        datetime.now(UTC),
    )
    db.session.commit()
    client = csrf_app.test_client()
    before = _page_token(csrf_app, client)
    answer = client.post(
        "/auth/login",
        data={"email": "token.person@example.com", "password": password, "csrf_token": before},
    )
    assert answer.status_code == 302
    g.pop("csrf_token", None)
    after = csrf_token(client.get("/").get_data(as_text=True))
    assert after != before
    # A form left open from before logging in is refused now (logging out needs a valid token).
    assert client.post("/auth/logout", data={"csrf_token": before}).status_code == 400
    assert client.post("/auth/logout", data={"csrf_token": after}).status_code == 302
    assert _page_token(csrf_app, client) != after  # and logging out gives another
