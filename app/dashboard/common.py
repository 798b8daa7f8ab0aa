"""Look-ups the dashboard, ledger and admin pages share."""

from __future__ import annotations

from sqlmodel import Session, select

from notices.models import ChecklistItem


def categories(session: Session, campaign_id: int) -> list[str]:
    rows = session.exec(select(ChecklistItem.category_number, ChecklistItem.category)
                        .where(ChecklistItem.campaign_id == campaign_id)
                        .distinct().order_by(ChecklistItem.category_number)).all()
    seen: list[str] = []
    for _n, name in rows:
        if name not in seen:
            seen.append(name)
    return seen


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"
