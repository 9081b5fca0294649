"""Accounts: password hashing (argon2id), users, organisations and memberships."""

from __future__ import annotations

from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import BadCredentials
from .models import Membership, Organisation, Role, User

# Verified against when the e-mail is unknown, so both paths cost the same time.
_DUMMY_PASSWORD = "not-a-real-password-used-for-timing"  # noqa: S105


def normalise_email(email: str) -> str:
    return email.strip().lower()


def make_hasher(time_cost: int, memory_cost: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)


def authenticate(session: Session, hasher: PasswordHasher, email: str, password: str) -> User:
    """Return the user, or raise BadCredentials with one message for every failure."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    target = user.password_hash if user is not None else hasher.hash(_DUMMY_PASSWORD)
    try:
        hasher.verify(target, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or not user.active:
        raise BadCredentials("That e-mail and password do not match an active account.")
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


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
