"""Catalogue tables: what a module *is*. Learner records (attempts, completions) live in `lms`.

A row of `catalogue_modules` is one immutable (code, version). Lessons and questions belong to
that version, so records made under version 1 keep pointing at version 1's content.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base, UTCDateTime


class CatalogueModule(Base):
    __tablename__ = "catalogue_modules"
    __table_args__ = (
        UniqueConstraint("code", "version", name="uq_catalogue_modules_code_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), index=True)
    version: Mapped[int] = mapped_column(Integer)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    title: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(String(400))
    category: Mapped[str] = mapped_column(String(20))
    minutes: Mapped[int] = mapped_column(Integer)
    refresh_months: Mapped[int] = mapped_column(Integer)
    refresh_basis: Mapped[str] = mapped_column(Text)
    refresh_uncertain: Mapped[bool] = mapped_column(Boolean, default=False)
    audience: Mapped[list[str]] = mapped_column(JSON)
    ascwds_category: Mapped[str] = mapped_column(String(80))
    cstf_subject: Mapped[str | None] = mapped_column(String(80))
    care_certificate: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    legal_basis: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    outcomes: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    delivery: Mapped[str] = mapped_column(String(12), default="online")
    observation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    external: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    pass_mark: Mapped[int] = mapped_column(Integer)
    per_outcome: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    cooling_off_hours: Mapped[int] = mapped_column(Integer, default=24)
    content_hash: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="module", order_by="Lesson.position", cascade="all, delete-orphan"
    )
    questions: Mapped[list[Question]] = relationship(
        back_populates="module", order_by="Question.id", cascade="all, delete-orphan"
    )

    @property
    def outcome_text(self) -> dict[str, str]:
        return {o["id"]: o["text"] for o in self.outcomes}


class Lesson(Base):
    __tablename__ = "catalogue_lessons"
    __table_args__ = (UniqueConstraint("module_id", "position", name="uq_catalogue_lessons_pos"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("catalogue_modules.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    slug: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(120))
    outcomes: Mapped[list[str]] = mapped_column(JSON)
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)

    module: Mapped[CatalogueModule] = relationship(back_populates="lessons")


class Question(Base):
    __tablename__ = "catalogue_questions"
    __table_args__ = (UniqueConstraint("module_id", "qid", name="uq_catalogue_questions_qid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("catalogue_modules.id"), index=True)
    qid: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(8))
    type: Mapped[str] = mapped_column(String(16))
    prompt: Mapped[str] = mapped_column(Text)
    options: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    correct: Mapped[list[str]] = mapped_column(JSON)
    explanation: Mapped[str] = mapped_column(Text)

    module: Mapped[CatalogueModule] = relationship(back_populates="questions")
