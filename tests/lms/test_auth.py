from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Auth, csrf_token, make_app

from .helpers import LEARNER


def test_login_and_logout(client: FlaskClient, auth: Auth, demo: dict[str, str]) -> None:
    assert client.get("/").status_code == 302  # anonymous -> login
    response = auth.login(LEARNER, demo[LEARNER])
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "My learning" in client.get("/").text
    assert auth.logout().status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_gets_a_clear_message(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    response = auth.login(LEARNER, "not the password")
    assert response.status_code == 401
    assert "That e-mail and password do not match an active account." in response.text
    unknown = auth.login("nobody@example.com", "whatever")
    assert unknown.status_code == 401
    assert "That e-mail and password do not match an active account." in unknown.text


def test_empty_form_is_a_validation_error(client: FlaskClient, demo: dict[str, str]) -> None:
    response = client.post("/auth/login", data={"email": "", "password": ""})
    assert response.status_code == 400
    assert "Enter your e-mail address." in response.text


def test_email_is_case_insensitive(client: FlaskClient, auth: Auth, demo: dict[str, str]) -> None:
    assert auth.login("  Learner@Example.COM ", demo[LEARNER]).status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_no_open_redirect_after_login(
    client: FlaskClient, demo: dict[str, str], target: str
) -> None:
    response = client.post(
        f"/auth/login?next={target}", data={"email": LEARNER, "password": demo[LEARNER]}
    )
    assert response.headers["Location"] == "/"


def test_safe_next_is_followed(client: FlaskClient, demo: dict[str, str]) -> None:
    response = client.post(
        "/auth/login?next=/certificates/", data={"email": LEARNER, "password": demo[LEARNER]}
    )
    assert response.headers["Location"] == "/certificates/"


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/auth/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "camera=(self)" in client.get("/verify/").headers["Permissions-Policy"]


@pytest.fixture
def csrf_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path, WTF_CSRF_ENABLED=True)


def test_csrf_is_enforced(csrf_app: Flask) -> None:
    from datetime import UTC, datetime

    from lms.accounts import get_or_create_user
    from lms.extensions import db
    from tests.conftest import PASSWORD

    get_or_create_user(
        db.session,
        csrf_app.extensions["password_hasher"],
        "a@example.com",
        "A",
        PASSWORD,
        datetime.now(UTC),
    )
    db.session.commit()
    client = csrf_app.test_client()
    no_token = client.post("/auth/login", data={"email": "a@example.com", "password": PASSWORD})
    assert no_token.status_code == 400 and "Nothing was saved" in no_token.text
    token = csrf_token(client.get("/auth/login").text)
    ok = client.post(
        "/auth/login", data={"email": "a@example.com", "password": PASSWORD, "csrf_token": token}
    )
    assert ok.status_code == 302
    # a state-changing POST without the token is refused even when logged in
    assert client.post("/auth/logout").status_code == 400


@pytest.fixture
def limited_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path, RATELIMIT_ENABLED=True)


def test_login_is_rate_limited(limited_app: Flask) -> None:
    client = limited_app.test_client()
    statuses = [
        client.post("/auth/login", data={"email": "x@example.com", "password": "wrong"}).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429


def test_next_with_control_characters_falls_back_home(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    """A newline in `next` would split the Location header: it is refused, not a 500."""
    for target in ("/%0A", "/learn%0D%0ASet-Cookie:x=1", "/\t"):
        response = client.post(
            f"/auth/login?next={target}",
            data={"email": "learner@example.com", "password": demo["learner@example.com"]},
        )
        assert response.status_code == 302 and response.headers["Location"] == "/"
        auth.logout()
    assert client.get("/language/en?next=/%0A").headers["Location"] == "/"
