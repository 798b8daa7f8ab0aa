"""`/healthz`: database reachable, migrations current, worker heartbeat fresh."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify

from app.models import WorkerHeartbeat
from intake.outbox import Message, MessageStatus
from notices.db import get_session
from notices.timeutil import as_utc, utcnow

bp = Blueprint("health", __name__)
ROOT = Path(__file__).resolve().parent.parent


def migration_head() -> str:
    config = AlembicConfig(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


@bp.route("/healthz")
def healthz():
    checks: dict[str, object] = {}
    healthy = True
    session = get_session()
    try:
        current = session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        checks["database"] = "ok"
    except sa.exc.SQLAlchemyError:
        session.rollback()
        return jsonify({"status": "fail", "database": "unreachable"}), 503
    head = current_app.extensions.get("migration_head")
    if head is None:  # read the migration scripts once per process, not on every probe
        head = current_app.extensions["migration_head"] = migration_head()
    checks["migrations"] = "current" if current == head else f"at {current}, head {head}"
    healthy &= current == head
    beat = session.get(WorkerHeartbeat, "outbox")
    max_age = timedelta(seconds=current_app.config["WORKER_STALE_SECONDS"])
    if beat is None:
        checks["worker"] = "never seen"
        healthy = False
    else:
        age = utcnow() - as_utc(beat.at)
        checks["worker"] = f"{'fresh' if age <= max_age else 'stale'} ({int(age.total_seconds())}s)"
        healthy &= age <= max_age
    checks["outbox"] = _outbox_backlog(session, current_app.config["OUTBOX_BACKLOG_SECONDS"])
    checks["status"] = "ok" if healthy else "fail"
    return jsonify(checks), 200 if healthy else 503


def _outbox_backlog(session, seconds: int) -> str:
    """Messages still undelivered after `seconds` (a provider down for hours): reported for
    monitoring, without failing the probe — the web app itself still takes reports."""
    cutoff = utcnow() - timedelta(seconds=seconds)
    late = session.execute(sa.select(sa.func.count()).select_from(Message).where(
        Message.status.in_([MessageStatus.queued, MessageStatus.sending]),
        Message.created_at < cutoff)).scalar_one()
    return "ok" if not late else f"{late} waiting over {seconds // 60} min"
