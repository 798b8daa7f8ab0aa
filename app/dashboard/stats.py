"""The public transparency page (/stats): campaign-wide counts only, cached.

Nothing here names a reporter or shows a single report's text: only counts by status,
category, district and week, the on-time rate and the satisfaction rate.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, render_template
from flask_babel import gettext as _
from sqlmodel import Session

from app.dashboard import metrics
from app.dashboard.cache import TTLCache
from app.dashboard.common import pct
from app.dashboard.filters import Filters
from app.dashboard.views import data_source
from notices.campaigns import public_campaign
from notices.db import get_session
from notices.timeutil import utcnow
from routing.transitions import TERMINAL

bp = Blueprint("stats", __name__, template_folder="templates")
cache = TTLCache(max_entries=16)
HANDLED = {status.value for status in TERMINAL}


def public_numbers(session: Session, campaign_id: int, source=None) -> dict:
    """The public figures, from the dashboard's snapshot (`facts`) or, if None, from SQL."""
    f = Filters(campaign_id=campaign_id)
    counts = source.counts if source is not None else \
        (lambda f_, d: metrics.counts(session, f_, d))
    timings = source.response_times(f, "unit") if source is not None else \
        metrics.response_times(session, f, "unit")
    status = dict(counts(f, "status"))
    timing = timings.get("*") or metrics.Timing(key="*")
    by_category = [(k if k != metrics.UNCLASSIFIED else _("其他"), n)
                   for k, n in counts(f, "category")]
    by_district = [(k if k != metrics.UNCLASSIFIED else _("未注明"), n)
                   for k, n in counts(f, "district")]
    return {
        "received": sum(status.values()),
        "handled": sum(n for k, n in status.items() if k in HANDLED),
        "in_progress": sum(n for k, n in status.items() if k not in HANDLED),
        "on_time_rate": timing.on_time_rate, "satisfaction": timing.satisfaction,
        "rated": timing.rated,
        "by_category": by_category, "by_district": by_district,
        "trend": source.trend(f, "week") if source is not None
        else metrics.trend(session, f, "week"), "generated_at": utcnow(),
    }


@bp.route("/stats")
@bp.route("/c/<campaign>/stats")
def index(campaign: str | None = None):
    session = get_session()
    campaign = public_campaign(session, campaign)
    ttl = float(current_app.config.get("STATS_CACHE_SECONDS", 300))
    numbers = cache.get_or_compute(("stats", campaign.id), ttl,
                                   lambda: public_numbers(session, campaign.id,
                                                          data_source(session)))
    charts = {
        "trend": {"type": "line", "labels": [d for d, _n in numbers["trend"]],
                  "values": [n for _d, n in numbers["trend"]], "name": _("线索数")},
        "category": {"type": "bar", "labels": [k for k, _n in numbers["by_category"]],
                     "values": [n for _k, n in numbers["by_category"]]},
        "district": {"type": "bar", "labels": [k for k, _n in numbers["by_district"]],
                     "values": [n for _k, n in numbers["by_district"]]},
    }
    response = current_app.make_response(render_template(
        "dashboard/stats.html", campaign=campaign, n=numbers, charts=charts, pct=pct))
    # Shared caches may keep the anonymous page only: a signed-in page carries a name
    # and a fresh session cookie.
    response.headers["Cache-Control"] = (f"public, max-age={int(min(ttl, 300))}"
                                         if g.get("staff") is None else "private, no-store")
    return response
