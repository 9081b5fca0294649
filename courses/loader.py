"""Read, validate and load the course catalogue (see FORMAT.md).

`read_catalogue` checks every module folder and reports every problem it finds, each naming the
file, the field and what is wrong. `load_catalogue` writes into the session given to it and
either loads everything or raises before anything is flushed: the caller commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .errors import CatalogueError
from .markdown import render_markdown
from .models import CatalogueModule, Lesson, Question
from .schema import ModuleSpec, QuestionBank

DEFAULT_CATALOGUE = Path(__file__).parent / "catalogue"
MAX_FILE_BYTES = 512 * 1024


@dataclass(frozen=True)
class ModuleFolder:
    """One module folder, read and validated, ready to load."""

    path: Path
    spec: ModuleSpec
    bank: QuestionBank
    lessons: tuple[tuple[str, str], ...]  # (file name, markdown)
    content_hash: str


@dataclass(frozen=True)
class LoadReport:
    added: tuple[str, ...]
    unchanged: tuple[str, ...]


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read_text(path: Path, problems: list[str]) -> str | None:
    if not path.is_file():
        problems.append(f"{_rel(path)}: file is missing")
        return None
    if path.stat().st_size > MAX_FILE_BYTES:
        problems.append(f"{_rel(path)}: file is larger than {MAX_FILE_BYTES // 1024} KB")
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(f"{_rel(path)}: file is not UTF-8 text")
        return None


def _read_yaml(path: Path, problems: list[str]) -> dict[str, Any] | None:
    text = _read_text(path, problems)
    if text is None:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problems.append(f"{_rel(path)}: not valid YAML{where}")
        return None
    if not isinstance(data, dict):
        problems.append(f"{_rel(path)}: must be a mapping of fields")
        return None
    return data


def _pydantic_problems(path: Path, exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (see courses/FORMAT.md)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        out.append(f"{_rel(path)}: {field}: {msg}")
    return out


def read_module(folder: Path) -> ModuleFolder:
    """Validate one module folder; raise CatalogueError listing every problem found."""
    problems: list[str] = []
    module_file = folder / "module.yaml"
    bank_file = folder / "questions.yaml"
    raw_module = _read_yaml(module_file, problems)
    spec = bank = None
    if raw_module is not None:
        try:
            spec = ModuleSpec.model_validate(raw_module)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(module_file, exc))
    external = spec is not None and spec.delivery == "external"
    if external and bank_file.exists():
        problems.append(f"{_rel(bank_file)}: an external module has no question bank of ours")
    award = spec is not None and spec.delivery == "award"
    if award and bank_file.exists():
        problems.append(f"{_rel(bank_file)}: an award has no question bank (no quiz of its own)")
    external = external or award  # neither has a quiz of ours
    raw_bank = None if external else _read_yaml(bank_file, problems)
    if external:
        bank = QuestionBank.none()
    if raw_bank is not None:
        try:
            bank = QuestionBank.model_validate(raw_bank)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(bank_file, exc))
    lessons: list[tuple[str, str]] = []
    if spec is not None:
        if spec.id != folder.name:
            problems.append(
                f"{_rel(module_file)}: id: {spec.id} does not match folder {folder.name}"
            )
        listed = [lesson.file for lesson in spec.lessons]
        lesson_dir = folder / "lessons"
        on_disk = sorted(p.name for p in lesson_dir.glob("*.md")) if lesson_dir.is_dir() else []
        for name in sorted(set(on_disk) - set(listed)):
            problems.append(f"{_rel(lesson_dir / name)}: lesson file is not listed in module.yaml")
        for name in listed:
            text = _read_text(lesson_dir / name, problems)
            if text is not None:
                if not text.strip():
                    problems.append(f"{_rel(lesson_dir / name)}: lesson is empty")
                lessons.append((name, text))
        if bank is not None and not external:
            problems.extend(f"{_rel(bank_file)}: {p}" for p in bank.check_against(spec))
    if problems or spec is None or bank is None:
        raise CatalogueError(problems or [f"{_rel(folder)}: could not be read"])
    digest = hashlib.sha256()
    for part in (module_file, bank_file):
        if part.exists():
            digest.update(part.read_bytes())
    for name, text in lessons:
        digest.update(name.encode() + b"\0" + text.encode("utf-8"))
    return ModuleFolder(folder, spec, bank, tuple(lessons), digest.hexdigest())


def read_catalogue(root: Path = DEFAULT_CATALOGUE) -> list[ModuleFolder]:
    """Validate every module folder under `root`; raise one CatalogueError naming all problems."""
    if not root.is_dir():
        raise CatalogueError([f"{_rel(root)}: catalogue folder does not exist"])
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise CatalogueError([f"{_rel(root)}: no module folders found"])
    problems: list[str] = []
    modules: list[ModuleFolder] = []
    for folder in folders:
        try:
            modules.append(read_module(folder))
        except CatalogueError as exc:
            problems.extend(exc.problems)
    if problems:
        raise CatalogueError(problems)
    return modules


def _to_rows(folder: ModuleFolder, now: datetime) -> CatalogueModule:
    spec = folder.spec
    module = CatalogueModule(
        code=spec.id,
        version=spec.version,
        is_current=True,
        title=spec.title,
        summary=spec.summary,
        category=spec.category,
        minutes=spec.minutes,
        refresh_months=spec.refresh.months,
        refresh_basis=spec.refresh.basis,
        refresh_uncertain=spec.refresh.uncertain,
        audience=list(spec.audience),
        ascwds_category=spec.ascwds_category,
        cstf_subject=spec.cstf_subject,
        care_certificate=spec.care_certificate.model_dump() if spec.care_certificate else None,
        legal_basis=[c.model_dump(mode="json") for c in spec.legal_basis],
        sources=[s.model_dump(mode="json") for s in spec.sources],
        outcomes=[o.model_dump() for o in spec.outcomes],
        delivery=spec.delivery,
        observation=spec.observation.model_dump() if spec.observation else None,
        external=spec.external.model_dump(mode="json") if spec.external else None,
        pass_mark=spec.quiz.pass_mark,
        per_outcome=spec.quiz.per_outcome,
        max_attempts=spec.quiz.max_attempts,
        cooling_off_hours=spec.quiz.cooling_off_hours,
        content_hash=folder.content_hash,
        loaded_at=now,
    )
    texts = dict(folder.lessons)
    for position, ref in enumerate(spec.lessons, start=1):
        body = texts[ref.file]
        module.lessons.append(
            Lesson(
                position=position,
                slug=ref.file.removesuffix(".md"),
                title=ref.title,
                outcomes=list(ref.outcomes),
                body_md=body,
                body_html=render_markdown(body),
            )
        )
    for q in folder.bank.questions:
        module.questions.append(
            Question(
                qid=q.id,
                outcome=q.outcome,
                type=q.type,
                prompt=q.prompt,
                options=[o.model_dump() for o in q.options],
                correct=list(q.correct),
                explanation=q.explanation,
            )
        )
    return module


def load_catalogue(session: Session, folders: Iterable[ModuleFolder], now: datetime) -> LoadReport:
    """Add new module versions. A version already loaded must have the same content.

    Raises CatalogueError (listing every conflict) before adding anything.
    """
    folders = list(folders)
    problems: list[str] = []
    to_add: list[ModuleFolder] = []
    unchanged: list[str] = []
    for folder in folders:
        spec = folder.spec
        existing = session.scalar(
            select(CatalogueModule).where(
                CatalogueModule.code == spec.id, CatalogueModule.version == spec.version
            )
        )
        if existing is None:
            newer = session.scalar(
                select(CatalogueModule.version)
                .where(CatalogueModule.code == spec.id, CatalogueModule.version > spec.version)
                .limit(1)
            )
            if newer is not None:
                problems.append(
                    f"{_rel(folder.path / 'module.yaml')}: version: {spec.version} is older than "
                    f"the loaded version {newer}"
                )
            else:
                to_add.append(folder)
        elif existing.content_hash != folder.content_hash:
            problems.append(
                f"{_rel(folder.path / 'module.yaml')}: version: {spec.id} version {spec.version} "
                "is already loaded with different content; raise the version number"
            )
        else:
            unchanged.append(f"{spec.id} v{spec.version}")
    if problems:
        raise CatalogueError(problems)
    for folder in to_add:
        session.execute(
            update(CatalogueModule)
            .where(CatalogueModule.code == folder.spec.id)
            .values(is_current=False)
        )
        session.add(_to_rows(folder, now))
    session.flush()
    return LoadReport(
        added=tuple(f"{f.spec.id} v{f.spec.version}" for f in to_add), unchanged=tuple(unchanged)
    )
