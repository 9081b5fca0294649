"""Public, unauthenticated documents that let anyone find and check our issuers' keys.

- `/.well-known/jwks.json`: every issuer public key of the instance (RFC 7517), with its `kid`.
- `/issuers/<slug>`: the issuer's Open Badges `Profile` (the `issuer.id` in credentials).
- `/issuers/<slug>/did.json`: a `did:web` document listing the issuer's keys as `JsonWebKey`
  verification methods, for wallets that resolve DIDs.
Verification never needs these (the trust list carries the keys); they are for interoperability.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from ..extensions import db, limiter
from ..issuance import IssuanceContext
from ..keys import issuer_keys, organisation
from ..models import KeyPurpose, Organisation, SigningKey, StatusPurpose
from ..status import signed_list

bp = Blueprint("public", __name__)


def _jwk(key: SigningKey) -> dict[str, str]:
    return {**key.public_jwk, "kid": key.kid, "use": "sig", "alg": "ES256"}


def did_web(base_url: str, slug: str) -> str:
    """did:web for an issuer: the host (port %-encoded) then the path segments."""
    parts = urlsplit(base_url)
    host = quote(parts.netloc, safe="")
    path = [p for p in parts.path.split("/") if p] + ["issuers", slug]
    return ":".join(["did:web", host, *path])


def _cached(response: Response, seconds: int = 300) -> Response:
    response.headers["Cache-Control"] = f"public, max-age={seconds}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.route("/.well-known/jwks.json")
@limiter.limit("120 per minute")
def jwks() -> ResponseReturnValue:
    keys = db.session.scalars(
        select(SigningKey)
        .where(SigningKey.purpose == KeyPurpose.ISSUER.value)
        .order_by(SigningKey.org_id, SigningKey.valid_from)
    )
    return _cached(jsonify(keys=[_jwk(k) for k in keys]))


@bp.route("/issuers/<slug>")
@limiter.limit("120 per minute")
def issuer_profile(slug: str) -> ResponseReturnValue:
    org: Organisation = organisation(db.session, slug)
    base = current_app.config["BASE_URL"]
    profile = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": f"{base}/issuers/{org.slug}",
        "type": ["Profile"],
        "name": org.name,
        "url": base,
        "otherIdentifier": [
            {
                "type": "IdentifierEntry",
                "identifier": did_web(base, org.slug),
                "identifierType": "ext:did",
            }
        ],
    }
    return _cached(jsonify(profile))


@bp.route("/issuers/<slug>/did.json")
@limiter.limit("120 per minute")
def did_document(slug: str) -> ResponseReturnValue:
    org = organisation(db.session, slug)
    did = did_web(current_app.config["BASE_URL"], org.slug)
    methods = [
        {
            "id": f"{did}#{k.kid}",
            "type": "JsonWebKey",
            "controller": did,
            "publicKeyJwk": _jwk(k),
        }
        for k in issuer_keys(db.session, org.id)
    ]
    document = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1"],
        "id": did,
        "alsoKnownAs": [f"{current_app.config['BASE_URL']}/issuers/{org.slug}"],
        "verificationMethod": methods,
        "assertionMethod": [m["id"] for m in methods],
    }
    return _cached(jsonify(document))


@bp.route("/status/<slug>/<purpose>/<int:number>")
@limiter.limit("120 per minute")
def status_list(slug: str, purpose: str, number: int) -> ResponseReturnValue:
    """An issuer's signed Bitstring Status List credential (VC-JWT), at a stable URL."""
    if purpose not in {p.value for p in StatusPurpose}:
        return jsonify(error="not found"), 404
    org = organisation(db.session, slug)
    ctx = IssuanceContext.from_config(current_app.config)
    token = signed_list(db.session, ctx, org, StatusPurpose(purpose), number, datetime.now(UTC))
    db.session.commit()  # the issuer key, if this was its first use
    return _cached(Response(token, mimetype="application/vc+jwt"), seconds=300)


@bp.route("/healthz")
@limiter.exempt
def healthz() -> ResponseReturnValue:
    """For the load balancer: 200 when this process can reach the database, else 503."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        response = jsonify(status="unavailable", database="unreachable")
        response.status_code = 503
    else:
        response = jsonify(status="ok", database="ok")
    response.headers["Cache-Control"] = "no-store"
    return response
