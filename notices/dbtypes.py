"""Column helpers shared by every package's models."""

from __future__ import annotations

import enum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column


def enum_column(enum_cls: type[enum.Enum], *, nullable: bool = False, index: bool = False,
                default: Any = None) -> Column:
    """A constrained VARCHAR column holding an enum's values (CHECK constraint, no native type)."""
    return Column(
        sa.Enum(
            enum_cls,
            native_enum=False,
            create_constraint=True,
            length=32,
            values_callable=lambda members: [m.value for m in members],
            name=f"ck_{enum_cls.__name__.lower()}",
        ),
        nullable=nullable,
        index=index,
        default=default,
    )


def utc_column(*, nullable: bool = False, index: bool = False) -> Column:
    return Column(sa.DateTime(timezone=True), nullable=nullable, index=index)


def text_column(*, nullable: bool = False) -> Column:
    return Column(sa.Text, nullable=nullable)
