from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from courses.loader import DEFAULT_CATALOGUE
from courses.models import CatalogueModule
from credentials import load_trust_list, verify_path
from lms.extensions import db
from lms.models import IssuedCredential, Membership, SigningKey, User


def test_courses_load_and_list(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["courses", "load"])
    assert result.exit_code == 0, result.output
    assert "loaded HSA-01 v1" in result.output
    again = runner.invoke(args=["courses", "load"])
    assert "0 added" in again.output
    listing = json.loads(runner.invoke(args=["courses", "list", "--json"]).output)
    by_id = {row["id"]: row for row in listing}
    assert set(by_id) >= {"HSA-01", "DIG-01", "CC-16"}
    assert set(by_id["HSA-01"]) == {
        "id",
        "version",
        "title",
        "category",
        "refresh_months",
        "ascwds_category",
        "outcomes",
        "questions",
    }
    assert by_id["DIG-01"]["refresh_months"] == 12


def test_courses_load_refuses_a_broken_catalogue_and_loads_nothing(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    root = tmp_path / "catalogue"
    shutil.copytree(DEFAULT_CATALOGUE, root)
    module_yaml = root / "DIG-01" / "module.yaml"
    module_yaml.write_text(module_yaml.read_text().replace("ascwds_category:", "ascwds_categori:"))
    result = runner.invoke(args=["courses", "load", "--path", str(root)])
    assert result.exit_code == 1
    assert "DIG-01/module.yaml: ascwds_category: required field is missing" in result.output
    assert "DIG-01/module.yaml: ascwds_categori: unknown field" in result.output
    assert db.session.scalar(select(func.count(CatalogueModule.id))) == 0


def test_demo_is_idempotent(runner: FlaskCliRunner, catalogue: None) -> None:
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    lines = first.output.strip().splitlines()
    assert [line.split()[0] for line in lines] == [
        "admin@example.com",
        "manager@example.com",
        "mentor@example.com",
        "learner@example.com",
    ]
    counts = lambda: tuple(  # noqa: E731
        db.session.scalar(select(func.count(m.id)))
        for m in (User, Membership, IssuedCredential, SigningKey)
    )
    after_first = counts()
    assert after_first[2] >= 1  # the learner has a credential
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0 and second.output == first.output
    assert counts() == after_first


def test_demo_needs_the_catalogue(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["demo"])
    assert result.exit_code != 0 and "courses load" in result.output


def test_trust_export_and_credentials_export_verify(
    runner: FlaskCliRunner, demo: dict[str, str], tmp_path: Path
) -> None:
    trust_file = tmp_path / "trust.json"
    result = runner.invoke(args=["trust", "export", str(trust_file)])
    assert result.exit_code == 0, result.output
    anchor = result.output.strip().rsplit(" ", 1)[-1]
    now = datetime.now(UTC)
    trust = load_trust_list(trust_file.read_text(), anchor, now)
    # every organisation that has signed something: Oakview, and Riverside (the demo learner's
    # previous employer, whose certificate she brings)
    assert [i.name for i in trust.issuers] == ["Oakview Care", "Riverside Homecare"]
    # no private key material in the trust list
    assert '"d"' not in trust_file.read_text()

    out = tmp_path / "export"
    exported = runner.invoke(
        args=["credentials", "export", "--email", "learner@example.com", "--out", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    files = sorted(p.name for p in out.iterdir())
    short_ids = {name.rsplit(".", 1)[0] for name in files} - {"passport"}
    assert files == sorted(
        [f"{s}.jwt" for s in short_ids] + [f"{s}.pdf" for s in short_ids] + ["passport.json"]
    )
    for path in out.iterdir():
        results = verify_path(path, trust, now)  # a passport holds every credential
        assert len(results) == (len(short_ids) if path.name == "passport.json" else 1)
        for result_ in results:
            assert result_.valid, (path, result_.reason)
            assert result_.learner_name == "Amira Okafor"


def test_credentials_export_unknown_email(runner: FlaskCliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        args=["credentials", "export", "--email", "ghost@example.com", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0 and "No user has the e-mail address" in result.output
