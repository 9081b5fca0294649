"""Shared fixtures for the web-layer tests.

The database is SQLite (a fresh file per test) unless LMS_TEST_DATABASE_URL names a
PostgreSQL database, in which case the schema is created once per run and every table is
emptied after each test. `credentials` and `courses` tests need none of this.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g, request_started
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import text

from courses.loader import load_catalogue, read_catalogue
from lms import create_app
from lms.extensions import db

PG_URL = os.environ.get("LMS_TEST_DATABASE_URL", "")
PASSWORD = "correct horse battery staple"
_pg_schema_ready = False


def base_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": PG_URL or f"sqlite:///{tmp_path / 'test.sqlite3'}",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 64,
        "KEY_ENCRYPTION_KEY": "test-key-encryption-key-0123456789abcdef",
        "BASE_URL": "https://lms.example.test",
        "INSTANCE_NAME": "CareCred test instance",
        # Files the app writes stay in the test's own folder, never in instance/.
        "EXPORTS_DIR": str(tmp_path / "exports"),
        "EVIDENCE_DIR": str(tmp_path / "evidence"),
    }


def _empty_all_tables() -> None:
    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.session.commit()


def _as_a_server_would(sender: Flask, **_: Any) -> None:
    """The tests' app context outlives requests, so `g` would carry one request's person and
    CSRF token into the next (a server starts each request with a fresh `g`). Forget them at
    the start of every request, so each one loads who is logged in from its own session
    cookie, as in production (lms/principal.py)."""
    g.pop("_login_user", None)
    g.pop("csrf_token", None)


def make_app(tmp_path: Path, **overrides: Any) -> Iterator[Flask]:
    global _pg_schema_ready
    app = create_app({**base_config(tmp_path), **overrides})
    request_started.connect(_as_a_server_would, app)
    with app.app_context():
        if PG_URL:
            if not _pg_schema_ready:
                db.drop_all()
                db.create_all()
                _pg_schema_ready = True
        else:
            db.create_all()
        try:
            yield app
        finally:
            db.session.remove()
            if PG_URL:
                _empty_all_tables()
            db.engine.dispose()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def catalogue(app: Flask) -> None:
    """The real course catalogue, loaded."""
    from datetime import UTC, datetime

    load_catalogue(db.session, read_catalogue(), datetime.now(UTC))
    db.session.commit()


@pytest.fixture
def demo(app: Flask, runner: FlaskCliRunner, catalogue: None) -> dict[str, str]:
    """Demo organisation and users; returns e-mail -> password."""
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    pairs = [line.split(" ", 1) for line in result.output.strip().splitlines()]
    return dict(pairs)


class Auth:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, email: str, password: str) -> Any:
        return self.client.post("/auth/login", data={"email": email, "password": password})

    def logout(self) -> Any:
        return self.client.post("/auth/logout")


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)
