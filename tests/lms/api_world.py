"""A small world for the API tests: two organisations, their people, one issued credential.

`build(app)` needs the catalogue loaded. Oakview has a manager and a learner who completed
HSA-01 (through the real lesson and quiz path, so a credential is issued); Riverside has its
own manager and learner. Tokens are created through the service, as the CLI and page do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import Flask, current_app

from lms import learning
from lms.accounts import ensure_membership, get_or_create_org, get_or_create_user
from lms.api import tokens
from lms.extensions import db
from lms.issuance import IssuanceContext
from lms.models import IssuedCredential, Organisation, Role, User

PASSWORD = "correct horse battery staple"
MODULE = "HSA-01"


@dataclass
class World:
    orgs: dict[str, Organisation] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    credential: IssuedCredential | None = None

    def token(self, org: str, *scopes: str, **kwargs: object) -> str:
        _, secret = tokens.create_token(
            db.session,
            self.orgs[org],
            f"test {' '.join(scopes)}"[:80],
            scopes,
            datetime.now(UTC),
            actor_label="test",
            **kwargs,  # type: ignore[arg-type]
        )
        db.session.commit()
        return secret


def complete(user: User, org: Organisation, code: str, now: datetime) -> IssuedCredential:
    session = db.session
    learning.enrol(session, user.id, org.id, code, now, due_on=now + timedelta(days=28))
    module = learning.current_module(session, code)
    enrolment = learning.enrolment_for(session, user.id, code)
    for lesson in module.lessons:
        learning.mark_lesson_read(session, user.id, lesson, now)
    attempt = learning.open_attempt(session, user.id, enrolment, module, random.Random(7), now)
    answers = {f"q{q.id}": list(q.correct) for q in learning.attempt_questions(module, attempt)}
    ctx = IssuanceContext.from_config(current_app.config)
    result = learning.submit_attempt(session, ctx, user.id, attempt.id, answers, now)
    assert result.credential is not None
    return result.credential


def build(app: Flask) -> World:
    now = datetime.now(UTC)
    session = db.session
    hasher = app.extensions["password_hasher"]
    world = World()
    for slug, name in (("oakview", "Oakview Care"), ("riverside", "Riverside Homecare")):
        world.orgs[slug] = get_or_create_org(session, slug, name, "care_provider", now)
    people = (
        ("manager", "oakview", Role.MANAGER, "Grace Mensah"),
        ("learner", "oakview", Role.LEARNER, "Amira Okafor"),
        ("other_manager", "riverside", Role.MANAGER, "Rhys Evans"),
        ("other_learner", "riverside", Role.LEARNER, "Bo Chen"),
    )
    for key, slug, role, person in people:
        user = get_or_create_user(session, hasher, f"{key}@example.com", person, PASSWORD, now)
        ensure_membership(session, user, world.orgs[slug], role)
        world.users[key] = user
    world.credential = complete(world.users["learner"], world.orgs["oakview"], MODULE, now)
    session.commit()
    return world
