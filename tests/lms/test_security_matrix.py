"""Every route x role: who gets through and who is refused (tests/lms/access_rules.py).

Built from the app's URL map, so a route added without an entry in the rules table fails here
by name. The demo organisation (Oakview) provides the learner, mentor, manager and admin and
the records the URLs point at; a second organisation (Riverside) provides "other", its manager.
POSTs are sent empty with CSRF off: they test authorisation, not validation.

Set SECURITY_MATRIX_SHOW=1 to print the observed table (for writing rules for new routes).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import import_module
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule

from lms.accounts import ensure_membership, get_or_create_org, get_or_create_user
from lms.api import tokens
from lms.errors import ServiceError
from lms.extensions import db
from lms.models import (
    IssuedCredential,
    JobRole,
    QuizAttempt,
    Requirement,
    Role,
    Site,
    StatusList,
    User,
)

from .access_rules import BAD, DENIED, LOGIN, OK, REDIRECT, ROLES, RULES, Access, Expect

OTHER_EMAIL = "other-manager@example.com"
OTHER_PASSWORD = "riverside-manager-password"
MISSING = 999_999_999  # an id nothing has
_PARAM = re.compile(r"<(?:([a-z]+):)?([a-z_]+)>")
EMAILS = {
    "learner": "learner@example.com",
    "mentor": "mentor@example.com",
    "manager": "manager@example.com",
    "admin": "admin@example.com",
}


def _first_id(module: str, name: str, **where: Any) -> int | None:
    """The first row's id of an area's model, or None if the area or its rows do not exist."""
    try:
        model = getattr(import_module(module), name)
    except (ImportError, AttributeError):
        return None
    query = select(model.id)
    for column, value in where.items():
        if column == "has_evidence":
            stored = getattr(model, "evidence_stored_name", None)
            if stored is None:
                return None
            query = query.where(stored.is_not(None))
        elif hasattr(model, column):
            query = query.where(getattr(model, column) == value)
    return db.session.scalar(query.order_by(model.id).limit(1))


def _import_token(org_id: int) -> str | None:
    try:
        from lms.staff.models import ImportBatch
    except ImportError:
        return None
    return db.session.scalar(select(ImportBatch.token).where(ImportBatch.org_id == org_id))


def _seed_export(kind: str, org_id: int | None, requested_by: User) -> tuple[int, str]:
    """A finished export with one file on disk, as a job leaves it: (id, file name)."""
    from lms.jobs.exports import export_dir
    from lms.models import Export, ExportStatus

    name = f"matrix-{kind}.{'pdf' if kind == 'evidence_pack' else 'zip'}"
    (export_dir() / name).write_bytes(b"a test file")
    now = datetime.now(UTC)
    export = Export(
        kind=kind,
        org_id=org_id,
        requested_by_id=requested_by.id,
        status=ExportStatus.DONE.value,
        files=[name],
        created_at=now,
        finished_at=now,
    )
    db.session.add(export)
    db.session.flush()
    return export.id, name


def _seed_transfer_review(app: Flask, org: Any, learner: User) -> int | None:
    """A transfer review of the learner's certificate from her previous employer (the demo's
    Riverside), uploaded through the transfers service; None if that area is not there."""
    try:
        from lms.transfers import service as transfers
    except ImportError:
        return None
    from lms.issuance import IssuanceContext

    previous = db.session.scalar(
        select(IssuedCredential).where(
            IssuedCredential.user_id == learner.id, IssuedCredential.org_id != org.id
        )
    )
    manager = db.session.scalar(select(User).where(User.email == EMAILS["manager"]))
    if previous is None or manager is None:
        return None
    try:
        review = transfers.upload(
            db.session,
            IssuanceContext.from_config(app.config),
            org,
            manager,
            worker_id=learner.id,
            data=previous.token.encode(),
            file_name="previous.jwt",
            qr_text=None,
            other_email=None,
            now=datetime.now(UTC),
        )
    except (ServiceError, TypeError):  # refused, or its signature changed: the rule is unchecked
        db.session.rollback()
        return None
    db.session.commit()
    return int(review.id)


def _values(app: Flask) -> dict[str, Any]:
    """The URL parameter values: Oakview's records (and a token of its own)."""
    from lms.models import Organisation

    org = db.session.scalar(select(Organisation).where(Organisation.slug == "oakview"))
    assert org is not None
    learner = db.session.scalar(select(User).where(User.email == EMAILS["learner"]))
    assert learner is not None
    cred = db.session.scalar(
        select(IssuedCredential)
        .where(IssuedCredential.user_id == learner.id, IssuedCredential.org_id == org.id)
        .limit(1)
    )
    attempt = db.session.scalar(
        select(QuizAttempt).where(QuizAttempt.user_id == learner.id).order_by(QuizAttempt.id)
    )
    role = db.session.scalar(select(JobRole).where(JobRole.org_id == org.id).order_by(JobRole.id))
    requirement = (
        db.session.scalar(select(Requirement).where(Requirement.job_role_id == role.id))
        if role is not None
        else None
    )
    site = db.session.scalar(select(Site).where(Site.org_id == org.id).order_by(Site.id))
    status_list = db.session.scalar(select(StatusList).where(StatusList.org_id == org.id))
    token_row, _ = tokens.create_token(
        db.session, org, "matrix", ["learners:read"], datetime.now(UTC), actor_label="test"
    )
    observation = _first_id("lms.assess.models", "Observation", org_id=org.id)
    review = _first_id("lms.transfers.models", "TransferReview", org_id=org.id)
    if review is None:
        review = _seed_transfer_review(app, org, learner)
    manager = db.session.scalar(select(User).where(User.email == EMAILS["manager"]))
    assert manager is not None
    pack_id, pack_file = _seed_export("evidence_pack", org.id, manager)
    zip_id, zip_file = _seed_export("certificates", None, learner)
    db.session.commit()
    observed_code = None
    if observation is not None:
        from lms.assess.models import Observation

        observed = db.session.get(Observation, observation)
        observed_code = getattr(observed, "module_code", None)
    values: dict[str, Any] = {
        "slug": org.slug,
        "user_id": learner.id,
        "learner_id": learner.id,
        "code": "HSA-01",
        "observed_code": observed_code or "HSA-01",
        "module_code": "HSA-01",
        "position": 1,
        "attempt_id": attempt.id if attempt else MISSING,
        "short_id": cred.short_id if cred else "nothing",
        "observation_id": observation or MISSING,
        "evidence_id": _first_id("lms.assess.models", "EvidenceFile") or MISSING,
        "record_id": _first_id("lms.external.models", "ExternalRecord", org_id=org.id) or MISSING,
        "role_id": role.id if role else MISSING,
        "req_id": requirement.id if requirement else MISSING,
        "site_id": site.id if site else MISSING,
        "review_id": review or MISSING,
        "item_id": _first_id("lms.transfers.models", "TransferItem", review_id=review) or MISSING,
        "trust_id": _first_id("lms.transfers.models", "OrgTrustList", org_id=org.id) or MISSING,
        "token_id": token_row.id,
        "token": "no-such-token",
        "import_token": _import_token(org.id) or MISSING,
        "record_evidence": _first_id(
            "lms.external.models", "ExternalRecord", org_id=org.id, has_evidence=True
        )
        or MISSING,
        "number": 1,
        "purpose": "revocation",
        "list_number": status_list.number if status_list else 0,
        "filename": "app.css",
        "language": "hi",
        "pack_id": pack_id,
        "pack_file": pack_file,
        "zip_id": zip_id,
        "zip_file": zip_file,
    }
    return values


