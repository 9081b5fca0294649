"""`make load`: LOAD_USERS simulated learners for LOAD_MINUTES against gunicorn + PostgreSQL.

    LOAD_USERS=200 LOAD_MINUTES=5 make load

Steps: a fresh database (LOAD_DATABASE, default lms_load) with the catalogue and LOAD_USERS
learners who each hold one certificate; gunicorn (LOAD_WORKERS, default 4) on
127.0.0.1:LOAD_PORT (5780); locust, headless, for the given time; then the checks:

- 0 errors (every response 2xx/3xx, none timed out);
- every quiz submission locust saw succeed is recorded exactly once (submitted attempts in
  the database == successful submissions; no attempt with two completions, no completion with
  two credentials, no status-list slot used twice);
- the audit chain is intact.

Prints a summary and writes bench/load-results.json (its p50/p95 appear in `make bench`).
Exit code 0 when every check passes. Stops by itself; only 127.0.0.1 is used.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

RESULTS = common.ROOT / "bench" / "load-results.json"


def _percentile(times: dict[float, int], fraction: float) -> float:
    total = sum(times.values())
    if not total:
        return 0.0
    seen = 0
    for ms in sorted(times):
        seen += times[ms]
        if seen >= fraction * total:
            return float(ms)
    return float(max(times))


def _row(entries: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    times: dict[float, int] = {}
    for e in entries:
        for ms, n in e["response_times"].items():
            times[float(ms)] = times.get(float(ms), 0) + n
    requests = sum(e["num_requests"] for e in entries)
    return {
        "requests": requests,
        "failures": sum(e["num_failures"] for e in entries),
        "p50_ms": _percentile(times, 0.50),
        "p95_ms": _percentile(times, 0.95),
        "p99_ms": _percentile(times, 0.99),
        "max_ms": round(max((e["max_response_time"] or 0) for e in entries), 1) if entries else 0,
        "rps": round(requests / seconds, 2) if seconds else 0,
    }


def stats(path: Path, seconds: float) -> dict[str, dict[str, Any]]:
    """Locust's final stats (--json-file: written after the last request) per request name."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    out = {e["name"]: _row([e], seconds) for e in entries}
    out["Aggregated"] = _row(entries, seconds)
    return out


def failures(prefix: Path) -> list[dict[str, str]]:
    path = Path(f"{prefix}_failures.csv")
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def run_locust(
    answers: Path, port: int, users: int, seconds: int, prefix: Path, spawn: float
) -> int:
    env = {**os.environ, "LOAD_ANSWERS": str(answers)}
    return subprocess.run(
        [
            str(common.BIN / "locust"),
            "-f",
            str(Path(__file__).resolve().parent / "locustfile.py"),
            "--headless",
            "--only-summary",
            "-u",
            str(users),
            "-r",
            str(spawn),
            "-t",
            f"{seconds}s",
            "--host",
            f"http://{common.HOST}:{port}",
            "--csv",
            str(prefix),
            "--json-file",
            str(prefix),  # locust adds ".json"
            "--stop-timeout",
            "30",
            "--loglevel",
            "WARNING",
        ],
        env=env,
        check=False,
    ).returncode


def main() -> int:
    users = int(os.environ.get("LOAD_USERS", "200"))
    minutes = float(os.environ.get("LOAD_MINUTES", "5"))
    database = os.environ.get("LOAD_DATABASE", "lms_load")
    port = int(os.environ.get("LOAD_PORT", "5780"))
    workers = int(os.environ.get("LOAD_WORKERS", "4"))
    schema = os.environ.get("LOAD_SCHEMA", "create_all")
    spawn = float(os.environ.get("LOAD_SPAWN_RATE", "10"))
    started = datetime.now(UTC)
    print(f"== load: {users} users for {minutes:g} min, database {database}, port {port}")
    url = common.fresh_database(database)
    t0 = time.monotonic()
    setup = common.prepare(url, users, schema)
    print(f"   set-up: {users} learners with a certificate each in {time.monotonic() - t0:.0f}s")
    with tempfile.TemporaryDirectory(prefix="carecred-load-") as tmp:
        folder = Path(tmp)
        answers = folder / "answers.json"
        answers.write_text(
            json.dumps(
                {
                    **setup,
                    "module": common.QUIZ_MODULE,
                    "email": common.EMAIL,
                    "password": common.PASSWORD,
                }
            ),
            encoding="utf-8",
        )
        log = folder / "gunicorn.log"
        server = common.start_gunicorn(url, port, workers, log=log)
        try:
            code = run_locust(answers, port, users, int(minutes * 60), folder / "locust", spawn)
        finally:
            common.stop(server)
        endpoints = stats(folder / "locust.json", minutes * 60)
        failed = failures(folder / "locust")
        server_errors = [
            line
            for line in log.read_text(errors="replace").splitlines()
            if "Traceback" in line or "ERROR" in line and "SIGTERM" not in line
        ]
    counts = common.db_counts(url)
    chain = common.audit_intact(url)
    overall = endpoints.pop("Aggregated", {})
    submits = endpoints.get("quiz submit", {"requests": 0, "failures": 0})
    ok_submits = submits["requests"] - submits["failures"]
    checks = {
        "no_errors": overall.get("failures", 1) == 0 and code == 0,
        "attempts_recorded_once": counts["submitted_attempts"] == ok_submits
        and counts["completions_per_attempt_over_one"] == 0,
        "no_duplicate_credentials": counts["duplicate_completion_credentials"] == 0
        and counts["duplicate_status_slots"] == 0,
        "audit_chain_intact": chain,
    }
    result = {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": common.machine(),
        "load_average_at_end": os.getloadavg(),  # others' work on a shared machine shows here
        "users": users,
        "minutes": minutes,
        "gunicorn_workers": workers,
        "database": "PostgreSQL (fresh)",
        "overall": overall,
        "endpoints": {
            "lesson": endpoints.get("lesson", {}),
            **{k: v for k, v in endpoints.items() if k != "lesson"},
        },
        "quiz_submissions_ok": ok_submits,
        "database_counts": counts,
        "failures": failed[:20],
        "server_errors": server_errors[:20],
        "checks": checks,
        "passed": all(checks.values()),
    }
    common.write_json(RESULTS, result)
    print(
        f"\n{'endpoint':18} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
    )
    for name, row in sorted(endpoints.items()) + [("ALL", overall)]:
        print(
            f"{name:18} {row.get('requests', 0):>9} {row.get('failures', 0):>7} "
            f"{row.get('p50_ms', 0):>8.0f} {row.get('p95_ms', 0):>8.0f} "
            f"{row.get('max_ms', 0):>8.0f}"
        )
    print(
        f"\nquiz submissions: {ok_submits} succeeded; database holds "
        f"{counts['submitted_attempts']} submitted attempts, {counts['completions']} completions"
    )
    for name, good in checks.items():
        print(f"  {'PASS' if good else 'FAIL'}  {name}")
    print(f"wrote {RESULTS.relative_to(common.ROOT)}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
