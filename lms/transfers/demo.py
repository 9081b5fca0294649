"""Demo data for transferred training (idempotent).

Riverside Homecare, a second organisation on this instance, issued the demo learner a
certificate in dementia care five months ago (a module her Oakview job role requires), and
Oakview trusts this instance. The demo manager can then take the learner's passport (her
*My certificates* page, or `flask --app wsgi credentials export --email learner@example.com
--out DIR`) to *Transferred training* and accept it as recognised prior learning.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.completion import valid_until
from courses.models import CatalogueModule

from ..accounts import ensure_membership, get_or_create_org
from ..issuance import IssuanceContext, issue_for_completion
from ..models import (
    Completion,
    CompletionSource,
    IssuedCredential,
    Organisation,
    OrgKind,
    Role,
    User,
)
from . import service

RIVERSIDE = ("riverside", "Riverside Homecare")
TRANSFER_MODULE = "DEM-01"


def seed(
    session: Session,
    ctx: IssuanceContext,
    org: Organisation,
    users: dict[Role, User],
    now: datetime,
) -> None:
    learner = users[Role.LEARNER]
    module = session.scalar(
        select(CatalogueModule).where(
            CatalogueModule.code == TRANSFER_MODULE, CatalogueModule.is_current.is_(True)
        )
    )
    if module is None:
        return
    slug, name = RIVERSIDE
    riverside = get_or_create_org(session, slug, name, OrgKind.CARE_PROVIDER.value, now)
    ensure_membership(session, learner, riverside, Role.LEARNER)
    held = session.scalar(
        select(IssuedCredential.id).where(
            IssuedCredential.org_id == riverside.id, IssuedCredential.user_id == learner.id
        )
    )
    if held is None:
        done = now - timedelta(days=150)
        completion = Completion(
            user_id=learner.id,
            org_id=riverside.id,
            module_id=module.id,
            source=CompletionSource.COURSE.value,
            completed_at=done,
            valid_until=valid_until(done, module.refresh_months),
        )
        session.add(completion)
        session.flush()
        issue_for_completion(session, ctx, completion, now)
    if not any(row.is_instance for row in service.trust_lists(session, org)):
        service.trust_instance(session, ctx, org, users[Role.MANAGER], now)
