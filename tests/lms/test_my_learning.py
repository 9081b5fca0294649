"""'My learning': the same lines as reading each assignment on its own, in a fixed number of
queries whatever the number of assignments."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import event, select

from lms import learning
from lms.extensions import db
from lms.models import Enrolment, Membership, User

from .helpers import LEARNER


@contextmanager
def counted() -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def one_by_one(user_id: int) -> list[tuple[str, int, int, int | None, int | None]]:
    """What each line must show, read assignment by assignment."""
    rows = []
    for e in db.session.scalars(
        select(Enrolment).where(Enrolment.user_id == user_id).order_by(Enrolment.assigned_at)
    ):
        module = learning.current_module(db.session, e.module_code)
        done = learning.done_lesson_ids(db.session, user_id, module)
        read = [lesson for lesson in module.lessons if lesson.id in done]
        nxt = next((lesson for lesson in module.lessons if lesson.id not in done), None)
        latest = learning.latest_completion(db.session, user_id, module.code)
        rows.append(
            (
                module.code,
                len(module.lessons),
                len(read),
                nxt.id if nxt else None,
                latest.id if latest else None,
            )
        )
    return rows


def lines(user_id: int) -> list[tuple[str, int, int, int | None, int | None]]:
    return [
        (
            a.module.code,
            a.lessons_total,
            a.lessons_done,
            a.next_lesson.id if a.next_lesson else None,
            a.latest_completion.id if a.latest_completion else None,
        )
        for a in learning.my_learning(db.session, user_id)
    ]


def test_same_lines_and_queries_do_not_grow_with_assignments(
    app: Flask, demo: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    user = db.session.scalar(select(User).where(User.email == LEARNER))
    assert user is not None
    org_id = db.session.scalar(select(Membership.org_id).where(Membership.user_id == user.id))
    assert org_id is not None
    before = lines(user.id)
    assert before == one_by_one(user.id)
    # The demo learner has read some lessons and holds some certificates: the lines differ.
    assert any(done for _, _, done, _, _ in before)
    assert any(latest for *_, latest in before)
    with counted() as few:
        learning.my_learning(db.session, user.id)

    assigned = {code for code, *_ in before}
    extra = [
        code
        for code in ("FIRE-01", "IPC-01", "INFO-01", "EQD-01", "HS-01", "FOOD-01", "DIG-02")
        if code not in assigned
        and db.session.scalar(
            select(learning.CatalogueModule.id).where(
                learning.CatalogueModule.code == code, learning.CatalogueModule.is_current
            )
        )
    ]
    assert len(extra) >= 3, extra
    for code in extra:
        learning.enrol(db.session, user.id, org_id, code, now)
    user_id = user.id
    db.session.commit()
    db.session.expire_all()
    with counted() as many:
        after = lines(user_id)
    assert len(after) == len(before) + len(extra)
    assert after == one_by_one(user_id)
    # Enrolments, current modules, their lessons, lessons read, completions that count.
    assert len(many) == len(few) <= 5
