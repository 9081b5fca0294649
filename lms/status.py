"""Revocation and suspension: W3C Bitstring Status Lists kept per issuer.

Each issuer has pairs of lists (revocation + suspension, same `number`, 131,072 entries each).
A credential gets a random free index when it is issued (random, so a list's neighbours say
nothing about each other), the same index in both lists. Revoking sets the bit in the revocation
list for good; suspending sets it in the suspension list until it is reinstated. The lists are
signed by the issuer's current key when published, and stapled into trust lists and passports.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credentials import (
    MIN_ENTRIES,
    StatusBits,
    build_passport,
    build_status_list_credential,
    sign_status_list,
)

from . import audit
from .errors import Conflict, NotFound
from .issuance import IssuanceContext, issuer_key, issuer_profile
from .models import IssuedCredential, Organisation, StatusList, StatusPurpose, User

LIST_SIZE = MIN_ENTRIES
# Open a new pair when a list is this full, so random picks stay cheap and indexes stay spread.
FILL_LIMIT = LIST_SIZE // 2
PUBLISHED_FOR = timedelta(days=30)
MAX_REASON = 500


@dataclass(frozen=True)
class Slot:
    number: int
    index: int


def list_url(base_url: str, org: Organisation, purpose: StatusPurpose | str, number: int) -> str:
    return f"{base_url}/status/{org.slug}/{StatusPurpose(purpose).value}/{number}"


def _with_bit(bits: bytes, index: int, value: bool) -> bytes:
    buf = bytearray(bits)
    mask = 0x80 >> (index % 8)
    buf[index // 8] = (buf[index // 8] | mask) if value else (buf[index // 8] & ~mask)
    return bytes(buf)


def _status_bits(raw: bytes, size: int) -> StatusBits:
    """Stored raw bits -> the credentials package's StatusBits (only set bits are visited)."""
    bits = StatusBits(size)
    for byte_index, byte in enumerate(raw):
        if byte:
            for offset in range(8):
                if byte & (0x80 >> offset):
                    bits.set(byte_index * 8 + offset, True)
    return bits


