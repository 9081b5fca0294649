"""Benchmark: certificate PDFs and credential issuance, each next to its baseline.

Run::

    .venv/bin/python bench/bench_app.py [--json FILE] [--rounds 5] [--batch 200]

``pdf_ms``
    :func:`lms.pdf.render_certificate` for a real issued credential: the A4 certificate with
    its QR code (a PNG, not SVG rectangles; encoded once and stored with the credential),
    PDF/A-3b, and the two attachments. Baseline: ``weasyprint.HTML(string=PARAGRAPH)
    .write_pdf()`` with default settings, PARAGRAPH being one ordinary 83-word paragraph.
    Target: at most 3x the baseline. ``pdf_ms_vs_one_word`` reports the same render against a
    one-word page, for transparency.
``issue_per_s``
    :func:`lms.issuance.issue_for_completion` for a batch of completions in one transaction:
    allocate a random status-list slot, build the OB 3.0 credential, sign the VC-JWT and the
    compact QR, persist, commit. Baseline: bare ``credentials.sign_credential`` of the same
    credential (signing only, nothing persisted).

The database is a fresh SQLite file; the best of ``--rounds`` rounds is kept. Results with
``--json FILE`` use the same record shape as bench_verify.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from courses.loader import load_catalogue, read_catalogue
from credentials import sign_credential
from lms import create_app
from lms.extensions import db
from lms.issuance import IssuanceContext, issue_for_completion, issuer_key
from lms.models import Completion, IssuedCredential, QuizAttempt
from lms.pdf import certificate_context, render_certificate

# The baseline page: one ordinary paragraph (83 words), default WeasyPrint settings.
PARAGRAPH = (
    "<p>This certificate records that the person named completed a training module. The module "
    "covered what the law asks of care workers and their employers, how to assess risks, how to "
    "use hazardous substances safely and how to report accidents. The learner read every lesson "
    "and passed a knowledge quiz marked on the server. Employers should check the expiry date "
    "and ask for a refresher when it falls due, or sooner when new risks or duties arise at "
    "work.</p>"
)


def best_of(rounds: int, fn: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def record(
    name: str, value: float, unit: str, baseline: str, base: float, higher_is_better: bool
) -> dict[str, Any]:
    ratio = value / base if higher_is_better else base / value
    return {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "baseline": baseline,
        "baseline_value": round(base, 3),
        "ratio": round(ratio, 3),
    }


def run(rounds: int, batch: int) -> list[dict[str, Any]]:
    from weasyprint import HTML

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
                "ARGON2_TIME_COST": 1,
                "ARGON2_MEMORY_COST": 64,
            }
        )
        with app.app_context():
            db.create_all()
            load_catalogue(db.session, read_catalogue(), datetime.now(UTC))
            db.session.commit()
            assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
            cred = db.session.scalars(select(IssuedCredential)).first()
            assert cred is not None
            ctx_pdf = certificate_context(cred, "bench")
            render_certificate(ctx_pdf, cred)  # warm fonts and templates
            HTML(string="<p>Warm-up.</p>").write_pdf()
            pdf = best_of(rounds, lambda: render_certificate(ctx_pdf, cred)) * 1000
            bare = best_of(rounds, lambda: HTML(string=PARAGRAPH).write_pdf()) * 1000
            tiny = best_of(rounds, lambda: HTML(string="<p>Certificate.</p>").write_pdf()) * 1000

            ctx = IssuanceContext.from_config(app.config)
            template = db.session.scalar(select(Completion))
            attempt = db.session.scalar(select(QuizAttempt))
            assert template is not None and attempt is not None
            _, private = issuer_key(db.session, ctx, cred.organisation, datetime.now(UTC))

            def issue_batch() -> None:
                now = datetime.now(UTC)
                for _ in range(batch):
                    a = QuizAttempt(
                        user_id=attempt.user_id,
                        org_id=attempt.org_id,
                        module_id=attempt.module_id,
                        question_ids=attempt.question_ids,
                        status="submitted",
                        started_at=now,
                        submitted_at=now,
                        passed=True,
                    )
                    db.session.add(a)
                    db.session.flush()
                    done = Completion(
                        user_id=template.user_id,
                        org_id=template.org_id,
                        module_id=template.module_id,
                        attempt_id=a.id,
                        completed_at=now,
                        valid_until=template.valid_until,
                    )
                    db.session.add(done)
                    db.session.flush()
                    issue_for_completion(db.session, ctx, done, now)
                db.session.commit()

            issue_s = best_of(rounds, issue_batch)
            sign_s = best_of(
                rounds,
                lambda: [sign_credential(cred.credential_json, private) for _ in range(batch)],
            )
            db.engine.dispose()
    return [
        record("pdf_ms", pdf, "ms", "bare_weasyprint_page_ms", bare, higher_is_better=False),
        record("pdf_ms_vs_one_word", pdf, "ms", "one_word_weasyprint_page_ms", tiny, False),
        record(
            "issue_per_s", batch / issue_s, "credentials/s", "bare_sign_per_s", batch / sign_s, True
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args(argv)
    records = run(args.rounds, args.batch)
    for r in records:
        print(
            f"{r['name']:14} {r['value']:>10} {r['unit']:14} {r['baseline']:26} "
            f"{r['baseline_value']:>10}  x{r['ratio']}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
