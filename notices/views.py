"""Public pages of a campaign: the notice (home) and the checklist.

Each page exists at /c/<slug>/... for every active campaign; the bare path serves the
default campaign.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlmodel import select

from notices.campaigns import active_campaigns, public_campaign
from notices.db import get_session
from notices.loader import grouped_checklist
from notices.models import Phase

bp = Blueprint("notices", __name__, template_folder="templates")


@bp.route("/")
@bp.route("/c/<campaign>/")
def home(campaign: str | None = None):
    session = get_session()
    current = public_campaign(session, campaign)
    phases = session.exec(select(Phase).where(Phase.campaign_id == current.id)
                          .order_by(Phase.seq)).all()
    others = [c for c in active_campaigns(session) if c.id != current.id]
    return render_template("notices/home.html", campaign=current, phases=phases,
                           checklist=grouped_checklist(session, current.id), others=others)


@bp.route("/checklist")
@bp.route("/c/<campaign>/checklist")
def checklist(campaign: str | None = None):
    current = public_campaign(get_session(), campaign)
    return render_template("notices/checklist.html", campaign=current,
                           checklist=grouped_checklist(get_session(), current.id))
