"""Pages rendered once per variant in this process, then filled in for each request.

A lesson page is the most-read page of the system, and nearly all of it is the same for
everyone who sees it: the lesson (fixed for a module version), the interface words (fixed for a
language), the menu (fixed for a set of roles). Only two things on it belong to the person
asking: the CSRF token of their session and their user id (which the offline queue is kept
under). `render_shared` renders such a page once per variant, with markers in place of those
two values, keeps the text between the markers, and for each later request joins the pieces
with that request's values, escaped. Rendering the templates costs several times more than
everything else the page does; joining seven strings costs nothing.

What makes a variant (the cache key): the template, the request's path and script root, the
language, the person's roles, and whatever the view passes as `key` (for a lesson: the module
code, its version and the lesson's position). It is safe because:

- while the page renders, the person is a `Viewer` everywhere (`current_user` in templates,
  macros and globals), which hands out nothing but `is_authenticated`, `memberships` (whose
  roles are in the key) and the `id` marker: a template that reads anything else of the person
  (a name, say) raises `PersonalData` instead of showing one person's details to another; the
  CSRF token is the marker everywhere too (a form's `hidden_tag()` included), and a page that
  still holds the person's real token is refused; tests render variants both ways and compare;
- pages with a flashed message waiting are rendered afresh (the message is the person's);
- nothing is cached while templates reload from disk (debug), and a process never sees its
  templates, translations or catalogue versions change, the same rule `per_locale` follows.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Hashable, Mapping
from typing import Any

from flask import current_app, g, render_template, request, session
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import escape

from .security import csrf_field

MAX_PAGES = 1024  # ~6 KB each: at most ~6 MB a process; cleared when full


class PersonalData(RuntimeError):
    """A shared page tried to show something of one person (a template bug: render that page
    with render_template). Not an AttributeError, which Jinja would quietly print as blank."""


_MISSING = object()


class Viewer:
    """The person as a shared page may see them: whether logged in, their roles, a marker."""

    __slots__ = ("_user", "id")

    def __init__(self, user: Any, id_marker: str) -> None:
        self._user = user
        self.id = id_marker

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # Python's and Jinja's own probing
            raise AttributeError(name)
        raise PersonalData(f"A shared page cannot show the person's {name!r}.")

    @property
    def is_authenticated(self) -> bool:
        return bool(self._user.is_authenticated)

    @property
    def memberships(self) -> Any:
        return self._user.memberships


class _Page:
    __slots__ = ("pieces", "slots")

    def __init__(self, html: str, markers: Mapping[str, str]) -> None:
        # Split on the markers, keeping them: text, marker, text, marker, ..., text.
        names = {marker: name for name, marker in markers.items()}
        parts = re.split("(" + "|".join(map(re.escape, names)) + ")", html)
        self.pieces = tuple(parts[0::2])
        self.slots = tuple(names[marker] for marker in parts[1::2])

    def fill(self, values: Mapping[str, str]) -> str:
        parts = [self.pieces[0]]
        for name, piece in zip(self.slots, self.pieces[1:], strict=True):
            parts.append(values[name])
            parts.append(piece)
        return "".join(parts)


class PageCache:
    def __init__(self) -> None:
        token = secrets.token_hex(12)
        self.markers = {"csrf": f"csrf-{token}", "user": f"user-{token}"}
        self.pages: dict[Hashable, _Page] = {}

    def render(self, template: str, key: Hashable, context: Mapping[str, Any]) -> str:
        user = current_user._get_current_object()
        signed_in = user.is_authenticated
        roles = tuple(sorted({str(m.role) for m in user.memberships})) if signed_in else None
        req = request._get_current_object()  # type: ignore[attr-defined]
        full_key = (template, req.script_root, req.path, str(get_locale()), roles, key)
        page = self.pages.get(full_key)
        if page is None:
            page = _Page(self._render_marked(template, user, context), self.markers)
            if len(self.pages) >= MAX_PAGES:
                self.pages.clear()
            self.pages[full_key] = page
        user_id = str(escape(user.id)) if signed_in else ""
        return page.fill({"csrf": str(escape(generate_csrf())), "user": user_id})

    def _render_marked(self, template: str, user: Any, context: Mapping[str, Any]) -> str:
        """The page with markers for the person's CSRF token and id. While it renders, the
        person is the Viewer and the CSRF token the marker everywhere (`current_user`, a form's
        `hidden_tag()`, a template global), not only where base.html asks for them."""
        # Where Flask-Login and Flask-WTF look first: templates, forms and globals all see them.
        field = csrf_field()
        saved = {name: g.get(name, _MISSING) for name in ("_login_user", field)}
        g._login_user = Viewer(user, self.markers["user"])
        setattr(g, field, self.markers["csrf"])
        try:
            html = render_template(template, **context)
        finally:
            for name, value in saved.items():
                if value is _MISSING:
                    g.pop(name, None)
                else:
                    setattr(g, name, value)
        for secret in (generate_csrf(), session.get(field)):
            if secret and str(secret) in html:
                raise PersonalData("A shared page cannot carry the person's own CSRF token.")
        return html


def init_pagecache(app: Any) -> None:
    app.extensions["pagecache"] = PageCache()


def render_shared(template: str, key: Hashable, **context: Any) -> str:
    """`render_template`, for a page that is the same for everyone seeing the same variant
    (see the module's text). `key` names what else the page depends on."""
    if "_flashes" in session or current_app.jinja_env.auto_reload:
        return render_template(template, **context)
    cache: PageCache = current_app.extensions["pagecache"]
    return cache.render(template, key, context)
