"""Data protection commands: PII key rotation, retention (erasure) and backups.

Domain logic is plain functions over a session; `register_privacy_commands(app)` wires
them to the CLI:

* ``flask privacy rotate-keys``: re-encrypts every ``*_enc`` column of ``Reporter`` and
  ``Message`` with the first key of ``PII_KEYS`` (MultiFernet.rotate), in batches, one
  transaction per batch. Rows already under the first key are left alone, so a second run
  changes nothing; a row changed by someone else meanwhile is skipped (compare-and-swap)
  and picked up by the next run. Procedure: put the new key first in ``PII_KEYS`` (keep
  the old ones after it), restart, run the command until it reports 0 rotated and 0
  skipped, then drop the old keys.
* ``flask privacy erase-expired [--days N]``: for reports closed, referred, not accepted
  or merged more than ``PII_RETENTION_DAYS`` ago, erases the reporter's PII columns and
  hashes, sets ``erased_at``, erases the reporter's address from delivered outbox rows and
  the reporter's own name/number/e-mail where they were typed into the report text; the
  anonymised report stays for statistics. A ``pii_erased`` Event records it without PII.
* ``flask backup OUTPUT``: SQLite via the sqlite3 online-backup API (a consistent copy even
  while the app writes); PostgreSQL via ``pg_dump -Fc``. The copy holds PII ciphertext only,
  but is written with mode 0600: keep it as carefully as the database.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3

# Runs pg_dump only, with an argument list and no shell.
import subprocess  # nosec B404
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import click
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlmodel import Session, select

from intake.models import Event, Report, Reporter
from intake.outbox import Message, MessageStatus
from intake.pii import PiiVault
from notices.db import begin_write
from notices.timeutil import as_utc, utcnow
from routing.transitions import TERMINAL

ENCRYPTED_COLUMNS: dict[type, tuple[str, ...]] = {
    Reporter: ("name_enc", "phone_enc", "email_enc", "id_number_enc", "address_enc"),
    Message: ("recipient_enc", "body_enc"),
}
ERASED_MARK = "[已删除]"
ERASED_MESSAGE = "[erased]"


class PrivacyError(RuntimeError):
    """A privacy command cannot run; the message says why and what to do."""


def parse_keys(pii_keys: str | None) -> list[str]:
    """The comma-separated PII_KEYS setting as a list, newest (primary) first."""
    keys = [k.strip() for k in (pii_keys or "").split(",") if k.strip()]
    if not keys:
        raise PrivacyError("PII_KEYS is empty: nothing to encrypt with.")
    return keys


# -- key rotation -------------------------------------------------------------------------

@dataclass
class RotationResult:
    rotated: int = 0      # values re-encrypted under the first key
    current: int = 0      # values already under the first key
    skipped: int = 0      # rows changed concurrently: run again
    unreadable: int = 0   # values no configured key can decrypt (left as they are)
    per_table: dict[str, int] = field(default_factory=dict)


def rotate_keys(session: Session, keys: list[str], *, batch_size: int = 500) -> RotationResult:
    """Re-encrypt every encrypted column with ``keys[0]``; one transaction per batch.

    The session must not be inside a transaction the caller still needs: each batch is
    committed here.
    """
    primary = Fernet(keys[0].encode())
    multi = MultiFernet([Fernet(k.encode()) for k in keys])
    result = RotationResult()
    session.commit()
    for model, columns in ENCRYPTED_COLUMNS.items():
        table = model.__table__
        cols = [table.c[name] for name in columns]
        last_id = 0
        rotated_here = 0
        while True:
            begin_write(session)
            rows = session.execute(sa.select(table.c.id, *cols).where(table.c.id > last_id)
                                   .order_by(table.c.id).limit(batch_size)).all()
            if not rows:
                session.commit()
                break
            for row in rows:
                last_id = row.id
                changes: dict[str, str] = {}
                for name in columns:
                    token = getattr(row, name)
                    if not token:
                        continue
                    data = token.encode("ascii", "replace")
                    try:
                        primary.decrypt(data)
                    except InvalidToken:
                        pass
                    else:
                        result.current += 1
                        continue
                    try:
                        changes[name] = multi.rotate(data).decode("ascii")
                    except InvalidToken:
                        result.unreadable += 1
                if not changes:
                    continue
                # Compare-and-swap: only if nobody changed these columns since we read them.
                guard = [table.c[name] == getattr(row, name) for name in changes]
                updated = session.execute(sa.update(table).where(table.c.id == row.id, *guard)
                                          .values(**changes)).rowcount
                if updated == 1:
                    result.rotated += len(changes)
                    rotated_here += len(changes)
                else:
                    result.skipped += 1
            session.commit()
        result.per_table[table.name] = rotated_here
    return result


# -- retention ----------------------------------------------------------------------------

@dataclass
class ErasureResult:
    reporters: int = 0
    reports: int = 0
    messages: int = 0
    pending_messages: int = 0  # still queued/sending: erased on a later run


def _phone_variants(phone: str) -> list[str]:
    digits = re.sub(r"\D", "", phone)
    variants = {phone, digits}
    if digits.startswith("86") and len(digits) == 13:
        national = digits[2:]
        variants |= {national, f"{national[:3]} {national[3:7]} {national[7:]}",
                     f"{national[:3]}-{national[3:7]}-{national[7:]}"}
    return sorted((v for v in variants if len(re.sub(r"\D", "", v)) >= 7), key=len, reverse=True)


def _scrub(text: str, needles: list[str]) -> str:
    for needle in needles:
        if needle:
            text = text.replace(needle, ERASED_MARK)
    return text


def _scrub_classification(result: dict | None, needles: list[str]) -> dict:
    """The classifier keeps phone numbers it found in the text; drop the reporter's own."""
    result = dict(result or {})
    digits = {re.sub(r"\D", "", n)[-11:] for n in needles if re.sub(r"\D", "", n)}
    if result.get("phones"):
        result["phones"] = [p for p in result["phones"]
                            if re.sub(r"\D", "", str(p))[-11:] not in digits]
    return result


