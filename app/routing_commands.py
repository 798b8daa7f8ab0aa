"""`flask routing ...`: the deadline sweep and the holiday calendar import."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from notices.db import get_session, session_scope
from routing.deadlines import import_overrides
from routing.sweep import sweep

routing_cli = AppGroup("routing", help="Deadlines, escalation and the working-day calendar.")
calendar_cli = AppGroup("calendar", help="The holiday and make-up working day table.")
routing_cli.add_command(calendar_cli)


_last_sweep = 0.0


def run_sweep() -> None:
    """One sweep, at most every SWEEP_INTERVAL_SECONDS; the worker calls this each cycle."""
    global _last_sweep
    now = time.monotonic()
    if now - _last_sweep < current_app.config["SWEEP_INTERVAL_SECONDS"]:
        return
    _last_sweep = now
    result = sweep(get_session(), current_app.extensions["intake"])
    get_session().commit()
    if result.escalations or result.closed_unrated:
        current_app.logger.info("sweep: %d escalations, %d closed unrated",
                                len(result.escalations), len(result.closed_unrated))


@routing_cli.command("sweep")
def sweep_command() -> None:
    """Warn, escalate overdue clues and close unrated ones (idempotent; run from cron)."""
    result = sweep(get_session(), current_app.extensions["intake"])
    get_session().commit()
    for tracking_no, due_kind, level in result.escalations:
        click.echo(f"{tracking_no} {due_kind} {level}")
    for tracking_no in result.closed_unrated:
        click.echo(f"{tracking_no} closed unrated")
    click.echo(f"{len(result.escalations)} escalations, {len(result.closed_unrated)} closed")


@calendar_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(path: Path) -> None:
    """Import a year's holidays and make-up working days (YAML like routing/data/cn-calendar.yaml)."""
    try:
        with session_scope() as session:
            changes = import_overrides(session, path)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{changes} calendar days added or changed")
