"""API tokens: create, list, revoke, and authenticate a request's `Authorization: Bearer` header.

A token belongs to one organisation and carries scopes; it reaches only that organisation's
data. The secret is 43 URL-safe characters (256 bits) shown once; the database keeps its
SHA-256 (a fast hash is right for a random secret of this length) and its first 8 characters,
which find the row. The hash is then compared in constant time. Every failure gives the same
answer, so a caller learns nothing about which part was wrong.

Functions take the session and the clock, never commit, and record audit events.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import audit
from ..errors import NotFound, ServiceError
from ..models import Organisation, User
from .models import ApiToken

SCOPES: dict[str, str] = {
    "learners:read": "list the organisation's learners",
    "credentials:read": "read the credentials the organisation issued to its learners",
    "matrix:read": "read the organisation's training matrix",
    "credentials:verify": "verify credentials (the verify endpoints are also open to anyone)",
    "credentials:issue": "issue credentials for completions in the organisation (VC API)",
}
PREFIX_LENGTH = 8
NAME_MAX = 80
# Only refresh last_used_at this often, so reading the API is not a write per request.
LAST_USED_GRANULARITY = timedelta(minutes=1)
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{43}")


class Unauthenticated(ServiceError):
    """No token, or one that is unknown, revoked or expired (HTTP 401)."""

    code, status = "unauthenticated", 401


class MissingScope(ServiceError):
    """A valid token without the scope the endpoint needs (HTTP 403)."""

    code, status = "insufficient_scope", 403

    def __init__(self, message: str, scope: str) -> None:
        super().__init__(message)
        self.scope = scope


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def clean_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = sorted({s.strip() for s in scopes if s.strip()})
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise ServiceError(f"Unknown scope {unknown[0][:40]!r}. Choose from: {', '.join(SCOPES)}.")
    if not chosen:
        raise ServiceError("Choose at least one scope.")
    return chosen


def create_token(
    session: Session,
    org: Organisation,
    name: str,
    scopes: Iterable[str],
    now: datetime,
    *,
    actor: User | None = None,
    actor_label: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its secret (the only time the secret exists outside the caller)."""
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise ServiceError(f"Give the token a name of 1 to {NAME_MAX} characters.")
    chosen = clean_scopes(scopes)
    if expires_at is not None and expires_at <= now:
        raise ServiceError("The expiry date must be in the future.")
    for _ in range(10):
        secret = secrets.token_urlsafe(32)
        if secret.startswith("-"):  # would read as an option on a command line
            continue
        row = ApiToken(
            org_id=org.id,
            name=name,
            prefix=secret[:PREFIX_LENGTH],
            token_hash=hash_secret(secret),
            scopes=chosen,
            created_by_id=actor.id if actor is not None else None,
            created_at=now,
            expires_at=expires_at,
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # a prefix collision (about 1 in 2**48): draw again
            continue
        audit.record(
            session,
            actor=actor,
            actor_label=actor_label,
            action="api_token.created",
            entity_type="api_token",
            entity_id=row.id,
            now=now,
            org_id=org.id,
            after={"name": name, "prefix": row.prefix, "scopes": chosen, "expires_at": expires_at},
        )
        return row, secret
    raise ServiceError("Could not create a token just now. Try again.")  # pragma: no cover


def org_tokens(session: Session, org_id: int) -> Sequence[ApiToken]:
    return session.scalars(
        select(ApiToken).where(ApiToken.org_id == org_id).order_by(ApiToken.created_at.desc())
    ).all()


def token_of(session: Session, org_id: int, token_id: int) -> ApiToken:
    # An id past 32 bits is nobody's (PostgreSQL would refuse to compare it).
    row = session.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
    if row is None or row.org_id != org_id:
        raise NotFound("Your organisation has no such API token.")
    return row


def find_by_prefix(session: Session, prefix: str) -> ApiToken:
    row = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    if row is None:
        raise NotFound(f"There is no API token starting {prefix[:8]!r}.")
    return row


def revoke_token(
    session: Session,
    row: ApiToken,
    now: datetime,
    *,
    actor: User | None = None,
    actor_label: str | None = None,
) -> bool:
    """Revoke for good. Returns False (and records nothing) if it was already revoked."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        actor_label=actor_label,
        action="api_token.revoked",
        entity_type="api_token",
        entity_id=row.id,
        now=now,
        org_id=row.org_id,
        before={"state": "active"},
        after={"state": "revoked", "prefix": row.prefix},
    )
    return True


_BAD_TOKEN = "The API token is missing, unknown, revoked or expired."  # noqa: S105


def authenticate(session: Session, authorization: str | None, now: datetime) -> ApiToken:
    """The token an `Authorization: Bearer <secret>` header names, or Unauthenticated."""
    if not authorization:
        raise Unauthenticated("Send an API token: Authorization: Bearer <token>.")
    scheme, _, secret = authorization.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not _SECRET_RE.fullmatch(secret):
        raise Unauthenticated(_BAD_TOKEN)
    row = session.scalar(select(ApiToken).where(ApiToken.prefix == secret[:PREFIX_LENGTH]))
    # Compare even when no row matched, so timing does not tell a known prefix apart.
    expected = row.token_hash if row is not None else "0" * 64
    if not hmac.compare_digest(expected, hash_secret(secret)) or row is None:
        raise Unauthenticated(_BAD_TOKEN)
    if row.state(now) != "active":
        raise Unauthenticated(_BAD_TOKEN)
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_GRANULARITY:
        row.last_used_at = now
    return row


def require_scope(token: ApiToken, scope: str) -> None:
    if scope not in token.scopes:
        raise MissingScope(f"This API token does not have the {scope!r} scope.", scope)
