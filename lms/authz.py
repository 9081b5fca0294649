"""Authorisation: what a user may do in an organisation, by role. One place, used everywhere."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import NotFound
from .models import Membership, Organisation, Role, User

MANAGERS = frozenset({Role.MANAGER.value, Role.ADMIN.value})


def managed_organisation(session: Session, user: User, slug: str) -> Organisation:
    """The organisation if the user is its manager or admin; 404 otherwise.

    404, not 403: someone outside an organisation learns nothing about what exists in it.
    """
    org = session.scalar(
        select(Organisation)
        .join(Membership, Membership.org_id == Organisation.id)
        .where(
            Organisation.slug == slug,
            Membership.user_id == user.id,
            Membership.role.in_(MANAGERS),
        )
    )
    if org is None:
        raise NotFound("There is no organisation here that you manage.")
    return org


def managed_organisations(session: Session, user: User) -> list[Organisation]:
    return list(
        session.scalars(
            select(Organisation)
            .join(Membership, Membership.org_id == Organisation.id)
            .where(Membership.user_id == user.id, Membership.role.in_(MANAGERS))
            .distinct()
            .order_by(Organisation.name)
        )
    )
