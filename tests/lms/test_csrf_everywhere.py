"""CSRF on every state-changing form, and no open redirect after logging in.

With CSRF protection on (as in production), every POST route of the URL map that is not a
token-authenticated JSON API is sent a form without the CSRF token, by a user allowed to use it
(tests/lms/access_rules.py says who): each must answer 400 and change nothing in the database.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from courses.loader import load_catalogue, read_catalogue
from lms.extensions import csrf, db

from ..conftest import csrf_token, make_app
from .access_rules import OK, RULES
from .test_security_matrix import _values, url_for_rule

# JSON APIs that authenticate each request with a bearer token (or are public and change
# nothing) rather than a cookie: a cross-site page cannot use them on someone's behalf.
TOKEN_APIS = {"api", "vcapi"}
# CSRF-exempt views, each with the reason it is safe without a form token.
EXEMPT_VIEWS: dict[str, str] = {}
ROLE_ORDER = ("manager", "admin", "mentor", "learner", "anonymous")
EMAILS = {
    "learner": "learner@example.com",
    "mentor": "mentor@example.com",
    "manager": "manager@example.com",
    "admin": "admin@example.com",
}
# Tables that record the request itself rather than the change it asked for.
IGNORED_TABLES = {"login_throttles"}


@pytest.fixture
def csrf_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path, WTF_CSRF_ENABLED=True)


@pytest.fixture
def demo_passwords(csrf_app: Flask) -> dict[str, str]:
    load_catalogue(db.session, read_catalogue(), datetime.now(UTC))
    db.session.commit()
    result = csrf_app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    return dict(line.split(" ", 1) for line in result.output.strip().splitlines())


def forget_request_state() -> None:
    """The test's app context outlives requests: drop what Flask-Login and Flask-WTF cache in
    `g` (the user, the CSRF token), so each client is seen with its own session."""
    g.pop("_login_user", None)
    g.pop("csrf_token", None)


def login(app: Flask, role: str, passwords: dict[str, str]) -> FlaskClient:
    client = app.test_client()
    if role == "anonymous":
        return client
    forget_request_state()
    token = csrf_token(client.get("/auth/login").get_data(as_text=True))
    email = EMAILS[role]
    r = client.post(
        "/auth/login", data={"email": email, "password": passwords[email], "csrf_token": token}
    )
    assert r.status_code == 302, f"{role} could not log in"
    return client


def fingerprint() -> str:
    """A digest of every table's rows: any insert, update or delete changes it."""
    digest = hashlib.sha256()
    for table in db.metadata.sorted_tables:
        if table.name in IGNORED_TABLES:
            continue
        rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
        digest.update(f"{table.name}:{rows!r}".encode())
    db.session.rollback()
    return digest.hexdigest()


def _allowed_role(rule_path: str) -> str:
    post = RULES[rule_path].post
    assert post is not None
    for role in ROLE_ORDER:
        expected = post[role]
        if OK in ({expected} if isinstance(expected, str) else expected):
            return role
    return "manager"


def _exempt(app: Flask, endpoint: str) -> bool:
    view = app.view_functions[endpoint]
    name = f"{view.__module__}.{view.__name__}"
    return name in csrf._exempt_views  # type: ignore[attr-defined]


def test_every_form_refuses_a_post_without_its_csrf_token(
    csrf_app: Flask, demo_passwords: dict[str, str]
) -> None:
    values = _values(csrf_app)
    clients: dict[str, FlaskClient] = {}
    problems: list[str] = []
    checked = 0
    for rule in sorted(csrf_app.url_map.iter_rules(), key=lambda r: r.rule):
        if "POST" not in (rule.methods or set()):
            continue
        blueprint = rule.endpoint.split(".", 1)[0]
        if blueprint in TOKEN_APIS:
            continue
        if rule.endpoint in EXEMPT_VIEWS:
            continue
        url = url_for_rule(rule, RULES[rule.rule], values)
        role = _allowed_role(rule.rule)
        if role not in clients:
            clients[role] = login(csrf_app, role, demo_passwords)
        before = fingerprint()
        forget_request_state()
        r = clients[role].post(url, data={"name": "x", "reason": "x", "confirm": "y"})
        after = fingerprint()
        checked += 1
        if r.status_code != 400:
            exempt = " (the view is CSRF-exempt)" if _exempt(csrf_app, rule.endpoint) else ""
            problems.append(f"POST {url} ({rule.endpoint}) as {role}: {r.status_code}{exempt}")
        elif before != after:
            problems.append(f"POST {url} ({rule.endpoint}): refused but the database changed")
    assert checked > 20
    assert not problems, "Forms that accept a POST without a CSRF token:\n  " + "\n  ".join(
        problems
    )


def test_the_token_apis_are_the_only_exempt_blueprints(csrf_app: Flask) -> None:
    exempt = {getattr(bp, "name", bp) for bp in csrf._exempt_blueprints}  # type: ignore[attr-defined]
    assert exempt <= TOKEN_APIS, f"CSRF-exempt blueprints beyond the token APIs: {exempt}"


# --- open redirects after login -------------------------------------------------------------

_BROWSER_STRIPS = re.compile(r"[\t\n\r]")


def _lands_on_this_site(location: str) -> bool:
    """As a browser reads the Location (tabs and newlines dropped, backslash as slash): no
    scheme and no host, so it resolves against this site (an empty one is the page itself)."""
    seen = _BROWSER_STRIPS.sub("", location).replace("\\", "/").lstrip(" ")
    parts = urlsplit(seen)
    return not parts.scheme and not parts.netloc and not seen.startswith("//")


@pytest.fixture
def plain_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path)


NEXT_VALUES = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda a, b, c: a + b + c,
        st.sampled_from(["/", "//", "/\\", "\\", "/\t/", "/%2F", "https:", "http://", " /"]),
        st.sampled_from(["", "evil.example", "@evil.example", ":80", "."]),
        st.text(alphabet="/\\.:@?#%\t\n abc", max_size=10),
    ),
)


def _login_with_next(app: Flask, target: str) -> tuple[int, str]:
    from lms.accounts import get_or_create_user

    hasher = app.extensions["password_hasher"]
    get_or_create_user(db.session, hasher, "a@example.com", "A", "pw-0123456789", datetime.now(UTC))
    db.session.commit()
    forget_request_state()
    client = app.test_client()
    r = client.post(
        f"/auth/login?next={quote(target, safe='')}",
        data={"email": "a@example.com", "password": "pw-0123456789"},
    )
    return r.status_code, r.headers.get("Location", "")


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(target=NEXT_VALUES)
def test_no_open_redirect_after_login(plain_app: Flask, target: str) -> None:
    status, location = _login_with_next(plain_app, target)
    if 300 <= status < 400:
        assert _lands_on_this_site(location), (target, location)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(target=NEXT_VALUES)
def test_login_survives_any_next(plain_app: Flask, target: str) -> None:
    status, _ = _login_with_next(plain_app, target)
    assert status == 302, f"next={target!r} made the login answer {status}"


def test_probe_of_lands_on_this_site() -> None:
    assert _lands_on_this_site("/certificates/")
    assert _lands_on_this_site("")
    assert _lands_on_this_site("?next=1")
    for bad in (
        "//evil.example",
        "/\t/evil.example",
        "/\\evil.example",
        "https://evil.example",
        "javascript:alert(1)",
        " //evil.example",
    ):
        assert not _lands_on_this_site(bad)
