"""Builders for employer tests: an organisation with sites, roles, requirements and staff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from courses.models import CatalogueModule
from lms.extensions import db
from lms.models import (
    Completion,
    Employment,
    JobRole,
    Membership,
    Organisation,
    Requirement,
    Role,
    Site,
    User,
)

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def module(code: str) -> CatalogueModule:
    m = db.session.scalar(
        select(CatalogueModule).where(CatalogueModule.code == code, CatalogueModule.is_current)
    )
    assert m is not None, code
    return m


def org(slug: str = "acme", kind: str = "care_provider", **kw: Any) -> Organisation:
    o = Organisation(slug=slug, name=slug.title() + " Care", kind=kind, created_at=NOW, **kw)
    db.session.add(o)
    db.session.flush()
    return o


def user(email: str, name: str, org_: Organisation | None = None, role: Role | None = None) -> User:
    u = User(email=email, name=name, password_hash="x", active=True, created_at=NOW)
    db.session.add(u)
    db.session.flush()
    if org_ is not None and role is not None:
        db.session.add(Membership(user_id=u.id, org_id=org_.id, role=role.value))
        db.session.flush()
    return u


def site(org_: Organisation, name: str, **kw: Any) -> Site:
    s = Site(org_id=org_.id, name=name, **kw)
    db.session.add(s)
    db.session.flush()
    return s


def job_role(org_: Organisation, name: str, cwp: str = "CSW") -> JobRole:
    r = JobRole(org_id=org_.id, name=name, cwp_category=cwp)
    db.session.add(r)
    db.session.flush()
    return r


def require(role: JobRole, code: str, **kw: Any) -> Requirement:
    r = Requirement(org_id=role.org_id, job_role_id=role.id, module_code=code, **kw)
    db.session.add(r)
    db.session.flush()
    return r


def employ(
    org_: Organisation, u: User, role: JobRole | None, s: Site | None, ref: str, **kw: Any
) -> Employment:
    e = Employment(
        org_id=org_.id,
        user_id=u.id,
        job_role_id=role.id if role else None,
        site_id=s.id if s else None,
        worker_ref=ref,
        **kw,
    )
    db.session.add(e)
    db.session.flush()
    return e


def complete(
    org_: Organisation, u: User, code: str, at: datetime, source: str = "external", **kw: Any
) -> Completion:
    c = Completion(
        user_id=u.id,
        org_id=org_.id,
        module_id=module(code).id,
        source=source,
        completed_at=at,
        **kw,
    )
    db.session.add(c)
    db.session.flush()
    return c


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)
