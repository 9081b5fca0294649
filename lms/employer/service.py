"""Employer services: job roles, requirements, settings, sites, re-enrolment, snapshots, ASC-WDS.

Every function takes the session and the clock, audits what it changes in the same
transaction and never commits: the view or command that called it does.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.frameworks import ASCWDS_CATEGORY_CODES, CWP_ROLE_CATEGORIES
from courses.models import CatalogueModule
from courses.recert import Done, Policy, Status, cycles

from .. import audit
from ..compliance import active_employments, not_counting_ids, org_compliance, policy_for
from ..errors import Conflict, NotFound, ServiceError
from ..models import (
    Completion,
    CompletionSource,
    DeliveredBy,
    DeliveryMode,
    Employment,
    Enrolment,
    JobRole,
    Organisation,
    RecertMode,
    Requirement,
    Site,
    User,
)
from .models import ComplianceSnapshot


class InvalidSetting(ServiceError):
    code, status = "invalid_setting", 400


EXPIRING_CHOICES = (90, 60, 30)
RECERT_LABELS = {
    RecertMode.COMPLETION_DATE.value: "From the date completed",
    RecertMode.PREVIOUS_EXPIRY.value: "From the previous expiry (renewing early loses no time)",
    RecertMode.FIXED_DATE.value: "On a fixed date each year",
}


# --- job roles ---------------------------------------------------------------------------------


def job_role_of(session: Session, org_id: int, role_id: int) -> JobRole:
    role = session.get(JobRole, role_id)
    if role is None or role.org_id != org_id:
        raise NotFound("There is no such job role here.")
    return role


def _role_dict(role: JobRole) -> dict[str, Any]:
    return {"name": role.name, "cwp_category": role.cwp_category}


def save_job_role(
    session: Session,
    org: Organisation,
    actor: User | None,
    now: datetime,
    *,
    name: str,
    cwp_category: str,
    role_id: int | None = None,
) -> JobRole:
    name = " ".join(name.split())
    if not name:
        raise InvalidSetting("Give the job role a name.")
    if cwp_category not in CWP_ROLE_CATEGORIES:
        raise InvalidSetting("Choose a Care Workforce Pathway role category from the list.")
    clash = session.scalar(select(JobRole.id).where(JobRole.org_id == org.id, JobRole.name == name))
    if clash is not None and clash != role_id:
        raise Conflict(f"There is already a job role called {name!r}.")
    if role_id is None:
        role = JobRole(org_id=org.id, name=name, cwp_category=cwp_category)
        session.add(role)
        session.flush()
        before = None
        action = "job_role.created"
    else:
        role = job_role_of(session, org.id, role_id)
        before = _role_dict(role)
        role.name, role.cwp_category = name, cwp_category
        action = "job_role.changed"
    _audited(session, org, actor, now, action, ("job_role", role.id), before, _role_dict(role))
    return role


# --- requirements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequirementInput:
    module_code: str
    refresh: str  # "default", "never" or "custom"
    refresh_months: int | None
    recert_mode: str
    window_days: int
    fixed_month: int | None = None
    fixed_day: int | None = None
    min_active_months: int | None = None


def _req_dict(req: Requirement) -> dict[str, Any]:
    return {
        "job_role_id": req.job_role_id,
        "module_code": req.module_code,
        "refresh_months": req.refresh_months,
        "recert_mode": req.recert_mode,
        "window_days": req.window_days,
        "fixed_month": req.fixed_month,
        "fixed_day": req.fixed_day,
        "min_active_months": req.min_active_months,
    }


def requirement_of(session: Session, org_id: int, requirement_id: int) -> Requirement:
    req = session.get(Requirement, requirement_id)
    if req is None or req.org_id != org_id:
        raise NotFound("There is no such requirement here.")
    return req


def current_modules(session: Session) -> list[CatalogueModule]:
    return list(
        session.scalars(
            select(CatalogueModule)
            .where(CatalogueModule.is_current)
            .order_by(CatalogueModule.title)
        )
    )


def _resolve(session: Session, data: RequirementInput) -> tuple[int | None, Policy]:
    module = session.scalar(
        select(CatalogueModule).where(
            CatalogueModule.code == data.module_code, CatalogueModule.is_current
        )
    )
    if module is None:
        raise InvalidSetting("Choose a module from the catalogue.")
    if data.refresh == "default":
        months: int | None = None
    elif data.refresh == "never":
        months = 0
    elif data.refresh == "custom":
        if data.refresh_months is None or not 1 <= data.refresh_months <= 120:
            raise InvalidSetting("Give the refresh interval in months, from 1 to 120.")
        months = data.refresh_months
    else:
        raise InvalidSetting("Choose how often this must be refreshed.")
    if not 0 <= data.window_days <= 365:
        raise InvalidSetting("The re-enrolment window must be 0 to 365 days before expiry.")
    if data.recert_mode == RecertMode.FIXED_DATE.value and (
        data.fixed_month is None or data.fixed_day is None
    ):
        raise InvalidSetting("A fixed-date requirement needs the day and month it expires on.")
    if data.min_active_months is not None and not 0 <= data.min_active_months <= 24:
        raise InvalidSetting("The minimum active period must be 0 to 24 months.")
    try:
        policy = Policy(
            refresh_months=module.refresh_months if months is None else months,
            mode=data.recert_mode,
            window_days=data.window_days,
            fixed_month=data.fixed_month,
            fixed_day=data.fixed_day,
            min_active_months=data.min_active_months or 0,
        )
    except ValueError as err:
        raise InvalidSetting(
            {
                "a fixed-date requirement needs its month and day": (
                    "A fixed-date requirement needs the day and month it expires on."
                ),
                "the fixed month must be 1 to 12": "The month must be 1 to 12.",
                "the fixed day does not exist in that month": (
                    "That day does not exist in that month."
                ),
            }.get(str(err), "Choose how the expiry is worked out from the list.")
        ) from err
    return months, policy


def save_requirement(
    session: Session,
    org: Organisation,
    actor: User | None,
    now: datetime,
    role: JobRole,
    data: RequirementInput,
    *,
    requirement_id: int | None = None,
) -> Requirement:
    """Add or change what a job role must hold; audited as requirement.changed (before/after)."""
    if role.org_id != org.id:
        raise NotFound("There is no such job role here.")
    months, policy = _resolve(session, data)
    clash = session.scalar(
        select(Requirement.id).where(
            Requirement.job_role_id == role.id, Requirement.module_code == data.module_code
        )
    )
    if clash is not None and clash != requirement_id:
        raise Conflict("This job role already requires that module: change that one instead.")
    fixed = policy.mode == RecertMode.FIXED_DATE.value
    values = {
        "module_code": data.module_code,
        "refresh_months": months,
        "recert_mode": policy.mode,
        "window_days": policy.window_days,
        "fixed_month": policy.fixed_month if fixed else None,
        "fixed_day": policy.fixed_day if fixed else None,
        "min_active_months": policy.min_active_months if fixed else None,
    }
    if requirement_id is None:
        req = Requirement(org_id=org.id, job_role_id=role.id, **values)
        session.add(req)
        session.flush()
        before = None
    else:
        req = requirement_of(session, org.id, requirement_id)
        if req.job_role_id != role.id:
            raise NotFound("There is no such requirement for this job role.")
        before = _req_dict(req)
        for key, value in values.items():
            setattr(req, key, value)
    change = ("requirement", req.id)
    _audited(session, org, actor, now, "requirement.changed", change, before, _req_dict(req))
    return req


def remove_requirement(
    session: Session, org: Organisation, actor: User | None, now: datetime, requirement_id: int
) -> None:
    req = requirement_of(session, org.id, requirement_id)
    before = _req_dict(req)
    session.delete(req)
    change = ("requirement", requirement_id)
    _audited(session, org, actor, now, "requirement.changed", change, before, None, "removed")


# --- settings and sites ------------------------------------------------------------------------


def set_expiring_days(
    session: Session, org: Organisation, actor: User | None, now: datetime, days: int
) -> None:
    if days not in EXPIRING_CHOICES:
        raise InvalidSetting("Choose 90, 60 or 30 days.")
    if org.expiring_days == days:
        return  # nothing changes, nothing to audit
    _set_setting(session, org, actor, now, "expiring_days", days)


def set_workplace_id(
    session: Session, org: Organisation, actor: User | None, now: datetime, value: str | None
) -> None:
    _set_setting(session, org, actor, now, "ascwds_workplace_id", _workplace_id(value))


def _workplace_id(value: str | None) -> str | None:
    """An ASC-WDS workplace id as typed (spaces around it dropped), or None when empty."""
    value = (value or "").strip() or None
    if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,50}", value):
        raise InvalidSetting("The ASC-WDS workplace id is letters, digits, - or _ only.")
    return value


def _set_setting(
    session: Session, org: Organisation, actor: User | None, now: datetime, name: str, value: Any
) -> None:
    """Change one of the organisation's settings (an attribute of Organisation), audited."""
    before = {name: getattr(org, name)}
    setattr(org, name, value)
    change = ("organisation", org.id)
    _audited(
        session, org, actor, now, "organisation.settings_changed", change, before, {name: value}
    )


