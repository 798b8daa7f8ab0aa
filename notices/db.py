"""Engine and the per-request session, used by every package's views and commands."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy.pool import StaticPool
from sqlmodel import Session
from werkzeug.routing import IntegerConverter, Map


def make_engine(url: str, *, echo: bool = False) -> sa.Engine:
    """An engine with SQLite in WAL mode and foreign keys on; PostgreSQL through psycopg 3."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # hide_parameters: a logged database error never shows bound values (reporter PII).
    kwargs: dict = {"echo": echo, "future": True, "hide_parameters": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = StaticPool
    else:
        kwargs["pool_pre_ping"] = True
    engine = sa.create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _sqlite_begin) so transactions are real.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn) -> None:
    conn.exec_driver_sql("BEGIN " + conn.get_execution_options().get("sqlite_begin", "DEFERRED"))


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer.

    On SQLite a transaction that reads first and writes later fails at once if another
    writer committed in between; BEGIN IMMEDIATE takes the write lock up front, so
    concurrent writers queue (busy_timeout) instead. PostgreSQL needs nothing here.
    Inside a transaction already begun it does nothing, so domain functions compose:
    callers end their read transaction (commit) before the first domain call.
    """
    if session.get_bind().dialect.name != "sqlite" or session.in_transaction():
        return
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


ROW_ID_MAX = 2**31 - 1  # INTEGER columns (PostgreSQL int4; SQLite takes 64 bits)


def db_int(value: str) -> int:
    """An integer an INTEGER column can hold, for `request.args.get(name, type=db_int)`:
    anything larger is ValueError (so the default), never a database error."""
    number = int(value)
    if not -ROW_ID_MAX - 1 <= number <= ROW_ID_MAX:
        raise ValueError(f"{value} does not fit an INTEGER column")
    return number


class RowIdConverter(IntegerConverter):
    """`<int:...>` in URLs: a number no row can have is a 404, not a database error."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", ROW_ID_MAX)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = RowIdConverter  # before any blueprint adds its rules
    engine = make_engine(app.config["DATABASE_URL"], echo=app.config["SQL_ECHO"])
    app.extensions["engine"] = engine
    # A forked worker (gunicorn --preload) starts with a fresh pool, never the parent's sockets.
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    app.teardown_appcontext(_close_session)


def engine() -> sa.Engine:
    return current_app.extensions["engine"]


def get_session() -> Session:
    """The request's session, opened on first use and closed on teardown."""
    if "db_session" not in g:
        g.db_session = Session(engine(), expire_on_commit=False)
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session for CLI commands and workers: commit on success, roll back on error."""
    with Session(engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
