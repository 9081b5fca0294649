"""Key lifecycle: rotation and compromise of an organisation's signing key.

Old public keys stay in the trust list, JWKS and DID document with their validity windows, so
credentials signed before a rotation keep verifying. A key marked compromised stays listed with
its compromise time: credentials it signed from then on are refused by verifiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .errors import Conflict, NotFound
from .issuance import IssuanceContext, _active_key, _new_key
from .models import KeyPurpose, Organisation, SigningKey


@dataclass(frozen=True)
class Rotation:
    retired: SigningKey | None
    current: SigningKey


def organisation(session: Session, slug: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        raise NotFound(f"There is no organisation with the slug {slug!r}.")
    return org


def issuer_keys(session: Session, org_id: int) -> list[SigningKey]:
    return list(
        session.scalars(
            select(SigningKey)
            .where(SigningKey.org_id == org_id, SigningKey.purpose == KeyPurpose.ISSUER.value)
            .order_by(SigningKey.valid_from, SigningKey.id)
        )
    )


def _current(session: Session, org_id: int, now: datetime) -> SigningKey | None:
    return _active_key(session, KeyPurpose.ISSUER, org_id, now)


def rotate(session: Session, ctx: IssuanceContext, org: Organisation, now: datetime) -> Rotation:
    """End the current key's signing window now and start a new key."""
    now = now.replace(microsecond=0)
    old = _current(session, org.id, now)
    if old is not None:
        # A window is never empty, even for a key rotated in the second it was made.
        old.valid_until = max(now, old.valid_from + timedelta(seconds=1))
    new, _ = _new_key(session, ctx, KeyPurpose.ISSUER, org, now)
    audit.record(
        session,
        actor=None,
        actor_label="cli",
        action="key.rotated",
        entity_type="signing_key",
        entity_id=new.kid,
        org_id=org.id,
        before={"kid": old.kid if old is not None else None},
        after={"kid": new.kid},
        now=now,
    )
    return Rotation(old, new)


def mark_compromised(
    session: Session,
    ctx: IssuanceContext,
    org: Organisation,
    kid: str,
    since: datetime,
    now: datetime,
) -> Rotation:
    """Record that `kid` may have leaked from `since`; sign from now on with a new key."""
    key = session.scalar(
        select(SigningKey).where(SigningKey.kid == kid, SigningKey.org_id == org.id)
    )
    if key is None:
        raise NotFound(f"{org.name} has no key {kid!r}.")
    if key.compromised_at is not None:
        raise Conflict(f"Key {kid} is already marked compromised since {key.compromised_at}.")
    if since > now:
        raise Conflict("The compromise time cannot be in the future.")
    key.compromised_at = since.replace(microsecond=0)
    audit.record(
        session,
        actor=None,
        actor_label="cli",
        action="key.compromised",
        entity_type="signing_key",
        entity_id=key.kid,
        org_id=org.id,
        after={"compromised_at": key.compromised_at},
        now=now,
    )
    # It signs nothing more. What it signed from `compromised_at` on is refused by verifiers
    # because of that date; the signing window itself just ends now.
    end = max(now.replace(microsecond=0), key.valid_from + timedelta(seconds=1))
    if key.valid_until is None or key.valid_until > end:
        key.valid_until = end
    rotation = rotate(session, ctx, org, now) if _current(session, org.id, now) is None else None
    current = rotation.current if rotation else _current(session, org.id, now)
    assert current is not None  # noqa: S101
    return Rotation(key, current)
