"""Alembic environment: the URL comes from the caller or the app's settings, never from here."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from app.db import import_models
from config import config_for
from notices.db import make_engine

import_models()
target_metadata = SQLModel.metadata
config = context.config


def _url() -> str:
    return config.attributes.get("database_url") or config_for().DATABASE_URL


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