def _pair(session: Session, org: Organisation, number: int, now: datetime) -> None:
    for purpose in StatusPurpose:
        session.add(
            StatusList(
                org_id=org.id,
                purpose=purpose.value,
                number=number,
                size=LIST_SIZE,
                bits=bytes(LIST_SIZE // 8),
                updated_at=now,
            )
        )
    session.flush()


def _used(session: Session, org_id: int, number: int) -> int:
    return (
        session.scalar(
            select(func.count(IssuedCredential.id)).where(
                IssuedCredential.org_id == org_id, IssuedCredential.status_list_number == number
            )
        )
        or 0
    )


def _serialise(session: Session) -> None:
    """Take the audit chain's transaction lock now (PostgreSQL), before any status-list row."""
    audit.lock_chain(session)


def allocate(session: Session, org: Organisation, rng: random.Random, now: datetime) -> Slot:
    """A random free index in the issuer's current list pair (creating a pair when needed).

    Concurrency: on PostgreSQL the caller's transaction first takes the audit chain's lock
    (every issuance is audited anyway, so this only moves that lock earlier). Issuances then
    run one after another until each commits: two cannot both open list pair n+1, or both pick
    one index, and the lock order (chain lock, then rows) is the same for every audited writer,
    so they cannot deadlock. The unique constraint on (org, list number, index) stays the final
    guard (and SQLite's single writer the equivalent); `lms.issuance` retries on that conflict.
    """
    _serialise(session)
    number = session.scalar(select(func.max(StatusList.number)).where(StatusList.org_id == org.id))
    if number is None or _used(session, org.id, number) >= FILL_LIMIT:
        number = (number or 0) + 1
        _pair(session, org, number, now)
    for _ in range(64):
        index = rng.randrange(LIST_SIZE)
        taken = session.scalar(
            select(IssuedCredential.id).where(
                IssuedCredential.org_id == org.id,
                IssuedCredential.status_list_number == number,
                IssuedCredential.status_index == index,
            )
        )
        if taken is None:
            return Slot(number, index)
    raise Conflict("Could not find a free status-list entry; try again.")  # pragma: no cover


def _list(
    session: Session, org_id: int, purpose: StatusPurpose, number: int, *, lock: bool = False
) -> StatusList:
    query = select(StatusList).where(
        StatusList.org_id == org_id,
        StatusList.purpose == purpose.value,
        StatusList.number == number,
    )
    # Changing a bit rewrites the whole list: lock the row so two revocations at once cannot
    # each write back the list without the other's bit (a lost update).
    if lock:  # and read the bits as committed by whoever held the lock before us
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(query)
    if row is None:
        raise NotFound("That status list does not exist.")
    return row


def _set(
    session: Session, cred: IssuedCredential, purpose: StatusPurpose, value: bool, now: datetime
) -> None:
    if cred.status_list_number is None or cred.status_index is None:
        raise Conflict("This credential was issued without a status entry; it cannot be revoked.")
    _serialise(session)
    row = _list(session, cred.org_id, purpose, cred.status_list_number, lock=True)
    row.bits = _with_bit(row.bits, cred.status_index, value)
    row.updated_at = now


def _reason(reason: str) -> str:
    reason = " ".join(reason.split())
    if not reason:
        raise Conflict("Give a reason: it is recorded and shown to the worker.")
    return reason[:MAX_REASON]


def _audit(
    session: Session,
    cred: IssuedCredential,
    action: str,
    before: str,
    reason: str | None,
    actor: User | None,
    now: datetime,
) -> None:
    audit.record(
        session,
        actor=actor,
        actor_label=None if actor is not None else "cli",
        action=action,
        entity_type="credential",
        entity_id=cred.credential_id,
        org_id=cred.org_id,
        subject_user_id=cred.user_id,
        before={"status": before},
        after={"status": cred.status},
        reason=reason,
        now=now,
    )


def revoke(
    session: Session, cred: IssuedCredential, reason: str, now: datetime, actor: User | None = None
) -> None:
    """Revoke for good (e.g. issued in error, obtained by fraud)."""
    if cred.revoked_at is not None:
        raise Conflict("This credential is already revoked.")
    before = cred.status
    _set(session, cred, StatusPurpose.REVOCATION, True, now)
    cred.revoked_at, cred.revocation_reason = now, _reason(reason)
    _audit(session, cred, "credential.revoked", before, cred.revocation_reason, actor, now)


def suspend(
    session: Session, cred: IssuedCredential, reason: str, now: datetime, actor: User | None = None
) -> None:
    """Suspend for now (e.g. under investigation); `reinstate` lifts it."""
    if cred.revoked_at is not None:
        raise Conflict("This credential is revoked; it cannot be suspended.")
    if cred.suspended_at is not None:
        raise Conflict("This credential is already suspended.")
    before = cred.status
    _set(session, cred, StatusPurpose.SUSPENSION, True, now)
    cred.suspended_at, cred.suspension_reason = now, _reason(reason)
    _audit(session, cred, "credential.suspended", before, cred.suspension_reason, actor, now)


def reinstate(
    session: Session, cred: IssuedCredential, now: datetime, actor: User | None = None
) -> None:
    if cred.revoked_at is not None:
        raise Conflict("A revoked credential cannot be reinstated; issue a new one.")
    if cred.suspended_at is None:
        raise Conflict("This credential is not suspended.")
    before = cred.status
    _set(session, cred, StatusPurpose.SUSPENSION, False, now)
    cred.suspended_at, cred.suspension_reason = None, None
    _audit(session, cred, "credential.reinstated", before, None, actor, now)


def find_credential(session: Session, ref: str) -> IssuedCredential:
    """By full id (urn:uuid:...) or short id."""
    ref = ref.strip()
    if ref.startswith("urn:uuid:"):
        where = IssuedCredential.credential_id == ref.lower()
    else:
        where = IssuedCredential.short_id == ref.lower()
    cred = session.scalar(select(IssuedCredential).where(where))
    if cred is None:
        raise NotFound(f"No credential has the id {ref[:60]!r}.")
    return cred


def signed_list(
    session: Session,
    ctx: IssuanceContext,
    org: Organisation,
    purpose: StatusPurpose,
    number: int,
    now: datetime,
) -> str:
    """The list as a signed BitstringStatusListCredential (VC-JWT), valid for 30 days."""
    row = _list(session, org.id, purpose, number)
    _, private = issuer_key(session, ctx, org, now)
    return _sign(row, org, ctx, private, now)


def _sign(
    row: StatusList,
    org: Organisation,
    ctx: IssuanceContext,
    private: ec.EllipticCurvePrivateKey,
    now: datetime,
) -> str:
    credential = build_status_list_credential(
        list_url=list_url(ctx.base_url, org, row.purpose, row.number),
        issuer=issuer_profile(org, ctx.base_url),
        purpose=row.purpose,  # type: ignore[arg-type]
        bits=_status_bits(row.bits, row.size),
        valid_from=now,
        valid_until=now + PUBLISHED_FOR,
    )
    return sign_status_list(credential, private)


def all_signed_lists(
    session: Session, ctx: IssuanceContext, org: Organisation, now: datetime
) -> list[str]:
    rows = session.scalars(
        select(StatusList)
        .where(StatusList.org_id == org.id)
        .order_by(StatusList.number, StatusList.purpose)
    ).all()
    if not rows:
        return []
    _, private = issuer_key(session, ctx, org, now)
    return [_sign(row, org, ctx, private, now) for row in rows]


def pairs(session: Session, ctx: IssuanceContext, org: Organisation) -> list[tuple[str, str]]:
    numbers = session.scalars(
        select(StatusList.number)
        .where(StatusList.org_id == org.id)
        .distinct()
        .order_by(StatusList.number)
    )
    return [
        (
            list_url(ctx.base_url, org, StatusPurpose.REVOCATION, n),
            list_url(ctx.base_url, org, StatusPurpose.SUSPENSION, n),
        )
        for n in numbers
    ]


def passport(session: Session, ctx: IssuanceContext, user: User, now: datetime) -> str:
    """A worker's passport: all her credentials and their issuers' current status lists."""
    creds = session.scalars(
        select(IssuedCredential)
        .where(IssuedCredential.user_id == user.id)
        .order_by(IssuedCredential.issued_at.desc())
    ).all()
    lists: list[str] = []
    for org_id in sorted({cred.org_id for cred in creds}):
        lists.extend(all_signed_lists(session, ctx, session.get_one(Organisation, org_id), now))
    return build_passport(user.name, [cred.token for cred in creds], lists, now)
