"""Reports, their reporters (PII kept apart, encrypted), attachments and audit events."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from notices.dbtypes import enum_column, text_column, utc_column
from notices.timeutil import utcnow


class Channel(enum.StrEnum):
    web = "web"
    sms = "sms"
    email = "email"
    hotline = "hotline"
    inspection = "inspection"
    api = "api"


class ReportStatus(enum.StrEnum):
    received = "received"
    triage = "triage"
    dispatched = "dispatched"
    acknowledged = "acknowledged"
    replied = "replied"
    rejected_reply = "rejected_reply"
    reviewed = "reviewed"
    awaiting_feedback = "awaiting_feedback"
    reopened = "reopened"
    closed = "closed"
    returned = "returned"
    referred = "referred"
    merged = "merged"
    not_accepted = "not_accepted"


class Kind(enum.StrEnum):
    complaint = "complaint"
    tip = "tip"
    inquiry = "inquiry"
    praise = "praise"
    spam = "spam"
    invalid = "invalid"


class TrackingCounter(SQLModel, table=True):
    """Last tracking-number sequence used per campaign and CST day (row-locked on update)."""

    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True)
    day: str = Field(max_length=8, primary_key=True)
    last: int = 0


class Reporter(SQLModel, table=True):
    """Who reported. Every field is Fernet ciphertext; the hashes are keyed (HMAC) for matching."""

    id: int | None = Field(default=None, primary_key=True)
    name_enc: str | None = Field(default=None, sa_column=text_column(nullable=True))
    phone_enc: str | None = Field(default=None, sa_column=text_column(nullable=True))
    email_enc: str | None = Field(default=None, sa_column=text_column(nullable=True))
    id_number_enc: str | None = Field(default=None, sa_column=text_column(nullable=True))
    address_enc: str | None = Field(default=None, sa_column=text_column(nullable=True))
    phone_hash: str | None = Field(default=None, max_length=64, index=True)
    email_hash: str | None = Field(default=None, max_length=64, index=True)
    erased_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class Report(SQLModel, table=True):
    """A 问题线索 registered against a campaign."""

    __table_args__ = (
        sa.UniqueConstraint("channel", "source_ref", name="uq_report_channel_source_ref"),
        sa.Index("ix_report_campaign_status", "campaign_id", "status"),
        sa.Index("ix_report_campaign_received", "campaign_id", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id")
    tracking_no: str = Field(max_length=32, sa_column_kwargs={"unique": True}, nullable=False)
    receipt_hash: str = Field(max_length=255)
    channel: Channel = Field(sa_column=enum_column(Channel, index=True))
    source_ref: str | None = Field(default=None, max_length=255)
    received_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    status: ReportStatus = Field(sa_column=enum_column(ReportStatus, index=True))
    version: int = Field(default=1)

    text: str = Field(sa_column=text_column())
    place_text: str = Field(default="", max_length=255)
    district: str | None = Field(default=None, max_length=16, index=True)
    occurred_text: str = Field(default="", max_length=64)
    plate: str | None = Field(default=None, max_length=16, index=True)
    latitude: float | None = None
    longitude: float | None = None
    is_anonymous: bool = True
    reporter_id: int | None = Field(default=None, foreign_key="reporter.id")
    callback_shared: bool = False

    kind: Kind | None = Field(default=None, sa_column=enum_column(Kind, nullable=True))
    agency: str | None = Field(default=None, max_length=16)
    category: str | None = Field(default=None, max_length=32, index=True)
    items: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    confidence: float | None = None
    classification: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    classification_confirmed: bool = False

    duplicate_of_id: int | None = Field(default=None, foreign_key="report.id")
    language: str = Field(default="zh", max_length=8)
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class Attachment(SQLModel, table=True):
    """A file stored outside static under a random name; images re-encoded without EXIF."""

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    stored_name: str = Field(max_length=64, sa_column_kwargs={"unique": True}, nullable=False)
    original_name: str = Field(default="", max_length=255)
    content_type: str = Field(max_length=64)
    size: int
    sha256: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class Event(SQLModel, table=True):
    """Append-only audit trail (操作记录). `public` events appear in the citizen's tracker."""

    __table_args__ = (sa.Index("ix_event_report_at", "report_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int | None = Field(default=None, foreign_key="report.id")
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    actor_id: int | None = Field(default=None, foreign_key="staff_user.id")
    kind: str = Field(max_length=48, index=True)
    public: bool = False
    note: str = Field(default="", sa_column=text_column())
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class MediaStatus(enum.StrEnum):
    queued = "queued"
    fetching = "fetching"
    kept = "kept"
    failed = "failed"


class PendingMedia(SQLModel, table=True):
    """A picture sent with an MMS report, fetched from the SMS provider by the worker.

    Only the provider's ids are stored, never the URL the webhook named: the worker builds
    the address from its own configured API base, so a forged URL cannot make it fetch
    anything else. Claimed and retried like outbox messages (app/worker.py).
    """

    __table_args__ = (sa.UniqueConstraint("message_sid", "media_sid", name="uq_pendingmedia_sid"),
                      sa.Index("ix_pendingmedia_status_next", "status", "next_attempt_at"))

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    message_sid: str = Field(max_length=64)
    media_sid: str = Field(max_length=64)
    status: MediaStatus = Field(sa_column=enum_column(MediaStatus))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    last_error: str = Field(default="", max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
