"""Security headers, secure cookies, the reverse-proxy settings and production checks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lms import accounts, config, create_app
from lms.extensions import db
from tests.conftest import PASSWORD, make_app

TEMPLATES = Path(__file__).resolve().parents[2] / "lms" / "templates"


def _user(app: Flask, email: str = "sam@example.com") -> None:
    with app.app_context():
        accounts.get_or_create_user(
            db.session,
            app.extensions["password_hasher"],
            email,
            "Sam Worker",
            PASSWORD,
            datetime.now(UTC),
        )
        db.session.commit()


def test_strict_csp_and_frame_denial_on_every_page(client: FlaskClient) -> None:
    for path in ("/auth/login", "/verify/", "/no-such-page"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_hsts_only_over_https(client: FlaskClient) -> None:
    assert "Strict-Transport-Security" not in client.get("/auth/login").headers
    secure = client.get("/auth/login", base_url="https://lms.example.test")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_forwarded_proto_is_ignored_without_proxy_settings(client: FlaskClient) -> None:
    response = client.get("/auth/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers


@pytest.fixture
def proxied_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path, PROXY_FIX_X_FOR=1, PROXY_FIX_X_PROTO=1, RATELIMIT_ENABLED=True)


def test_behind_a_proxy_the_original_scheme_and_client_count(proxied_app: Flask) -> None:
    client = proxied_app.test_client()
    response = client.get("/auth/login", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"

    def login(ip: str, n: int) -> int:
        return client.post(
            "/auth/login",
            data={"email": f"u{n}@example.com", "password": "wrong password"},
            headers={"X-Forwarded-For": ip},
        ).status_code

    # The limit (10 a minute) is per client address as the proxy reports it.
    assert [login("203.0.113.5", n) for n in range(10)] == [401] * 10
    assert login("203.0.113.5", 10) == 429
    assert login("198.51.100.7", 11) == 401


@pytest.fixture
def unproxied_limited_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path, RATELIMIT_ENABLED=True)


def test_without_a_proxy_a_forged_address_does_not_escape_the_limit(
    unproxied_limited_app: Flask,
) -> None:
    client = unproxied_limited_app.test_client()
    statuses = [
        client.post(
            "/auth/login",
            data={"email": f"u{n}@example.com", "password": "wrong password"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
        ).status_code
        for n in range(11)
    ]
    assert statuses[-1] == 429


@pytest.fixture
def secure_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path, SESSION_COOKIE_SECURE=True)


def test_secure_session_cookie(secure_app: Flask) -> None:
    _user(secure_app)
    client = secure_app.test_client()
    response = client.post(
        "/auth/login",
        data={"email": "sam@example.com", "password": PASSWORD},
        base_url="https://lms.example.test",
    )
    assert response.status_code == 302
    cookie = next(
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("__Host-carecred=")
    )
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path", "samesite"} <= attributes
    assert "domain" not in attributes
    assert "SameSite=Lax" in cookie and "Path=/" in cookie
    home = client.get("/", base_url="https://lms.example.test")
    assert home.status_code == 200
    assert home.headers["Cache-Control"] == "private"


def test_default_cookie_is_httponly_and_lax(client: FlaskClient, app: Flask) -> None:
    _user(app)
    response = client.post("/auth/login", data={"email": "sam@example.com", "password": PASSWORD})
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_anonymous_pages_are_not_marked_private(client: FlaskClient) -> None:
    assert client.get("/auth/login").headers.get("Cache-Control") != "private"


def test_production_requires_secure_cookies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMS_ENV", "production")
    monkeypatch.setenv("LMS_DATABASE_URL", "postgresql://u@db/lms")
    monkeypatch.setenv("LMS_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("LMS_KEY_ENCRYPTION_KEY", "k" * 40)
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-carecred"
    monkeypatch.setenv("LMS_SESSION_COOKIE_SECURE", "false")
    with pytest.raises(config.ConfigError, match="LMS_SESSION_COOKIE_SECURE"):
        create_app()


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)


def test_no_template_has_inline_script_or_style() -> None:
    """The CSP would block them: every page's script and style come from files."""
    bad = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        if "@page" in text:
            continue  # a PDF layout for WeasyPrint (certificates, evidence packs), never served
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER, INLINE_STYLE):
            for match in pattern.finditer(text):
                bad.append(f"{path.relative_to(TEMPLATES)}: {match.group(0).strip()}")
    assert bad == []


def test_healthz_checks_the_database(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok", "database": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_database_down_is_a_quick_503_not_a_hang(tmp_path: Path) -> None:
    from tests.conftest import base_config

    app = create_app(
        {
            **base_config(tmp_path),
            # Nothing listens on port 1: connections are refused at once.
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:1/none",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
        }
    )
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json["database"] == "unreachable"
    page = client.post("/auth/login", data={"email": "a@example.com", "password": "whatever pw"})
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "30"
    assert "nothing was saved" in page.text
    with app.app_context():
        db.engine.dispose()


def test_database_down_for_a_logged_in_user_is_still_a_503(app: Flask) -> None:
    """The error page's header must not go back to the database for the user."""
    from sqlalchemy.exc import OperationalError

    _user(app)
    client = app.test_client()
    client.post("/auth/login", data={"email": "sam@example.com", "password": PASSWORD})

    def down(*args: object, **kwargs: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("database is not accepting connections"))

    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", down)
    try:
        with app.app_context():
            db.session.remove()
        page = client.get("/")
    finally:
        event.remove(engine, "before_cursor_execute", down)
    assert page.status_code == 503, page.text[:300]
    assert "nothing was saved" in page.text
