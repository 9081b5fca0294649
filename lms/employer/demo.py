"""Demo data of this area, called by `flask --app wsgi demo` (development instances only).

Oakview Care as a residential care provider with two homes: six job roles mapped to the Care
Workforce Pathway, requirements drawn from the catalogue (with each recertification mode used
somewhere), 30 staff (the four demo users and 26 more) and back-dated training records that give
a realistic mix of up to date, expiring, expired and missing, plus six months of weekly
compliance figures for the chart. Safe to run again: it never duplicates anything.
"""

from __future__ import annotations

import random
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.completion import add_months
from courses.models import CatalogueModule

from ..accounts import ensure_membership, normalise_email
from ..issuance import IssuanceContext
from ..models import (
    DeliveryMode,
    Employment,
    JobRole,
    Organisation,
    Requirement,
    Role,
    Site,
    User,
)
from . import service

SITES = (
    ("Oakview House", "1-100000001", "OAKVIEW-H"),
    ("Beech Court", "1-100000002", "BEECH-C"),
)
EVERYONE = ("FIRE-01", "HSA-01", "IPC-01", "SGA-01", "DIG-01")
CARE = (*EVERYONE, "AMP-01", "BLS-01", "DEM-01", "MCA-01", "SGC-01", "OMMT-E")
# name -> (CWP category, modules)
ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Care worker": ("CSW", CARE),
    "Senior care worker": ("ECW", (*CARE, "MED-01")),
    "Team leader": ("SUP", (*CARE, "MED-01", "DIG-02")),
    "Registered manager": ("RM", (*EVERYONE, "MCA-01", "RM-01", "DIG-03")),
    "Kitchen assistant": ("ALL", (*EVERYONE, "FOOD-01", "MHO-01")),
    "Activities coordinator": ("ALL", (*EVERYONE, "DEM-01", "MHO-01")),
}
# Policies that differ from the module's default, to show every mode.
OVERRIDES: dict[tuple[str, str], dict[str, object]] = {
    # Fire training for the whole team each spring, counting at least six months.
    **{
        (role, "FIRE-01"): {
            "recert_mode": "fixed_date",
            "fixed_month": 3,
            "fixed_day": 31,
            "min_active_months": 6,
        }
        for role in ROLES
    },
    ("Senior care worker", "MED-01"): {"recert_mode": "previous_expiry", "window_days": 60},
    ("Team leader", "MED-01"): {"recert_mode": "previous_expiry", "window_days": 60},
    ("Activities coordinator", "DEM-01"): {"refresh_months": 0},  # does not expire here
    ("Care worker", "BLS-01"): {"window_days": 45},
}
DEMO_ROLES = {
    Role.LEARNER: ("Care worker", 0),
    Role.MENTOR: ("Senior care worker", 0),
    Role.MANAGER: ("Registered manager", 0),
    Role.ADMIN: ("Team leader", 1),
}
STAFF = (
    ("Adebayo Ogunleye", "Care worker", 0),
    ("Bethany Clarke", "Care worker", 0),
    ("Chidi Nwosu", "Care worker", 0),
    ("Dorota Kowalska", "Care worker", 0),
    ("Ewan MacLeod", "Care worker", 0),
    ("Fatima Begum", "Care worker", 0),
    ("Gurpreet Sandhu", "Senior care worker", 0),
    ("Hannah O'Connor", "Kitchen assistant", 0),
    ("Imran Hussain", "Activities coordinator", 0),
    ("Joy Mensah-Boateng", "Care worker", 0),
    ("Krisztina Varga", "Team leader", 0),
    ("Leon Francis", "Care worker", 0),
    ("Maria Santos", "Care worker", 0),
    ("Nkechi Eze", "Care worker", 1),
    ("Owen Pritchard", "Care worker", 1),
    ("Priyanka Patel", "Senior care worker", 1),
    ("Rhys Jenkins", "Care worker", 1),
    ("Siobhan Kelly", "Care worker", 1),
    ("Tendai Moyo", "Care worker", 1),
    ("Ursula Nowak", "Kitchen assistant", 1),
    ("Vikram Rao", "Care worker", 1),
    ("Wiktoria Zielinska", "Care worker", 1),
    ("Xavier Thompson", "Senior care worker", 1),
    ("Yasmin Ali", "Activities coordinator", 1),
    ("Zainab Hassan", "Care worker", 1),
    ("Samuel Osei", "Care worker", 1),
)
PROVIDERS = (
    ("Northgate Care Training Ltd", DeliveryMode.FACE_TO_FACE, "yes"),
    ("County Fire Safety Services", DeliveryMode.BLENDED, "yes"),
    ("Riverside Training Partnership", DeliveryMode.E_LEARNING, "no"),
    ("Health and care e-learning provider", DeliveryMode.E_LEARNING, "unknown"),
)


def _email(name: str) -> str:
    local = "".join(ch for ch in name.lower().replace(" ", ".") if ch.isalnum() or ch in ".-")
    return normalise_email(f"{local}@example.com")


def _site(session: Session, org: Organisation, name: str, cqc: str, wp: str) -> Site:
    site = session.scalar(select(Site).where(Site.org_id == org.id, Site.name == name))
    if site is None:
        site = Site(org_id=org.id, name=name, cqc_location_id=cqc, ascwds_workplace_id=wp)
        session.add(site)
        session.flush()
    return site


