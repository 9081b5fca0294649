"""Recertification rules: every mode, the window, the status edges, history kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from courses.recert import (
    Done,
    Policy,
    Status,
    cycles,
    next_fixed_date,
    standing,
    status_at,
    window_open,
)

T0 = datetime(2025, 3, 10, 14, 30, tzinfo=UTC)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def done(at: datetime, ref: int = 1, source: str = "course") -> Done:
    return Done(at, ref, source)


# --- status edges --------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [90, 60, 30])
def test_expiring_threshold_edges(threshold: int) -> None:
    expiry = datetime(2026, 1, 1, tzinfo=UTC)
    edge = expiry - timedelta(days=threshold)
    assert status_at(expiry, edge - SECOND, threshold) is Status.ACTIVE
    assert status_at(expiry, edge, threshold) is Status.EXPIRING  # exactly N days: expiring
    assert status_at(expiry, edge + SECOND, threshold) is Status.EXPIRING
    assert status_at(expiry, expiry - SECOND, threshold) is Status.EXPIRING
    assert status_at(expiry, expiry, threshold) is Status.EXPIRED  # at the instant: expired
    assert status_at(expiry, expiry + DAY, threshold) is Status.EXPIRED


def test_threshold_changes_the_word_not_the_expiry() -> None:
    policy = Policy(12)
    now = datetime(2026, 1, 20, tzinfo=UTC)  # 49 days before the expiry of 2026-03-10
    assert standing(policy, [done(T0)], now, 90).status is Status.EXPIRING
    assert standing(policy, [done(T0)], now, 60).status is Status.EXPIRING
    assert standing(policy, [done(T0)], now, 30).status is Status.ACTIVE


def test_missing_without_completions_and_future_ones_do_not_count() -> None:
    policy = Policy(12)
    assert standing(policy, [], T0, 90).status is Status.MISSING
    later = standing(policy, [done(T0 + DAY)], T0, 90)
    assert later.status is Status.MISSING and later.current is None
    assert window_open(later, T0)


def test_does_not_expire() -> None:
    policy = Policy(0, window_days=90)
    s = standing(policy, [done(T0)], T0 + timedelta(days=3650), 90)
    assert s.status is Status.ACTIVE
    assert s.expires_at is None and s.window_opens is None
    assert not window_open(s, T0 + timedelta(days=3650))


# --- completion_date -----------------------------------------------------------------------


def test_completion_date_mode() -> None:
    policy = Policy(12, "completion_date", window_days=60)
    (cycle,) = cycles(policy, [done(T0)])
    assert cycle.expires_at == datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
    assert cycle.window_opens == cycle.expires_at - timedelta(days=60)
    renewed = cycles(policy, [done(T0), done(datetime(2026, 2, 1, tzinfo=UTC), 2)])
    assert renewed[-1].expires_at == datetime(2027, 2, 1, tzinfo=UTC)  # early renewal: own date


def test_month_end_is_clamped() -> None:
    (cycle,) = cycles(Policy(12), [done(datetime(2024, 2, 29, tzinfo=UTC))])
    assert cycle.expires_at == datetime(2025, 2, 28, tzinfo=UTC)


def test_window_opens_exactly_window_days_before_expiry() -> None:
    policy = Policy(12, window_days=30)
    s = standing(policy, [done(T0)], T0, 90)
    assert s.window_opens == datetime(2026, 2, 8, 14, 30, tzinfo=UTC)
    assert not window_open(s, s.window_opens - SECOND)  # type: ignore[operator]
    assert window_open(s, s.window_opens)  # type: ignore[arg-type]


# --- previous_expiry -----------------------------------------------------------------------


def test_previous_expiry_inside_window_keeps_the_cycle() -> None:
    policy = Policy(12, "previous_expiry", window_days=90)
    first_expiry = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
    renewal = first_expiry - timedelta(days=40)  # inside the 90-day window
    first, second = cycles(policy, [done(T0, 1), done(renewal, 2)])
    assert first.expires_at == first_expiry  # the earlier cycle is kept as it was
    assert second.extended
    assert second.expires_at == datetime(2027, 3, 10, 14, 30, tzinfo=UTC)  # no lost time


def test_previous_expiry_window_edges() -> None:
    policy = Policy(12, "previous_expiry", window_days=90)
    first_expiry = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
    opens = first_expiry - timedelta(days=90)
    at_open = cycles(policy, [done(T0, 1), done(opens, 2)])[-1]
    assert at_open.extended and at_open.expires_at == datetime(2027, 3, 10, 14, 30, tzinfo=UTC)
    before = cycles(policy, [done(T0, 1), done(opens - SECOND, 2)])[-1]
    assert not before.extended  # before the window: from its own completion date
    assert before.expires_at == opens - SECOND + (datetime(2027, 1, 1) - datetime(2026, 1, 1))
    at_expiry = cycles(policy, [done(T0, 1), done(first_expiry, 2)])[-1]
    assert not at_expiry.extended  # it had already expired
    assert at_expiry.expires_at == datetime(2027, 3, 10, 14, 30, tzinfo=UTC)


def test_previous_expiry_after_lapse_runs_from_completion() -> None:
    policy = Policy(12, "previous_expiry")
    late = datetime(2026, 7, 1, tzinfo=UTC)
    last = cycles(policy, [done(T0, 1), done(late, 2)])[-1]
    assert not last.extended and last.expires_at == datetime(2027, 7, 1, tzinfo=UTC)


def test_an_early_completion_never_shortens_an_earned_expiry() -> None:
    policy = Policy(12, "previous_expiry", window_days=90)
    renewal = datetime(2026, 1, 1, tzinfo=UTC)  # inside the window: expiry 2027-03-10
    early = datetime(2026, 2, 1, tzinfo=UTC)  # before the next window: would give 2027-02-01
    last = cycles(policy, [done(T0, 1), done(renewal, 2), done(early, 3)])[-1]
    assert last.expires_at == datetime(2027, 3, 10, 14, 30, tzinfo=UTC)


# --- fixed_date ----------------------------------------------------------------------------


def test_fixed_date_with_minimum_active_period() -> None:
    policy = Policy(12, "fixed_date", fixed_month=3, fixed_day=31, min_active_months=6)
    # January + 6 months is July: the next 31 March after July is the following year.
    jan = cycles(policy, [done(datetime(2026, 1, 15, tzinfo=UTC))])[-1]
    assert jan.expires_at == datetime(2027, 3, 31, tzinfo=UTC)
    # September + 6 months is March 2027 (before the 31st): that 31 March is far enough.
    sep = cycles(policy, [done(datetime(2026, 9, 15, tzinfo=UTC))])[-1]
    assert sep.expires_at == datetime(2027, 3, 31, tzinfo=UTC)
    # October + 6 months is 15 April: too late for 31 March 2027, so 2028.
    octo = cycles(policy, [done(datetime(2026, 10, 15, tzinfo=UTC))])[-1]
    assert octo.expires_at == datetime(2028, 3, 31, tzinfo=UTC)


def test_fixed_date_without_minimum_is_the_next_one_strictly_after() -> None:
    policy = Policy(12, "fixed_date", fixed_month=4, fixed_day=1)
    on_the_day = cycles(policy, [done(datetime(2026, 4, 1, tzinfo=UTC))])[-1]
    assert on_the_day.expires_at == datetime(2027, 4, 1, tzinfo=UTC)
    eve = cycles(policy, [done(datetime(2026, 3, 31, 23, 59, tzinfo=UTC))])[-1]
    assert eve.expires_at == datetime(2026, 4, 1, tzinfo=UTC)


def test_fixed_date_29_february() -> None:
    assert next_fixed_date(datetime(2026, 1, 1, tzinfo=UTC), 2, 29) == datetime(
        2026, 2, 28, tzinfo=UTC
    )
    assert next_fixed_date(datetime(2027, 3, 1, tzinfo=UTC), 2, 29) == datetime(
        2028, 2, 29, tzinfo=UTC
    )


def test_fixed_date_status() -> None:
    policy = Policy(12, "fixed_date", fixed_month=3, fixed_day=31, min_active_months=6)
    history = [done(datetime(2026, 1, 15, tzinfo=UTC))]
    assert standing(policy, history, datetime(2027, 1, 1, tzinfo=UTC), 90).status is (
        Status.EXPIRING
    )
    assert standing(policy, history, datetime(2027, 3, 31, tzinfo=UTC), 90).status is (
        Status.EXPIRED
    )


# --- history and validation ----------------------------------------------------------------


def test_history_is_kept_and_latest_counts() -> None:
    policy = Policy(12)
    history = [
        done(datetime(2023, 5, 1, tzinfo=UTC), 1, "course"),
        done(datetime(2025, 5, 1, tzinfo=UTC), 3, "transfer"),
        done(datetime(2024, 5, 1, tzinfo=UTC), 2, "external"),
    ]
    s = standing(policy, history, datetime(2025, 6, 1, tzinfo=UTC), 90)
    assert [c.done.ref for c in s.cycles] == [1, 2, 3]  # oldest first, nothing dropped
    assert [c.expires_at for c in s.cycles] == [
        datetime(2024, 5, 1, tzinfo=UTC),
        datetime(2025, 5, 1, tzinfo=UTC),
        datetime(2026, 5, 1, tzinfo=UTC),
    ]
    assert s.current is not None and s.current.done.source == "transfer"
    assert s.status is Status.ACTIVE and s.compliant


def test_an_expired_history_is_expired() -> None:
    s = standing(Policy(12), [done(T0)], datetime(2026, 3, 11, tzinfo=UTC), 90)
    assert s.status is Status.EXPIRED and not s.compliant
    assert window_open(s, datetime(2026, 3, 11, tzinfo=UTC))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"refresh_months": 12, "mode": "sometimes"},
        {"refresh_months": -1},
        {"refresh_months": 12, "mode": "fixed_date"},
        {"refresh_months": 12, "mode": "fixed_date", "fixed_month": 13, "fixed_day": 1},
        {"refresh_months": 12, "mode": "fixed_date", "fixed_month": 4, "fixed_day": 31},
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Policy(**kwargs)  # type: ignore[arg-type]


def test_fixed_date_on_the_day_after_midnight_is_next_year() -> None:
    morning = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    assert next_fixed_date(morning, 4, 1) == datetime(2027, 4, 1, tzinfo=UTC)
    assert next_fixed_date(morning - timedelta(hours=10), 4, 1) == datetime(2026, 4, 1, tzinfo=UTC)


def test_latest_expiry_agrees_with_the_full_replay() -> None:
    import random

    from courses.recert import latest_expiry

    rng = random.Random(5)
    policies = [
        Policy(12),
        Policy(36, "previous_expiry", window_days=90),
        Policy(12, "previous_expiry", window_days=30),
        Policy(12, "fixed_date", fixed_month=3, fixed_day=31, min_active_months=6),
        Policy(12, "fixed_date", fixed_month=2, fixed_day=29),
        Policy(0),
    ]
    for _ in range(400):
        policy = rng.choice(policies)
        times = sorted(
            T0 + timedelta(days=rng.randint(0, 2000), minutes=rng.randint(0, 1440))
            for _ in range(rng.randint(1, 5))
        )
        replay = cycles(policy, [done(t, i) for i, t in enumerate(times)])
        assert latest_expiry(policy, times) == replay[-1].expires_at, (policy, times)