def _audited(
    session: Session,
    org: Organisation,
    actor: User | None,
    now: datetime,
    action: str,
    entity: tuple[str, int],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str | None = None,
) -> None:
    """Write a change to the organisation's set-up, then audit it: `entity` is the type and id
    of what changed, `before` and `after` its values (None: it did not exist)."""
    session.flush()
    entity_type, entity_id = entity
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        now=now,
        org_id=org.id,
        before=before,
        after=after,
        reason=reason,
    )


def save_site(
    session: Session,
    org: Organisation,
    actor: User | None,
    now: datetime,
    *,
    name: str,
    cqc_location_id: str | None,
    ascwds_workplace_id: str | None,
    site_id: int | None = None,
) -> Site:
    name = " ".join(name.split())
    if not name:
        raise InvalidSetting("Give the site a name.")
    cqc = (cqc_location_id or "").strip() or None
    if cqc is not None and not re.fullmatch(r"1-\d{6,12}", cqc):
        raise InvalidSetting("A CQC location id looks like 1-123456789.")
    wp = _workplace_id(ascwds_workplace_id)
    clash = session.scalar(select(Site.id).where(Site.org_id == org.id, Site.name == name))
    if clash is not None and clash != site_id:
        raise Conflict(f"There is already a site called {name!r}.")
    if site_id is None:
        site = Site(org_id=org.id, name=name)
        session.add(site)
        before = None
    else:
        site = session.get(Site, site_id)
        if site is None or site.org_id != org.id:
            raise NotFound("There is no such site here.")
        before = {
            "name": site.name,
            "cqc_location_id": site.cqc_location_id,
            "ascwds_workplace_id": site.ascwds_workplace_id,
        }
    site.name, site.cqc_location_id, site.ascwds_workplace_id = name, cqc, wp
    session.flush()
    _audited(
        session,
        org,
        actor,
        now,
        "site.created" if before is None else "site.changed",
        ("site", site.id),
        before,
        {"name": name, "cqc_location_id": cqc, "ascwds_workplace_id": wp},
    )
    return site


