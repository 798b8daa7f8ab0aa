"""Flask CLI wiring: migrations, demo data, staff accounts."""

from __future__ import annotations

import secrets
from pathlib import Path

import click
from flask import Flask, current_app
from sqlmodel import Session, select

from app.auth import create_user
from app.models import Role, User
from notices.db import session_scope
from notices.loader import upsert_campaign
from routing.deadlines import import_overrides
from routing.models import Unit
from routing.seed import upsert_rules, upsert_units

DEMO_STAFF = (
    ("admin", Role.admin, None, "系统管理员"),
    ("taskforce", Role.taskforce, None, "专班工作人员"),
    ("operator", Role.operator, None, "热线话务员"),
    ("inspector", Role.inspector, None, "督察组"),
    ("unit_zfjd", Role.unit, "zfjd", "执法监督局联络员"),
    ("unit_hzq", Role.unit, "hzq", "湟中区交通局联络员"),
)


def run_migrations(url: str | None = None, revision: str = "head") -> None:
    """Upgrade the database to `revision` with Alembic (the only way tables are created)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    root = Path(__file__).resolve().parent.parent
    cfg = AlembicConfig(str(root / "alembic.ini"))
    cfg.set_main_option("script_location", str(root / "migrations"))
    cfg.attributes["database_url"] = url or current_app.config["DATABASE_URL"]
    command.upgrade(cfg, revision)


def seed_campaign(session: Session, campaign_dir: Path) -> int:
    """Load one campaign folder (notice, checklist, units, rules); returns rows changed."""
    campaign, changes = upsert_campaign(session, campaign_dir)
    changes += upsert_units(session, campaign_dir)
    changes += upsert_rules(session, campaign.id, campaign_dir)
    changes += import_overrides(session)
    return changes


def seed_demo_staff(session: Session) -> list[tuple[str, str, str]]:
    """Create missing demo accounts; returns (username, role, password) of those created."""
    created = []
    for username, role, unit_code, display in DEMO_STAFF:
        if session.exec(select(User).where(User.username == username)).first():
            continue
        unit_id = None
        if unit_code:
            unit = session.exec(select(Unit).where(Unit.code == unit_code)).one()
            unit_id = unit.id
        password = secrets.token_urlsafe(9)
        create_user(session, username=username, password=password, role=role,
                    display_name=display, unit_id=unit_id)
        created.append((username, role.value, password))
    return created


def init_app(app: Flask) -> None:
    @app.cli.command("migrate")
    def migrate_command() -> None:
        """Upgrade the database schema to the latest migration."""
        run_migrations()
        click.echo("database at head")

    @app.cli.command("seed-demo")
    @click.option("--campaign", "slug", default=None, help="campaign folder under notices/data")
    def seed_demo_command(slug: str | None) -> None:
        """Load the demo campaign and demo staff accounts (idempotent)."""
        data_dir = Path(current_app.config["CAMPAIGN_DATA_DIR"])
        campaign_dir = data_dir / (slug or current_app.config["DEFAULT_CAMPAIGN"])
        with session_scope() as session:
            changes = seed_campaign(session, campaign_dir)
            created = seed_demo_staff(session)
        click.echo(f"campaign {campaign_dir.name}: {changes} rows created or updated")
        if created:
            click.echo("demo staff accounts (passwords shown once, keep them):")
            for username, role, password in created:
                click.echo(f"  {username:<12} {role:<10} {password}")
        else:
            click.echo("demo staff accounts already exist (passwords were shown when created)")

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
    @click.option("--unit", "unit_code", default=None, help="unit code, for role unit")
    @click.option("--name", "display_name", default="")
    @click.password_option()
    def create_user_command(username: str, role: str, unit_code: str | None,
                            display_name: str, password: str) -> None:
        """Create a staff account."""
        with session_scope() as session:
            unit_id = None
            if unit_code:
                unit = session.exec(select(Unit).where(Unit.code == unit_code)).first()
                if unit is None:
                    raise click.BadParameter(f"no unit with code {unit_code!r}", param_hint="--unit")
                unit_id = unit.id
            try:
                create_user(session, username=username, password=password, role=role,
                            display_name=display_name, unit_id=unit_id)
            except ValueError as exc:
                raise click.UsageError(str(exc)) from None
        click.echo(f"created {username} ({role})")

    from app.routing_commands import routing_cli, run_sweep

    app.cli.add_command(routing_cli)
    app.extensions.setdefault("worker_jobs", []).append(run_sweep)
    from app import intake_commands
    from app.email_commands import register_commands as register_email_commands
    from app.worker import register_worker_command

    intake_commands.confirmed_examples_source = confirmed_examples
    register_email_commands(intake_commands.intake_cli)
    app.cli.add_command(intake_commands.intake_cli)
    register_worker_command(app)
    from app.privacy import register_privacy_commands

    register_privacy_commands(app)


def confirmed_examples() -> list[dict]:
    """Reports whose classification the task force confirmed or corrected in triage."""
    from intake.models import Report

    with session_scope() as session:
        rows = session.exec(select(Report).where(
            Report.classification_confirmed == True)).all()  # noqa: E712
        return [{"id": f"confirmed-{r.id}", "text": r.text, "items": list(r.items or []),
                 "kind": r.kind.value if r.kind else None, "agency": r.agency,
                 "jurisdiction": r.district, "channel": r.channel.value} for r in rows]
