"""Recertification rules: when a requirement expires, when its window opens, and its status.

Pure functions (no Flask, no database). A worker's completions of one module are replayed
oldest first; each one starts a new *cycle* with its own expiry, and earlier cycles are kept
as they were (history is never overwritten). The latest cycle decides the status.

Modes (Totara's three recertification modes):

- ``completion_date``: expiry = completion + interval.
- ``previous_expiry``: a renewal completed *inside* the window of the cycle before it
  (``window_opens <= completed_at < expires_at``) extends from the previous expiry, so no time
  is lost by renewing early; a renewal outside the window (before it opened, or after the
  previous expiry) runs from its own completion date.
- ``fixed_date``: expiry is the first yearly fixed date (``fixed_month``/``fixed_day``, at
  00:00 in the completion's time zone) strictly later than completion + ``min_active_months``.
  A 29 February fixed date falls on 28 February in other years. The interval only matters in
  this mode to say "does not expire" (0); the cycle is the year.

Whatever the mode, a completion never shortens an expiry already earned: the new expiry is at
least the previous one.

An interval of 0 months means "does not expire": the cycle has no expiry and no window.

Status at ``now`` with the organisation's threshold of ``expiring_days`` (ASC-WDS's 90/60/30):

- MISSING: no completion at or before ``now``.
- EXPIRED: ``now >= expires_at`` (a requirement has expired *at* its expiry instant).
- EXPIRING: ``expires_at - now <= expiring_days`` days (exactly 90 days before is EXPIRING).
- ACTIVE: otherwise, and always when the cycle does not expire.

The recertification window opens ``window_days`` before the expiry; from that instant on
(``now >= window_opens``) the worker should be re-enrolled.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache

from .completion import add_months


class Status(enum.StrEnum):
    """The ASC-WDS words for the state of one worker's requirement."""

    ACTIVE = "active"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    MISSING = "missing"


COMPLIANT = frozenset({Status.ACTIVE, Status.EXPIRING})  # still valid on the day

MODES = ("completion_date", "previous_expiry", "fixed_date")


@dataclass(frozen=True)
class Policy:
    """How one requirement recertifies (already resolved: the interval is never None here)."""

    refresh_months: int  # 0: does not expire
    mode: str = "completion_date"
    window_days: int = 90
    fixed_month: int | None = None
    fixed_day: int | None = None
    min_active_months: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown recertification mode {self.mode!r}")
        if self.refresh_months < 0 or self.window_days < 0 or self.min_active_months < 0:
            raise ValueError("months and days must not be negative")
        if self.mode == "fixed_date":
            if self.fixed_month is None or self.fixed_day is None:
                raise ValueError("a fixed-date requirement needs its month and day")
            if not 1 <= self.fixed_month <= 12:
                raise ValueError("the fixed month must be 1 to 12")
            if not 1 <= self.fixed_day <= calendar.monthrange(2024, self.fixed_month)[1]:
                raise ValueError("the fixed day does not exist in that month")

    @property
    def expires(self) -> bool:
        return self.refresh_months > 0


@dataclass(frozen=True)
class Done:
    """One completion that counts (any source). `ref` is the caller's id for it."""

    completed_at: datetime
    ref: int | None = None
    source: str = "course"


@dataclass(frozen=True)
class Cycle:
    done: Done
    expires_at: datetime | None
    window_opens: datetime | None
    extended: bool = False  # previous_expiry: renewed inside the window, ran on from old expiry


@dataclass(frozen=True)
class Standing:
    """A worker's requirement at one moment: its status, the cycle that counts, all cycles."""

    status: Status
    current: Cycle | None
    cycles: tuple[Cycle, ...]

    @property
    def expires_at(self) -> datetime | None:
        return self.current.expires_at if self.current else None

    @property
    def window_opens(self) -> datetime | None:
        return self.current.window_opens if self.current else None

    @property
    def completed_at(self) -> datetime | None:
        return self.current.done.completed_at if self.current else None

    @property
    def compliant(self) -> bool:
        return self.status in COMPLIANT


@lru_cache(maxsize=65536)
def _shift(day: date, months: int) -> timedelta:
    later = add_months(datetime(day.year, day.month, day.day), months)
    return later - datetime(day.year, day.month, day.day)


def shift_months(moment: datetime, months: int) -> datetime:
    """`courses.completion.add_months` (same day and time `months` later, clamped to the month's
    end), remembered per day: the matrix calls it 25,000 times."""
    return moment + _shift(moment.date(), months)