# --- re-enrolment when the window opens --------------------------------------------------------


@dataclass(frozen=True)
class EnrolResult:
    created: list[tuple[int, str]]  # (user id, module code)
    reopened: list[tuple[int, str]]


def ensure_enrolments(
    session: Session, org_id: int, now: datetime, actor: User | None = None
) -> EnrolResult:
    """Every worker has an enrolment for each required module that is missing or in its window.

    Idempotent: an existing enrolment is kept (one per worker, organisation and module). When
    the window of an existing enrolment opens again its due date moves to the new expiry, so
    "My learning" shows the module as due again; each creation is audited as
    enrolment.created, each reopening as enrolment.reopened (the due date before and after).
    """
    matrix = org_compliance(session, org_id, now)
    existing = {
        (e.user_id, e.module_code): e
        for e in session.scalars(select(Enrolment).where(Enrolment.org_id == org_id))
    }
    created: list[tuple[int, str]] = []
    reopened: list[tuple[int, str]] = []
    for row in matrix.rows:
        for code, cell in row.cells.items():
            due_now = cell.status is Status.MISSING or (
                cell.window_opens is not None and now >= cell.window_opens
            )
            if not due_now:
                continue
            due = cell.expires_at.date() if cell.expires_at else None
            key = (row.worker.user_id, code)
            enrolment = existing.get(key)
            if enrolment is None:
                enrolment = Enrolment(
                    user_id=row.worker.user_id,
                    org_id=org_id,
                    module_code=code,
                    assigned_at=now,
                    due_on=due,
                )
                session.add(enrolment)
                session.flush()
                existing[key] = enrolment
                created.append(key)
                after = {"module_code": code, "due_on": _day(due), "reason": cell.status.value}
                _audit_enrolment(session, actor, now, "enrolment.created", enrolment, None, after)
            elif due is not None and enrolment.due_on != due:
                before = {"module_code": code, "due_on": _day(enrolment.due_on)}
                enrolment.due_on = due
                reopened.append(key)
                after = {"module_code": code, "due_on": _day(due), "reason": cell.status.value}
                _audit_enrolment(
                    session, actor, now, "enrolment.reopened", enrolment, before, after
                )
    session.flush()
    return EnrolResult(created, reopened)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _audit_enrolment(
    session: Session,
    actor: User | None,
    now: datetime,
    action: str,
    enrolment: Enrolment,
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> None:
    """Audit an enrolment made or moved by the re-enrolment run (by `actor`, else the system)."""
    audit.record(
        session,
        actor=actor,
        actor_label=None if actor else "system",
        action=action,
        entity_type="enrolment",
        entity_id=enrolment.id,
        now=now,
        org_id=enrolment.org_id,
        subject_user_id=enrolment.user_id,
        before=before,
        after=after,
    )


# --- compliance over time ----------------------------------------------------------------------


def take_snapshot(session: Session, org_id: int, now: datetime) -> list[ComplianceSnapshot]:
    """Today's % compliant for the organisation and each site (replaces today's if taken)."""
    matrix = org_compliance(session, org_id, now)
    day = now.date()
    scopes: list[tuple[str, int | None, Any]] = [("org", None, matrix.overall)]
    site_counts: dict[int | None, dict[str, int]] = {}
    org_counts = {s.value: n for s, n in matrix.counts.items()}
    for row in matrix.rows:
        counts = site_counts.setdefault(row.worker.site_id, dict.fromkeys(org_counts, 0))
        for cell in row.cells.values():
            counts[cell.status.value] += 1
    for site in matrix.sites:
        scopes.append((f"site:{site.id}", site.id, matrix.by_site.get(site.id)))
    existing = {
        s.scope: s
        for s in session.scalars(
            select(ComplianceSnapshot).where(
                ComplianceSnapshot.org_id == org_id, ComplianceSnapshot.day == day
            )
        )
    }
    out = []
    for scope, site_id, rate in scopes:
        counts = org_counts if site_id is None else site_counts.get(site_id, {})
        snap = existing.get(scope) or ComplianceSnapshot(
            org_id=org_id, scope=scope, site_id=site_id, day=day
        )
        snap.percent = rate.percent if rate is not None else None
        snap.compliant = rate.compliant if rate is not None else 0
        snap.total = rate.total if rate is not None else 0
        snap.counts = dict(counts)
        snap.taken_at = now
        session.add(snap)
        out.append(snap)
    session.flush()
    return out


def snapshot_history(
    session: Session, org_id: int, today: date, days: int = 365, scope: str = "org"
) -> list[ComplianceSnapshot]:
    return list(
        session.scalars(
            select(ComplianceSnapshot)
            .where(
                ComplianceSnapshot.org_id == org_id,
                ComplianceSnapshot.scope == scope,
                ComplianceSnapshot.day > today - timedelta(days=days),
            )
            .order_by(ComplianceSnapshot.day)
        )
    )


# --- ASC-WDS training bulk upload --------------------------------------------------------------

ASCWDS_COLUMNS = (
    "LOCALESTID",
    "UNIQUEWORKERID",
    "CATEGORY",
    "TRAININGNAME",
    "ACCREDITED",
    "WHODELIVERED",
    "PROVIDERNAME",
    "HOWDELIVERED",
    "VALIDITY",
    "DATECOMPLETED",
    "EXPIRYDATE",
    "NOTES",
)
# What ASC-WDS's training bulk-upload validator checks (the public ASC-WDS code,
# NMDSdevopsServiceAdm/SopraSteria-SFC: lambdas/bulkUpload/classes/trainingCSVValidator.js and
# its tests, and backend/server/routes/establishments/bulkUpload/download/trainingCSV.js, which
# writes these same 12 columns in this order):
# - LOCALESTID and UNIQUEWORKERID are required, at most 50 characters (our columns hold 50);
# - TRAININGNAME at most 120, NOTES at most 1,000 characters;
# - DATECOMPLETED is DD/MM/YYYY and not in the future; EXPIRYDATE is after it;
# - VALIDITY is "none" or 1 to 999 months, and EXPIRYDATE should be DATECOMPLETED plus VALIDITY
#   months less one day (else a warning): EXPIRYDATE is the last day the training is valid;
# - PROVIDERNAME is read only when WHODELIVERED is 2 (external); otherwise it is a warning.
#   Its length is not checked there; we keep provider names to 120 characters.
TRAININGNAME_MAX = 120
PROVIDERNAME_MAX = 120
NOTES_MAX = 1000
UK = ZoneInfo("Europe/London")


def clean_text(value: str | None, limit: int) -> str:
    """One line of plain text: control characters and line breaks become single spaces, and
    no leading = + - @ (a spreadsheet would run the cell as a formula: CSV injection)."""
    if not value:
        return ""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", value)
    text = " ".join(text.split()).lstrip("=+-@ ")
    return text[:limit].rstrip()


def uk_date(value: datetime | date | None) -> str:
    """DD/MM/YYYY; a moment is dated as it was in the UK (23:30 UTC in June is the next day)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(UK).date() if value.tzinfo else value.date()
    return value.strftime("%d/%m/%Y")


def last_valid_day(expires_at: datetime | None) -> date | None:
    """ASC-WDS's EXPIRYDATE: the last UK day on which the training is still valid, i.e. the
    day before the one it runs out on (completed 21/04/2024, 24 months: 20/04/2026)."""
    if expires_at is None:
        return None
    when = expires_at.astimezone(UK) if expires_at.tzinfo else expires_at
    return when.date() - timedelta(days=1)


def accredited_code(value: bool | None) -> str:
    return "999" if value is None else ("1" if value else "0")


def who_delivered(completion: Completion) -> str:
    who = completion.delivered_by
    if who is None:
        # Our own courses and the Care Certificate award are delivered by the employer itself.
        own = completion.source in (CompletionSource.COURSE.value, CompletionSource.AWARD.value)
        who = DeliveredBy.IN_HOUSE.value if own else DeliveredBy.EXTERNAL.value
    return "1" if who == DeliveredBy.IN_HOUSE.value else "2"


def how_delivered(completion: Completion) -> str:
    """1 face to face, 2 e-learning. Blended counts as face to face: what makes it blended is
    the part done in person (an observed practice session), which e-learning alone is not."""
    how = completion.delivery_mode
    if how is None:
        if completion.source == CompletionSource.COURSE.value:
            how = DeliveryMode.E_LEARNING.value
        elif completion.source == CompletionSource.AWARD.value:
            how = DeliveryMode.BLENDED.value
        else:
            return ""
    return "2" if how == DeliveryMode.E_LEARNING.value else "1"


@dataclass(frozen=True)
class AscwdsRow:
    values: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, str]:
        return dict(zip(ASCWDS_COLUMNS, self.values, strict=True))


def ascwds_rows(session: Session, org_id: int, now: datetime | None = None) -> list[AscwdsRow]:
    """One row per completion that counts: this organisation's, of a worker employed here
    (today), not withdrawn; every past completion is its own training record."""
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("There is no such organisation.")
    today = (now or datetime.now().astimezone()).date()
    workers = {w.user_id: w for w in active_employments(session, org_id, today)}
    sites = {s.id: s for s in session.scalars(select(Site).where(Site.org_id == org_id))}
    reqs = {
        (r.job_role_id, r.module_code): r
        for r in session.scalars(select(Requirement).where(Requirement.org_id == org_id))
    }
    withdrawn = not_counting_ids(session, org_id)
    q = (
        select(Completion, CatalogueModule)
        .join(CatalogueModule, CatalogueModule.id == Completion.module_id)
        .where(Completion.org_id == org_id)
        .order_by(Completion.user_id, CatalogueModule.code, Completion.completed_at, Completion.id)
    )
    grouped: dict[tuple[int, str], list[tuple[Completion, CatalogueModule]]] = {}
    for completion, module in session.execute(q):
        if completion.user_id in workers and completion.id not in withdrawn:
            grouped.setdefault((completion.user_id, module.code), []).append((completion, module))
    rows: list[AscwdsRow] = []
    for (user_id, code), items in grouped.items():
        worker = workers[user_id]
        req = reqs.get((worker.job_role_id, code)) if worker.job_role_id else None
        default_months = items[-1][1].refresh_months
        policy = policy_for(req, default_months) if req is not None else Policy(default_months)
        expiry = {
            c.done.ref: c.expires_at
            for c in cycles(policy, [Done(c.completed_at, c.id, c.source) for c, _ in items])
        }
        site = sites.get(worker.site_id) if worker.site_id else None
        estid = (site.ascwds_workplace_id if site else None) or org.ascwds_workplace_id or ""
        for completion, module in items:
            warnings = []
            category = ASCWDS_CATEGORY_CODES.get(module.ascwds_category)
            if category is None:
                warnings.append(f"{module.code}: no ASC-WDS code for {module.ascwds_category!r}")
            if not estid:
                warnings.append("no ASC-WDS workplace id (LOCALESTID) for this site")
            who = who_delivered(completion)
            # ASC-WDS reads a provider only for external training (in-house: a warning).
            provider = completion.provider_name if who == "2" else None
            values = (
                estid,
                worker.worker_ref,
                str(category) if category is not None else "",
                clean_text(module.title, TRAININGNAME_MAX),
                accredited_code(completion.accredited),
                who,
                clean_text(provider, PROVIDERNAME_MAX),
                how_delivered(completion),
                str(policy.refresh_months) if policy.expires else "none",
                uk_date(completion.completed_at),
                uk_date(last_valid_day(expiry.get(completion.id))),
                clean_text(completion.notes, NOTES_MAX),
            )
            rows.append(AscwdsRow(values, tuple(warnings)))
    return rows


def ascwds_csv(rows: Sequence[AscwdsRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ASCWDS_COLUMNS)
    for row in rows:
        writer.writerow(row.values)
    return out.getvalue()


def employment_of(session: Session, org_id: int, user_id: int) -> Employment | None:
    return session.scalar(
        select(Employment).where(Employment.org_id == org_id, Employment.user_id == user_id)
    )
