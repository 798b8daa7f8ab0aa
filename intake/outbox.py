"""The outbox: every outbound SMS and e-mail is a row written in the caller's transaction.

A worker (app/worker.py) delivers queued rows; nothing here talks to a provider.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel

from intake.pii import PiiVault
from notices.dbtypes import enum_column, text_column, utc_column
from notices.timeutil import utcnow


class MessageChannel(enum.StrEnum):
    sms = "sms"
    email = "email"


class MessageStatus(enum.StrEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"


class Message(SQLModel, table=True):
    __table_args__ = (sa.Index("ix_message_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: MessageChannel = Field(sa_column=enum_column(MessageChannel))
    recipient_enc: str = Field(sa_column=text_column())
    subject: str = Field(default="", max_length=255)
    body_enc: str = Field(sa_column=text_column())
    report_id: int | None = Field(default=None, foreign_key="report.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    purpose: str = Field(max_length=48)
    dedupe_key: str | None = Field(default=None, max_length=128, sa_column_kwargs={"unique": True})
    status: MessageStatus = Field(sa_column=enum_column(MessageStatus))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    provider_id: str | None = Field(default=None, max_length=128)
    last_error: str = Field(default="", sa_column=text_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


def queue_message(session: Session, vault: PiiVault, *, channel: MessageChannel | str,
                  recipient: str, body: str, purpose: str, subject: str = "",
                  report_id: int | None = None, unit_id: int | None = None,
                  dedupe_key: str | None = None) -> Message:
    """Add a message to the outbox in the caller's transaction (the caller commits).

    Recipient and body are encrypted: a citizen's number is PII and an acknowledgement
    carries the receipt code.
    """
    message = Message(channel=MessageChannel(channel), recipient_enc=vault.encrypt(recipient),
                      body_enc=vault.encrypt(body), subject=subject, purpose=purpose,
                      report_id=report_id, unit_id=unit_id, dedupe_key=dedupe_key,
                      status=MessageStatus.queued)
    session.add(message)
    return message
