"""Which campaign a request, message or staff member is about.

One deployment serves several campaigns (a city's and its counties'). Public pages live
under /c/<slug>/ (the bare paths serve the default campaign), an SMS or e-mail belongs to
the campaign whose published number or address it was sent to, and a staff account may be
limited to one campaign (`campaign_id` on the account; none means every campaign).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, g, has_request_context, request, session
from sqlmodel import Session, select

from notices.db import db_int
from notices.models import Campaign

STAFF_CAMPAIGN_KEY = "staff_campaign"


def active_campaigns(db: Session) -> list[Campaign]:
    return list(db.exec(select(Campaign).where(Campaign.is_active == True)  # noqa: E712
                        .order_by(Campaign.id)))


def by_slug(db: Session, slug: str) -> Campaign | None:
    return db.exec(select(Campaign).where(Campaign.slug == slug)).first()


def default_campaign(db: Session) -> Campaign | None:
    """The configured DEFAULT_CAMPAIGN if it is active, else the oldest active campaign."""
    wanted = by_slug(db, current_app.config.get("DEFAULT_CAMPAIGN") or "")
    if wanted is not None and wanted.is_active:
        return wanted
    return db.exec(select(Campaign).where(Campaign.is_active == True)  # noqa: E712
                   .order_by(Campaign.id)).first()


def public_campaign(db: Session, slug: str | None = None) -> Campaign:
    """The active campaign of a public page: /c/<slug>/... or the default. 404 otherwise."""
    campaign = by_slug(db, slug) if slug else default_campaign(db)
    if campaign is None or not campaign.is_active:
        abort(404)
    return campaign


def request_slug() -> str | None:
    """The campaign slug in the current URL (/c/<slug>/...), if any."""
    if not has_request_context() or not request.view_args:
        return None
    return request.view_args.get("campaign")


def add_campaign_to_urls(endpoint: str, values: dict) -> None:
    """url_defaults hook: links built on a /c/<slug>/ page stay in that campaign."""
    slug = request_slug()
    if slug and "campaign" not in values and current_app.url_map.is_endpoint_expecting(
            endpoint, "campaign"):
        values["campaign"] = slug


# ---- SMS numbers and e-mail addresses ------------------------------------------------

def sms_digits(number: str) -> str:
    """A number as the SMS webhook compares them: digits only, without China's 86."""
    digits = re.sub(r"\D", "", number or "")
    return digits[2:] if digits.startswith("86") and len(digits) > 11 else digits


def _publisher(db: Session, channel: str, matches: Callable[[str], bool]) -> Campaign | None:
    """The campaign (active or ended) whose published `channel` value matches."""
    return next((c for c in db.exec(select(Campaign).order_by(Campaign.id))
                 if matches(str((c.channels or {}).get(channel) or ""))), None)


def campaign_for_number(db: Session, number: str | None) -> Campaign | None:
    """The campaign that publishes this SMS service number (even if it has ended, so that
    the sender is told so), else the default campaign."""
    wanted = sms_digits(number or "")
    return (wanted and _publisher(db, "sms", lambda value: sms_digits(value) == wanted)) \
        or default_campaign(db)


def campaign_for_message(db: Session, recipients: list[str],
                         fallback_slug: str | None = None) -> Campaign | None:
    """An inbound e-mail's campaign: the one whose published address is among the
    recipients (even if it has ended), else `fallback_slug`, else the default campaign."""
    wanted = {a.strip().strip("<>").lower() for a in recipients if a}
    found = _publisher(db, "email", lambda value: bool(value) and value.lower() in wanted)
    if found is not None:
        return found
    fallback = by_slug(db, fallback_slug) if fallback_slug else None
    return fallback if fallback is not None and fallback.is_active else default_campaign(db)


# ---- staff -----------------------------------------------------------------------------

def staff_scope() -> int | None:
    """The campaign the signed-in staff member is limited to (None: every campaign)."""
    staff = g.get("staff")
    return getattr(staff, "campaign_id", None) if staff is not None else None


def in_scope(campaign_id: int | None) -> bool:
    """Whether the signed-in staff member may see a row of this campaign (a row of no
    campaign, e.g. a unit digest, only when not limited to one)."""
    scope = staff_scope()
    return scope is None or scope == campaign_id


def scope_clause(column: Any) -> Any:
    """A WHERE condition keeping rows of the signed-in staff member's campaign."""
    scope = staff_scope()
    return sa.true() if scope is None else column == scope


def staff_campaign(db: Session) -> Campaign:
    """The campaign a staff page works on.

    A limited account always gets its own campaign; others choose with ?campaign=<id> or
    the switcher (remembered in the session), else the default campaign.
    """
    scope = staff_scope()
    asked = request.args.get("campaign", type=db_int)
    if scope is not None and asked not in (None, scope):
        abort(404)
    wanted = scope or asked or session.get(STAFF_CAMPAIGN_KEY)
    campaign = db.get(Campaign, wanted) if wanted else None
    if campaign is None and asked and scope is None:  # an unknown ?campaign=
        abort(404)
    campaign = campaign or default_campaign(db) or db.exec(
        select(Campaign).order_by(Campaign.id.desc())).first()
    if campaign is None:
        abort(404)
    return campaign
