"""Configuration: safe development defaults in code, overridden by `LMS_*` environment variables.

Read inside `create_app`, never at import time. In production (`LMS_ENV=production`) the app
refuses to start while a secret still has its development default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

# Development defaults, refused in production by check_production().
DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production"  # noqa: S105
DEV_KEY_ENCRYPTION_KEY = "dev-only-key-encryption-key-do-not-use-in-production"
MIN_SECRET_LENGTH = 32


class ConfigError(RuntimeError):
    """The configuration is unsafe or unusable; the message says which variable to fix."""


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


# name of the LMS_ variable -> (Flask config key, parser)
ENV_VARS: dict[str, tuple[str, Any]] = {
    "LMS_ENV": ("LMS_ENV", str),
    "LMS_DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", str),
    "LMS_SECRET_KEY": ("SECRET_KEY", str),
    "LMS_KEY_ENCRYPTION_KEY": ("KEY_ENCRYPTION_KEY", str),
    "LMS_BASE_URL": ("BASE_URL", str),
    "LMS_INSTANCE_NAME": ("INSTANCE_NAME", str),
    "LMS_RATELIMIT_STORAGE_URI": ("RATELIMIT_STORAGE_URI", str),
    "LMS_SESSION_COOKIE_SECURE": ("SESSION_COOKIE_SECURE", _bool),
    "LMS_EVIDENCE_DIR": ("EVIDENCE_DIR", str),
    "LMS_EXPORTS_DIR": ("EXPORTS_DIR", str),
    # Redis for the job queue (lms/jobs); unset = jobs run inline in the request or command.
    "LMS_REDIS_URL": ("REDIS_URL", str),
    "LMS_JOBS_QUEUE": ("JOBS_QUEUE", str),
    # Behind a reverse proxy: how many proxies set each X-Forwarded-* header (0 = trust none).
    "LMS_PROXY_FIX_X_FOR": ("PROXY_FIX_X_FOR", int),
    "LMS_PROXY_FIX_X_PROTO": ("PROXY_FIX_X_PROTO", int),
    "LMS_PROXY_FIX_X_HOST": ("PROXY_FIX_X_HOST", int),
    # Outgoing e-mail (lms/mail.py): reminders, digests, set-password invitations.
    "LMS_SMTP_HOST": ("SMTP_HOST", str),
    "LMS_SMTP_PORT": ("SMTP_PORT", int),
    "LMS_SMTP_USER": ("SMTP_USER", str),
    "LMS_SMTP_PASSWORD": ("SMTP_PASSWORD", str),
    "LMS_SMTP_STARTTLS": ("SMTP_STARTTLS", _bool),
    "LMS_SMTP_FROM": ("SMTP_FROM", str),
}


def defaults(instance_path: str) -> dict[str, Any]:
    db_file = Path(instance_path) / "lms.sqlite3"
    return {
        "LMS_ENV": "development",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}",
        # Uploaded evidence (observation photos, certificates): outside the web root.
        "EVIDENCE_DIR": str(Path(instance_path) / "evidence"),
        # Evidence packs and certificate zips made by jobs (shared by app servers and workers).
        "EXPORTS_DIR": str(Path(instance_path) / "exports"),
        # Engine options: see engine_options() (pre-ping is for database servers only).
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "SECRET_KEY": DEV_SECRET_KEY,
        "KEY_ENCRYPTION_KEY": DEV_KEY_ENCRYPTION_KEY,
        "BASE_URL": "http://127.0.0.1:5000",
        "INSTANCE_NAME": "CareCred (local development)",
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Redis down: keep limiting, per process, rather than fail every limited request.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": False,
        "REDIS_URL": "",
        "JOBS_QUEUE": "carecred",
        "PROXY_FIX_X_FOR": 0,
        "PROXY_FIX_X_PROTO": 0,
        "PROXY_FIX_X_HOST": 0,
        # Outgoing e-mail: no server configured means nothing is sent (and the send says so).
        "SMTP_HOST": "",
        "SMTP_PORT": 25,
        "SMTP_USER": "",
        "SMTP_PASSWORD": "",
        "SMTP_STARTTLS": False,
        "SMTP_FROM": "CareCred <no-reply@localhost>",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PERMANENT_SESSION_LIFETIME": 60 * 60 * 8,
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": 60 * 60 * 8,
        # argon2id; OWASP minimum is m=19 MiB, t=2. Tests lower it for speed.
        "ARGON2_TIME_COST": 2,
        "ARGON2_MEMORY_COST": 19 * 1024,
    }


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (key, parse) in ENV_VARS.items():
        if name in environ and environ[name] != "":
            out[key] = parse(environ[name])
    if environ.get("LMS_ENV") == "production" and "SESSION_COOKIE_SECURE" not in out:
        out["SESSION_COOKIE_SECURE"] = True  # production is served over HTTPS
    url = out.get("SQLALCHEMY_DATABASE_URI")
    if isinstance(url, str) and url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship.
        out["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + url[len("postgresql://") :]
    if str(out.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql"):
        # Fail fast (then 503) rather than hang when the database host is unreachable.
        out["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "pool_pre_ping": True,
            "pool_recycle": 1800,
            "connect_args": {"connect_timeout": 5},
        }
    return out


def engine_options(config: MutableMapping[str, Any]) -> None:
    """Test a pooled connection before use (`pool_pre_ping`) when the database is a server.

    A PostgreSQL server may restart under a running app: the ping finds the dead connection and
    replaces it, so the app recovers by itself. SQLite is a file opened in this process: there
    is nothing to go away, and the ping would cost every request a statement for nothing.
    """
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if not str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite"):
        options.setdefault("pool_pre_ping", True)
    config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def check_production(config: Mapping[str, Any]) -> None:
    """Refuse to run in production with development secrets."""
    if config.get("LMS_ENV") != "production":
        return
    problems = []
    for key, var, dev in (
        ("SECRET_KEY", "LMS_SECRET_KEY", DEV_SECRET_KEY),
        ("KEY_ENCRYPTION_KEY", "LMS_KEY_ENCRYPTION_KEY", DEV_KEY_ENCRYPTION_KEY),
    ):
        value = config.get(key) or ""
        if value == dev or len(value) < MIN_SECRET_LENGTH:
            problems.append(
                f"{var} must be set to a random value of at least {MIN_SECRET_LENGTH} characters"
            )
    if not config.get("SESSION_COOKIE_SECURE"):
        problems.append(
            "LMS_SESSION_COOKIE_SECURE must not be false in production: serve it over HTTPS"
        )
    if str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite"):
        problems.append("LMS_DATABASE_URL must point at PostgreSQL in production")
    if problems:
        raise ConfigError("Refusing to start in production: " + "; ".join(problems) + ".")


def environment() -> Mapping[str, str]:
    return os.environ
