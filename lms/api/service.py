"""Services behind the JSON API and the VC API: what they read, as plain JSON-ready data.

Takes the session and the clock; never commits. Serialisers here are the one definition of
each JSON shape, described in lms/api/openapi.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credentials import (
    QR_PREFIX,
    TrustList,
    VerificationResult,
    load_trust_list,
    verify_qr,
    verify_token,
)
from credentials.vcjwt import MAX_TOKEN_CHARS

from .. import learning
from ..errors import NotFound, ServiceError
from ..issuance import IssuanceContext, trust_list
from ..models import (
    Employment,
    IssuedCredential,
    Membership,
    Organisation,
    Role,
    SigningKey,
    StatusList,
    User,
)

MAX_PER_PAGE = 100
MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
DEFAULT_PER_PAGE = 50


def iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


# --- the learner's own records (session) ------------------------------------------------------


def assignment_json(item: learning.Assignment, now: datetime) -> dict[str, Any]:
    c = item.latest_completion
    return {
        "module_code": item.module.code,
        "title": item.module.title,
        "version": item.module.version,
        "state": item.state(now),
        "assigned_at": iso(item.enrolment.assigned_at),
        "due_on": iso(item.enrolment.due_on),
        "lessons_total": item.lessons_total,
        "lessons_done": item.lessons_done,
        "percent": item.percent,
        "completed_at": iso(c.completed_at) if c else None,
        "valid_until": iso(c.valid_until) if c else None,
    }


def credential_json(cred: IssuedCredential, base_url: str) -> dict[str, Any]:
    return {
        "credential_id": cred.credential_id,
        "short_id": cred.short_id,
        "module_code": cred.module.code,
        "title": cred.module.title,
        "issuer": cred.organisation.name,
        "issuer_id": f"{base_url}/issuers/{cred.organisation.slug}",
        "issued_at": iso(cred.issued_at),
        "valid_until": iso(cred.valid_until),
        "status": cred.status,
        "vc_jwt": cred.token,
    }


def my_assignments(session: Session, user_id: int, now: datetime) -> list[dict[str, Any]]:
    return [assignment_json(a, now) for a in learning.my_learning(session, user_id)]


def my_credentials(session: Session, user_id: int, base_url: str) -> list[dict[str, Any]]:
    return [credential_json(c, base_url) for c in learning.my_credentials(session, user_id)]


# --- an organisation's records (token) --------------------------------------------------------


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    page: int
    per_page: int
    total: int

    def to_json(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "page": self.page,
            "per_page": self.per_page,
            "total": self.total,
            "has_more": self.page * self.per_page < self.total,
        }


def _learner_ids(org_id: int) -> Any:
    return (
        select(Membership.user_id)
        .where(Membership.org_id == org_id, Membership.role == Role.LEARNER.value)
        .distinct()
    )


def org_learners(session: Session, org: Organisation, page: int, per_page: int) -> Page:
    ids = _learner_ids(org.id)
    total = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    users = session.scalars(
        select(User)
        .where(User.id.in_(ids))
        .order_by(User.name, User.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    jobs = {
        e.user_id: e
        for e in session.scalars(
            select(Employment).where(
                Employment.org_id == org.id, Employment.user_id.in_([u.id for u in users])
            )
        )
    }
    items = []
    for user in users:
        job = jobs.get(user.id)
        items.append(
            {
                "id": user.id,
                "name": user.name,
                "email": user.email,
                "active": user.active,
                "worker_ref": job.worker_ref if job else None,
                "job_role": job.job_role.name if job and job.job_role else None,
                "site": job.site.name if job and job.site else None,
                "start_date": iso(job.start_date) if job else None,
                "end_date": iso(job.end_date) if job else None,
            }
        )
    return Page(items, page, per_page, total)


def org_learner(session: Session, org: Organisation, user_id: int) -> User:
    """A learner of the organisation; 404 for anyone else (whether or not they exist)."""
    if not 0 < user_id <= MAX_ID:  # an id no database column can hold is nobody's
        raise NotFound("Your organisation has no learner with that id.")
    member = session.scalar(
        select(Membership.id).where(
            Membership.org_id == org.id,
            Membership.user_id == user_id,
            Membership.role == Role.LEARNER.value,
        )
    )
    user = session.get(User, user_id) if member is not None else None
    if user is None:
        raise NotFound("Your organisation has no learner with that id.")
    return user


def learner_credentials(
    session: Session, org: Organisation, user_id: int, base_url: str
) -> list[dict[str, Any]]:
    """What this organisation issued to one of its learners (never another issuer's)."""
    user = org_learner(session, org, user_id)
    creds = session.scalars(
        select(IssuedCredential)
        .where(IssuedCredential.org_id == org.id, IssuedCredential.user_id == user.id)
        .order_by(IssuedCredential.issued_at.desc())
    )
    return [credential_json(c, base_url) for c in creds]


# --- verification ------------------------------------------------------------------------------


# Signing the trust list means signing every issuer's status lists: too much work to repeat for
# each request to a public endpoint. The loaded list is kept while nothing it depends on has
# changed (keys, compromise marks, status-list bits, organisations) and for at most 5 minutes.
TRUST_CACHE_SECONDS = 300
_trust_cache: dict[tuple[str, str, str], tuple[tuple[Any, ...], datetime, TrustList]] = {}


def _trust_fingerprint(session: Session) -> tuple[Any, ...]:
    keys = session.execute(
        select(
            func.count(SigningKey.id),
            func.min(SigningKey.kid),
            func.max(SigningKey.kid),
            func.max(SigningKey.created_at),
            func.max(SigningKey.valid_until),
            func.max(SigningKey.compromised_at),
            func.count(SigningKey.valid_until),
            func.count(SigningKey.compromised_at),
        )
    ).one()
    lists = session.execute(
        select(func.count(StatusList.id), func.max(StatusList.updated_at))
    ).one()
    orgs = session.execute(select(func.count(Organisation.id), func.max(Organisation.id))).one()
    return (*keys, *lists, *orgs)


def current_trust(session: Session, ctx: IssuanceContext, now: datetime) -> TrustList:
    """This instance's trust list, signed and loaded as an offline verifier would load it."""
    bind = session.get_bind()
    key = (str(bind.engine.url), ctx.base_url, ctx.instance_name)
    fingerprint = _trust_fingerprint(session)
    cached = _trust_cache.get(key)
    if (
        cached is not None
        and cached[0] == fingerprint
        and timedelta(0) <= now - cached[1] < timedelta(seconds=TRUST_CACHE_SECONDS)
    ):
        return cached[2]
    signed, anchor = trust_list(session, ctx, now)
    trust = load_trust_list(signed, anchor, now)
    # The fingerprint after signing: a root key created on first use is part of it.
    _trust_cache[key] = (_trust_fingerprint(session), now, trust)
    return trust


class InvalidInput(Exception):
    """The request is not something the verifier can be asked about (HTTP 400)."""

    def __init__(self, message: str, pointer: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.pointer = pointer


def verify_text(
    session: Session, ctx: IssuanceContext, text: str, now: datetime, *, jwt_only: bool = False
) -> VerificationResult:
    """Verify a VC-JWT or the text of a QR code (`CC1:...`) with this instance's trust list.

    The trust list is signed and loaded exactly as a new employer's verifier would load it
    (pinned by the root thumbprint), so the answer is the one they get offline.
    """
    text = text.strip()
    if not text:
        raise InvalidInput("The credential is empty.")
    if len(text) > MAX_TOKEN_CHARS:
        raise InvalidInput("The credential is too large to be a certificate.")
    trust = current_trust(session, ctx, now)
    if text.startswith(QR_PREFIX) and not jwt_only:
        return verify_qr(text, trust, now, source="qr")
    return verify_token(text, trust, now, source="vc-jwt")


# --- the training matrix -----------------------------------------------------------------------


def _rate(rate: Any) -> dict[str, Any]:
    return {"compliant": rate.compliant, "total": rate.total, "percent": rate.percent}


def org_matrix(
    session: Session,
    org: Organisation,
    now: datetime,
    page: int,
    per_page: int,
    *,
    site_id: int | None = None,
    job_role_id: int | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """The organisation's training matrix (lms.compliance), with its rows a page at a time."""
    from courses.recert import Status

    from ..compliance import org_compliance

    if status is not None and status not in {s.value for s in Status}:
        raise ServiceError(f"status must be one of: {', '.join(s.value for s in Status)}.")
    matrix = org_compliance(
        session, org.id, now, site_id=site_id, job_role_id=job_role_id, status=status
    )
    start = (page - 1) * per_page
    rows = []
    for row in matrix.rows[start : start + per_page]:
        w = row.worker
        rows.append(
            {
                "worker": {
                    "user_id": w.user_id,
                    "name": w.name,
                    "email": w.email,
                    "worker_ref": w.worker_ref,
                    "site": w.site_name,
                    "job_role": w.job_role_name,
                    "start_date": iso(w.start_date),
                },
                "cells": [
                    {
                        "module_code": cell.module_code,
                        "status": cell.status.value,
                        "completed_at": iso(cell.completed_at),
                        "expires_at": iso(cell.expires_at),
                        "source": cell.source,
                    }
                    for cell in sorted(row.cells.values(), key=lambda c: c.module_code)
                ],
            }
        )
    return {
        "organisation": {"slug": org.slug, "name": org.name},
        "as_of": iso(now),
        "expiring_days": matrix.expiring_days,
        "columns": [
            {"code": c.code, "title": c.title, "ascwds_category": c.ascwds_category}
            for c in matrix.columns
        ],
        "overall": _rate(matrix.overall),
        "by_module": {code: _rate(rate) for code, rate in sorted(matrix.by_module.items())},
        "counts": {status.value: n for status, n in matrix.counts.items()},
        "rows": rows,
        "page": page,
        "per_page": per_page,
        "total": len(matrix.rows),
        "has_more": start + per_page < len(matrix.rows),
    }
