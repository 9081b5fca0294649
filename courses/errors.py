"""Typed errors of the course domain. The web layer turns them into HTTP responses."""

from __future__ import annotations


class CourseError(Exception):
    """Base class. `code` is stable and machine-readable; the message is plain English."""

    code = "course_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CatalogueError(CourseError):
    """A module folder is wrong. Names the file, the field and the problem."""

    code = "catalogue_invalid"

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class VersionConflict(CourseError):
    code = "version_conflict"


class ModuleNotFound(CourseError):
    code = "module_not_found"


class InvalidAnswers(CourseError):
    """A quiz submission names questions or options that were not offered."""

    code = "invalid_answers"
