"""Flask's signed-cookie sessions, with each checked cookie remembered for this process.

A phone sends the same session cookie with every page until the session changes, and Flask
checks it in full each time: base64, zlib, two HMACs for the signature, then the JSON. That
check is a visible part of a light page's cost. `CheckedCookieSessions` does the same check the
first time a cookie is seen and then remembers what it held (as JSON text, so each request gets
its own copy to change) and when it was signed. A later request with exactly the same cookie
skips the signature, which those same bytes have already passed, but not the age check: a
cookie older than the session lifetime is refused, cached or not. A forged or altered cookie is
a different string: it is never in the memory and gets the full check, and fails it.

The memory is per app and process (never shared), keyed by the secret keys and the cookie, and
bounded: emptied when it holds `MAX_COOKIES`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

if TYPE_CHECKING:
    from flask import Flask, Request

MAX_COOKIES = 20_000  # ~1 KB each


class CheckedCookieSessions(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._checked: dict[tuple[object, str], tuple[str, int]] = {}

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not app.secret_key:  # as Flask: no key, no session
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        fallbacks = tuple(app.config.get("SECRET_KEY_FALLBACKS") or ())
        key = ((app.secret_key, *fallbacks), value)
        found = self._checked.get(key)
        if found is not None:
            payload, signed_at = found
            if 0 <= int(time.time()) - signed_at <= max_age:
                return self.session_class(self.serializer.loads(payload))
            return self.session_class()  # too old: as itsdangerous would say
        s = self.get_signing_serializer(app)
        if s is None:
            return None
        try:
            data, signed = s.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if len(self._checked) >= MAX_COOKIES:
            self._checked.clear()
        self._checked[key] = (self.serializer.dumps(data), int(signed.timestamp()))
        return self.session_class(data)


def init_sessions(app: Flask) -> None:
    app.session_interface = CheckedCookieSessions()
