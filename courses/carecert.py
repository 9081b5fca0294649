"""The Care Certificate standards as data: criteria per standard, and what evidences each one.

The data lives in `catalogue/care-certificate-<version>.yaml` (see the comment at its top). This
module reads and validates it: every standard of the version is present with its official title,
criterion ids are unique and numbered within their standard, knowledge criteria point at a
module's learning outcome (evidenced by its quiz) and performance criteria at a module's
observation criterion, and every module, outcome and criterion named exists in the catalogue.

Only the 2025 standards have criteria here. Older evidence is made under the 2015 standards
(15 of them); their titles are kept in `STANDARD_TITLES` so a completion or sign-off recorded as
"2015" is always shown as what it was. Criteria for 2015 can be added as
`care-certificate-2015.yaml` in the same format.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from .errors import CatalogueError
from .frameworks import CARE_CERTIFICATE_2025
from .schema import ModuleSpec

CATALOGUE = Path(__file__).parent / "catalogue"
CURRENT_VERSION = "2025"

# The 2015 standards (in force April 2015 to July 2025), for reading older evidence.
CARE_CERTIFICATE_2015: dict[int, str] = {
    1: "Understand your role",
    2: "Your personal development",
    3: "Duty of care",
    4: "Equality and diversity",
    5: "Work in a person centred way",
    6: "Communication",
    7: "Privacy and dignity",
    8: "Fluids and nutrition",
    9: "Awareness of mental health, dementia and learning disability",
    10: "Safeguarding adults",
    11: "Safeguarding children",
    12: "Basic life support",
    13: "Health and safety",
    14: "Handling information",
    15: "Infection prevention and control",
}

STANDARD_TITLES: dict[str, dict[int, str]] = {
    "2015": CARE_CERTIFICATE_2015,
    "2025": CARE_CERTIFICATE_2025,
}

CRITERION_ID = re.compile(r"^(\d{1,2})\.(\d{1,2})$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Evidence(_Strict):
    """One way a criterion is evidenced: a module's quiz outcome, or its observation criterion."""

    module: str = Field(min_length=2, max_length=16)
    outcome: str | None = Field(default=None, pattern=r"^LO\d{1,2}$")
    criterion: str | None = Field(default=None, pattern=r"^OB\d{1,2}$")

    @model_validator(mode="after")
    def _one(self) -> Evidence:
        if (self.outcome is None) == (self.criterion is None):
            raise ValueError("give exactly one of outcome (quiz) or criterion (observation)")
        return self

    @property
    def by(self) -> Literal["quiz", "observation"]:
        return "quiz" if self.outcome is not None else "observation"


