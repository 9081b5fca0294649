"""The catalogue file format as typed, validated models (see FORMAT.md).

Pydantic does the field-level validation; cross-field rules (outcome ids used by questions,
lesson files on disk, enough questions per outcome) are checked in `ModuleSpec.check_bank` and
in the loader, which knows about files.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from .frameworks import ASCWDS_CATEGORIES, CARE_CERTIFICATE_2025, CSTF_SUBJECTS, CWP_ROLE_CATEGORIES

MODULE_ID = re.compile(r"^[A-Z]{2,5}-[A-Z0-9]{1,4}$")
LESSON_FILE = re.compile(r"^\d{2}-[a-z0-9-]+\.md$")
OUTCOME_ID = re.compile(r"^LO\d{1,2}$")
QUESTION_ID = re.compile(r"^[a-z0-9_-]{1,32}$")

Category = Literal["statutory", "mandatory", "role-specific", "care-certificate", "digital"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Refresh(Strict):
    months: int = Field(ge=0, le=120)
    basis: str = Field(min_length=10)
    uncertain: bool = False


class Citation(Strict):
    instrument: str = Field(min_length=3)
    provision: str | None = None
    url: HttpUrl
    summary: str = Field(min_length=10)


class Source(Strict):
    title: str = Field(min_length=3)
    publisher: str = Field(min_length=2)
    year: int | None = Field(default=None, ge=1970, le=2100)
    url: HttpUrl


class Outcome(Strict):
    id: str
    text: str = Field(min_length=5)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not OUTCOME_ID.match(v):
            raise ValueError("outcome ids are LO1, LO2, ...")
        return v


class LessonRef(Strict):
    file: str
    title: str = Field(min_length=3, max_length=120)
    outcomes: tuple[str, ...] = ()

    @field_validator("file")
    @classmethod
    def _file(cls, v: str) -> str:
        if not LESSON_FILE.match(v):
            raise ValueError("lesson files are named like 01-short-name.md")
        return v


class CareCertificateRef(Strict):
    version: Literal["2015", "2025"]
    standards: tuple[int, ...] = Field(min_length=1)

    @field_validator("standards")
    @classmethod
    def _standards(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        bad = [s for s in v if s not in CARE_CERTIFICATE_2025]
        if bad:
            raise ValueError(f"unknown Care Certificate standard(s) {bad}: they are 1-16")
        return v


ObservationMethod = Literal[
    "direct_observation",
    "simulation",
    "witness_testimony",
    "professional_discussion",
    "questioning",
]


class Criterion(Strict):
    id: str = Field(pattern=r"^OB\d{1,2}$")
    text: str = Field(min_length=5, max_length=400)


class ObservationSpec(Strict):
    """Practice a mentor or assessor must observe before the module is complete."""

    required: bool = True
    simulation_allowed: bool = False
    methods: tuple[ObservationMethod, ...] = ("direct_observation",)
    guidance: str = Field(min_length=10, max_length=1500)
    criteria: tuple[Criterion, ...] = Field(min_length=2)
    # A manager must sign the observation off (after the assessor and the learner) before the
    # module is complete, e.g. the Care Certificate's performance criteria.
    manager_signoff: bool = False

    @model_validator(mode="after")
    def _methods(self) -> ObservationSpec:
        if "simulation" in self.methods and not self.simulation_allowed:
            raise ValueError("methods: simulation is listed but simulation_allowed is false")
        ids = [c.id for c in self.criteria]
        if len(set(ids)) != len(ids):
            raise ValueError("criteria: ids must be unique")
        return self


class ExternalSpec(Strict):
    """Training delivered by someone else (licensed or face to face): we record, never re-author."""

    provider: str = Field(min_length=3, max_length=200)
    url: HttpUrl
    evidence: tuple[str, ...] = Field(min_length=1)
    variants: tuple[str, ...] = ()  # e.g. Tier 1 / Tier 2


class QuizSettings(Strict):
    pass_mark: int = Field(default=80, ge=1, le=100)
    per_outcome: int = Field(default=2, ge=1, le=10)
    # Failed attempts allowed in a row; then a cooling-off period (or a manager's reset).
    max_attempts: int = Field(default=3, ge=1, le=20)
    cooling_off_hours: int = Field(default=24, ge=1, le=720)


class ModuleSpec(Strict):
    id: str
    version: int = Field(ge=1)
    title: str = Field(min_length=3, max_length=120)
    summary: str = Field(min_length=10, max_length=400)
    category: Category
    minutes: int = Field(ge=5, le=600)
    refresh: Refresh
    audience: tuple[str, ...] = Field(min_length=1)
    ascwds_category: str
    cstf_subject: str | None = None
    care_certificate: CareCertificateRef | None = None
    legal_basis: tuple[Citation, ...] = Field(min_length=1)
    sources: tuple[Source, ...] = Field(min_length=1)
    outcomes: tuple[Outcome, ...] = Field(min_length=1)
    # online: our lessons and quiz; external: done elsewhere, recorded by a manager; award: a
    # certificate a manager awards when its parts are met (the Care Certificate), no quiz.
    delivery: Literal["online", "external", "award"] = "online"
    lessons: tuple[LessonRef, ...] = ()
    quiz: QuizSettings = QuizSettings()
    observation: ObservationSpec | None = None
    external: ExternalSpec | None = None

    @field_validator("id")
    @classmethod
    def _module_id(cls, v: str) -> str:
        if not MODULE_ID.match(v):
            raise ValueError("module ids look like HSA-01 or CC-16")
        return v

    @field_validator("audience")
    @classmethod
    def _audience(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [a for a in v if a not in CWP_ROLE_CATEGORIES]
        if bad:
            raise ValueError(f"unknown role categories {bad}; use {sorted(CWP_ROLE_CATEGORIES)}")
        return v

    @field_validator("ascwds_category")
    @classmethod
    def _ascwds(cls, v: str) -> str:
        if v not in ASCWDS_CATEGORIES:
            raise ValueError(f"{v!r} is not an ASC-WDS training category")
        return v

    @field_validator("cstf_subject")
    @classmethod
    def _cstf(cls, v: str | None) -> str | None:
        if v is not None and v not in CSTF_SUBJECTS:
            raise ValueError(f"{v!r} is not a Core Skills Training Framework subject")
        return v

    @model_validator(mode="after")
    def _cross(self) -> ModuleSpec:
        ids = [o.id for o in self.outcomes]
        if len(set(ids)) != len(ids):
            raise ValueError("outcomes: ids must be unique")
        if self.delivery == "online":
            if not self.lessons:
                raise ValueError("lessons: an online module needs at least one lesson")
            if self.external is not None:
                raise ValueError("external: only for delivery: external")
        elif self.delivery == "award":
            if self.lessons:
                raise ValueError("lessons: an award has no lessons (its parts are other modules)")
            if self.external is not None:
                raise ValueError("external: only for delivery: external")
            if self.observation is not None:
                raise ValueError("observation: an award is not observed itself")
            if self.care_certificate is None:
                raise ValueError("care_certificate: an award names the standards it covers")
        else:
            if self.lessons:
                raise ValueError("lessons: an external module has no lessons of ours")
            if self.external is None:
                raise ValueError("external: required when delivery is external")
        files = [lesson.file for lesson in self.lessons]
        if len(set(files)) != len(files):
            raise ValueError("lessons: each file may be listed once")
        for lesson in self.lessons:
            unknown = set(lesson.outcomes) - set(ids)
            if unknown:
                raise ValueError(f"lessons: {lesson.file} names unknown outcomes {sorted(unknown)}")
        return self


class Option(Strict):
    id: str = Field(pattern=r"^[a-z]{1,5}$")
    text: str = Field(min_length=1, max_length=400)


class QuestionSpec(Strict):
    id: str
    outcome: str
    type: Literal["single", "multiple", "true_false", "ordering"]
    prompt: str = Field(min_length=5, max_length=1000)
    options: tuple[Option, ...] = Field(min_length=2, max_length=6)
    correct: tuple[str, ...] = Field(min_length=1)
    explanation: str = Field(min_length=5, max_length=1000)

    @field_validator("id")
    @classmethod
    def _qid(cls, v: str) -> str:
        if not QUESTION_ID.match(v):
            raise ValueError("question ids are short lower-case words, e.g. q1")
        return v

    @model_validator(mode="after")
    def _answers(self) -> QuestionSpec:
        option_ids = [o.id for o in self.options]
        if len(set(option_ids)) != len(option_ids):
            raise ValueError("options: ids must be unique")
        missing = [c for c in self.correct if c not in option_ids]
        if missing:
            raise ValueError(f"correct: {missing} are not option ids {option_ids}")
        if len(set(self.correct)) != len(self.correct):
            raise ValueError("correct: an option is listed twice")
        if self.type in ("single", "true_false") and len(self.correct) != 1:
            raise ValueError(f"correct: a {self.type} question has exactly one right answer")
        if self.type == "true_false" and sorted(option_ids) != ["false", "true"]:
            raise ValueError("options: a true_false question has exactly the ids true and false")
        if self.type == "ordering":
            if len(option_ids) < 3:
                raise ValueError("options: an ordering question has at least 3 steps")
            if list(self.correct) != option_ids:
                raise ValueError(
                    "correct: an ordering question lists every option id, in the order the "
                    f"options are written (here {option_ids})"
                )
        return self


class QuestionBank(Strict):
    questions: tuple[QuestionSpec, ...] = Field(min_length=1)

    @classmethod
    def none(cls) -> QuestionBank:
        """The empty bank of an external module (no quiz of ours)."""
        return cls.model_construct(questions=())

    def check_against(self, module: ModuleSpec) -> list[str]:
        """Cross-file rules; returns plain-English problems (empty when all is well)."""
        problems: list[str] = []
        outcome_ids = {o.id for o in module.outcomes}
        seen: set[str] = set()
        for q in self.questions:
            if q.id in seen:
                problems.append(f"question {q.id}: id is used twice")
            seen.add(q.id)
            if q.outcome not in outcome_ids:
                problems.append(f"question {q.id}: outcome {q.outcome} is not in module.yaml")
        for outcome in module.outcomes:
            n = sum(1 for q in self.questions if q.outcome == outcome.id)
            if n < module.quiz.per_outcome:
                problems.append(
                    f"outcome {outcome.id}: has {n} question(s), needs at least "
                    f"{module.quiz.per_outcome} (quiz.per_outcome)"
                )
        return problems
