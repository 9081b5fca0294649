from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from courses.errors import CatalogueError
from courses.loader import load_catalogue, read_catalogue, read_module
from courses.models import CatalogueModule, Lesson, Question

from .conftest import MODULE, QUESTIONS, question, write_module

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(CatalogueError) as exc:
        read_module(folder)
    return exc.value.problems


def test_valid_module_loads_lessons_and_questions(tmp_path: Path, session: Session) -> None:
    write_module(tmp_path)
    report = load_catalogue(session, read_catalogue(tmp_path), NOW)
    assert report.added == ("TST-01 v1",)
    module = session.scalars(select(CatalogueModule)).one()
    assert (module.code, module.version, module.is_current, module.pass_mark) == (
        "TST-01",
        1,
        True,
        80,
    )
    assert [lesson.title for lesson in module.lessons] == ["First lesson"]
    assert "<h2>Hello</h2>" in module.lessons[0].body_html
    assert sorted(q.qid for q in module.questions) == ["q1", "q2", "q3", "q4"]
    assert module.legal_basis[0]["url"] == "https://www.legislation.gov.uk/ukpga/1974/37"


def test_missing_field_names_file_and_field(tmp_path: Path) -> None:
    module = copy.deepcopy(MODULE)
    del module["legal_basis"]
    problems = problems_of(write_module(tmp_path, module))
    assert any(
        p.endswith("TST-01/module.yaml: legal_basis: required field is missing") for p in problems
    ), problems


def test_unknown_field_is_refused_not_ignored(tmp_path: Path) -> None:
    module = copy.deepcopy(MODULE)
    module["refresh"]["monthz"] = 12
    problems = problems_of(write_module(tmp_path, module))
    assert any("module.yaml: refresh.monthz: unknown field" in p for p in problems), problems


def test_bad_values_are_named(tmp_path: Path) -> None:
    module = copy.deepcopy(MODULE)
    module["category"] = "optional"
    module["ascwds_category"] = "Juggling"
    module["audience"] = ["NTC", "XYZ"]
    problems = " | ".join(problems_of(write_module(tmp_path, module)))
    assert "category:" in problems and "ascwds_category: 'Juggling' is not an ASC-WDS" in problems
    assert "audience: unknown role categories ['XYZ']" in problems


def test_question_answer_must_be_an_option(tmp_path: Path) -> None:
    bank = {"questions": [*QUESTIONS["questions"][:3], question("q4", "LO2", correct="z")]}
    problems = problems_of(write_module(tmp_path, questions=bank))
    assert any(
        "questions.yaml: questions.3: correct: ['z'] are not option ids" in p for p in problems
    ), problems


def test_each_outcome_needs_enough_questions(tmp_path: Path) -> None:
    bank = {"questions": QUESTIONS["questions"][:3]}  # LO2 has one question, per_outcome is 2
    problems = problems_of(write_module(tmp_path, questions=bank))
    assert any("outcome LO2: has 1 question(s), needs at least 2" in p for p in problems), problems


def test_question_for_unknown_outcome(tmp_path: Path) -> None:
    bank = {"questions": [*QUESTIONS["questions"], question("q9", "LO7")]}
    problems = problems_of(write_module(tmp_path, questions=bank))
    assert any("question q9: outcome LO7 is not in module.yaml" in p for p in problems), problems


def test_lesson_files_must_match_the_listing(tmp_path: Path) -> None:
    folder = write_module(tmp_path, lessons={"02-extra.md": "## Extra\n"})
    problems = problems_of(folder)
    assert any(
        p.endswith("lessons/02-extra.md: lesson file is not listed in module.yaml")
        for p in problems
    )
    assert any(p.endswith("lessons/01-first.md: file is missing") for p in problems)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    folder = write_module(tmp_path)
    (folder / "questions.yaml").write_text("questions:\n  - id: q1\n   bad: [\n", encoding="utf-8")
    problems = problems_of(folder)
    assert any("questions.yaml: not valid YAML (line" in p for p in problems), problems


def test_one_bad_module_loads_nothing(tmp_path: Path, session: Session) -> None:
    write_module(tmp_path)
    bad = copy.deepcopy(MODULE)
    bad["id"] = "TST-02"
    bad["minutes"] = "ten"
    write_module(tmp_path, bad)
    with pytest.raises(CatalogueError) as exc:
        load_catalogue(session, read_catalogue(tmp_path), NOW)
    assert any("TST-02/module.yaml: minutes:" in p for p in exc.value.problems)
    assert session.scalar(select(func.count(CatalogueModule.id))) == 0


def test_same_version_with_changed_content_is_refused(tmp_path: Path, session: Session) -> None:
    folder = write_module(tmp_path)
    load_catalogue(session, read_catalogue(tmp_path), NOW)
    (folder / "lessons" / "01-first.md").write_text("## Changed\n", encoding="utf-8")
    with pytest.raises(CatalogueError) as exc:
        load_catalogue(session, read_catalogue(tmp_path), NOW)
    assert (
        "already loaded with different content; raise the version number" in exc.value.problems[0]
    )
    # reloading unchanged content is a no-op
    (folder / "lessons" / "01-first.md").write_text(
        "## Hello\n\nShort words. Safe work.\n", encoding="utf-8"
    )
    assert load_catalogue(session, read_catalogue(tmp_path), NOW).unchanged == ("TST-01 v1",)


def test_new_version_keeps_the_old_one(tmp_path: Path, session: Session) -> None:
    write_module(tmp_path)
    load_catalogue(session, read_catalogue(tmp_path), NOW)
    v1 = session.scalars(select(CatalogueModule)).one()
    v1_lesson_ids = [lesson.id for lesson in v1.lessons]
    v2 = copy.deepcopy(MODULE)
    v2["version"] = 2
    v2["title"] = "Test module, revised"
    write_module(tmp_path, v2, lessons={"01-first.md": "## Revised\n"})
    assert load_catalogue(session, read_catalogue(tmp_path), NOW).added == ("TST-01 v2",)
    rows = session.scalars(select(CatalogueModule).order_by(CatalogueModule.version)).all()
    assert [(m.version, m.is_current, m.title) for m in rows] == [
        (1, False, "Test module"),
        (2, True, "Test module, revised"),
    ]
    # the old version's lessons and questions are untouched
    assert [lesson.id for lesson in rows[0].lessons] == v1_lesson_ids
    assert "Hello" in session.get_one(Lesson, v1_lesson_ids[0]).body_html
    assert session.scalar(select(func.count(Question.id))) == 8


def test_real_catalogue_is_valid() -> None:
    modules = read_catalogue()
    codes = {m.spec.id for m in modules}
    assert {"HSA-01", "DIG-01", "CC-16"} <= codes
    for m in modules:
        assert m.spec.legal_basis and m.spec.sources, m.spec.id
        if m.spec.delivery == "external":  # licensed training we record, never re-author
            assert m.spec.external is not None and not m.bank.questions and not m.spec.lessons
            continue
        if m.spec.delivery == "award":  # the Care Certificate: awarded, no quiz of its own
            assert m.spec.care_certificate is not None and not m.bank.questions
            continue
        assert len(m.bank.questions) >= 10, m.spec.id
        for outcome in m.spec.outcomes:
            assert sum(q.outcome == outcome.id for q in m.bank.questions) >= 2, (
                m.spec.id,
                outcome.id,
            )
