from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from courses.db import Base

MODULE: dict[str, Any] = {
    "id": "TST-01",
    "version": 1,
    "title": "Test module",
    "summary": "A small module used by the tests.",
    "category": "statutory",
    "minutes": 10,
    "refresh": {"months": 36, "basis": "A basis sentence for the refresh interval."},
    "audience": ["ALL"],
    "ascwds_category": "Health and safety awareness",
    "legal_basis": [
        {
            "instrument": "Health and Safety at Work etc. Act 1974",
            "provision": "s2",
            "url": "https://www.legislation.gov.uk/ukpga/1974/37",
            "summary": "Employers must train their staff.",
        }
    ],
    "sources": [{"title": "A source", "publisher": "Someone", "url": "https://example.org/"}],
    "outcomes": [{"id": "LO1", "text": "Know one thing."}, {"id": "LO2", "text": "Know another."}],
    "lessons": [{"file": "01-first.md", "title": "First lesson", "outcomes": ["LO1", "LO2"]}],
    "quiz": {"pass_mark": 80, "per_outcome": 2},
}


def question(qid: str, outcome: str, correct: str = "a", type_: str = "single") -> dict[str, Any]:
    return {
        "id": qid,
        "outcome": outcome,
        "type": type_,
        "prompt": f"Question {qid}?",
        "options": [{"id": "a", "text": "Right"}, {"id": "b", "text": "Wrong"}],
        "correct": [correct],
        "explanation": "Because it is so.",
    }


QUESTIONS = {
    "questions": [
        question("q1", "LO1"),
        question("q2", "LO1"),
        question("q3", "LO2"),
        question("q4", "LO2", correct="b"),
    ]
}


def write_module(
    root: Path,
    module: dict[str, Any] | None = None,
    questions: dict[str, Any] | None = None,
    lessons: dict[str, str] | None = None,
) -> Path:
    module = copy.deepcopy(MODULE if module is None else module)
    folder = root / module.get("id", "TST-01")
    (folder / "lessons").mkdir(parents=True, exist_ok=True)
    (folder / "module.yaml").write_text(yaml.safe_dump(module), encoding="utf-8")
    (folder / "questions.yaml").write_text(
        yaml.safe_dump(copy.deepcopy(QUESTIONS if questions is None else questions)),
        encoding="utf-8",
    )
    for name, body in (lessons or {"01-first.md": "## Hello\n\nShort words. Safe work.\n"}).items():
        (folder / "lessons" / name).write_text(body, encoding="utf-8")
    return folder


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()