def erase_expired(session: Session, vault: PiiVault, *, days: int, now: datetime | None = None,
                  batch_size: int = 200) -> ErasureResult:
    """Erase reporter PII of reports finished more than ``days`` ago; one transaction per batch.

    A reporter is erased only when every report that names it is finished and expired.
    """
    if days < 0:
        raise PrivacyError("--days must not be negative.")
    now = as_utc(now) if now else utcnow()
    cutoff = now - timedelta(days=days)
    result = ErasureResult()
    session.commit()
    last_id = 0
    while True:
        begin_write(session)
        candidates = session.exec(
            select(Reporter.id)
            .join(Report, Report.reporter_id == Reporter.id)
            .where(Reporter.erased_at.is_(None), Reporter.id > last_id,
                   Report.status.in_(TERMINAL), Report.closed_at.is_not(None),
                   Report.closed_at < cutoff)
            .distinct().order_by(Reporter.id).limit(batch_size)).all()
        if not candidates:
            session.commit()
            break
        for reporter_id in candidates:
            last_id = reporter_id
            _erase_reporter(session, vault, reporter_id, cutoff, now, days, result)
        session.commit()
    return result


def _erase_reporter(session: Session, vault: PiiVault, reporter_id: int, cutoff: datetime,
                    now: datetime, days: int, result: ErasureResult) -> None:
    reports = session.exec(select(Report).where(Report.reporter_id == reporter_id)).all()
    if not reports or any(r.status not in TERMINAL or r.closed_at is None
                          or as_utc(r.closed_at) >= cutoff for r in reports):
        return  # another report of this reporter is still open or recent
    reporter = session.get(Reporter, reporter_id, populate_existing=True)
    name = vault.decrypt(reporter.name_enc)
    phone = vault.decrypt(reporter.phone_enc)
    email = vault.decrypt(reporter.email_enc)
    id_number = vault.decrypt(reporter.id_number_enc)
    needles = [v for v in (email, id_number) if v]
    if phone:
        needles += _phone_variants(phone)
    if name and len(name) >= 2:
        needles.append(name)
    addresses = {v.strip().lower() for v in (phone, email) if v}

    for column in ENCRYPTED_COLUMNS[Reporter]:
        setattr(reporter, column, None)
    reporter.phone_hash = reporter.email_hash = None
    reporter.erased_at = now
    session.add(reporter)
    erased_messages = 0
    for report in reports:
        text = _scrub(report.text, needles)
        place = _scrub(report.place_text, needles)
        classification = _scrub_classification(report.classification, needles)
        if (text, place, classification) != (report.text, report.place_text,
                                             report.classification):
            report.text, report.place_text = text, place
            report.classification = classification
            session.add(report)
        messages = session.exec(select(Message).where(Message.report_id == report.id,
                                                      Message.unit_id.is_(None))).all()
        for message in messages:
            recipient = (vault.decrypt(message.recipient_enc) or "").strip().lower()
            if recipient not in addresses:
                continue  # e.g. the task force's own address
            if message.status in (MessageStatus.queued, MessageStatus.sending):
                result.pending_messages += 1
                continue
            message.recipient_enc = vault.encrypt(ERASED_MESSAGE)
            message.body_enc = vault.encrypt(ERASED_MESSAGE)
            session.add(message)
            erased_messages += 1
        session.add(Event(report_id=report.id, kind="pii_erased",
                          note=f"举报人个人信息已按保存期限（{days}天）删除",
                          data={"retention_days": days, "messages": erased_messages}))
        result.reports += 1
    result.reporters += 1
    result.messages += erased_messages


# -- backup -------------------------------------------------------------------------------

