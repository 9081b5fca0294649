"""Security headers for every response, cookie hardening and the reverse-proxy set-up.

- Content-Security-Policy: no inline script or style anywhere, so the policy forbids them;
  nothing from other origins; no framing (also X-Frame-Options for old browsers).
- Strict-Transport-Security on HTTPS requests (behind a proxy, `LMS_PROXY_FIX_X_PROTO=1` makes
  Flask see the original scheme).
- Pages for a logged-in person are `Cache-Control: private` unless the view says otherwise, so
  a shared cache in front of the app never keeps one worker's page for another.
- With secure cookies (`LMS_SESSION_COOKIE_SECURE`, on by default in production) the session
  cookie is named `__Host-carecred`: browsers then accept it only over HTTPS, for this host,
  path /, which stops a sibling sub-domain from planting one. The remember-me cookie follows.
- A database that is down or restarting gives a 503 page with Retry-After, not a 500.
- `LMS_PROXY_FIX_X_FOR` / `_X_PROTO` / `_X_HOST`: how many proxies in front set each
  X-Forwarded-* header. 0 (the default) trusts none, which is right with no proxy: a client
  could otherwise forge its address and escape the per-address rate limits.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, make_response, request, session
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

log = logging.getLogger(__name__)

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HSTS = "max-age=31536000"
FIXED_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
# The camera only for /verify (scanning a certificate's QR code), nowhere else.
PERMISSIONS = ("Permissions-Policy", "camera=(), geolocation=(), microphone=()")
PERMISSIONS_VERIFY = ("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
SECURE_COOKIE_NAME = "__Host-carecred"


def init_security(app: Flask) -> None:
    from .sessions import init_sessions

    init_sessions(app)
    init_csrf_reuse(app)
    config = app.config
    if config.get("SESSION_COOKIE_SECURE"):
        config["REMEMBER_COOKIE_SECURE"] = True
        if config.get("SESSION_COOKIE_NAME", "session") == "session":
            config["SESSION_COOKIE_NAME"] = SECURE_COOKIE_NAME
            config["SESSION_COOKIE_DOMAIN"] = None
            config["SESSION_COOKIE_PATH"] = "/"
    hops = {
        k: int(config.get(f"PROXY_FIX_X_{k.upper()}", 0) or 0) for k in ("for", "proto", "host")
    }
    if any(hops.values()):
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops["for"], x_proto=hops["proto"], x_host=hops["host"]
        )

    @app.errorhandler(OperationalError)
    def database_unavailable(err: OperationalError) -> ResponseReturnValue:
        """The database is down or restarting: 503 at once, never a hang, nothing half-saved.

        With pool_pre_ping the next request after it is back gets a fresh connection, so the
        app recovers by itself.
        """
        from .errors import _render
        from .extensions import db

        with contextlib.suppress(Exception):  # the connection is gone: nothing to roll back
            db.session.rollback()
        # The page's header asks who is logged in; without this it would query the database
        # again, fail inside this handler and turn the 503 into a 500.
        g._login_user = app.login_manager.anonymous_user()  # type: ignore[attr-defined]
        log.warning("database unavailable: %s", str(err.orig).strip()[:200])
        response = make_response(
            _render(
                503,
                _("Service briefly unavailable"),
                _("We could not reach the database, so nothing was saved. Try again in a minute."),
            )
        )
        response.headers["Retry-After"] = "30"
        return response

    @app.after_request
    def headers(response: Response) -> Response:
        # The fixed headers are added unless the view set its own (e.g. a sandboxing CSP).
        present = {name.lower() for name, _ in response.headers.items()}
        camera = PERMISSIONS_VERIFY if request.path.startswith("/verify") else PERMISSIONS
        for name, value in (*FIXED_HEADERS, camera):
            if name.lower() not in present:
                response.headers.add(name, value)
        if request.is_secure and "strict-transport-security" not in present:
            response.headers.add("Strict-Transport-Security", HSTS)
        if "cache-control" not in present and _logged_in():
            response.headers["Cache-Control"] = "private"
        return response


# A signed CSRF token is reused for this long (per process and session) before it is signed
# again. Flask-WTF signs the session's token anew for every page, which costs more than the
# rest of a cached lesson page; the signature carries its time, so a reused one expires this
# much sooner than WTF_CSRF_TIME_LIMIT (8 hours) says, and nothing else changes.
CSRF_REUSE_SECONDS = 60.0
_CSRF_KEPT = 10_000  # sessions' tokens remembered per process, then forgotten all at once


def csrf_field() -> str:
    """Where Flask-WTF keeps the CSRF token: the session's key and `g`'s attribute."""
    return str(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))


def _reuse_signed_csrf() -> None:
    """Before a request: this session's token signed less than a minute ago, where Flask-WTF
    looks first (`g`), so every form and `csrf_token()` of the request use it."""
    field = csrf_field()
    raw = session.get(field)
    if not isinstance(raw, str):
        return
    found = current_app.extensions["lms.csrf_signed"].get(raw)
    if found is not None and time.monotonic() - found[1] < CSRF_REUSE_SECONDS:
        setattr(g, field, found[0])


def _keep_signed_csrf(response: Response) -> Response:
    """After a request that signed a new token: remember it for the next ones."""
    field = csrf_field()
    token, raw = g.get(field), session.get(field)
    if isinstance(token, str) and isinstance(raw, str):
        kept: dict[str, tuple[str, float]] = current_app.extensions["lms.csrf_signed"]
        found = kept.get(raw)
        if found is None or found[0] != token:
            if len(kept) >= _CSRF_KEPT:
                kept.clear()
            kept[raw] = (token, time.monotonic())
    return response


def new_csrf_token() -> None:
    """At log-in and log-out: this session's CSRF token is dropped, and the next page makes a
    new one. A form left open on a shared phone by the person before is then refused."""
    field = csrf_field()
    session.pop(field, None)
    g.pop(field, None)


def init_csrf_reuse(app: Flask) -> None:
    app.extensions["lms.csrf_signed"] = {}
    app.before_request(_reuse_signed_csrf)
    app.after_request(_keep_signed_csrf)


def _logged_in() -> bool:
    try:
        return bool(current_user.is_authenticated)
    except Exception:  # no login manager in this context (e.g. a static file before it)
        return False


def safe_next(target: str | None, default: str) -> str:
    """A `next` address to redirect to: only a same-site path, never an open redirect.

    Refused (the default is used): absolute and scheme-relative URLs, backslashes (which some
    browsers read as slashes), and control characters (a newline would split the header).
    """
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
    ):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return default


# The largest id an INTEGER primary key holds on PostgreSQL.
MAX_ID = 2**31 - 1


class DatabaseId(IntegerConverter):
    """`<int:...>` in every URL: a number PostgreSQL can compare with an id, or no match (404).

    Werkzeug's own converter takes any length of digits; an id past 32 bits reached the
    database and failed there (a 500) instead of simply not existing.
    """

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)
