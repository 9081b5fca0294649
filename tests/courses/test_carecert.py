"""The Care Certificate criteria data: complete, mapped, and every reference real."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from courses.carecert import (
    CARE_CERTIFICATE_2015,
    CATALOGUE,
    framework,
    framework_path,
    read_framework,
    standard_title,
)
from courses.errors import CatalogueError
from courses.frameworks import CARE_CERTIFICATE_2025
from courses.loader import read_catalogue, read_module


def test_all_16_standards_with_their_2025_titles() -> None:
    fw = read_framework("2025")
    assert fw.version == "2025"
    assert [s.number for s in fw.standards] == list(range(1, 17))
    assert {s.number: s.title for s in fw.standards} == CARE_CERTIFICATE_2025


def test_every_criterion_is_mapped_to_evidence_of_its_kind() -> None:
    fw = framework()
    for standard in fw.standards:
        assert standard.criteria, standard.number
        for c in standard.criteria:
            assert c.evidence, c.id
            for e in c.evidence:
                if c.kind == "knowledge":
                    assert e.outcome and e.criterion is None, c.id
                else:
                    assert e.criterion and e.outcome is None, c.id
    kinds = {c.kind for s in fw.standards for c in s.criteria}
    assert kinds == {"knowledge", "performance"}


def test_every_reference_resolves_in_the_real_catalogue() -> None:
    specs = {m.spec.id: m.spec for m in read_catalogue()}
    fw = framework()
    for standard in fw.standards:
        for c in standard.criteria:
            for e in c.evidence:
                spec = specs[e.module]
                if e.outcome:
                    assert spec.delivery == "online"
                    assert e.outcome in {o.id for o in spec.outcomes}
                else:
                    assert spec.observation is not None
                    assert e.criterion in {x.id for x in spec.observation.criteria}


def _copy_catalogue(tmp_path: Path) -> Path:
    root = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE, root)
    return root


def _edit(root: Path, change: Any) -> None:
    path = framework_path("2025", root)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def _problems(root: Path) -> list[str]:
    with pytest.raises(CatalogueError) as exc:
        read_framework("2025", root)
    return exc.value.problems


def test_unknown_module_outcome_and_criterion_are_named(tmp_path: Path) -> None:
    root = _copy_catalogue(tmp_path)

    def change(data: dict[str, Any]) -> None:
        crit = data["standards"][0]["criteria"]
        crit[0]["evidence"] = [{"module": "XX-99", "outcome": "LO1"}]
        crit[1]["evidence"] = [{"module": "CC-01", "outcome": "LO9"}]
        crit[4]["evidence"] = [{"module": "CC-01", "criterion": "OB42"}]

    _edit(root, change)
    problems = _problems(root)
    assert any("criterion 1.1: XX-99: no such module" in p for p in problems), problems
    assert any("criterion 1.2: CC-01: has no learning outcome LO9" in p for p in problems)
    assert any("criterion 1.5: CC-01: has no observation criterion OB42" in p for p in problems)


def test_knowledge_criterion_cannot_be_evidenced_by_observation(tmp_path: Path) -> None:
    root = _copy_catalogue(tmp_path)
    _edit(
        root,
        lambda d: d["standards"][0]["criteria"][0].update(
            evidence=[{"module": "CC-01", "criterion": "OB1"}]
        ),
    )
    assert any("knowledge criteria are evidenced by a quiz" in p for p in _problems(root))


def test_external_module_has_no_quiz_to_evidence_knowledge(tmp_path: Path) -> None:
    root = _copy_catalogue(tmp_path)
    _edit(
        root,
        lambda d: d["standards"][15]["criteria"][0].update(
            evidence=[{"module": "OMMT-E", "outcome": "LO1"}]
        ),
    )
    assert any("OMMT-E: has no quiz of ours" in p for p in _problems(root))


def test_missing_standard_and_wrong_title_are_refused(tmp_path: Path) -> None:
    root = _copy_catalogue(tmp_path)
    _edit(root, lambda d: d["standards"].pop(8))
    assert any("has standards" in p for p in _problems(root))
    root2 = _copy_catalogue(tmp_path / "two")
    _edit(root2, lambda d: d["standards"][3].update(title="Equality and diversity"))
    assert any("standard 4: title should be" in p for p in _problems(root2))


def test_criterion_ids_belong_to_their_standard_and_are_unique(tmp_path: Path) -> None:
    root = _copy_catalogue(tmp_path)

    def change(data: dict[str, Any]) -> None:
        data["standards"][1]["criteria"][0]["id"] = "3.1"

    _edit(root, change)
    assert any("listed under standard 2" in p for p in _problems(root))
    root2 = _copy_catalogue(tmp_path / "two")

    def dup(data: dict[str, Any]) -> None:
        crit = data["standards"][0]["criteria"]
        crit.append(copy.deepcopy(crit[0]))

    _edit(root2, dup)
    assert any("ids must be unique" in p for p in _problems(root2))


def test_2015_titles_stay_readable() -> None:
    assert len(CARE_CERTIFICATE_2015) == 15
    assert standard_title("2015", 9) == (
        "Standard 9: Awareness of mental health, dementia and learning disability"
    )
    assert standard_title("2025", 9) == "Standard 9: Awareness of mental health and dementia"
    with pytest.raises(CatalogueError):
        read_framework("2015")  # no 2015 criteria yet: said plainly, not a crash


def test_award_module_loads_with_all_16_standards_and_no_quiz() -> None:
    folder = read_module(CATALOGUE / "CC-CERT")
    assert folder.spec.delivery == "award"
    assert folder.spec.care_certificate is not None
    assert folder.spec.care_certificate.version == "2025"
    assert folder.spec.care_certificate.standards == tuple(range(1, 17))
    assert folder.bank.questions == ()
    assert folder.spec.lessons == ()


def test_award_module_refuses_lessons_quiz_or_missing_standards(tmp_path: Path) -> None:
    src = yaml.safe_load((CATALOGUE / "CC-CERT" / "module.yaml").read_text(encoding="utf-8"))
    folder = tmp_path / "CC-CERT"
    folder.mkdir()

    def problems(data: dict[str, Any], bank: bool = False) -> list[str]:
        (folder / "module.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
        if bank:
            (folder / "questions.yaml").write_text("questions: []\n", encoding="utf-8")
        elif (folder / "questions.yaml").exists():
            (folder / "questions.yaml").unlink()
        with pytest.raises(CatalogueError) as exc:
            read_module(folder)
        return exc.value.problems

    no_cc = copy.deepcopy(src)
    del no_cc["care_certificate"]
    assert any("an award names the standards" in p for p in problems(no_cc))
    with_lessons = copy.deepcopy(src)
    with_lessons["lessons"] = [{"file": "01-a.md", "title": "A lesson"}]
    assert any("an award has no lessons" in p for p in problems(with_lessons))
    assert any("an award has no question bank" in p for p in problems(src, bank=True))
