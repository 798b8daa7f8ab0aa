"""Tables owned by the app layer: staff accounts and the rectification ledger."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from notices.dbtypes import enum_column, text_column, utc_column
from notices.timeutil import utcnow


class Role(enum.StrEnum):
    admin = "admin"
    taskforce = "taskforce"
    operator = "operator"
    unit = "unit"
    inspector = "inspector"


class User(SQLModel, table=True):
    __tablename__ = "staff_user"
    __table_args__ = (
        sa.CheckConstraint("role != 'unit' OR unit_id IS NOT NULL", name="ck_unit_user_has_unit"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, sa_column_kwargs={"unique": True}, nullable=False)
    display_name: str = Field(max_length=64)
    password_hash: str = Field(max_length=255)
    role: Role = Field(sa_column=enum_column(Role, index=True))
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    # Limits a task force, operator or inspector account to one campaign; None: all of them.
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    is_active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_login_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class LedgerStatus(enum.StrEnum):
    in_progress = "整改中"
    done = "已完成"
    long_term = "长期推进"


class LedgerSource(enum.StrEnum):
    clue = "clue"
    inspection = "inspection"
    self_check = "self_check"


class LedgerEntry(SQLModel, table=True):
    """A row of the 整改工作台账 (attachment 2 of the notice)."""

    __table_args__ = (sa.UniqueConstraint("campaign_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    seq: int
    category: str = Field(max_length=32)
    symptom: str = Field(sa_column=text_column())
    measures: str = Field(sa_column=text_column())
    unit_id: int = Field(foreign_key="unit.id", index=True)
    deadline_text: str = Field(default="", max_length=128)
    progress: str = Field(default="", sa_column=text_column())
    accountability: str = Field(default="", sa_column=text_column())
    status: LedgerStatus = Field(sa_column=enum_column(LedgerStatus, index=True))
    source: LedgerSource = Field(sa_column=enum_column(LedgerSource))
    report_id: int | None = Field(default=None, foreign_key="report.id")
    completion_approved_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    completion_approved_at: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class LedgerEntryReport(SQLModel, table=True):
    """The reports behind a ledger entry (an entry may gather several clues)."""

    entry_id: int = Field(foreign_key="ledgerentry.id", primary_key=True)
    report_id: int = Field(foreign_key="report.id", primary_key=True)


class LedgerUpdate(SQLModel, table=True):
    """Progress history of a ledger entry (整改进度), kept rather than overwritten."""

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="ledgerentry.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    author_id: int | None = Field(default=None, foreign_key="staff_user.id")
    progress: str = Field(sa_column=text_column())
    status: LedgerStatus = Field(sa_column=enum_column(LedgerStatus))


class TypicalCase(SQLModel, table=True):
    """A report the task force marked as a positive or negative typical case (典型案例)."""

    __table_args__ = (sa.UniqueConstraint("report_id"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    report_id: int = Field(foreign_key="report.id")
    polarity: str = Field(max_length=8)  # positive | negative
    note: str = Field(default="", sa_column=text_column())
    marked_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class ApiClient(SQLModel, table=True):
    """An Open311 client (a 12345 platform, an app) with its own key, issued by the admin."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128)
    key_prefix: str = Field(max_length=12, index=True)
    key_hash: str = Field(max_length=128)
    created_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class ApiToken(SQLModel, table=True):
    """A staff member's token for the JSON API (hashed, revocable)."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="staff_user.id", index=True)
    name: str = Field(default="", max_length=64)
    token_prefix: str = Field(max_length=12, index=True)
    token_hash: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    last_used_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class WorkerHeartbeat(SQLModel, table=True):
    """When a background worker last finished a cycle (read by /healthz)."""

    name: str = Field(max_length=64, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    detail: str = Field(default="", max_length=255)
