"""`flask --app wsgi jobs worker|status|enqueue` (`make worker` runs the worker) and
`flask --app wsgi exports prune`.

`jobs enqueue pdf.export --args '{"user_id": 7}'` and `jobs enqueue evidence_pack.render --args
'{"org_id": 1, "produced_by_id": 2}'` make their Export row themselves, so what they make shows
on the evidence-pack page (or My certificates) like what the buttons make.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from flask import current_app

from ..extensions import db
from . import REGISTRY, JobError, connection, enqueue, exports, queue, redis_url

jobs_cli = click.Group("jobs", help="Background jobs (RQ on Redis; inline without Redis).")


def _need_redis() -> None:
    if not redis_url():
        raise click.ClickException(
            "LMS_REDIS_URL is not set: there is no queue, jobs run inline where they are started. "
            "Set it (e.g. redis://127.0.0.1:6379/0) to run workers."
        )


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty (tests, scripts).")
@click.option("--name", default=None, help="Worker name (default: host and process id).")
def worker(burst: bool, name: str | None) -> None:
    """Run jobs from the queue until stopped (SIGTERM finishes the current job first)."""
    _need_redis()
    from rq import Worker

    q = queue()
    w = Worker([q], connection=q.connection, name=name)
    click.echo(f"worker on queue {q.name!r} at {redis_url().split('@')[-1]}")
    w.work(burst=burst, with_scheduler=True, logging_level="INFO")


@jobs_cli.command("status")
def status() -> None:
    """How many jobs are queued, running, finished and failed; the failed ones' errors."""
    _need_redis()
    from rq import Worker
    from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry

    q = queue()
    conn = connection(redis_url())
    click.echo(f"queue {q.name}: {q.count} queued")
    click.echo(f"  running:  {StartedJobRegistry(queue=q).count}")
    click.echo(f"  finished: {FinishedJobRegistry(queue=q).count}")
    failed = FailedJobRegistry(queue=q)
    click.echo(f"  failed:   {failed.count}")
    for job in failed.get_job_ids()[:20]:
        fetched = q.fetch_job(job)
        if fetched is not None:
            latest = fetched.latest_result()
            info = ((latest.exc_string if latest else "") or "").strip().splitlines()
            click.echo(f"    {job}: {info[-1] if info else 'no error recorded'}")
    click.echo(f"workers: {len(Worker.all(connection=conn))}")


@jobs_cli.command("enqueue")
@click.argument("name", type=click.Choice(sorted(REGISTRY)))
@click.option("--args", "args", default="{}", help='Keyword arguments as JSON: {"user_id": 7}')
def enqueue_command(name: str, args: str) -> None:
    """Start a job (on the queue, or inline without Redis) and print its id or result."""
    try:
        kwargs = json.loads(args)
    except json.JSONDecodeError as err:
        raise click.ClickException(f"--args is not valid JSON: {err.msg}.") from err
    if not isinstance(kwargs, dict):
        raise click.ClickException('--args must be a JSON object, e.g. {"user_id": 7}.')
    try:
        handle = enqueue(name, **kwargs)
    except (JobError, TypeError) as err:
        raise click.ClickException(str(err)) from err
    if handle.inline:
        click.echo(f"ran inline: {json.dumps(handle.result, default=str)}")
    else:
        click.echo(f"queued {handle.id} on {current_app.config['JOBS_QUEUE']}")


exports_cli = click.Group("exports", help="Evidence packs and certificate zips made by jobs.")


@exports_cli.command("prune")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=exports.KEEP_DAYS,
    show_default=True,
    help="Delete exports made more than this many days ago.",
)
def prune(days: int) -> None:
    """Delete old exports: their rows and files under instance/exports/ (run it daily)."""
    pruned = exports.prune(db.session, datetime.now(UTC), days)
    db.session.commit()
    removed = exports.remove_files(pruned)
    click.echo(f"deleted {pruned.rows} exports and {removed} files older than {days} days")


COMMANDS: list[click.Command] = [jobs_cli, exports_cli]
