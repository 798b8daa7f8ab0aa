"""Units, routing rules, assignments and the feedback loop's records."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from notices.dbtypes import enum_column, text_column, utc_column
from notices.timeutil import utcnow


class UnitKind(enum.StrEnum):
    city_bureau = "city_bureau"
    county_bureau = "county_bureau"
    office = "office"
    external = "external"


class Unit(SQLModel, table=True):
    """A 责任单位 that receives clues (or, if external, referrals)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, sa_column_kwargs={"unique": True}, nullable=False)
    name: str = Field(max_length=128, sa_column_kwargs={"unique": True}, nullable=False)
    short_name: str = Field(max_length=64)
    name_en: str | None = Field(default=None, max_length=255)  # for English messages
    kind: UnitKind = Field(sa_column=enum_column(UnitKind))
    parent_id: int | None = Field(default=None, foreign_key="unit.id")
    jurisdiction: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    email: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=32)
    leaders: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    is_active: bool = True


class RoutingAction(enum.StrEnum):
    dispatch = "dispatch"
    refer = "refer"


class RoutingRule(SQLModel, table=True):
    """One ordered rule of a campaign's routing policy (editable by the task force)."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    priority: int
    name: str = Field(max_length=64)
    when: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    action: RoutingAction = Field(sa_column=enum_column(RoutingAction))
    unit_id: int = Field(foreign_key="unit.id")
    is_active: bool = True


class Assignment(SQLModel, table=True):
    """A 转办: one report forwarded to one unit, with its deadlines."""

    __table_args__ = (
        sa.Index("ix_assignment_unit_current_due", "unit_id", "is_current", "reply_due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    round: int = 1
    is_current: bool = True
    dispatched_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    dispatched_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    acknowledge_due_at: datetime = Field(sa_column=utc_column())
    return_due_at: datetime = Field(sa_column=utc_column())
    reply_due_at: datetime = Field(sa_column=utc_column(index=True))
    acknowledged_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    returned_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    return_reason: str = Field(default="", sa_column=text_column())
    extension_requested_at: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True))
    extension_days: int | None = None
    extension_reason: str = Field(default="", sa_column=text_column())
    extension_decision: str | None = Field(default=None, max_length=16)
    replied_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    note: str = Field(default="", sa_column=text_column())


class Finding(enum.StrEnum):
    true = "属实"
    partly_true = "部分属实"
    untrue = "不属实"
    unverifiable = "无法核实"


class ReviewStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class Reply(SQLModel, table=True):
    """A unit's 办结回复 and the task force's 审核 of it."""

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    assignment_id: int = Field(foreign_key="assignment.id", index=True)
    finding: Finding = Field(sa_column=enum_column(Finding))
    measures: str = Field(sa_column=text_column())
    accountability: str = Field(default="", sa_column=text_column())
    public_text: str = Field(sa_column=text_column())
    author_id: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    review_status: ReviewStatus = Field(sa_column=enum_column(ReviewStatus, index=True))
    reviewer_id: int | None = Field(default=None, foreign_key="staff_user.id")
    reviewed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    review_note: str = Field(default="", sa_column=text_column())


class ReplyAttachment(SQLModel, table=True):
    """Files a unit attached to its reply (evidence of rectification)."""

    reply_id: int = Field(foreign_key="reply.id", primary_key=True)
    attachment_id: int = Field(foreign_key="attachment.id", primary_key=True)


class Rating(enum.StrEnum):
    satisfied = "满意"
    basically_satisfied = "基本满意"
    unsatisfied = "不满意"
    unrated = "未评价"


class Feedback(SQLModel, table=True):
    """A citizen's 回访 rating of a reply."""

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    reply_id: int | None = Field(default=None, foreign_key="reply.id")
    rating: Rating = Field(sa_column=enum_column(Rating))
    channel: str = Field(max_length=16)
    note: str = Field(default="", sa_column=text_column())
    recorded_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class EscalationLevel(enum.StrEnum):
    warning = "warning"
    reminder = "reminder"
    supervision = "supervision"
    listed = "listed"


class Escalation(SQLModel, table=True):
    """预警 / 催办 / 督办 / 挂牌督办 of one assignment's deadline; unique so the sweep is idempotent."""

    __table_args__ = (
        sa.UniqueConstraint("assignment_id", "due_kind", "level", name="uq_escalation_once"),
    )

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    assignment_id: int = Field(foreign_key="assignment.id")
    due_kind: str = Field(max_length=16)
    level: EscalationLevel = Field(sa_column=enum_column(EscalationLevel, index=True))
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    note: str = Field(default="", sa_column=text_column())


class CalendarOverride(SQLModel, table=True):
    """A published holiday (workday=False) or make-up working day (workday=True)."""

    day: date = Field(primary_key=True)
    workday: bool
    note: str = Field(default="", max_length=64)


class CalendarYear(SQLModel, table=True):
    """Whether a year's schedule is complete: the State Council's notice entered in full
    (until then deadlines in that year carry a warning, however many days are entered)."""

    __tablename__ = "calendar_year"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    published: bool = True
    source: str = Field(default="", max_length=255)
