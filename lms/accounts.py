"""Accounts: password hashing (argon2id), password rules, lockout, users, organisations.

Password rules follow the NCSC's password guidance: length, not composition. A password must be
12 to 256 characters (a passphrase of three random words fits; spaces and any character allowed,
pasting allowed, no forced expiry), and it must not be a commonly used password (a deny-list
shipped in `lms/auth/common_passwords.txt`), nor the user's own e-mail address or name, nor one
character repeated. `check_password_policy` returns what is wrong, in plain words.

Lockout: 10 failed log-ins for one e-mail address within 15 minutes lock it for 15 minutes;
from the next attempt on, even the right password is refused, with a message that says so and
when to try again. Failures are counted per address whether or not an account has it, so the lockout
tells a caller nothing about which addresses exist (the wrong-password message is already the
same for both). A lock of a real account is audited ("account.locked"). The per-address lock
works with the per-IP rate limit on the log-in page: the limit slows one attacker trying many
addresses, the lock slows many attackers trying one. A lock expires by itself, so an attacker
can delay a worker by 15 minutes at most per 10 tries, never shut them out for good; a manager
can also clear it by setting a new password (`set_password`).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import audit
from .auth.models import LoginThrottle
from .errors import BadCredentials, ServiceError
from .models import Membership, Organisation, Role, User

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
LOCK_AFTER_FAILURES = 10
FAILURE_WINDOW = timedelta(minutes=15)
LOCK_FOR = timedelta(minutes=15)
COMMON_PASSWORDS = Path(__file__).resolve().parent / "auth" / "common_passwords.txt"

# Verified against when the e-mail is unknown, so both paths cost the same time.
_DUMMY_PASSWORD = "not-a-real-password-used-for-timing"  # noqa: S105


def normalise_email(email: str) -> str:
    return email.strip().lower()


def make_hasher(time_cost: int, memory_cost: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)


class AccountLocked(ServiceError):
    """Too many failed log-ins for this address: refused until `until`, whatever the password."""

    code, status = "account_locked", 429

    def __init__(self, message: str, until: datetime) -> None:
        super().__init__(message)
        self.until = until


class PasswordRejected(ServiceError):
    code, status = "password_rejected", 400

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


def _email_key(email: str, secret: str) -> str:
    return hmac.new(
        secret.encode("utf-8"), normalise_email(email).encode("utf-8"), hashlib.sha256
    ).hexdigest()


def _locked_message(until: datetime, now: datetime) -> str:
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    return ngettext(
        "Too many wrong passwords were tried for this account, so it is locked for "
        "%(num)d more minute. Wait, then try again, or ask your manager to set a new password.",
        "Too many wrong passwords were tried for this account, so it is locked for "
        "%(num)d more minutes. Wait, then try again, or ask your manager to set a new password.",
        minutes,
    )


def lock_state(session: Session, email: str, secret: str, now: datetime) -> datetime | None:
    """When the address's lock ends, or None if it is not locked."""
    row = session.scalar(
        select(LoginThrottle).where(LoginThrottle.email_key == _email_key(email, secret))
    )
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return row.locked_until
    return None


def _locked_row(session: Session, key: str) -> LoginThrottle | None:
    """The address's row, locked until commit (PostgreSQL), so concurrent failures add up."""
    return session.scalar(
        select(LoginThrottle)
        .where(LoginThrottle.email_key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _record_failure(
    session: Session, email: str, secret: str, user: User | None, now: datetime
) -> datetime | None:
    """Count one failure; return the end of the lock if this failure started one."""
    key = _email_key(email, secret)
    row = _locked_row(session, key)
    if row is None:
        # Two first failures at once: one insert wins, the other meets the unique key and
        # both then count on the same row.
        try:
            with session.begin_nested():
                first = LoginThrottle(email_key=key, failures=0, first_failure_at=now)
                first.last_failure_at = now
                session.add(first)
        except IntegrityError:
            pass
        row = _locked_row(session, key)
        assert row is not None  # noqa: S101
    if row.first_failure_at <= now - FAILURE_WINDOW:
        row.failures, row.first_failure_at, row.locked_until = 0, now, None
    row.failures += 1
    row.last_failure_at = now
    locked = None
    if row.failures >= LOCK_AFTER_FAILURES:
        locked = row.locked_until = now + LOCK_FOR
        row.failures, row.first_failure_at = 0, now
        if user is not None:
            audit.record(
                session,
                actor=None,
                actor_label="login",
                action="account.locked",
                entity_type="user",
                entity_id=user.id,
                subject_user_id=user.id,
                after={"locked_until": locked.isoformat(), "failures": LOCK_AFTER_FAILURES},
                reason=f"{LOCK_AFTER_FAILURES} failed log-ins within "
                f"{int(FAILURE_WINDOW.total_seconds() // 60)} minutes",
                now=now,
            )
    session.flush()
    if random.random() < 0.01:  # noqa: S311  (housekeeping, not security)
        _forget_stale(session, now)
    return locked


def _forget_stale(session: Session, now: datetime) -> None:
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.last_failure_at < now - FAILURE_WINDOW,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
        )
    )


def clear_failures(session: Session, email: str, secret: str) -> None:
    session.execute(
        delete(LoginThrottle).where(LoginThrottle.email_key == _email_key(email, secret))
    )


