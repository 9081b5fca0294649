"""The completion rule with observed practice (a pure rule, no database)."""

from __future__ import annotations

from courses.completion import is_complete


def test_observation_required_needs_a_completed_observation() -> None:
    assert not is_complete([1, 2], [1, 2], True, observation_required=True)
    assert is_complete([1, 2], [1, 2], True, observation_required=True, observation_complete=True)


def test_an_observation_never_replaces_lessons_or_the_quiz() -> None:
    done = {"observation_required": True, "observation_complete": True}
    assert not is_complete([1, 2], [1], True, **done)
    assert not is_complete([1, 2], [1, 2], False, **done)


def test_without_a_requirement_the_observation_does_not_matter() -> None:
    assert is_complete([1], [1], True, observation_required=False, observation_complete=False)
