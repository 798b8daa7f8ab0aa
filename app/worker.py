"""The outbox worker: delivers queued messages with retries, and runs periodic jobs.

Claiming is what keeps several workers from sending a message twice. A worker moves due
rows from `queued` to `sending` in a short transaction of its own and commits, then talks
to the provider outside any transaction, then records the outcome:

* PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` picks rows no other worker holds;
* SQLite: one writer at a time (the claim transaction starts with BEGIN IMMEDIATE);
  each row is claimed by a conditional UPDATE (`status` still claimable) whose rowcount
  says whether this worker won it.

A claim is a lease: `next_attempt_at` is pushed `lease` into the future and `attempts` is
incremented (it doubles as a fencing token when the outcome is written). A worker that
dies mid-batch leaves rows in `sending`; they become claimable again when the lease ends,
so delivery is at-least-once across crashes and exactly-once otherwise.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask, current_app
from sqlmodel import Session, func, select

from app.gateways import (
    DeliveryError,
    Gateways,
    MediaGateway,
    PermanentDeliveryError,
    build_gateways,
    redact_for_log,
)
from app.models import WorkerHeartbeat
from intake.mms import keep_media, media_lost
from intake.models import Event, MediaStatus, PendingMedia
from intake.outbox import Message, MessageChannel, MessageStatus
from intake.pii import PiiVault
from intake.registration import IntakeServices
from intake.uploads import IncomingFile, UploadError, discard, prepare, store
from notices.db import begin_write
from notices.timeutil import as_utc, utcnow

log = logging.getLogger("app.outbox")

MAX_ATTEMPTS = 8
BASE_DELAY = timedelta(seconds=60)
MAX_DELAY = timedelta(hours=6)
LEASE = timedelta(minutes=15)
REDACTED = "[redacted]"
ACK_RETENTION = timedelta(hours=24)
_CLAIMABLE = (MessageStatus.queued, MessageStatus.sending)

SessionFactory = Callable[[], Session]


def backoff(attempts: int, base: timedelta = BASE_DELAY, cap: timedelta = MAX_DELAY) -> timedelta:
    """Delay before the next try after `attempts` failed ones: base, 2×base, 4×base ... cap."""
    return min(cap, base * (2 ** max(0, attempts - 1)))


def claim_due(session_factory: SessionFactory, *, batch: int, now: datetime,
              lease: timedelta = LEASE, table: sa.Table | None = None,
              claimable: tuple[str, ...] = _CLAIMABLE,
              claimed_status: str = MessageStatus.sending) -> list[tuple[int, int]]:
    """Claim up to `batch` due rows for this worker; returns (id, attempts) pairs.

    `table` is the outbox by default; pictures to fetch (PendingMedia) are claimed the same
    way, with their own `claimable` and `claimed_status`.
    """
    table = table if table is not None else Message.__table__
    due = (sa.select(table.c.id)
           .where(table.c.status.in_(claimable), table.c.next_attempt_at <= now)
           .order_by(table.c.next_attempt_at, table.c.id).limit(batch))
    claimed: list[tuple[int, int]] = []
    with session_factory() as session:
        begin_write(session)  # SQLite: BEGIN IMMEDIATE, the single writer
        if session.get_bind().dialect.name == "postgresql":
            ids = list(session.execute(due.with_for_update(skip_locked=True)).scalars())
            if ids:
                rows = session.execute(
                    sa.update(table).where(table.c.id.in_(ids))
                    .values(status=claimed_status, attempts=table.c.attempts + 1,
                            next_attempt_at=now + lease)
                    .returning(table.c.id, table.c.attempts)).all()
                claimed = [(row.id, row.attempts) for row in rows]
        else:
            for message_id in list(session.execute(due).scalars()):
                result = session.execute(
                    sa.update(table)
                    .where(table.c.id == message_id, table.c.status.in_(claimable),
                           table.c.next_attempt_at <= now)
                    .values(status=claimed_status, attempts=table.c.attempts + 1,
                            next_attempt_at=now + lease))
                if result.rowcount == 1:
                    attempts = session.execute(sa.select(table.c.attempts)
                                               .where(table.c.id == message_id)).scalar_one()
                    claimed.append((message_id, attempts))
        session.commit()
    claimed.sort()
    return claimed


def _finish(session_factory: SessionFactory, message_id: int, attempts: int,
            values: dict[str, Any], failed_event: dict | None = None, *,
            table: sa.Table | None = None, claimed_status: str = MessageStatus.sending,
            record: Callable[[Session], None] | None = None) -> bool:
    """Write an outcome if this worker still holds the claim (same `attempts`);
    `record` adds what goes with the outcome in the same transaction."""
    table = table if table is not None else Message.__table__
    with session_factory() as session:
        begin_write(session)
        result = session.execute(
            sa.update(table).where(table.c.id == message_id,
                                   table.c.status == claimed_status,
                                   table.c.attempts == attempts).values(**values))
        if result.rowcount != 1:
            session.rollback()
            log.warning("%s %s: claim lost before its outcome was recorded", table.name,
                        message_id)
            return False
        if failed_event is not None and failed_event.get("report_id"):
            session.add(Event(report_id=failed_event.pop("report_id"), kind="message_failed",
                              public=False, data=failed_event))
        if record is not None:
            record(session)
        session.commit()
    return True


def _gateway_for(gateways: Gateways | Mapping[str, Any], channel: str) -> Any:
    if isinstance(gateways, Mapping):
        return gateways[channel]
    return gateways.for_channel(channel)


def deliver_due(session_factory: SessionFactory, gateways: Gateways | Mapping[str, Any], *,
                batch: int = 50, now: datetime | None = None, vault: PiiVault | None = None,
                max_attempts: int = MAX_ATTEMPTS, base_delay: timedelta = BASE_DELAY,
                lease: timedelta = LEASE) -> int:
    """Deliver up to `batch` due outbox messages; returns how many were sent.

    Transient failures go back to `queued` with exponential backoff (until `max_attempts`,
    then `failed`); permanent ones are `failed` at once, with `last_error` (recipient masked)
    and a non-public `message_failed` event on the report for the task force.
    """
    now = as_utc(now) if now is not None else utcnow()
    vault = vault if vault is not None else current_app.extensions["pii"]
    claimed = claim_due(session_factory, batch=batch, now=now, lease=lease)
    started = time.monotonic()
    sent = 0
    down: dict[str, datetime] = {}  # channel -> retry time, once its provider is unreachable
    for message_id, attempts in claimed:
        with session_factory() as session:
            message = session.get(Message, message_id)
            channel = message.channel.value
            recipient = vault.decrypt(message.recipient_enc)
            body = vault.decrypt(message.body_enc)
            subject = message.subject
            report_id, purpose = message.report_id, message.purpose

        if channel in down or time.monotonic() - started > lease.total_seconds() / 2:
            # Provider already failed in this batch, or the lease is running out: give the
            # claim back without counting an attempt.
            _finish(session_factory, message_id, attempts,
                    {"status": MessageStatus.queued, "attempts": attempts - 1,
                     "next_attempt_at": down.get(channel, now)})
            continue

        error: DeliveryError | None = None
        provider_id = None
        if not recipient or body is None:
            error = PermanentDeliveryError(
                "recipient or body cannot be decrypted (key rotated away?)")
        else:
            gateway = _gateway_for(gateways, channel)
            try:
                if channel == MessageChannel.sms:
                    provider_id = gateway.send(recipient, body)
                else:
                    provider_id = gateway.send(recipient, subject, body)
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # a gateway bug must not stop the worker
                log.exception("outbox message %s: unexpected gateway error", message_id)
                error = DeliveryError(f"unexpected {type(exc).__name__}")

        if error is None:
            done = {"status": MessageStatus.sent, "provider_id": str(provider_id)[:128],
                    "sent_at": now, "last_error": ""}
            if purpose == "ack":  # delivered: the receipt code need not be kept any longer
                done["body_enc"] = vault.encrypt(REDACTED)
            if _finish(session_factory, message_id, attempts, done):
                sent += 1
            continue

        reason = redact_for_log(error.reason, recipient)[:500]
        if error.permanent or attempts >= max_attempts:
            log.warning("outbox message %s (%s, %s) failed permanently after %d attempt(s): %s",
                        message_id, channel, purpose, attempts, reason)
            _finish(session_factory, message_id, attempts,
                    {"status": MessageStatus.failed, "last_error": reason},
                    {"report_id": report_id, "message_id": message_id, "channel": channel,
                     "purpose": purpose, "error": reason})
        else:
            retry_at = now + backoff(attempts, base_delay)
            log.info("outbox message %s (%s) attempt %d failed, retry at %s: %s",
                     message_id, channel, attempts, retry_at.isoformat(), reason)
            _finish(session_factory, message_id, attempts,
                    {"status": MessageStatus.queued, "next_attempt_at": retry_at,
                     "last_error": reason})
            down[channel] = retry_at
    return sent


_MEDIA = PendingMedia.__table__
_MEDIA_CLAIMABLE = (MediaStatus.queued, MediaStatus.fetching)


def fetch_due_media(session_factory: SessionFactory, gateway: MediaGateway,
                    services: IntakeServices, *, batch: int = 20, now: datetime | None = None,
                    max_attempts: int = MAX_ATTEMPTS, base_delay: timedelta = BASE_DELAY,
                    lease: timedelta = LEASE) -> int:
    """Fetch due MMS pictures, check them like web uploads and attach them to their
    reports; returns how many were kept. A kept picture is then deleted at the provider.

    A picture that is gone, too large, or not a photo, video or PDF by content fails at
    once; an unreachable provider is retried with backoff like an outbox message. Either
    end is told to the citizen's tracker and the task force (`media_kept` / `media_failed`).
    """
    now = as_utc(now) if now is not None else utcnow()
    claimed = claim_due(session_factory, batch=batch, now=now, lease=lease, table=_MEDIA,
                        claimable=_MEDIA_CLAIMABLE, claimed_status=MediaStatus.fetching)
    finish = partial(_finish, session_factory, table=_MEDIA, claimed_status=MediaStatus.fetching)
    kept = 0
    for media_id, attempts in claimed:
        with session_factory() as session:
            media = session.get(PendingMedia, media_id)
        error: DeliveryError | None = None
        stored = []
        try:
            data = gateway.fetch_media(media.message_sid, media.media_sid,
                                       services.max_file_bytes)
            prepared = prepare([IncomingFile(media.media_sid, data)], max_files=1,
                               max_bytes=services.max_file_bytes)
            stored = store(prepared, services.upload_dir)
        except DeliveryError as exc:
            error = exc
        except UploadError as exc:
            error = PermanentDeliveryError(f"refused by the upload checks: {exc.args[0]}")
        except Exception as exc:  # a gateway bug must not stop the worker
            log.exception("MMS picture %s: unexpected error", media_id)
            error = DeliveryError(f"unexpected {type(exc).__name__}")

        if error is None:
            if finish(media_id, attempts, {"status": MediaStatus.kept, "last_error": ""},
                      record=lambda session, media=media, item=stored[0]:
                      keep_media(session, media, item)):
                kept += 1
                _delete_at_provider(gateway, media)
            else:
                discard(stored)
            continue
        reason = str(error.reason)[:255]
        if error.permanent or attempts >= max_attempts:
            log.warning("MMS picture %s of report %s failed after %d attempt(s): %s",
                        media_id, media.report_id, attempts, reason)
            finish(media_id, attempts, {"status": MediaStatus.failed, "last_error": reason},
                   record=lambda session, media=media, reason=reason:
                   media_lost(session, media, reason))
        else:
            finish(media_id, attempts, {"status": MediaStatus.queued, "last_error": reason,
                                        "next_attempt_at": now + backoff(attempts, base_delay)})
    return kept


def _delete_at_provider(gateway: MediaGateway, media: PendingMedia) -> None:
    try:
        gateway.delete_media(media.message_sid, media.media_sid)
    except Exception as exc:  # kept here already; the provider's copy is only a leftover
        log.warning("MMS picture %s kept, but deleting it at the provider failed: %s",
                    media.media_sid, type(exc).__name__)


def redact_old_acks(session: Session, vault: PiiVault, now: datetime | None = None, *,
                    retention: timedelta = ACK_RETENTION, limit: int = 500) -> int:
    """Replace the body of acknowledgements older than `retention` with "[redacted]".

    Acknowledgements carry the receipt code, which must not linger: delivery redacts its
    own; this catches the failed ones and those answered inline (TwiML) once retry and
    replay windows are over. An
    encrypted "[redacted]" is one Fernet block; every acknowledgement (campaign title,
    tracking number, code: well over 16 bytes) is longer, so rows still to do are found by
    ciphertext length without decrypting anything.
    The caller commits; returns the number of rows changed.
    """
    now = as_utc(now) if now is not None else utcnow()
    begin_write(session)
    redacted_len = len(vault.encrypt(REDACTED) or "")
    cutoff = now - retention
    done_at = func.coalesce(Message.sent_at, Message.created_at)
    rows = session.exec(
        select(Message).where(Message.purpose == "ack",
                              Message.status.in_([MessageStatus.sent, MessageStatus.failed]),
                              done_at <= cutoff,
                              func.length(Message.body_enc) > redacted_len)
        .order_by(Message.id).limit(limit)).all()
    for message in rows:
        message.body_enc = vault.encrypt(REDACTED)
        session.add(message)
    session.flush()
    return len(rows)


def run_cycle(app: Flask, gateways: Gateways, *, batch: int = 50) -> int:
    """One worker cycle: deliver, redact old acknowledgements, run the extra jobs."""
    engine = app.extensions["engine"]
    vault: PiiVault = app.extensions["pii"]

    def session_factory() -> Session:
        return Session(engine, expire_on_commit=False)

    sent = 0
    delivered = True  # a cycle whose delivery crashed writes no heartbeat: /healthz goes stale
    with app.app_context():
        try:
            sent = deliver_due(session_factory, gateways, batch=batch, vault=vault,
                               max_attempts=int(app.config.get("OUTBOX_MAX_ATTEMPTS",
                                                               MAX_ATTEMPTS)),
                               base_delay=timedelta(seconds=float(app.config.get(
                                   "OUTBOX_RETRY_BASE_SECONDS",
                                   BASE_DELAY.total_seconds()))))
        except Exception:
            delivered = False
            log.exception("outbox delivery cycle failed")
        sms = _gateway_for(gateways, "sms") if gateways is not None else None
        if isinstance(sms, MediaGateway) and app.extensions["intake"].mms_account:
            try:
                fetch_due_media(session_factory, sms, app.extensions["intake"],
                                base_delay=timedelta(seconds=float(app.config.get(
                                    "OUTBOX_RETRY_BASE_SECONDS", BASE_DELAY.total_seconds()))))
            except Exception:
                log.exception("fetching MMS pictures failed")
        try:
            with session_factory() as session:
                redact_old_acks(session, vault)
                session.commit()
        except Exception:
            log.exception("redacting old acknowledgements failed")
        for job in list(app.extensions.get("worker_jobs", [])):
            try:
                job()
            except Exception:
                log.exception("worker job %s failed", getattr(job, "__name__", job))
        try:
            if delivered:
                with session_factory() as session:
                    beat(session, f"sent={sent}")
                    session.commit()
        except Exception:
            log.exception("recording the worker heartbeat failed")
    return sent


def beat(session: Session, detail: str = "", name: str = "outbox") -> None:
    """Record that a worker is alive (one row shared by all workers: the latest wins)."""
    row = session.get(WorkerHeartbeat, name)
    if row is None:
        session.add(WorkerHeartbeat(name=name, at=utcnow(), detail=detail[:255]))
    else:
        row.at, row.detail = utcnow(), detail[:255]


def run_worker(app: Flask, interval: float = 10.0, *, once: bool = False,
               stop: threading.Event | None = None, batch: int = 50) -> None:
    """Run cycles every `interval` seconds until `stop` is set (SIGTERM/SIGINT in the CLI).

    Extra periodic work (the escalation sweep) registers itself as a no-argument callable
    in `app.extensions["worker_jobs"]`; each is called once per cycle inside an app context.
    """
    gateways = build_gateways(app)
    stop = stop or threading.Event()
    log.info("outbox worker started (sms=%s, email=%s, every %ss)",
             gateways.sms.name, gateways.email.name, interval)
    while not stop.is_set():
        sent = run_cycle(app, gateways, batch=batch)
        if once:
            break
        if sent >= batch:
            continue  # more may be waiting: no pause while draining a backlog
        stop.wait(interval)
    log.info("outbox worker stopped")


def register_worker_command(app: Flask) -> None:
    """`flask --app wsgi worker [--interval 10] [--once]`."""

    @app.cli.command("worker")
    @click.option("--interval", default=10.0, show_default=True, help="seconds between cycles")
    @click.option("--batch", default=50, show_default=True, help="messages claimed per cycle")
    @click.option("--once", is_flag=True, help="run one cycle and exit (for cron)")
    def worker_command(interval: float, batch: int, once: bool) -> None:
        """Deliver queued SMS and e-mail, redact old acknowledgements, run periodic jobs."""
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        run_worker(current_app._get_current_object(), interval, once=once, stop=stop,
                   batch=batch)
