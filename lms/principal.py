"""Who is logged in, as every request sees them: `current_user` is a `Principal`.

Every page needs the person's id, whether they may log in, their language and their roles (the
menu shows "Manage" to managers); few need the whole account row. So Flask-Login's user loader
reads those few columns, with the memberships, in one plain query on the request's connection,
and builds a `Principal` (no ORM objects: on SQLite, the ORM's loading cost several times the
query). It is read afresh on every request, as the account row was: deactivating someone or
changing their roles counts from their next request.

Views that hand the person to a service, or change their account, use `me()`: the account row
(`models.User`, with its memberships), loaded on first use in the request and then kept for
it. Templates see the `Principal`: `id`, `is_authenticated`, `memberships` (each with `org_id`
and `role`), `locale`, `roles_in(org_id)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import UserMixin, current_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload
from werkzeug.exceptions import Unauthorized

from .extensions import db
from .models import Membership, User

_PRINCIPAL = (
    select(User.id, User.active, User.locale, Membership.org_id, Membership.role)
    .outerjoin(Membership, Membership.user_id == User.id)
    .where(User.id == bindparam("user_id"))
)
_ACCOUNT = joinedload(User.memberships)


@dataclass(frozen=True, slots=True)
class Role:
    """One membership as a page sees it: the organisation and the role held there."""

    org_id: int
    role: str


class Principal(UserMixin):  # type: ignore[misc]  (Flask-Login's mixin is untyped)
    __slots__ = ("id", "locale", "memberships", "_record")

    def __init__(self, user_id: int, locale: str | None, memberships: tuple[Role, ...]) -> None:
        self.id = user_id
        self.locale = locale
        self.memberships = memberships
        self._record: User | None = None

    def roles_in(self, org_id: int) -> set[str]:
        return {m.role for m in self.memberships if m.org_id == org_id}

    def record(self, session: Session) -> User:
        """The account row, loaded once per request."""
        if self._record is None:
            found = session.get(User, self.id, options=[_ACCOUNT])
            if found is None:  # deleted since this request began
                raise Unauthorized("Your account is no longer here. Please log in again.")
            self._record = found
        return self._record


def load(session: Session, user_id: int) -> Principal | None:
    """The active person with this id, or None (no such account, or deactivated)."""
    rows = session.connection().execute(_PRINCIPAL, {"user_id": user_id}).all()
    if not rows or not rows[0].active:
        return None
    roles = tuple(Role(row.org_id, row.role) for row in rows if row.org_id is not None)
    return Principal(rows[0].id, rows[0].locale, roles)


def me() -> User:
    """The logged-in person's account row. Only in views that require a login."""
    person = current_user._get_current_object()
    if isinstance(person, User):  # the request that logged them in
        return person
    if isinstance(person, Principal):
        return person.record(db.session)
    raise Unauthorized("Please log in to see that page.")
