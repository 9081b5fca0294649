"""Service errors of the web layer, and the handlers that turn every typed error into HTTP.

Domain packages raise their own typed errors (`courses.errors`, `credentials.errors`); views
never catch them one by one: `register_error_handlers` maps them to a status and a page.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from courses.errors import CourseError, InvalidAnswers, ModuleNotFound
from credentials.errors import CredentialError

from .extensions import db

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A request the rules refuse. `status` is the HTTP status it becomes."""

    code = "refused"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    code, status = "not_found", 404


class Forbidden(ServiceError):
    code, status = "forbidden", 403


class Conflict(ServiceError):
    """The request clashes with what is already saved (e.g. a quiz already submitted)."""

    code, status = "conflict", 409


class LessonsOutstanding(ServiceError):
    code, status = "lessons_outstanding", 409


class BadCredentials(ServiceError):
    code, status = "bad_login", 401


def _wants_json() -> bool:
    return (
        request.path.startswith(("/api/", "/credentials/"))  # the JSON API and the VC API
        or request.accept_mimetypes.best == "application/json"
    )


def _render(status: int, title: str, message: str) -> tuple[Any, int]:
    if _wants_json():
        return jsonify(error=title, message=message), status
    return render_template("errors/error.html", status=status, title=title, message=message), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(err: ServiceError) -> ResponseReturnValue:
        db.session.rollback()
        return _render(err.status, err.code.replace("_", " ").capitalize(), err.message)

    @app.errorhandler(CourseError)
    def course_error(err: CourseError) -> ResponseReturnValue:
        db.session.rollback()
        status = 404 if isinstance(err, ModuleNotFound) else 400
        if isinstance(err, InvalidAnswers):
            log.warning("refused quiz submission: %s", err.code)
        return _render(status, "Request refused", err.message)

    @app.errorhandler(CredentialError)
    def credential_error(err: CredentialError) -> ResponseReturnValue:
        db.session.rollback()
        return _render(400, "Credential problem", str(err))

    @app.errorhandler(CSRFError)
    def csrf_error(err: CSRFError) -> ResponseReturnValue:
        return _render(
            400,
            "Form expired",
            "This form was open too long or came from somewhere else. Go back, reload the page "
            "and try again. Nothing was saved.",
        )

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> ResponseReturnValue:
        body, status = _render(err.code or 500, err.name, err.description or "")
        # Keep what the exception says about itself: `Allow` on a 405, `Retry-After` on a 429.
        headers = {k: v for k, v in err.get_headers() if k.lower() != "content-type"}
        return body, status, headers

    @app.errorhandler(Exception)
    def unexpected(err: Exception) -> ResponseReturnValue:
        db.session.rollback()
        log.exception("unhandled error")
        return _render(500, "Something went wrong", "The error was logged. Nothing was saved.")
