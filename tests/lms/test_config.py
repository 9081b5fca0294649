from __future__ import annotations

from pathlib import Path

import pytest

from lms import config, create_app
from lms.config import ConfigError


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LMS_DATABASE_URL", "postgresql://u@db.example/lms")
    monkeypatch.setenv("LMS_BASE_URL", "https://training.example.org")
    monkeypatch.setenv("LMS_SESSION_COOKIE_SECURE", "true")
    app = create_app({"TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/lms"
    assert app.config["BASE_URL"] == "https://training.example.org"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_default_database_is_sqlite_in_the_instance_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LMS_DATABASE_URL", raising=False)
    app = create_app({"TESTING": True})
    assert (
        app.config["SQLALCHEMY_DATABASE_URI"]
        == f"sqlite:///{Path(app.instance_path) / 'lms.sqlite3'}"
    )


def test_production_refuses_development_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMS_ENV", "production")
    monkeypatch.setenv("LMS_DATABASE_URL", "postgresql://u@db/lms")
    with pytest.raises(ConfigError) as exc:
        create_app()
    message = str(exc.value)
    assert "LMS_SECRET_KEY" in message and "LMS_KEY_ENCRYPTION_KEY" in message
    # and never echoes a secret value
    assert config.DEV_SECRET_KEY not in message


def test_production_starts_with_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMS_ENV", "production")
    monkeypatch.setenv("LMS_DATABASE_URL", "postgresql://u@db/lms")
    monkeypatch.setenv("LMS_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("LMS_KEY_ENCRYPTION_KEY", "k" * 40)
    assert create_app().config["LMS_ENV"] == "production"


def test_production_refuses_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMS_ENV", "production")
    monkeypatch.setenv("LMS_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("LMS_KEY_ENCRYPTION_KEY", "k" * 40)
    monkeypatch.delenv("LMS_DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match="PostgreSQL"):
        create_app()


def test_a_database_server_gets_pre_ping_and_sqlite_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pool_pre_ping replaces connections a restarted PostgreSQL left dead; a SQLite file has
    nothing to ping, so it is not paid for on every request."""
    monkeypatch.delenv("LMS_DATABASE_URL", raising=False)
    sqlite = create_app({"TESTING": True})
    assert "pool_pre_ping" not in sqlite.config["SQLALCHEMY_ENGINE_OPTIONS"]
    server = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@db/x"})
    assert server.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True
    # An explicit choice is kept.
    chosen = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@db/x",
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False},
        }
    )
    assert chosen.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is False
