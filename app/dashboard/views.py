"""The task force's dashboard (/taskforce): thin views over `metrics` and `lists`."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.dashboard import lists, metrics
from app.dashboard.cache import TTLCache
from app.dashboard.common import categories, days, pct
from app.dashboard.exports import download, requested_format
from app.dashboard.facts import facts_for
from app.dashboard.filters import Filters
from intake.models import Channel, ReportStatus
from notices.access import staff_required
from notices.campaigns import staff_campaign
from notices.db import db_int, get_session
from notices.timeutil import to_cst, utcnow
from routing import deadlines, transitions
from routing.forms import ActionForm
from routing.web import STATUS_LABELS, checklist_texts

bp = Blueprint("taskforce", __name__, template_folder="templates")
DESK = ("taskforce", "admin")
_cache = TTLCache()
ITEM_SHORT = 14  # characters of an item's text shown next to its number on the chart

LEVEL_LABELS = {"warning": _l("预警"), "reminder": _l("催办"), "supervision": _l("督办"),
                "listed": _l("挂牌督办"), "none": _l("未督办")}
DIMENSION_LABELS = {"status": _l("按状态"), "channel": _l("按渠道"), "category": _l("按问题类别"),
                    "district": _l("按区县"), "unit": _l("按责任单位"), "item": _l("按清单条目")}
TIMING_HEADER = (_l("单位/类别"), _l("转办件数"), _l("转办用时中位数"), _l("转办用时P90"),
                 _l("签收用时中位数"), _l("签收用时P90"), _l("回复用时中位数"), _l("回复用时P90"),
                 _l("办结用时中位数"), _l("办结用时P90"), _l("按期率"), _l("满意率"),
                 _l("满意及基本满意占比"), _l("响应率"), _l("解决率"), _l("重办率"))


def _filters(session) -> tuple:
    campaign = staff_campaign(session)
    return campaign, Filters.from_args(request.args, campaign.id)


def _label(dimension: str, key, units: dict[int, str]) -> str:
    if key == metrics.UNCLASSIFIED or key is None:
        return _("未分类") if dimension != "unit" else _("未转办")
    if dimension == "status":
        return str(STATUS_LABELS.get(key, key))
    if dimension == "channel":
        return str(lists.CHANNEL_LABELS.get(key, key))
    if dimension == "unit":
        return units.get(key, str(key))
    if dimension == "item":
        return _("第%(n)s项", n=key)
    return str(key)


def _filter_arg(dimension: str, key) -> dict:
    name = {"unit": "unit", "item": "item"}.get(dimension, dimension)
    if key in (None, metrics.UNCLASSIFIED):
        return {name: "-"} if dimension in ("category", "district") else {}
    return {name: str(key)}


def dashboard_data(session, campaign, f: Filters, source=None) -> dict:
    """Everything the dashboard shows, as plain data (also what the benchmark times).

    `source` is the in-memory snapshot (`facts.Facts`) or, if None, SQL (`metrics`).
    """
    now = utcnow()
    src = source or _SqlSource(session)
    units = metrics.unit_names(session)
    blocks = {}
    for dimension in metrics.DIMENSIONS:
        rows = src.counts(f, dimension)
        blocks[dimension] = [{"key": k, "label": _label(dimension, k, units), "count": n,
                              "args": f.args(**_arg_change(dimension, k))} for k, n in rows]
    span = ((f.date_to or to_cst(now).date()) - (f.date_from or date(2000, 1, 1))).days
    period = request.args.get("period") or ("day" if span <= 92 else "week")
    period = "week" if period == "week" else "day"
    by_unit = src.response_times(f, "unit", now=now)
    by_category = src.response_times(f, "category", now=now)
    overdue_count, overdue_ids = src.overdue_ids(f, now, 20)
    calendar = deadlines.work_calendar(session)
    today = to_cst(now).date()
    warnings = sorted({w for d in (today, f.date_from, f.date_to) if d
                       if (w := calendar.warning_for(d))})
    total = sum(b["count"] for b in blocks["status"])
    open_ = sum(b["count"] for b in blocks["status"] if b["key"] in
                {s.value for s in transitions.OPEN})
    overall = by_unit.get("*") or metrics.Timing(key="*")
    return {
        "units": units, "blocks": blocks, "period": period, "trend": src.trend(f, period),
        "by_unit": [(units.get(int(k), k), k, t)
                    for k, t in sorted(by_unit.items(), key=lambda kv: str(kv[0]))
                    if k not in ("*", "None")],
        "by_category": [(k, k, t) for k, t in sorted(by_category.items()) if k != "*"],
        "overall": overall, "overdue_count": overdue_count,
        "overdue_rows": metrics.overdue_rows(session, overdue_ids, now),
        "overdue_levels": src.overdue_by_level(f, now),
        "warnings": warnings, "total": total, "open": open_, "closed": total - open_,
        "generated_at": now,
    }


class _SqlSource:
    """`metrics` (SQL) behind the same interface as the snapshot."""

    def __init__(self, session) -> None:
        self.session = session

    def counts(self, f, dimension):
        return metrics.counts(self.session, f, dimension)

    def trend(self, f, period):
        return metrics.trend(self.session, f, period)

    def response_times(self, f, by, now=None):
        return metrics.response_times(self.session, f, by, now=now)

    def overdue_ids(self, f, now, limit):
        count, rows = metrics.overdue(self.session, f, limit=limit, now=now)
        return count, [r.report_id for r in rows]

    def overdue_by_level(self, f, now):
        return metrics.overdue_by_level(self.session, f, now=now)


def data_source(session):
    """The snapshot unless DASHBOARD_SOURCE is "sql"."""
    if current_app.config.get("DASHBOARD_SOURCE", "snapshot") == "sql":
        return None
    return facts_for(current_app._get_current_object(), session)


def _arg_change(dimension: str, key) -> dict:
    arg = _filter_arg(dimension, key)
    names = {"from": "date_from", "to": "date_to", "unit": "unit_id"}
    out = {}
    for name, value in arg.items():
        attr = names.get(name, name)
        out[attr] = int(value) if attr in ("unit_id", "item") and value != "-" else value
    return out


def _short(text: str, limit: int = ITEM_SHORT) -> str:
    """The first `limit` characters, ending at a clause break when there is one past halfway."""
    if len(text) <= limit:
        return text
    head = text[:limit + 1]
    cut = max(head.rfind(p) for p in "，。；、：,;:")
    return (text[:cut] if cut >= limit // 2 else text[:limit]).rstrip("，。；、：,.;: ") + "…"


def _charts(data: dict, f: Filters, texts: dict[int, str] | None = None) -> dict:
    def bars(dimension, limit=15):
        rows = data["blocks"][dimension][:limit]
        return {"type": "bar", "name": _("线索数"), "labels": [r["label"] for r in rows],
                "values": [r["count"] for r in rows],
                "links": [url_for("taskforce.report_list", **r["args"]) for r in rows]}

    def item_bars(limit=36):
        # "第31项 在上路查处违法车辆过程中…" on the axis, the item's full text in the tooltip.
        spec = bars("item", limit)
        rows = data["blocks"]["item"][:limit]
        known = texts or {}
        spec["labels"] = [f"{r['label']} {_short(known[r['key']])}" if r["key"] in known
                          else r["label"] for r in rows]
        spec["titles"] = [f"{r['label']} {known[r['key']]}" if r["key"] in known
                          else r["label"] for r in rows]
        return spec

    timing_rows = data["by_unit"]
    return {
        "trend": {"type": "line", "labels": [d for d, _n in data["trend"]],
                  "values": [n for _d, n in data["trend"]], "name": _("线索数")},
        "status": {**bars("status"), "type": "pie"},
        "category": bars("category"), "district": bars("district"), "unit": bars("unit"),
        "channel": {**bars("channel"), "type": "pie"}, "item": item_bars(),
        "reply_time": {
            "type": "bar", "labels": [name for name, _k, _t in timing_rows],
            "series": [
                {"name": _("回复用时中位数（工作日）"),
                 "values": [round(t.reply[0], 2) if t.reply[0] is not None else None
                            for _n, _k, t in timing_rows]},
                {"name": _("回复用时P90（工作日）"),
                 "values": [round(t.reply[1], 2) if t.reply[1] is not None else None
                            for _n, _k, t in timing_rows]}]},
    }


@bp.route("/taskforce")
@staff_required(*DESK)
def dashboard():
    session = get_session()
    campaign, f = _filters(session)
    ttl = float(current_app.config.get("DASHBOARD_CACHE_SECONDS", 0))
    data = _cache.get_or_compute((campaign.id, f, request.args.get("period")), ttl,
                                 lambda: dashboard_data(session, campaign, f,
                                                        data_source(session)))
    texts = {number: " ".join(item.text.split())  # the item chart's labels and table
             for number, item in checklist_texts(session, campaign.id).items()}
    return render_template(
        "dashboard/dashboard.html", campaign=campaign, f=f, data=data, item_texts=texts,
        charts=_charts(data, f, texts), categories=categories(session, campaign.id),
        channels=[(c.value, lists.CHANNEL_LABELS[c.value]) for c in Channel],
        statuses=[(s.value, STATUS_LABELS[s.value]) for s in ReportStatus],
        dimension_labels=DIMENSION_LABELS, level_labels=LEVEL_LABELS, pct=pct, days=days,
        action_form=ActionForm())


@bp.route("/taskforce/list")
@staff_required(*DESK)
def report_list():
    session = get_session()
    campaign, f = _filters(session)
    number = request.args.get("page", 1, type=db_int) or 1
    total, rows = lists.page(session, f, number)
    return render_template("dashboard/list.html", campaign=campaign, f=f, total=total,
                           rows=rows, page=number, page_size=lists.PAGE_SIZE,
                           units=metrics.unit_names(session), status_labels=STATUS_LABELS,
                           channel_labels=lists.CHANNEL_LABELS)


@bp.route("/taskforce/list/export")
@staff_required(*DESK)
def export_list():
    session = get_session()
    _campaign, f = _filters(session)
    fmt = requested_format()
    stamp = to_cst(utcnow()).strftime("%Y%m%d-%H%M")
    return download(fmt, [str(h) for h in lists.EXPORT_HEADER], lists.export_rows(session, f),
                    f"线索清单-{stamp}", title="线索清单")


def timing_table(session, f: Filters, by: str) -> list[tuple]:
    units = metrics.unit_names(session)
    result = metrics.response_times(session, f, by)
    rows = []
    for key, t in sorted(result.items(), key=lambda kv: (kv[0] == "*", str(kv[0]))):
        if key == "None":
            continue
        name = _("合计") if key == "*" else (units.get(int(key), key) if by == "unit" else key)
        rows.append((name, t.assignments, *(_r(v) for pair in (t.dispatch, t.acknowledge,
                                                                   t.reply, t.close)
                                            for v in pair[:2]),
                     _r(t.on_time_rate, 4), _r(t.satisfaction, 4), _r(t.satisfied_share, 4),
                     _r(t.response_rate, 4), _r(t.resolution_rate, 4), _r(t.reopen_rate, 4)))
    return rows


def _r(value, digits: int = 2):
    return None if value is None else round(value, digits)


@bp.route("/taskforce/timings/export")
@staff_required(*DESK)
def export_timings():
    session = get_session()
    _campaign, f = _filters(session)
    by = "category" if request.args.get("by") == "category" else "unit"
    fmt = requested_format()
    name = _("办理时效-按类别") if by == "category" else _("办理时效-按单位")
    return download(fmt, [str(h) for h in TIMING_HEADER], timing_table(session, f, by), name,
                    title=name)


@bp.route("/taskforce/counts/export")
@staff_required(*DESK)
def export_counts():
    session = get_session()
    _campaign, f = _filters(session)
    dimension = request.args.get("dimension", "status")
    if dimension not in metrics.DIMENSIONS:
        abort(404)
    units = metrics.unit_names(session)
    rows = [(_label(dimension, k, units), n) for k, n in metrics.counts(session, f, dimension)]
    fmt = requested_format()
    title = str(DIMENSION_LABELS[dimension])
    return download(fmt, [title, _("线索数")], rows, f"线索统计-{title}", title=title)
