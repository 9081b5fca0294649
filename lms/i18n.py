"""Interface languages. Lessons are in English; the interface around them is translatable.

The learner chooses a language (kept in the session); otherwise the browser's preference wins.
Hindi is the first second language shipped: many international recruits to English care come
from India. Add a language with `pybabel init -i lms/translations/messages.pot -d
lms/translations -l CODE`, translate the .po file, and list it here.
"""

from __future__ import annotations

from flask import Blueprint, Flask, has_request_context, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale, refresh

LANGUAGES = {"en": "English", "hi": "हिन्दी (Hindi)"}
DEFAULT = "en"

babel = Babel()
bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    if not has_request_context():  # CLI commands (PDF export) render in the default language
        return DEFAULT
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT) or DEFAULT


@bp.route("/language/<code>")
def choose(code: str) -> ResponseReturnValue:
    if code in LANGUAGES:
        session["lang"] = code
    target = request.args.get("next", "")
    safe = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return redirect(target if safe else url_for("learn.home"))


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel.init_app(app, locale_selector=select_locale)
    # Flask-Babel caches the locale on the app context; choose afresh for every request.
    app.before_request(refresh)
    app.register_blueprint(bp)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["get_locale"] = get_locale