def fixed_date_on(year: int, month: int, day: int, like: datetime) -> datetime:
    """00:00 on the fixed day in `year` (in `like`'s time zone); 29 Feb -> 28 Feb if need be."""
    day = min(day, calendar.monthrange(year, month)[1])
    return datetime(year, month, day, tzinfo=like.tzinfo)


def next_fixed_date(after: datetime, month: int, day: int) -> datetime:
    """The first fixed date strictly later than `after` (a fixed date is 00:00 on its day, so
    on the day itself it is already past: the next one is a year on)."""
    return _next_fixed(after.date(), month, day, after.tzinfo)


@lru_cache(maxsize=65536)
def _next_fixed(on: date, month: int, day: int, tz: tzinfo | None) -> datetime:
    like = datetime(on.year, on.month, on.day, tzinfo=tz)
    candidate = fixed_date_on(on.year, month, day, like)
    if candidate.date() <= on:
        candidate = fixed_date_on(on.year + 1, month, day, like)
    return candidate


def _expiry(policy: Policy, done: Done, previous: Cycle | None) -> tuple[datetime | None, bool]:
    if not policy.expires:
        return None, False
    at = done.completed_at
    extended = False
    if policy.mode == "fixed_date":
        assert policy.fixed_month is not None and policy.fixed_day is not None  # noqa: S101
        expiry = next_fixed_date(
            shift_months(at, policy.min_active_months), policy.fixed_month, policy.fixed_day
        )
    elif (
        policy.mode == "previous_expiry"
        and previous is not None
        and previous.expires_at is not None
        and previous.window_opens is not None
        and previous.window_opens <= at < previous.expires_at
    ):
        expiry, extended = shift_months(previous.expires_at, policy.refresh_months), True
    else:
        expiry = shift_months(at, policy.refresh_months)
    if previous is not None and previous.expires_at is not None and expiry < previous.expires_at:
        expiry = previous.expires_at  # a completion never shortens what was already earned
    return expiry, extended


def cycles(policy: Policy, history: Iterable[Done]) -> tuple[Cycle, ...]:
    """Every completion as a cycle, oldest first (ties broken by `ref`)."""
    out: list[Cycle] = []
    ordered = sorted(history, key=lambda d: (d.completed_at, d.ref if d.ref is not None else 0))
    for done in ordered:
        previous = out[-1] if out else None
        expiry, extended = _expiry(policy, done, previous)
        window = expiry - timedelta(days=policy.window_days) if expiry is not None else None
        out.append(Cycle(done, expiry, window, extended))
    return tuple(out)


def latest_expiry(policy: Policy, times: Sequence[datetime]) -> datetime | None:
    """The expiry of the latest cycle for completion times sorted oldest first.

    The same answer as ``cycles(...)[-1].expires_at`` without building the cycles: in the
    completion-date and fixed-date modes a later completion never gives an earlier expiry, so
    only the latest counts; the previous-expiry mode replays the history.
    """
    if not times or not policy.expires:
        return None
    months = policy.refresh_months
    if policy.mode == "completion_date":
        return shift_months(times[-1], months)
    if policy.mode == "fixed_date":
        assert policy.fixed_month is not None and policy.fixed_day is not None  # noqa: S101
        return next_fixed_date(
            shift_months(times[-1], policy.min_active_months), policy.fixed_month, policy.fixed_day
        )
    window = timedelta(days=policy.window_days)
    expiry: datetime | None = None
    for at in times:
        if expiry is not None and expiry - window <= at < expiry:
            candidate = shift_months(expiry, months)
        else:
            candidate = shift_months(at, months)
        expiry = candidate if expiry is None or candidate > expiry else expiry
    return expiry


def status_at(expires_at: datetime | None, now: datetime, expiring_days: int) -> Status:
    """The status of a completed requirement with this expiry (see the module docstring)."""
    if expires_at is None:
        return Status.ACTIVE
    if now >= expires_at:
        return Status.EXPIRED
    if expires_at - now <= timedelta(days=expiring_days):
        return Status.EXPIRING
    return Status.ACTIVE


def standing(
    policy: Policy, history: Iterable[Done], now: datetime, expiring_days: int = 90
) -> Standing:
    """The requirement at `now`: completions after `now` are not counted yet."""
    all_cycles = cycles(policy, (d for d in history if d.completed_at <= now))
    if not all_cycles:
        return Standing(Status.MISSING, None, ())
    current = all_cycles[-1]
    return Standing(status_at(current.expires_at, now, expiring_days), current, all_cycles)


def window_open(stand: Standing, now: datetime) -> bool:
    """True when the worker should be (re-)enrolled: nothing yet, or the window has opened."""
    if stand.current is None:
        return True
    return stand.current.window_opens is not None and now >= stand.current.window_opens
