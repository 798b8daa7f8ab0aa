"""Campaign, its phases and its checklist items."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from notices.timeutil import utcnow


class Campaign(SQLModel, table=True):
    """A rectification campaign as published in its notice (整治通告)."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, sa_column_kwargs={"unique": True}, nullable=False)
    code: str = Field(max_length=64)
    title: str = Field(max_length=255)
    short_title: str = Field(max_length=255)
    short_title_en: str | None = Field(default=None, max_length=255)  # for English messages
    issuer: str = Field(max_length=128)
    issued_on: date | None = None
    tracking_prefix: str = Field(max_length=16, sa_column_kwargs={"unique": True})
    summary: str = Field(default="", sa_column=Column(sa.Text, nullable=False))
    notice_text: str = Field(default="", sa_column=Column(sa.Text, nullable=False))
    five_areas: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    channels: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    contact: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    deadlines: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Routing settings from routing.yaml: min_confidence, conflict_of_interest.
    routing: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    is_active: bool = Field(default=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class Phase(SQLModel, table=True):
    """A step of the campaign (section 五 of the notice) with its due date and milestones."""

    __table_args__ = (sa.UniqueConstraint("campaign_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    seq: int
    name: str = Field(max_length=64)
    due_on: date | None = None
    description: str = Field(default="", sa_column=Column(sa.Text, nullable=False))
    milestones: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ChecklistItem(SQLModel, table=True):
    """One line of the campaign's 对照检查清单 (attachment 1)."""

    __table_args__ = (sa.UniqueConstraint("campaign_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    number: int
    group_number: int
    group_title: str = Field(max_length=128)
    category_number: int
    category: str = Field(max_length=64)
    category_heading: str = Field(max_length=128)
    text: str = Field(sa_column=Column(sa.Text, nullable=False))
    keywords: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