class CriterionSpec(_Strict):
    id: str
    kind: Literal["knowledge", "performance"]
    text: str = Field(min_length=10, max_length=300)
    evidence: tuple[Evidence, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _evidence_fits_kind(self) -> CriterionSpec:
        if not CRITERION_ID.match(self.id):
            raise ValueError(f"criterion id {self.id!r} must look like 1.1 or 12.3")
        wanted = "quiz" if self.kind == "knowledge" else "observation"
        wrong = [e.module for e in self.evidence if e.by != wanted]
        if wrong:
            how = "a quiz outcome (LOn)" if wanted == "quiz" else "an observation criterion (OBn)"
            raise ValueError(f"criterion {self.id}: {self.kind} criteria are evidenced by {how}")
        return self


class StandardSpec(_Strict):
    number: int = Field(ge=1, le=16)
    title: str = Field(min_length=3, max_length=120)
    not_covered: str | None = Field(default=None, min_length=10, max_length=800)
    criteria: tuple[CriterionSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids(self) -> StandardSpec:
        for c in self.criteria:
            match = CRITERION_ID.match(c.id)
            if match is None or int(match.group(1)) != self.number:
                raise ValueError(f"criterion {c.id} is listed under standard {self.number}")
        ids = [c.id for c in self.criteria]
        if len(set(ids)) != len(ids):
            raise ValueError(f"standard {self.number}: criterion ids must be unique")
        return self


class Framework(_Strict):
    version: Literal["2015", "2025"]
    title: str = Field(min_length=5)
    summary: str = Field(min_length=10)
    disclaimer: str = Field(min_length=10)
    source: HttpUrl
    standards: tuple[StandardSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _standards(self) -> Framework:
        titles = STANDARD_TITLES[self.version]
        numbers = [s.number for s in self.standards]
        if numbers != sorted(titles):
            raise ValueError(
                f"standards: the {self.version} Care Certificate has standards "
                f"{sorted(titles)} in order; found {numbers}"
            )
        for s in self.standards:
            if s.title != titles[s.number]:
                raise ValueError(f"standard {s.number}: title should be {titles[s.number]!r}")
        return self

    def standard(self, number: int) -> StandardSpec:
        for s in self.standards:
            if s.number == number:
                return s
        raise KeyError(number)

    def modules(self) -> set[str]:
        """Every module code some criterion relies on."""
        return {e.module for s in self.standards for c in s.criteria for e in c.evidence}


def framework_path(version: str, root: Path = CATALOGUE) -> Path:
    return root / f"care-certificate-{version}.yaml"


def check_against(framework: Framework, modules: Mapping[str, ModuleSpec]) -> list[str]:
    """Problems with the framework's references to catalogue modules (empty when all is well)."""
    problems: list[str] = []
    for standard in framework.standards:
        for c in standard.criteria:
            for e in c.evidence:
                where = f"criterion {c.id}: {e.module}"
                spec = modules.get(e.module)
                if spec is None:
                    problems.append(f"{where}: no such module in the catalogue")
                    continue
                if e.outcome is not None:
                    if spec.delivery != "online":
                        problems.append(f"{where}: has no quiz of ours ({spec.delivery} module)")
                    if e.outcome not in {o.id for o in spec.outcomes}:
                        problems.append(f"{where}: has no learning outcome {e.outcome}")
                if e.criterion is not None:
                    obs = spec.observation
                    observed = {x.id for x in obs.criteria} if obs is not None else set()
                    if e.criterion not in observed:
                        problems.append(f"{where}: has no observation criterion {e.criterion}")
                cc = spec.care_certificate
                if cc is not None and cc.version != framework.version:
                    problems.append(
                        f"{where}: follows the {cc.version} Care Certificate, "
                        f"not {framework.version}"
                    )
    return problems


def _module_specs(root: Path, problems: list[str]) -> dict[str, ModuleSpec]:
    specs: dict[str, ModuleSpec] = {}
    for path in sorted(root.glob("*/module.yaml")):
        try:
            spec = ModuleSpec.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (ValidationError, yaml.YAMLError, TypeError):
            problems.append(f"{path}: not a valid module (run `courses load` to see why)")
            continue
        specs[spec.id] = spec
    return specs


def read_framework(version: str = CURRENT_VERSION, root: Path = CATALOGUE) -> Framework:
    """Read and validate one version's criteria against the catalogue under `root`.

    Raises CatalogueError naming every problem (file, field, what is wrong).
    """
    path = framework_path(version, root)
    if version not in STANDARD_TITLES:
        raise CatalogueError([f"Care Certificate version {version!r} is not known"])
    if not path.is_file():
        raise CatalogueError([f"{path}: file is missing"])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogueError([f"{path}: not valid YAML"]) from exc
    try:
        framework = Framework.model_validate(raw)
    except ValidationError as exc:
        raise CatalogueError(
            [
                f"{path}: {'.'.join(str(p) for p in err['loc']) or '(top level)'}: "
                f"{err['msg'].removeprefix('Value error, ')}"
                for err in exc.errors()
            ]
        ) from exc
    if framework.version != version:
        raise CatalogueError([f"{path}: version: says {framework.version}, expected {version}"])
    problems: list[str] = []
    specs = _module_specs(root, problems)
    problems.extend(f"{path}: {p}" for p in check_against(framework, specs))
    if problems:
        raise CatalogueError(problems)
    return framework


@lru_cache(maxsize=4)
def framework(version: str = CURRENT_VERSION) -> Framework:
    """The validated framework from the packaged catalogue (read once per process)."""
    return read_framework(version)


def standard_title(version: str | None, number: int) -> str:
    """The standard as it was named in that version, e.g. "Standard 9: ..." (old evidence)."""
    titles = STANDARD_TITLES.get(version or "", {})
    return f"Standard {number}: {titles.get(number, 'unknown standard')}"