def _roles(session: Session, org: Organisation, codes: set[str]) -> dict[str, JobRole]:
    out = {}
    for name, (cwp, modules) in ROLES.items():
        role = session.scalar(select(JobRole).where(JobRole.org_id == org.id, JobRole.name == name))
        if role is None:
            role = JobRole(org_id=org.id, name=name, cwp_category=cwp)
            session.add(role)
            session.flush()
        have = {r.module_code for r in role.requirements}
        for code in modules:
            if code in have or code not in codes:
                continue
            values: dict[str, object] = {"window_days": 90, "recert_mode": "completion_date"}
            values.update(OVERRIDES.get((name, code), {}))
            session.add(Requirement(org_id=org.id, job_role_id=role.id, module_code=code, **values))
        session.flush()
        session.refresh(role)
        out[name] = role
    return out


def _employ(
    session: Session,
    org: Organisation,
    user: User,
    role: JobRole,
    site: Site,
    ref: str,
    start: date,
) -> bool:
    """True when the employment is new (and so its training records should be seeded)."""
    exists = session.scalar(
        select(Employment.id).where(Employment.org_id == org.id, Employment.user_id == user.id)
    )
    if exists is not None:
        return False
    session.add(
        Employment(
            org_id=org.id,
            user_id=user.id,
            job_role_id=role.id,
            site_id=site.id,
            worker_ref=ref,
            start_date=start,
        )
    )
    session.flush()
    return True


def _record(
    session: Session,
    org: Organisation,
    recorder: User,
    user: User,
    module: CatalogueModule,
    at: datetime,
    rng: random.Random,
    now: datetime,
) -> None:
    """A back-dated record of training done elsewhere, through the external-records service."""
    from ..external.service import ExternalInput, record_external

    name, how, accredited = rng.choice(PROVIDERS)
    record_external(
        session,
        org,
        recorder,
        ExternalInput(
            user_id=user.id,
            module_code=module.code,
            provider_name=name,
            completed_on=at.date(),
            delivery_mode=how.value,
            accredited=accredited,
            variant=((module.external or {}).get("variants") or [None])[0],
            certificate_number=f"DEMO-{user.id}-{module.code}-{at:%Y%m%d}",
            notes="Demo record",
        ),
        now,
        Path(current_app.config["EVIDENCE_DIR"]) / "external",
    )


def _seed_training(
    session: Session,
    org: Organisation,
    recorder: User,
    user: User,
    role: JobRole,
    modules: dict[str, CatalogueModule],
    rng: random.Random,
    now: datetime,
) -> None:
    for req in role.requirements:
        module = modules.get(req.module_code)
        if module is None:
            continue
        months = module.refresh_months if req.refresh_months is None else req.refresh_months
        roll = rng.random()
        if roll < 0.12:
            continue  # missing
        if months <= 0:
            _record(
                session,
                org,
                recorder,
                user,
                module,
                now - timedelta(days=rng.randint(30, 900)),
                rng,
                now,
            )
            continue
        span = (add_months(now, months) - now).days
        if roll < 0.22:  # expiring within the next 10-80 days
            at = now - timedelta(days=span - rng.randint(10, 80))
        elif roll < 0.30:  # expired 5-200 days ago
            at = now - timedelta(days=span + rng.randint(5, 200))
        else:  # up to date, with room to spare
            at = now - timedelta(days=rng.randint(20, max(21, span - 120)))
            if rng.random() < 0.3:  # and an earlier round kept as history
                _record(
                    session, org, recorder, user, module, at - timedelta(days=span - 20), rng, now
                )
        if req.recert_mode == "fixed_date" and roll >= 0.30:
            at = now - timedelta(days=rng.randint(20, 150))
        _record(session, org, recorder, user, module, at, rng, now)


def seed(
    session: Session,
    ctx: IssuanceContext,
    org: Organisation,
    users: dict[Role, User],
    now: datetime,
) -> None:
    """Create (or keep) this area's demo records. Safe to run again: never duplicates."""
    org.ascwds_workplace_id = org.ascwds_workplace_id or "OAKVIEW"
    modules = {
        m.code: m
        for m in session.scalars(select(CatalogueModule).where(CatalogueModule.is_current))
    }
    sites = [_site(session, org, *s) for s in SITES]
    roles = _roles(session, org, set(modules))
    rng = random.Random(2026)  # noqa: S311  (demo data, not security)
    recorder = users[Role.MANAGER]
    unusable: str | None = None
    people: list[tuple[User, str, int]] = [
        (users[r], role_name, site_ix) for r, (role_name, site_ix) in DEMO_ROLES.items()
    ]
    for name, role_name, site_ix in STAFF:
        email = _email(name)
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            if unusable is None:
                # A random password nobody knows, hashed once: these staff cannot log in.
                unusable = current_app.extensions["password_hasher"].hash(secrets.token_urlsafe(32))
            user = User(email=email, name=name, password_hash=unusable, active=True, created_at=now)
            session.add(user)
            session.flush()
        ensure_membership(session, user, org, Role.LEARNER)
        people.append((user, role_name, site_ix))
    for n, (user, role_name, site_ix) in enumerate(people, start=1):
        role = roles[role_name]
        start = (now - timedelta(days=rng.randint(120, 2500))).date()
        if _employ(session, org, user, role, sites[site_ix], f"OV{n:04d}", start):
            _seed_training(session, org, recorder, user, role, modules, rng, now)
    # Weekly compliance figures for the last six months, and today's.
    for weeks in range(26, -1, -1):
        service.take_snapshot(session, org.id, now - timedelta(weeks=weeks))
