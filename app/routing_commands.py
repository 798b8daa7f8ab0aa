"""`flask routing ...`: the deadline sweep and the holiday calendar import."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from intake.models import Event
from notices.db import get_session, session_scope
from routing.deadlines import import_calendar
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
    """Import a year's holidays and make-up working days (YAML like routing/data/cn-calendar.yaml).

    A year counts as complete only if the file says `published: true` for it; otherwise
    deadlines in it keep their warning until the year is marked on the calendar page.
    """
    try:
        with session_scope() as session:
            result = import_calendar(session, path)
            # The same audit trail as the calendar page (calendar_day_saved).
            session.add(Event(kind="calendar_imported", data={
                "file": path.name, "years": list(result.years),
                "changed_days": result.changed_days,
                "moved_deadlines": result.moved_deadlines,
                "published": {str(y): done for y, done in result.marked.items()}}))
    except ValueError as exc:
        raise click.ClickException(f"calendar not imported: {exc}") from None
    click.echo(f"{result.changed_days} calendar days added or changed")
    if result.moved_deadlines:
        click.echo(f"{result.moved_deadlines} open clue(s): deadlines counted again on the "
                   "new calendar")
    for year in result.years:
        if year not in result.marked:
            click.echo(f"{year}: not marked as published (the file has no 'published: true'); "
                       "mark it on the calendar page once the schedule is complete")
        elif not result.marked[year]:
            click.echo(f"{year}: marked as not yet published")
