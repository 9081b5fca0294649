"""Set-password invitations for accounts created by a staff import.

An imported account cannot log in: its password hash is a random marker that no password
matches (`INVITED_HASH_PREFIX`), and it is inactive. The worker gets an e-mail with a link
holding a signed, time-limited token (itsdangerous, keyed by SECRET_KEY) that names the user
and a fingerprint of that marker. Setting a password replaces the marker, so the link works
once; a new invitation replaces the marker too, so older links stop working.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from .. import accounts, audit
from ..errors import ServiceError
from ..i18n import language_of
from ..mail import Link, Mailer, MailError, Message, compose, kept_open
from ..models import Organisation, User
from .importer import INVITED_HASH_PREFIX

SALT = "carecred.staff.set-password"
INVITE_LINK_PATH = "/auth/set-password/"  # + token; the route in lms/staff/views.py
MAX_AGE_SECONDS = 7 * 24 * 60 * 60


class InvalidInvitation(ServiceError):
    code, status = "invalid_link", 400


def is_invited(user: User) -> bool:
    """The account was created by an import and no password has been set yet."""
    return user.password_hash.startswith(INVITED_HASH_PREFIX)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=SALT)


def make_token(user: User, secret_key: str) -> str:
    return _serializer(secret_key).dumps({"u": user.id, "f": _fingerprint(user)})


def renew_marker(
    session: Session,
    user: User,
    actor: User | None,
    now: datetime,
    *,
    org_id: int | None = None,
) -> None:
    """A fresh marker for a new invitation: links sent before stop working.

    Audited as "account.invitation_renewed" in the caller's transaction (never the marker or
    its fingerprint: either would help forge a link). Caller commits.
    """
    user.password_hash = INVITED_HASH_PREFIX + secrets.token_urlsafe(32)
    session.flush()
    audit.record(
        session,
        actor=actor,
        actor_label=None if actor is not None else "system",
        action="account.invitation_renewed",
        entity_type="user",
        entity_id=user.id,
        now=now,
        org_id=org_id,
        subject_user_id=user.id,
        after={"earlier_links": "stopped working"},
    )


def user_for_token(session: Session, token: str, secret_key: str, now: datetime) -> User:
    """The invited user the token names, or InvalidInvitation with a plain message."""
    try:
        data = _serializer(secret_key).loads(token, max_age=MAX_AGE_SECONDS)
    except SignatureExpired:
        raise InvalidInvitation(
            _("This link is more than 7 days old. Ask your manager to send a new one.")
        ) from None
    except BadSignature:
        raise InvalidInvitation(
            _(
                "This link does not work. Check you copied all of it, or ask your manager to "
                "send a new one."
            )
        ) from None
    user = None
    if isinstance(data, dict) and isinstance(data.get("u"), int):
        user = session.get(User, data["u"])
    if user is None or not is_invited(user) or data.get("f") != _fingerprint(user):
        raise InvalidInvitation(
            _(
                "This link was already used, or a newer one was sent. Log in, or ask your "
                "manager to send a new link."
            )
        )
    return user


def set_password(
    session: Session,
    hasher: PasswordHasher,
    user: User,
    password: str,
    now: datetime,
    *,
    secret: str = "",
) -> None:
    """Set the first password (the NCSC rules of lms.accounts; raises PasswordRejected) and
    open the account. Audited by lms.accounts as "account.password_set". Caller commits."""
    if not is_invited(user):
        raise InvalidInvitation(_("This account already has a password. Log in instead."))
    accounts.set_password(session, hasher, user, password, now, secret=secret)
    user.active = True
    session.flush()


@dataclass(frozen=True)
class InviteReport:
    sent: int
    failed: list[tuple[User, str]]


def invitation_message(user: User, org: Organisation, url: str) -> Message:
    """The set-password e-mail, in the language chosen for the person (or English)."""
    lang = language_of(user)
    with force_locale(lang):
        return compose(
            user.email,
            _("%(org)s: set your CareCred password", org=org.name),
            [
                _("Hello %(name)s,", name=user.name),
                _("%(org)s uses CareCred for your training. Your account is ready.", org=org.name),
                _("Open the link below and choose a password. The link works once and for 7 days."),
            ],
            link=Link(_("Set your password"), url),
            after=[_("If you do not work for %(org)s, you can ignore this e-mail.", org=org.name)],
            lang=lang,
        )


def send_invitations(
    mailer: Mailer,
    users: Sequence[User],
    org: Organisation,
    secret_key: str,
    base_url: str,
) -> InviteReport:
    """E-mail each user a set-password link. Failures are reported, not raised.

    Links are built on BASE_URL, never on the request's Host header (a forged Host must not
    put an attacker's site in the e-mail).
    """
    sent = 0
    failed: list[tuple[User, str]] = []
    with kept_open(mailer) as held:
        for user in users:
            token = make_token(user, secret_key)
            url = base_url.rstrip("/") + INVITE_LINK_PATH + token
            try:
                held.send(invitation_message(user, org, url))
            except MailError as err:
                failed.append((user, str(err)))
            else:
                sent += 1
    return InviteReport(sent=sent, failed=failed)


def report_data(report: InviteReport) -> dict[str, object]:
    return {"sent": report.sent, "failed": [[u.id, reason] for u, reason in report.failed]}


def invite_job(org_id: int, user_ids: list[int]) -> dict[str, object]:
    """The job form (lms.jobs, plain ids in): e-mail the set-password links off the request.

    Safe to run again: only accounts still waiting for a password are e-mailed (and a second
    e-mail carries a link that works just as well).
    """
    from flask import current_app
    from sqlalchemy import select

    from ..jobs import job_session
    from ..mail import mailer_for

    with job_session() as session:
        org = session.get(Organisation, org_id)
        if org is None:
            return {"sent": 0, "failed": []}
        users = [
            u
            for u in session.scalars(select(User).where(User.id.in_([int(i) for i in user_ids])))
            if is_invited(u)
        ]
        report = send_invitations(
            mailer_for(current_app),
            users,
            org,
            current_app.config["SECRET_KEY"],
            current_app.config["BASE_URL"],
        )
    return report_data(report)
