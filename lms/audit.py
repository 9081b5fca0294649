"""The audit trail: every change to training, assessment, sign-off, credentials and acceptance.

`record` appends an event inside the caller's transaction (it never commits), so the event and
the change it describes are saved together or not at all. Events form one hash chain:

    hash = SHA-256(canonical JSON of the event's fields, including prev_hash)

and `verify_chain` recomputes it from the first event, naming the first event that does not
match (edited), is missing (a gap in `seq`: deleted) or points at the wrong predecessor.

Concurrency: appending reads the chain head and writes the next event. On PostgreSQL a
transaction-scoped advisory lock serialises appenders until commit; on SQLite the database
allows one writer at a time. Either way the unique `seq` and `prev_hash` columns turn any race
that slipped through into an error instead of a fork.

What a hash chain cannot show by itself: that the newest events were cut off the end. The
head's hash is printed by `flask --app wsgi audit verify`; keep it somewhere else (a ticket, an
e-mail) to detect truncation later.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from .csvsafe import SafeDictWriter
from .models import AuditEvent, User

GENESIS = "0" * 64
# An arbitrary, fixed key for pg_advisory_xact_lock: "audit" as an integer.
_LOCK_KEY = 0x61756469
_VERIFY_BATCH = 2000


def _normalise(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """JSON-safe copy (dates and decimals as text), stable across databases."""
    if value is None:
        return None
    return json.loads(json.dumps(dict(value), default=str, sort_keys=True))  # type: ignore[no-any-return]


def _digest(fields: Mapping[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "org_id": event.org_id,
        "subject_user_id": event.subject_user_id,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "prev_hash": event.prev_hash,
    }


def event_hash(event: AuditEvent) -> str:
    return _digest(_fields(event))


def lock_chain(session: Session) -> None:
    """Serialise audited writers until this transaction ends (PostgreSQL; SQLite has one writer).

    Writers that need other locks too (a status-list slot, a new signing key) take this one
    first, so every audited writer takes its locks in the same order and none can deadlock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    entity_type: str,
    entity_id: str | int,
    now: datetime,
    org_id: int | None = None,
    subject_user_id: int | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Append one event to the chain (in the caller's transaction; never commits).

    `actor` None means the system or an operator at the command line (`actor_label` says
    which: default "system"). `subject_user_id` is the worker the event is about, so a
    manager can export one learner's history.
    """
    lock_chain(session)
    head = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev = (head[0] + 1, head[1]) if head is not None else (1, GENESIS)
    event = AuditEvent(
        seq=seq,
        # Microseconds survive both databases; anything finer would not re-hash the same.
        occurred_at=now.astimezone(UTC),
        actor_id=actor.id if actor is not None else None,
        actor_label=(actor.email if actor is not None else (actor_label or "system"))[:254],
        org_id=org_id,
        subject_user_id=subject_user_id,
        action=action[:60],
        entity_type=entity_type[:40],
        entity_id=str(entity_id)[:64],
        before=_normalise(before),
        after=_normalise(after),
        reason=reason,
        prev_hash=prev,
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_chain(session: Session) -> ChainReport:
    """Recompute the whole chain, in batches; stop at the first event that does not fit."""
    expected_seq, prev = 1, GENESIS
    last_seq = 0
    while True:
        batch: Sequence[AuditEvent] = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.seq > last_seq)
            .order_by(AuditEvent.seq)
            .limit(_VERIFY_BATCH)
        ).all()
        if not batch:
            break
        for event in batch:
            if event.seq != expected_seq:
                return ChainReport(
                    False,
                    expected_seq - 1,
                    prev,
                    expected_seq,
                    f"event {expected_seq} is missing (the next one is {event.seq}): "
                    "an event was deleted",
                )
            if event.prev_hash != prev:
                return ChainReport(
                    False,
                    expected_seq - 1,
                    prev,
                    event.seq,
                    f"event {event.seq} does not follow event {event.seq - 1}: the chain was "
                    "cut or rebuilt",
                )
            if event_hash(event) != event.hash:
                return ChainReport(
                    False,
                    expected_seq - 1,
                    prev,
                    event.seq,
                    f"event {event.seq} ({event.action} on {event.entity_type} "
                    f"{event.entity_id}) was changed after it was recorded",
                )
            prev = event.hash
            expected_seq += 1
            last_seq = event.seq
        session.expunge_all()  # keep memory flat over millions of events
    return ChainReport(True, expected_seq - 1, prev)


def history(session: Session, org_id: int, user_id: int) -> list[AuditEvent]:
    """Every event about one worker recorded by one organisation, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.org_id == org_id, AuditEvent.subject_user_id == user_id)
            .order_by(AuditEvent.seq)
        )
    )


EXPORT_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_label",
    "org_id",
    "subject_user_id",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "reason",
    "prev_hash",
    "hash",
)


def as_row(event: AuditEvent) -> dict[str, Any]:
    """An event as plain data, for export (CSV or JSON)."""
    return {**_fields(event), "hash": event.hash}


def history_csv(events: Sequence[AuditEvent]) -> str:
    """Events as CSV, one row each, with their hashes so the export can be checked."""
    buffer = io.StringIO()
    writer = SafeDictWriter(buffer, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    for event in events:
        row = as_row(event)
        row["before"] = json.dumps(row["before"], sort_keys=True) if row["before"] else ""
        row["after"] = json.dumps(row["after"], sort_keys=True) if row["after"] else ""
        writer.writerow(row)
    return buffer.getvalue()
