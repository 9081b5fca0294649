"""Authorisation: what a user may do in an organisation, by role. One place, used everywhere."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import NotFound
from .models import Membership, Organisation, Role


class Person(Protocol):
    """Anyone with an account id: the logged-in `Principal` or an account row (`User`)."""

    @property
    def id(self) -> int: ...


MANAGERS = frozenset({Role.MANAGER.value, Role.ADMIN.value})
# Who may observe and assess practice: mentors/assessors, and managers.
ASSESSORS = frozenset({Role.MENTOR.value, Role.MANAGER.value, Role.ADMIN.value})


def organisation_for(
    session: Session, user: Person, slug: str, roles: Collection[str], refusal: str
) -> Organisation:
    """The organisation if the user holds one of `roles` in it; 404 (`refusal`) otherwise.

    404, not 403: someone outside an organisation learns nothing about what exists in it.
    """
    org = session.scalar(
        select(Organisation)
        .join(Membership, Membership.org_id == Organisation.id)
        .where(
            Organisation.slug == slug,
            Membership.user_id == user.id,
            Membership.role.in_(list(roles)),
        )
    )
    if org is None:
        raise NotFound(refusal)
    return org


def organisations_for(session: Session, user: Person, roles: Collection[str]) -> list[Organisation]:
    """Every organisation where the user holds one of `roles`, by name."""
    return list(
        session.scalars(
            select(Organisation)
            .join(Membership, Membership.org_id == Organisation.id)
            .where(Membership.user_id == user.id, Membership.role.in_(list(roles)))
            .distinct()
            .order_by(Organisation.name)
        )
    )


def managed_organisation(session: Session, user: Person, slug: str) -> Organisation:
    """The organisation if the user is its manager or admin; 404 otherwise."""
    return organisation_for(
        session, user, slug, MANAGERS, "There is no organisation here that you manage."
    )


def managed_organisations(session: Session, user: Person) -> list[Organisation]:
    return organisations_for(session, user, MANAGERS)
