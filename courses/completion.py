"""Completion rules: when a module is complete, and until when a completion is valid."""

from __future__ import annotations

import calendar
from collections.abc import Collection
from datetime import datetime


def add_months(moment: datetime, months: int) -> datetime:
    """Same day `months` later; a day that does not exist becomes the month's last day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def valid_until(completed_at: datetime, refresh_months: int) -> datetime | None:
    """When the completion falls due for refresh; None when it does not expire (0 months)."""
    if refresh_months <= 0:
        return None
    return add_months(completed_at, refresh_months)


def lessons_outstanding(lesson_ids: Collection[int], done_ids: Collection[int]) -> list[int]:
    done = set(done_ids)
    return [lesson_id for lesson_id in lesson_ids if lesson_id not in done]


def is_complete(
    lesson_ids: Collection[int],
    done_ids: Collection[int],
    quiz_passed: bool,
    *,
    observation_required: bool = False,
    observation_complete: bool = False,
) -> bool:
    """A module is complete when every required part is done.

    Every lesson read and the knowledge quiz passed, and, when the module requires observed
    practice, a completed observation (competent, with every signature the module needs).
    """
    if observation_required and not observation_complete:
        return False
    return quiz_passed and not lessons_outstanding(lesson_ids, done_ids)
