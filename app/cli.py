"""Flask CLI wiring: migrations, demo data, staff accounts."""

from __future__ import annotations

import secrets
from pathlib import Path

import click
from flask import Flask, current_app
from sqlmodel import Session, select

from app.auth import create_user
from app.models import Role, User
from notices.campaigns import by_slug
from notices.db import session_scope
from notices.loader import upsert_campaign
from routing.deadlines import import_overrides
from routing.models import Unit
from routing.seed import upsert_rules, upsert_units

# (username, role, unit code, campaign slug the account is limited to, display name)
DEMO_STAFF = (
    ("admin", Role.admin, None, None, "系统管理员"),
    ("taskforce", Role.taskforce, None, None, "专班工作人员"),
    ("operator", Role.operator, None, None, "热线话务员"),
    ("inspector", Role.inspector, None, None, "督察组"),
    ("unit_zfjd", Role.unit, "zfjd", None, "执法监督局联络员"),
    ("unit_hzq", Role.unit, "hzq", None, "湟中区交通局联络员"),
    ("taskforce_hz", Role.taskforce, None, "huangzhong-demo", "湟中区专班工作人员"),
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


def seed_campaign(session: Session, campaign_dir: Path, *, overwrite: bool = False) -> int:
    """Load one campaign folder (notice, checklist, units, rules); returns rows changed.

    What is already in the database is kept as the task force edited it (only missing
    rows and empty fields are added) unless `overwrite` puts the files' values back.
    """
    campaign, changes = upsert_campaign(session, campaign_dir, overwrite=overwrite)
    changes += upsert_units(session, campaign_dir, overwrite=overwrite)
    changes += upsert_rules(session, campaign.id, campaign_dir, overwrite=overwrite)
    changes += import_overrides(session, keep_existing=not overwrite)
    return changes


def seed_demo_staff(session: Session) -> list[tuple[str, str, str]]:
    """Create missing demo accounts; returns (username, role, password) of those created."""
    created = []
    for username, role, unit_code, slug, display in DEMO_STAFF:
        if session.exec(select(User).where(User.username == username)).first():
            continue
        campaign = by_slug(session, slug) if slug else None
        if slug and campaign is None:
            continue  # that campaign was not loaded
        unit_id = None
        if unit_code:
            unit = session.exec(select(Unit).where(Unit.code == unit_code)).one()
            unit_id = unit.id
        password = secrets.token_urlsafe(9)
        create_user(session, username=username, password=password, role=role,
                    display_name=display, unit_id=unit_id,
                    campaign_id=campaign.id if campaign else None)
        created.append((username, role.value, password))
    return created


def init_app(app: Flask) -> None:
    @app.cli.command("migrate")
    def migrate_command() -> None:
        """Upgrade the database schema to the latest migration."""
        run_migrations()
        click.echo("database at head")

    @app.cli.command("seed-demo")
    @click.option("--campaign", "slug", default=None,
                  help="one campaign folder under notices/data (default: all of them)")
    @click.option("--overwrite", is_flag=True,
                  help="put the files' values back over edits made in the app (notice, "
                       "phases, checklist keywords, units, routing rules)")
    def seed_demo_command(slug: str | None, overwrite: bool) -> None:
        """Load the demo campaigns and demo staff accounts (idempotent).

        Campaigns, units and rules already in the database keep the task force's edits;
        only what is missing is added, unless --overwrite is given.
        """
        data_dir = Path(current_app.config["CAMPAIGN_DATA_DIR"])
        default = current_app.config["DEFAULT_CAMPAIGN"]
        folders = [data_dir / slug] if slug else sorted(
            (p.parent for p in data_dir.glob("*/campaign.yaml")),
            key=lambda p: (p.name != default, p.name))  # the default first: it gets id 1
        with session_scope() as session:
            changes = {folder.name: seed_campaign(session, folder, overwrite=overwrite)
                       for folder in folders}
            created = seed_demo_staff(session)
        for name, count in changes.items():
            click.echo(f"campaign {name}: {count} rows "
                       f"{'created or overwritten' if overwrite else 'created'}")
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
    @click.option("--campaign", "campaign_slug", default=None,
                  help="limit a taskforce/operator/inspector account to this campaign (slug)")
    @click.password_option()
    def create_user_command(username: str, role: str, unit_code: str | None,
                            display_name: str, campaign_slug: str | None, password: str) -> None:
        """Create a staff account."""
        with session_scope() as session:
            campaign_id = None
            if campaign_slug:
                campaign = by_slug(session, campaign_slug)
                if campaign is None:
                    raise click.BadParameter(f"no campaign {campaign_slug!r}",
                                             param_hint="--campaign")
                campaign_id = campaign.id
            unit_id = None
            if unit_code:
                unit = session.exec(select(Unit).where(Unit.code == unit_code)).first()
                if unit is None:
                    raise click.BadParameter(f"no unit with code {unit_code!r}", param_hint="--unit")
                unit_id = unit.id
            try:
                create_user(session, username=username, password=password, role=role,
                            display_name=display_name, unit_id=unit_id,
                            campaign_id=campaign_id)
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


def confirmed_examples(campaign_slugs: list[str] | None = None) -> list[dict]:
    """Reports whose classification the task force confirmed or corrected in triage (of
    these campaigns only, when given: the ones that share the model being trained)."""
    from intake.models import Report
    from notices.models import Campaign

    with session_scope() as session:
        query = select(Report).where(Report.classification_confirmed == True)  # noqa: E712
        if campaign_slugs is not None:
            query = query.join(Campaign, Campaign.id == Report.campaign_id).where(
                Campaign.slug.in_(campaign_slugs))
        rows = session.exec(query).all()
        return [{"id": f"confirmed-{r.id}", "text": r.text, "items": list(r.items or []),
                 "kind": r.kind.value if r.kind else None, "agency": r.agency,
                 "jurisdiction": r.district, "channel": r.channel.value} for r in rows]
