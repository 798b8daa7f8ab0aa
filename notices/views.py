"""Public pages of the campaign: the notice (home) and the checklist."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from sqlmodel import select

from notices.db import get_session
from notices.loader import active_campaign, grouped_checklist
from notices.models import Campaign, Phase

bp = Blueprint("notices", __name__, template_folder="templates")


def _campaign_or_404() -> Campaign:
    campaign = active_campaign(get_session(), current_app.config["DEFAULT_CAMPAIGN"]) \
        or active_campaign(get_session())
    if campaign is None:
        abort(404)
    return campaign


@bp.route("/")
def home():
    session = get_session()
    campaign = _campaign_or_404()
    phases = session.exec(select(Phase).where(Phase.campaign_id == campaign.id)
                          .order_by(Phase.seq)).all()
    return render_template("notices/home.html", campaign=campaign, phases=phases,
                           checklist=grouped_checklist(session, campaign.id))


@bp.route("/checklist")
def checklist():
    campaign = _campaign_or_404()
    return render_template("notices/checklist.html", campaign=campaign,
                           checklist=grouped_checklist(get_session(), campaign.id))
