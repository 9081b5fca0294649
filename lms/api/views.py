"""JSON API for integrations (views): /api/v1.

Authentication, by endpoint (the OpenAPI document at /api/v1/openapi.json says the same):

* `/api/v1/me/...`: the logged-in session (cookie), for the learner's own records, e.g. a
  future native app using the same login as the site. These are GET only and change nothing,
  so CSRF does not arise; a request without a session gets 401 (never a redirect to a page).
* `/api/v1/orgs/<slug>/...`: an organisation's API token, `Authorization: Bearer <token>`, with
  the scope the endpoint names. A token reads only its own organisation: any other slug is 404.
  Missing or bad token: 401 with `WWW-Authenticate: Bearer`; missing scope: 403.
* `POST /api/v1/verify`: public and rate-limited, like the /verify page.

Errors are JSON: {"error": <title>, "message": <plain English>, "code": <machine code>}.
Request bodies are limited to 300 KB. Lists are paged (`page`, `per_page` up to 100).

Also registers the managers' page for tokens (/manage/<slug>/api-tokens, lms/api/manage.py),
which is an ordinary HTML form with CSRF, unlike this blueprint.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.exceptions import HTTPException, UnsupportedMediaType

from ..errors import NotFound, ServiceError
from ..extensions import csrf, db, limiter
from ..issuance import IssuanceContext
from ..models import Organisation
from . import service, tokens
from .models import ApiToken

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

MAX_BODY_BYTES = 300 * 1024
OPENAPI_PATH = Path(__file__).resolve().parent / "openapi.yaml"
VERIFY_LIMIT = "30 per minute"


def _now() -> datetime:
    return datetime.now(UTC)


def error_json(status: int, title: str, message: str, code: str) -> ResponseReturnValue:
    return jsonify(error=title, message=message, code=code), status


@bp.record_once
def _register_manage_page(state: Any) -> None:
    from .manage import bp as manage_bp

    state.app.register_blueprint(manage_bp)


@bp.before_request
def _limit_body() -> None:
    request.max_content_length = MAX_BODY_BYTES


@bp.errorhandler(ServiceError)
def _service_error(err: ServiceError) -> ResponseReturnValue:
    db.session.rollback()
    body, status = error_json(
        err.status, err.code.replace("_", " ").capitalize(), err.message, err.code
    )
    response = current_app.make_response((body, status))
    if isinstance(err, tokens.Unauthenticated):
        response.headers["WWW-Authenticate"] = 'Bearer realm="carecred", error="invalid_token"'
    elif isinstance(err, tokens.MissingScope):
        response.headers["WWW-Authenticate"] = (
            f'Bearer realm="carecred", error="insufficient_scope", scope="{err.scope}"'
        )
    return response


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> ResponseReturnValue:
    code = (err.name or "error").lower().replace(" ", "_")
    return error_json(err.code or 500, err.name, err.description or "", code)


# --- authentication ----------------------------------------------------------------------------


def session_required(
    view: Callable[..., ResponseReturnValue],
) -> Callable[..., ResponseReturnValue]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if not current_user.is_authenticated:
            response = current_app.make_response(
                error_json(
                    401, "Unauthenticated", "Log in first: this uses your session.", "no_session"
                )
            )
            response.headers["WWW-Authenticate"] = 'Session realm="carecred"'
            return response
        return view(*args, **kwargs)

    return wrapped


def token_org(slug: str, scope: str) -> tuple[ApiToken, Organisation]:
    """The request's token (with `scope`) and its organisation, which must be `slug`'s."""
    token = tokens.authenticate(db.session, request.headers.get("Authorization"), _now())
    tokens.require_scope(token, scope)
    if token.organisation.slug != slug:
        raise NotFound("This API token does not reach that organisation.")
    g.api_token = token
    return token, token.organisation


def _only_args(*allowed: str) -> None:
    """Refuse query parameters the endpoint does not know (a typo should not pass silently)."""
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        known = ", ".join(allowed) if allowed else "none"
        raise ServiceError(f"Unknown query parameter {unknown[0][:40]!r}; this one takes {known}.")


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ServiceError(f"{name} must be a whole number from {low} to {high}.")
    return int(raw)


def _done(body: Any, status: int = 200) -> ResponseReturnValue:
    """Commit what authentication touched (a token's last use) and answer."""
    db.session.commit()
    return jsonify(body), status


# --- the document ------------------------------------------------------------------------------


def openapi_document() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    return doc


@bp.route("/openapi.json")
def openapi() -> ResponseReturnValue:
    return jsonify(openapi_document())


# --- the learner's own records ----------------------------------------------------------------


@bp.route("/me/assignments")
@session_required
def me_assignments() -> ResponseReturnValue:
    _only_args()
    return jsonify(items=service.my_assignments(db.session, current_user.id, _now()))


@bp.route("/me/credentials")
@session_required
def me_credentials() -> ResponseReturnValue:
    _only_args()
    base = current_app.config["BASE_URL"]
    return jsonify(items=service.my_credentials(db.session, current_user.id, base))


# --- an organisation's records -----------------------------------------------------------------


@bp.route("/orgs/<slug>/learners")
def org_learners(slug: str) -> ResponseReturnValue:
    _, org = token_org(slug, "learners:read")
    _only_args("page", "per_page")
    page = _int_arg("page", 1, 1, 1_000_000)
    per_page = _int_arg("per_page", service.DEFAULT_PER_PAGE, 1, service.MAX_PER_PAGE)
    return _done(service.org_learners(db.session, org, page, per_page).to_json())


@bp.route("/orgs/<slug>/learners/<int:user_id>/credentials")
def learner_credentials(slug: str, user_id: int) -> ResponseReturnValue:
    _, org = token_org(slug, "credentials:read")
    _only_args()
    base = current_app.config["BASE_URL"]
    return _done({"items": service.learner_credentials(db.session, org, user_id, base)})


@bp.route("/orgs/<slug>/matrix")
def org_matrix(slug: str) -> ResponseReturnValue:
    """The training matrix: every current worker against what their job role requires."""
    _, org = token_org(slug, "matrix:read")
    _only_args("page", "per_page", "site_id", "job_role_id", "status")
    page = _int_arg("page", 1, 1, 1_000_000)
    per_page = _int_arg("per_page", service.DEFAULT_PER_PAGE, 1, service.MAX_PER_PAGE)
    site_id = _int_arg("site_id", 0, 1, 2**31 - 1) or None
    job_role_id = _int_arg("job_role_id", 0, 1, 2**31 - 1) or None
    body = service.org_matrix(
        db.session,
        org,
        _now(),
        page,
        per_page,
        site_id=site_id,
        job_role_id=job_role_id,
        status=request.args.get("status") or None,
    )
    return _done(body)


# --- verification -------------------------------------------------------------------------------


@bp.route("/verify", methods=["POST"])
@limiter.limit(VERIFY_LIMIT)
def verify() -> ResponseReturnValue:
    if not request.is_json:
        raise UnsupportedMediaType("Send the request as JSON (Content-Type: application/json).")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or set(body) != {"credential"}:
        return error_json(
            400,
            "Bad request",
            'Send a JSON object {"credential": "<VC-JWT or QR text CC1:...>"} and nothing else.',
            "bad_request",
        )
    text = body["credential"]
    if not isinstance(text, str):
        return error_json(400, "Bad request", "credential must be a string.", "bad_request")
    ctx = IssuanceContext.from_config(current_app.config)
    try:
        result = service.verify_text(db.session, ctx, text, _now())
    except service.InvalidInput as err:
        db.session.rollback()
        return error_json(400, "Bad request", err.message, "bad_request")
    db.session.commit()  # the root key, on first use
    return jsonify(result.to_json())
