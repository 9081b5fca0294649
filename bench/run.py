"""`make bench`: every benchmark in one run on this machine, one table, bench/results.json.

Each figure is printed next to its baseline, measured in the same run. The machine's CPU and
the date are recorded with the results; bench/README.md keeps the figures of record.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_app  # noqa: E402
import bench_http  # noqa: E402
import bench_matrix  # noqa: E402
import bench_verify  # noqa: E402


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}"


def load_figures() -> list[dict[str, Any]]:
    """p50/p95 of the last `make load` run (bench/load-results.json), if there is one."""
    path = HERE / "load-results.json"
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    lessons = data.get("endpoints", {}).get("lesson", {})
    when = data.get("finished_at", "?")
    out = []
    for name, key in (("load_p50_ms", "p50_ms"), ("load_p95_ms", "p95_ms")):
        if key in data.get("overall", {}):
            out.append(
                {
                    "name": name,
                    "value": data["overall"][key],
                    "unit": "ms",
                    "baseline": "lesson_page_" + key,
                    "baseline_value": lessons.get(key, 0),
                    "ratio": round(lessons.get(key, 0) / data["overall"][key], 3)
                    if data["overall"][key]
                    else 0,
                    "note": f"from the last make load ({data.get('users')} users, "
                    f"{data.get('minutes')} min, {when}), not re-measured by make bench",
                }
            )
    return out


def main() -> int:
    records: list[dict[str, Any]] = []
    verify_records, notes = bench_verify.run(2000, 7, None)
    records.extend(verify_records)
    records.extend(bench_app.run(rounds=15, batch=200))
    # matrix_ms on SQLite; with LMS_BENCH_DATABASE_URL also the PostgreSQL figures (drops and
    # recreates that database's tables).
    records.extend(bench_matrix.run(rounds=9))
    records.extend(bench_http.run(seconds=10, connections=16, rounds=3))
    records.append(bench_http.floor_record(seconds=10, connections=16, rounds=3))
    records.extend(load_figures())
    width = max(len(r["name"]) for r in records)
    print(f"\nMeasured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}\n")
    print(f"{'measure':{width}}  {'value':>12} {'unit':14} {'baseline':28} {'baseline':>12}  ratio")
    for r in records:
        print(
            f"{r['name']:{width}}  {r['value']:>12} {r['unit']:14} {r['baseline']:28} "
            f"{r['baseline_value']:>12}  x{r['ratio']}"
        )
    for note in notes:
        print(f"note: {note}")
    for r in records:
        if r.get("note"):
            print(f"note ({r['name']}): {r['note']}")
    out = HERE / "results.json"
    out.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
