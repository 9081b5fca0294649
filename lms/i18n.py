"""Interface languages. Lessons are in English; the interface around them is translatable.

The learner chooses a language: it is kept in the session and, once logged in, on their account
(`User.locale`), so it follows them to a new phone at the next log-in and the e-mails we send
them (reminders, invitations) are written in it. Otherwise the browser's preference wins.
Hindi is the first second language shipped: many international recruits to English care come
from India. Add a language with `pybabel init -i lms/translations/messages.pot -d
lms/translations -l CODE`, translate the .po file, and list it here.
"""

from __future__ import annotations

from collections.abc import Callable
from gettext import NullTranslations
from typing import Any

from babel import Locale
from flask import Blueprint, Flask, g, has_request_context, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale, get_translations, refresh
from flask_login import current_user
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.runtime import Macro
from markupsafe import Markup

from .extensions import db
from .principal import me
from .security import safe_next

LANGUAGES = {"en": "English", "hi": "हिन्दी (Hindi)"}
DEFAULT = "en"

babel = Babel()
bp = Blueprint("i18n", __name__)


# Parsed once: Flask-Babel passes a Locale through as it is, and parses a code anew on every
# request (a visible part of a page's cost).
_LOCALES = {code: Locale.parse(code) for code in LANGUAGES}


def select_locale() -> Locale:
    if not has_request_context():  # CLI commands (PDF export) render in the default language
        return _LOCALES[DEFAULT]
    chosen = session.get("lang")
    if chosen not in LANGUAGES:
        chosen = request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT)
    return _LOCALES[chosen or DEFAULT]


def language_of(user: Any) -> str:
    """The language to write to this person in: the one they chose, or English."""
    chosen = getattr(user, "locale", None)
    return chosen if chosen in LANGUAGES else DEFAULT


def follow_person(user: Any) -> None:
    """At log-in: a language chosen before logging in is kept on the account; with none chosen
    on this device, the account's language comes back. (The caller commits.)"""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        user.locale = chosen
    else:
        speak_to(user)


def speak_to(user: Any) -> None:
    """Show this request's pages in the person's language, unless this device chose one (e.g.
    the set-password page opened from an invitation, for someone not yet logged in)."""
    if session.get("lang") not in LANGUAGES and getattr(user, "locale", None) in LANGUAGES:
        session["lang"] = user.locale
        refresh()


@bp.route("/language/<code>")
def choose(code: str) -> ResponseReturnValue:
    if code in LANGUAGES:
        session["lang"] = code
        if current_user.is_authenticated and current_user.locale != code:
            me().locale = code
            db.session.commit()
    return redirect(safe_next(request.args.get("next"), url_for("learn.home")))


def _bound_gettext(translations: NullTranslations) -> dict[str, Any]:
    """The template's `_`/`gettext`/`ngettext` bound to one request's translations.

    The same as the callables Flask-Babel installs with Jinja's newstyle gettext (the text is
    translated, marked safe when autoescaping, then always %-formatted with the escaped
    variables), but the translations are looked up once per page rather than once per string:
    a page asks for 20 to 30 strings, and each of Flask-Babel's look-ups walks its context
    (app globals, domain, locale) again.
    """
    ugettext = translations.ugettext
    ungettext = translations.ungettext

    @pass_eval_context
    def gettext(eval_ctx: EvalContext, string: str, **variables: Any) -> str:
        rv = ugettext(string)
        if eval_ctx.autoescape:
            rv = Markup(rv)  # noqa: S704  (our own catalogue's text, as Jinja's own gettext)
        return rv % variables

    @pass_eval_context
    def ngettext(
        eval_ctx: EvalContext, singular: str, plural: str, num: int, **variables: Any
    ) -> str:
        variables.setdefault("num", num)
        rv = ungettext(singular, plural, num)
        if eval_ctx.autoescape:
            rv = Markup(rv)  # noqa: S704  (as above)
        return rv % variables

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext}


def _template_gettext() -> dict[str, Any]:
    return _bound_gettext(get_translations())


def _per_locale_renderer() -> Callable[[Macro], Markup]:
    fragments: dict[tuple[str, str], Markup] = {}

    def per_locale(fragment: Macro) -> Markup:
        """A template macro's output, rendered once per language in this process.

        Only for macros that take no arguments and show nothing but fixed, translated text:
        the output is keyed by the macro's name and the language, nothing else. (Translations
        are read when the process starts and never change while it runs.)
        """
        key = (fragment.name, str(get_locale()))
        found = fragments.get(key)
        if found is None:
            # A macro's output is already escaped (templates autoescape).
            found = fragments[key] = Markup(fragment())  # noqa: S704
        return found

    return per_locale


def _choose_afresh() -> None:
    """Flask-Babel keeps the language it chose in `g`, the app context's. A server pushes a new
    app context for every request, so there is nothing to forget; an app context that outlives
    requests (tests, a shell) would keep the first request's language, so it is forgotten."""
    if "_flask_babel" in g:  # where Flask-Babel keeps it (the language tests fail if it moves)
        refresh()


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel.init_app(app, locale_selector=select_locale)
    app.before_request(_choose_afresh)
    app.register_blueprint(bp)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["get_locale"] = get_locale
    # Templates rendered by render_template get gettext bound to this request's translations
    # (imported macros without context keep Flask-Babel's own, which give the same text).
    app.context_processor(_template_gettext)
    app.jinja_env.globals["per_locale"] = _per_locale_renderer()