def url_for_rule(rule: Rule, access: Access, values: dict[str, Any]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(2)
        key = access.params.get(name, name)
        assert key in values, f"{rule.endpoint}: no value for URL parameter {name!r} ({key!r})"
        return str(values[key])

    return _PARAM.sub(fill, rule.rule)


def classify(status: int, location: str, method: str) -> str:
    if method == "GET" and status == 400:
        return BAD
    if status in (301, 302, 303, 307, 308):
        return LOGIN if "/auth/login" in location else REDIRECT
    if status == 401:
        return LOGIN
    if status in (403, 404):
        return DENIED
    if status >= 500:
        return f"error {status}"
    if status == 405:
        return "method not allowed"
    return OK


def matches(observed: str, expected: Expect, status: int, method: str) -> bool:
    allowed = {expected} if isinstance(expected, str) else set(expected)
    if method == "GET" and observed == OK and not 200 <= status < 300:
        return False  # a GET that is served must succeed, not answer 4xx
    if method == "POST" and OK in allowed:
        allowed.add(REDIRECT)  # a form that was accepted redirects to the next page
    return observed in allowed


@dataclass
class Clients:
    by_role: dict[str, FlaskClient]
    login: Callable[[str], FlaskClient]


@pytest.fixture
def people(app: Flask, demo: dict[str, str]) -> Clients:
    now = datetime.now(UTC)
    other_org = get_or_create_org(
        db.session, "riverside", "Riverside Homecare", "care_provider", now
    )
    other = get_or_create_user(
        db.session,
        app.extensions["password_hasher"],
        OTHER_EMAIL,
        "Rhys Evans",
        OTHER_PASSWORD,
        now,
    )
    ensure_membership(db.session, other, other_org, Role.MANAGER)
    db.session.commit()
    passwords = {**demo, OTHER_EMAIL: OTHER_PASSWORD}
    emails = {**EMAILS, "other": OTHER_EMAIL}

    def login(role: str) -> FlaskClient:
        client = app.test_client()
        _fresh_user()
        if role != "anonymous":
            r = client.post(
                "/auth/login", data={"email": emails[role], "password": passwords[emails[role]]}
            )
            assert r.status_code == 302, f"{role} could not log in"
        return client

    return Clients({role: login(role) for role in ROLES}, login)


def _rules(app: Flask) -> list[Rule]:
    return sorted(app.url_map.iter_rules(), key=lambda r: r.rule)


def test_every_route_has_an_access_rule(app: Flask) -> None:
    missing = [f"{r.endpoint} ({r.rule})" for r in _rules(app) if r.rule not in RULES]
    assert not missing, (
        "These routes have no entry in tests/lms/access_rules.py; say who may use them:\n  "
        + "\n  ".join(missing)
    )
    served = {r.rule for r in _rules(app)}
    stale = sorted(set(RULES) - served)
    assert not stale, f"access_rules.py names routes that no longer exist: {stale}"
    for rule in _rules(app):
        access = RULES[rule.rule]
        methods = (rule.methods or set()) - {"HEAD", "OPTIONS"}
        if "GET" in methods:
            assert access.get is not None, f"{rule.endpoint}: no GET expectations"
        if "POST" in methods:
            assert access.post is not None, f"{rule.endpoint}: no POST expectations"


def _fresh_user() -> None:
    """Forget the user Flask-Login cached in `g`: the test's app context outlives requests, so
    without this every client would be seen as whoever made the previous request."""
    g.pop("_login_user", None)


def _request(client: FlaskClient, method: str, url: str, access: Access) -> Any:
    _fresh_user()
    if method == "GET":
        return client.get(url)
    if access.body == "json":
        return client.post(url, json={})
    return client.post(url, data={})


def _placeholder(rule: Rule) -> Access | None:
    """With SECURITY_MATRIX_SHOW set, routes without a rule are still requested (to see them)."""
    if not os.environ.get("SECURITY_MATRIX_SHOW"):
        return None
    from .access_rules import PUBLIC

    return Access(get=PUBLIC, post=PUBLIC)


def _unchecked(expected: Expect) -> bool:
    allowed = {expected} if isinstance(expected, str) else set(expected)
    return bool(allowed & {OK, REDIRECT})


def test_who_may_use_each_route(app: Flask, people: Clients) -> None:
    values = _values(app)
    problems: list[str] = []
    seen: list[str] = []
    unchecked: list[str] = []
    for method in ("GET", "POST"):
        for rule in _rules(app):
            if method not in (rule.methods or set()):
                continue
            access = RULES.get(rule.rule) or _placeholder(rule)
            if access is None:
                continue
            expectations = access.get if method == "GET" else access.post
            assert expectations is not None
            url = url_for_rule(rule, access, values)
            absent = [key for key in access.needs if values[key] == MISSING]
            row = []
            for role in ROLES:
                client = people.by_role[role]
                response = _request(client, method, url, access)
                location = response.headers.get("Location", "")
                observed = classify(response.status_code, location, method)
                response.close()  # files are streamed
                row.append(f"{role}={response.status_code}")
                if absent and _unchecked(expectations[role]):
                    unchecked.append(f"{method} {rule.rule} as {role} (no {', '.join(absent)})")
                    continue
                if not matches(observed, expectations[role], response.status_code, method):
                    problems.append(
                        f"{method} {url} ({rule.endpoint}) as {role}: got "
                        f"{response.status_code} ({observed}), expected {expectations[role]}"
                    )
                if method == "POST":  # a POST may have logged the client out or changed it
                    people.by_role[role] = people.login(role)
            seen.append(f"{method:4} {rule.endpoint:32} {url:60} {' '.join(row)}")
    if os.environ.get("SECURITY_MATRIX_SHOW"):
        print("\n".join(seen))
        print("UNCHECKED (no such record in the demo data):\n  " + "\n  ".join(unchecked))
    assert not problems, "\n".join(problems)


# --- another organisation's records through one's own organisation's URLs --------------------

SWAPPABLE = ("user_id", "learner_id", "short_id", "attempt_id", "role_id", "req_id", "site_id",
             "token_id")  # fmt: skip


def _riverside_records(app: Flask) -> dict[str, Any]:
    """Riverside's own learner (with a certificate), job role, requirement, site and token."""
    from lms.models import Organisation

    from .api_world import complete

    now = datetime.now(UTC)
    org = db.session.scalar(select(Organisation).where(Organisation.slug == "riverside"))
    assert org is not None
    hasher = app.extensions["password_hasher"]
    learner = get_or_create_user(
        db.session, hasher, "bo@example.com", "Bo Chen", OTHER_PASSWORD, now
    )
    ensure_membership(db.session, learner, org, Role.LEARNER)
    cred = complete(learner, org, "HSA-01", now)
    role = JobRole(org_id=org.id, name="Support worker", cwp_category="Care worker")
    db.session.add(role)
    db.session.flush()
    requirement = Requirement(org_id=org.id, job_role_id=role.id, module_code="HSA-01")
    site = Site(org_id=org.id, name="Riverside House")
    db.session.add_all([requirement, site])
    token_row, _ = tokens.create_token(
        db.session, org, "theirs", ["learners:read"], now, actor_label="test"
    )
    db.session.flush()
    attempt = db.session.scalar(select(QuizAttempt.id).where(QuizAttempt.user_id == learner.id))
    values = {
        "user_id": learner.id,
        "learner_id": learner.id,
        "short_id": cred.short_id,
        "attempt_id": attempt,
        "role_id": role.id,
        "req_id": requirement.id,
        "site_id": site.id,
        "token_id": token_row.id,
    }
    db.session.commit()
    return values


def test_another_organisations_records_are_refused(app: Flask, people: Clients) -> None:
    """Oakview's manager, admin and learner, asking for Riverside's records through URLs
    that look like their own (Oakview's slug), are refused every time."""
    ours = _values(app)
    theirs = {**ours, **_riverside_records(app)}
    problems: list[str] = []
    checked = 0
    for method in ("GET", "POST"):
        for rule in _rules(app):
            access = RULES.get(rule.rule)
            if access is None or method not in (rule.methods or set()):
                continue
            names = {m.group(2) for m in _PARAM.finditer(rule.rule)}
            swapped = {access.params.get(n, n) for n in names} & set(SWAPPABLE)
            expectations = access.get if method == "GET" else access.post
            if not swapped or expectations is None:
                continue
            url = url_for_rule(rule, access, theirs)
            for role in ("learner", "manager", "admin"):
                expected = expectations[role]
                if OK not in ({expected} if isinstance(expected, str) else expected):
                    continue  # only where the role's own records would be served
                response = _request(people.by_role[role], method, url, access)
                response.close()
                checked += 1
                if os.environ.get("SECURITY_MATRIX_SHOW"):
                    print("CROSS", method, url, role, response.status_code)
                observed = classify(response.status_code, "", method)
                if observed != DENIED:
                    problems.append(
                        f"{method} {url} ({rule.endpoint}) as Oakview's {role}: "
                        f"{response.status_code}, expected 403/404 (Riverside's "
                        f"{', '.join(sorted(swapped))})"
                    )
                if method == "POST":
                    people.by_role[role] = people.login(role)
    assert checked > 10
    assert not problems, "\n".join(problems)


# --- ids no database column can hold -----------------------------------------------------------

HUGE_ID = 4_262_923_655  # past 2**31 - 1: PostgreSQL's integer columns cannot hold it


def test_ids_past_32_bits_are_not_found(app: Flask, people: Clients) -> None:
    """An id no row can have is nobody's record: 404 (or a refusal), never a database error.

    On PostgreSQL a comparison with such an id fails inside the database ("integer out of
    range") unless the route rejects it first."""
    values = _values(app)
    problems: list[str] = []
    for method in ("GET", "POST"):
        for rule in _rules(app):
            access = RULES.get(rule.rule)
            ints = [m.group(2) for m in _PARAM.finditer(rule.rule) if m.group(1) == "int"]
            if access is None or not ints or method not in (rule.methods or set()):
                continue
            huge = {**values, **{access.params.get(n, n): HUGE_ID for n in ints}}
            url = url_for_rule(rule, access, huge)
            for role in ("learner", "manager"):
                response = _request(people.by_role[role], method, url, access)
                response.close()
                if response.status_code >= 500:
                    problems.append(f"{method} {url} ({rule.endpoint}) as {role}: 500")
                if method == "POST":
                    people.by_role[role] = people.login(role)
    assert not problems, "\n".join(problems)
