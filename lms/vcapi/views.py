"""W3C VC API endpoints (views): POST /credentials/verify and POST /credentials/issue.

Followed: "Verifiable Credentials API v0.7", W3C Credentials Community Group draft
(w3c-ccg/vc-api, index.html with verifier.yml and issuer.yml): sections "Verify Credential",
"Issue Credential", "Handling Unknown Options and Data", "Content Serialization" and
"Error Handling" (ProblemDetails per RFC 9457; "Verification Errors vs. Warnings").

* Credentials travel enveloped, as VC-JWT (VC Data Model 2.0 §4.13 and VC-JOSE-COSE):
  {"@context": "https://www.w3.org/ns/credentials/v2", "type": "EnvelopedVerifiableCredential",
  "id": "data:application/vc+jwt,<compact JWS>"}. The QR form (`data:application/vc+cose-qr,
  CC1:...`, our own media type) is accepted too. Unsecured JSON credentials are refused (400).
* Verify answers 200 with a VerificationResponse {"verified", "document", "mediaType",
  "controller", "errors", "warnings"} whenever it could run, whatever the verdict; 400 with a
  ProblemDetails body for a malformed request; 413 past 300 KB; 429 past the rate limit.
  The spec lists status and validity-period problems as warnings that leave the decision to
  the application; this verifier has made that decision (as its offline CLI does): a revoked,
  suspended, expired or not-yet-valid credential is an *error* here, so `verified` is false.
  Status information that could not be checked is a warning. Each ProblemDetails carries our
  reason code (`code`) besides `type`, `title` and `detail`.
* Issue needs an organisation API token with the `credentials:issue` scope (401 without a
  valid token, 403 without the scope) and answers 201 {"verifiableCredential": <enveloped>}.
  It never signs what the caller wrote: the request names a learner of the token's
  organisation (credentialSubject.identifier, an IdentityObject with the plain e-mail address,
  hashed false) and one of our achievements (credentialSubject.achievement.id, as
  `<base>/achievements/<code>/v<version>`); the answer is the credential for that learner's
  latest completion of it in the organisation, issued now if it was not yet. Anything else is
  400 (including an unknown option, a `proof`, or an `issuer` that is not the organisation's).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, UnsupportedMediaType

from ..api import tokens
from ..api.service import InvalidInput
from ..errors import ServiceError
from ..extensions import csrf, db, limiter
from ..issuance import IssuanceContext
from . import service

bp = Blueprint("vcapi", __name__)
csrf.exempt(bp)

MAX_BODY_BYTES = 300 * 1024
VERIFY_LIMIT = "30 per minute"


def _now() -> datetime:
    return datetime.now(UTC)


@bp.before_request
def _limit_body() -> None:
    request.max_content_length = MAX_BODY_BYTES


def _problem(status: int, problem: dict[str, Any]) -> ResponseReturnValue:
    return jsonify({**problem, "status": status}), status


@bp.errorhandler(ServiceError)
def _service_error(err: ServiceError) -> ResponseReturnValue:
    db.session.rollback()
    body, status = _problem(
        err.status, service.problem(err.code, err.message, current_app.config["BASE_URL"])
    )
    response = current_app.make_response((body, status))
    if isinstance(err, tokens.Unauthenticated):
        response.headers["WWW-Authenticate"] = 'Bearer realm="carecred", error="invalid_token"'
    elif isinstance(err, tokens.MissingScope):
        response.headers["WWW-Authenticate"] = (
            f'Bearer realm="carecred", error="insufficient_scope", scope="{err.scope}"'
        )
    return response


@bp.errorhandler(InvalidInput)
def _invalid(err: InvalidInput) -> ResponseReturnValue:
    db.session.rollback()
    return _problem(400, service.invalid_problem(err))


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> ResponseReturnValue:
    code = (err.name or "error").lower().replace(" ", "_")
    return _problem(
        err.code or 500,
        service.problem(code, err.description or err.name, current_app.config["BASE_URL"]),
    )


def _body() -> dict[str, Any]:
    if not request.is_json:
        raise UnsupportedMediaType("Send the request as JSON (Content-Type: application/json).")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object.")
    return body


@bp.route("/credentials/verify", methods=["POST"])
@limiter.limit(VERIFY_LIMIT)
def verify() -> ResponseReturnValue:
    body = _body()
    ctx = IssuanceContext.from_config(current_app.config)
    response = service.verify_request(db.session, ctx, body, _now())
    db.session.commit()  # the root key, on first use
    return jsonify(response)


@bp.route("/credentials/issue", methods=["POST"])
def issue() -> ResponseReturnValue:
    now = _now()
    token = tokens.authenticate(db.session, request.headers.get("Authorization"), now)
    tokens.require_scope(token, "credentials:issue")
    body = _body()
    ctx = IssuanceContext.from_config(current_app.config)
    enveloped = service.issue_request(db.session, ctx, token, body, now)
    db.session.commit()
    return jsonify(verifiableCredential=enveloped), 201
