"""Look-ups the dashboard, ledger and admin pages share."""

from __future__ import annotations

from flask import abort, current_app, request
from sqlmodel import Session, select

from notices.models import Campaign, ChecklistItem


def current_campaign(session: Session) -> Campaign:
    """The campaign chosen by ?campaign=<id>, else the configured default, else the newest."""
    wanted = request.args.get("campaign", type=int) if request else None
    if wanted:
        campaign = session.get(Campaign, wanted)
        if campaign is None:
            abort(404)
        return campaign
    slug = current_app.config.get("DEFAULT_CAMPAIGN")
    campaign = session.exec(select(Campaign).where(Campaign.slug == slug)).first() or \
        session.exec(select(Campaign).order_by(Campaign.is_active.desc(),
                                               Campaign.id.desc())).first()
    if campaign is None:
        abort(404)
    return campaign


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
