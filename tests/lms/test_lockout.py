"""Account lockout: 10 failures in 15 minutes lock an address for 15 minutes, known or not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lms import accounts
from lms.accounts import AccountLocked, authenticate
from lms.errors import BadCredentials
from lms.extensions import db
from lms.models import AuditEvent, User
from tests.conftest import PASSWORD, PG_URL, csrf_token, make_app

EMAIL = "worker@example.com"
SECRET = "test-secret"


def _user() -> User:
    from flask import current_app

    user = accounts.get_or_create_user(
        db.session,
        current_app.extensions["password_hasher"],
        EMAIL,
        "Sam Worker",
        PASSWORD,
        datetime.now(UTC),
    )
    db.session.commit()
    return user


def _try(password: str, now: datetime, email: str = EMAIL) -> User:
    from flask import current_app

    try:
        return authenticate(
            db.session,
            current_app.extensions["password_hasher"],
            email,
            password,
            secret=SECRET,
            now=now,
        )
    finally:
        db.session.commit()


def _fail(times: int, now: datetime, email: str = EMAIL) -> None:
    for _ in range(times):
        with pytest.raises(BadCredentials):
            _try("wrong password", now, email)


def test_tenth_failure_locks_even_the_right_password(app: Flask) -> None:
    user = _user()
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    _fail(9, now)
    assert _try(PASSWORD, now).id == user.id  # 9 failures: still fine, and the count resets
    _fail(10, now)
    with pytest.raises(AccountLocked) as locked:
        _try(PASSWORD, now)
    assert locked.value.until == now + timedelta(minutes=15)
    assert "locked for 15 more minutes" in locked.value.message
    with pytest.raises(AccountLocked, match="locked for 5 more minutes"):
        _try(PASSWORD, now + timedelta(minutes=10))
    # The lock ends by itself.
    assert _try(PASSWORD, now + timedelta(minutes=15, seconds=1)).id == user.id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.locked"))
    assert event is not None and event.subject_user_id == user.id
    assert event.actor_label == "login" and "10 failed log-ins" in (event.reason or "")


def test_failures_spread_beyond_the_window_do_not_lock(app: Flask) -> None:
    _user()
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    _fail(9, start)
    _fail(9, start + timedelta(minutes=16))  # the first nine have aged out
    assert _try(PASSWORD, start + timedelta(minutes=17)).email == EMAIL


def test_unknown_address_locks_the_same_way(app: Flask) -> None:
    """The lockout must not tell a caller which addresses have accounts."""
    _user()
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    for email in (EMAIL, "nobody@example.com"):
        _fail(10, now, email)
        with pytest.raises(AccountLocked) as locked:
            _try("wrong password", now, email)
        assert locked.value.until == now + timedelta(minutes=15)
    # Only the real account's lock is in the audit trail (and the address is never stored).
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "account.locked"))
    assert len(list(events)) == 1
    from lms.auth.models import LoginThrottle

    keys = [row.email_key for row in db.session.scalars(select(LoginThrottle))]
    assert keys and all("@" not in key and len(key) == 64 for key in keys)


def test_setting_a_new_password_lifts_the_lock(app: Flask) -> None:
    from flask import current_app

    user = _user()
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    _fail(10, now)
    with pytest.raises(AccountLocked):
        _try(PASSWORD, now)
    hasher = current_app.extensions["password_hasher"]
    accounts.set_password(db.session, hasher, user, "tidy otter lantern river", now, secret=SECRET)
    db.session.commit()
    assert _try("tidy otter lantern river", now).id == user.id
    assert db.session.scalar(
        select(AuditEvent.id).where(AuditEvent.action == "account.password_set")
    )


@pytest.fixture
def csrf_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path, WTF_CSRF_ENABLED=True)


def test_login_page_shows_the_lock_with_csrf_on(csrf_app: Flask) -> None:
    with csrf_app.app_context():
        _user()
    client: FlaskClient = csrf_app.test_client()

    def post(password: str) -> object:
        token = csrf_token(client.get("/auth/login").text)
        return client.post(
            "/auth/login", data={"email": EMAIL, "password": password, "csrf_token": token}
        )

    for _ in range(10):
        assert post("wrong password").status_code == 401  # type: ignore[attr-defined]
    locked = post("wrong password")
    assert locked.status_code == 429  # type: ignore[attr-defined]
    assert "it is locked for 15 more minutes" in locked.text  # type: ignore[attr-defined]
    right = post(PASSWORD)
    assert right.status_code == 429 and "locked" in right.text  # type: ignore[attr-defined]
    assert client.get("/").status_code == 302  # still not logged in


@pytest.mark.postgres
@pytest.mark.skipif(
    not PG_URL, reason="needs PostgreSQL: set LMS_TEST_DATABASE_URL (SQLite has one writer)"
)
def test_concurrent_failures_all_count(app: Flask) -> None:
    """Ten wrong passwords at the same moment lock the address: no failure is lost, and two
    first failures do not collide on the unique key."""
    import threading

    from flask import current_app
    from sqlalchemy.orm import Session

    from lms.auth.models import LoginThrottle

    hasher = current_app.extensions["password_hasher"]
    engine = db.engine
    now = datetime.now(UTC)
    barrier = threading.Barrier(accounts.LOCK_AFTER_FAILURES)
    errors: list[BaseException] = []

    def attempt() -> None:
        with Session(bind=engine) as session:
            barrier.wait(timeout=30)
            try:
                authenticate(session, hasher, "nobody@example.com", "wrong", secret=SECRET, now=now)
            except BadCredentials:
                session.commit()
            except BaseException as err:  # collected and asserted on below
                errors.append(err)

    threads = [threading.Thread(target=attempt) for _ in range(accounts.LOCK_AFTER_FAILURES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    rows = db.session.scalars(select(LoginThrottle)).all()
    assert len(rows) == 1 and rows[0].locked_until is not None