def authenticate(
    session: Session,
    hasher: PasswordHasher,
    email: str,
    password: str,
    *,
    secret: str = "",
    now: datetime | None = None,
) -> User:
    """Return the user, or raise BadCredentials (one message for every failure) or AccountLocked.

    Failures are recorded in the session: the caller commits after either error as well.
    """
    now = now or datetime.now(UTC)
    until = lock_state(session, email, secret, now)
    if until is not None:
        raise AccountLocked(_locked_message(until, now), until)
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    target = user.password_hash if user is not None else _dummy_hash(hasher)
    try:
        hasher.verify(target, password)
        ok = user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        # The failure that reaches the limit sets the lock; it shows from the next attempt on.
        _record_failure(session, email, secret, user, now)
        raise BadCredentials(_("That e-mail and password do not match an active account."))
    assert user is not None  # noqa: S101  (ok implies a user)
    if not user.active:
        raise BadCredentials(_("That e-mail and password do not match an active account."))
    clear_failures(session, email, secret)
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


_dummy_hashes: dict[tuple[int, int], str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash with the hasher's own cost, so an unknown address costs what a known one does."""
    cost = (hasher.time_cost, hasher.memory_cost)
    if cost not in _dummy_hashes:
        _dummy_hashes[cost] = hasher.hash(_DUMMY_PASSWORD)
    return _dummy_hashes[cost]


# --- password rules (NCSC: length over complexity, block common passwords) -----------------


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(_fold(line) for line in lines if line.strip() and not line.startswith("#"))


def _fold(text: str) -> str:
    return " ".join(text.lower().split()).replace(" ", "")


def _mostly_personal(folded: str, email: str | None, name: str | None) -> bool:
    """True when taking the user's name and e-mail out leaves fewer than 6 letters or digits."""
    parts = [_fold(email or "")]
    if email:
        local = _fold(email.split("@")[0])
        parts += [local, *re.split(r"[^a-z0-9]+", local)]
    parts += [_fold(name or ""), *(_fold(p) for p in (name or "").split())]
    parts = sorted({p for p in parts if len(p) >= 3}, key=len, reverse=True)
    rest = folded
    for part in parts:
        rest = rest.replace(part, "")
    if rest == folded:
        return False
    return len(re.sub(r"[^\w]|_", "", rest)) < 6


def check_password_policy(
    password: str, *, email: str | None = None, name: str | None = None
) -> list[str]:
    """What is wrong with a new password, as plain sentences; an empty list means it is fine."""
    problems: list[str] = []
    length = len(password)
    if length < MIN_PASSWORD_LENGTH:
        problems.append(
            _(
                "Use at least %(min)d characters. Three random words together make a good "
                "password that is easy to remember.",
                min=MIN_PASSWORD_LENGTH,
            )
        )
    elif length > MAX_PASSWORD_LENGTH:
        problems.append(_("Use at most %(max)d characters.", max=MAX_PASSWORD_LENGTH))
    folded = _fold(password)
    if folded and len(set(folded)) == 1:
        problems.append(_("Do not repeat one character: choose words instead."))
    elif folded in common_passwords() or folded.rstrip("0123456789!?.") in common_passwords():
        problems.append(
            _(
                "That password is one of the most commonly used, so it is easy to guess. "
                "Choose another."
            )
        )
    if _mostly_personal(folded, email, name):
        problems.append(_("Do not base your password on your name or e-mail address."))
    return problems


def hash_new_password(
    hasher: PasswordHasher, password: str, *, email: str | None = None, name: str | None = None
) -> str:
    """Hash a new password after checking the rules (raises PasswordRejected)."""
    problems = check_password_policy(password, email=email, name=name)
    if problems:
        raise PasswordRejected(problems)
    return hasher.hash(password)


@dataclass(frozen=True)
class PasswordChange:  # what set_password did (never the password)
    user_id: int
    changed_at: datetime


def set_password(
    session: Session,
    hasher: PasswordHasher,
    user: User,
    password: str,
    now: datetime,
    *,
    secret: str = "",
    actor: User | None = None,
) -> PasswordChange:
    """Give a user a new password (checked against the rules) and lift any lockout.

    Audited as "account.password_set" (never the password or its hash).
    """
    user.password_hash = hash_new_password(hasher, password, email=user.email, name=user.name)
    clear_failures(session, user.email, secret)
    audit.record(
        session,
        actor=actor,
        actor_label=None if actor is not None else "system",
        action="account.password_set",
        entity_type="user",
        entity_id=user.id,
        subject_user_id=user.id,
        now=now,
    )
    return PasswordChange(user.id, now)


def get_or_create_org(
    session: Session, slug: str, name: str, kind: str, now: datetime
) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        org = Organisation(slug=slug, name=name, kind=kind, created_at=now)
        session.add(org)
        session.flush()
    return org


def get_or_create_user(
    session: Session, hasher: PasswordHasher, email: str, name: str, password: str, now: datetime
) -> User:
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        user = User(
            email=normalise_email(email),
            name=name,
            password_hash=hasher.hash(password),
            active=True,
            created_at=now,
        )
        session.add(user)
        session.flush()
    return user


def member_of(session: Session, org: Organisation, user_id: int) -> User | None:
    """The user, if they hold any role in the organisation; else None."""
    return session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(User.id == user_id, Membership.org_id == org.id)
        .limit(1)
    )


def ensure_membership(session: Session, user: User, org: Organisation, role: Role) -> None:
    exists = session.scalar(
        select(Membership.id).where(
            Membership.user_id == user.id,
            Membership.org_id == org.id,
            Membership.role == role.value,
        )
    )
    if exists is None:
        session.add(Membership(user_id=user.id, org_id=org.id, role=role.value))
        session.flush()