def backup_database(url: str, output: Path, *, force: bool = False) -> str:
    """Write a consistent copy of the database to ``output``; returns a line to show.

    :raise PrivacyError: unsupported database, missing pg_dump, or pg_dump failed.
    """
    output = Path(output)
    if output.exists() and not force:
        raise PrivacyError(f"{output} exists; choose another name or pass --force.")
    output.parent.mkdir(parents=True, exist_ok=True)
    parsed = sa.engine.make_url(url)
    backend = parsed.get_backend_name()
    fd, tmp_name = tempfile.mkstemp(prefix=".backup-", dir=output.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.chmod(0o600)
    try:
        if backend == "sqlite":
            message = _backup_sqlite(parsed.database, tmp)
        elif backend == "postgresql":
            message = _backup_postgres(parsed, tmp)
        else:
            raise PrivacyError(f"no backup method for {backend} databases.")
        tmp.replace(output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return f"{message} -> {output}"


def _backup_sqlite(database: str | None, target: Path) -> str:
    if not database or database == ":memory:":
        raise PrivacyError("an in-memory SQLite database cannot be backed up.")
    if not Path(database).exists():
        raise PrivacyError(f"SQLite database {database} does not exist.")
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        dest = sqlite3.connect(target)
        try:
            source.backup(dest)  # copies WAL content too: a consistent snapshot
            dest.execute("PRAGMA journal_mode=DELETE")  # the copy is one self-contained file
            dest.commit()
            pages = dest.execute("PRAGMA page_count").fetchone()[0]
        finally:
            dest.close()
    finally:
        source.close()
    return f"SQLite online backup, {pages} pages"


def _backup_postgres(parsed: sa.engine.URL, target: Path) -> str:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise PrivacyError(
            "pg_dump was not found on PATH. Install the PostgreSQL client tools matching the "
            "server version (e.g. apt-get install postgresql-client) or run "
            "`pg_dump -Fc -f OUTPUT DATABASE` on the database host.")
    # Connection details go through libpq's environment, so no password is on a command line.
    env = dict(os.environ)
    for var, value in (("PGHOST", parsed.host), ("PGPORT", parsed.port),
                       ("PGUSER", parsed.username), ("PGPASSWORD", parsed.password),
                       ("PGDATABASE", parsed.database)):
        if value not in (None, ""):
            env[var] = str(value)
    # A fixed argv, no shell, no user text.
    completed = subprocess.run(  # noqa: S603  # nosec B603
        [pg_dump, "--format=custom", "--no-password", "--file", str(target)],
        env=env, capture_output=True, text=True, timeout=3600, check=False)
    if completed.returncode != 0:
        detail = (completed.stderr or "").strip().replace(parsed.password or "\0", "***")
        raise PrivacyError(f"pg_dump failed ({completed.returncode}): {detail[:500]}")
    return "PostgreSQL pg_dump (custom format; restore with pg_restore)"


# -- CLI ----------------------------------------------------------------------------------

def _session() -> Session:
    return Session(current_app.extensions["engine"], expire_on_commit=False)


def register_privacy_commands(app: Flask) -> None:
    """Add ``flask privacy rotate-keys|erase-expired`` and ``flask backup`` (idempotent)."""

    privacy_cli = AppGroup("privacy", help="Reporter data protection: key rotation and retention.")

    @privacy_cli.command("rotate-keys")
    @click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1))
    def rotate_keys_command(batch_size: int) -> None:
        """Re-encrypt all reporter PII and outbox rows with the first key of PII_KEYS."""
        try:
            keys = parse_keys(current_app.config.get("PII_KEYS"))
        except PrivacyError as exc:
            raise click.ClickException(str(exc)) from None
        with _session() as session:
            result = rotate_keys(session, keys, batch_size=batch_size)
        click.echo(f"rotated {result.rotated} value(s), {result.current} already current, "
                   f"{result.skipped} row(s) changed meanwhile (run again), "
                   f"{result.unreadable} unreadable with the configured keys")
        if result.unreadable:
            raise click.ClickException(
                "some values cannot be decrypted with any key in PII_KEYS: do not remove "
                "old keys until they are accounted for.")

    @privacy_cli.command("erase-expired")
    @click.option("--days", type=click.IntRange(0), default=None,
                  help="retention in days (default: PII_RETENTION_DAYS)")
    def erase_expired_command(days: int | None) -> None:
        """Erase reporter PII of reports finished more than the retention period ago."""
        days = current_app.config["PII_RETENTION_DAYS"] if days is None else days
        with _session() as session:
            result = erase_expired(session, current_app.extensions["pii"], days=days)
        click.echo(f"erased {result.reporters} reporter(s) of {result.reports} report(s), "
                   f"{result.messages} outbox message(s); {result.pending_messages} queued "
                   f"message(s) left for a later run (retention {days} days)")

    @click.command("backup")
    @click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--force", is_flag=True, help="overwrite OUTPUT if it exists")
    @with_appcontext
    def backup_command(output: Path, force: bool) -> None:
        """Write a consistent backup of the database to OUTPUT (mode 0600)."""
        try:
            line = backup_database(current_app.config["DATABASE_URL"], output, force=force)
        except PrivacyError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(line)

    app.cli.add_command(privacy_cli)
    app.cli.add_command(backup_command)
