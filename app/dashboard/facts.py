"""An in-memory column snapshot of the campaign's reports for the dashboard.

At 200,000 reports every SQL aggregate over a join costs SQLite half a second or more, so
the dashboard reads a per-process snapshot instead: one full load (a few columns of every
report, assignment, latest rating and escalation, with working-day durations precomputed
by `workdays`), then, on each request, an incremental refresh of only the reports touched
since: every change to a report writes an `Event` (audit trail), so
``SELECT DISTINCT report_id FROM event WHERE id > :last`` names them, using the primary key.
A full reload happens every DASHBOARD_FULL_RELOAD_SECONDS (default 600) as a safety net.
Filtering and counting are numpy masks and bincounts: milliseconds, not loops over rows.

The numbers are the same as `metrics` computes in SQL (tests compare both).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, select

from app.dashboard import sqlutil
from app.dashboard.filters import Filters
from app.dashboard.metrics import LEVEL_RANK, RANK_LEVEL, UNCLASSIFIED, Timing
from app.dashboard.workdays import DAY, WorkClock, median_p90
from intake.models import Event, Report
from intake.models import ReportStatus as S
from notices.timeutil import cst_start
from routing import deadlines
from routing.models import Assignment, Escalation, Feedback, Rating
from routing.overdue import UNSIGNED
from routing.transitions import OPEN, WITH_UNIT

RATINGS = [Rating.satisfied.value, Rating.basically_satisfied.value, Rating.unsatisfied.value,
           Rating.unrated.value]
STATUSES = [s.value for s in S]
NAN = np.nan
_EPOCH_DAY = date(1970, 1, 1)


def _codes(values: list, vocabulary: list) -> np.ndarray:
    index = {v: i for i, v in enumerate(vocabulary)}
    out = np.empty(len(values), dtype=np.int32)
    for i, v in enumerate(values):
        if v not in index:
            index[v] = len(vocabulary)
            vocabulary.append(v)
        out[i] = index[v]
    return out


def _f(values) -> np.ndarray:
    return np.array(values, dtype=np.float64) if len(values) else np.zeros(0)


def _i(values, dtype=np.int64) -> np.ndarray:
    return np.array(values, dtype=dtype) if len(values) else np.zeros(0, dtype=dtype)


class Facts:
    """Column arrays of reports (`r_*`), assignments (`a_*`) and item rows (`i_*`)."""

    def __init__(self) -> None:
        self.vocab = {"status": list(STATUSES), "channel": [], "category": [], "district": []}
        self.r: dict[str, np.ndarray] = {}
        self.a: dict[str, np.ndarray] = {}
        self.i: dict[str, np.ndarray] = {}
        self.last_event_id = 0
        self.last_report_id = 0
        self.loaded_at = 0.0
        self.lock = threading.Lock()

    # -- loading ----------------------------------------------------------------------

    def _fetch(self, session: Session, ids: list[int] | None) -> tuple[dict, dict, dict]:
        name = sqlutil.dialect(session)
        ep = lambda c: sqlutil.epoch(c, name)  # noqa: E731
        text = lambda c: sa.type_coerce(c, sa.String)  # noqa: E731  (no enum conversion)
        conn = session.connection()  # Core rows: no ORM processing of 200,000 rows
        where_r = [Report.id.in_(ids)] if ids is not None else []
        rows = conn.execute(select(
            Report.id, Report.campaign_id, ep(Report.received_at), ep(Report.closed_at),
            text(Report.status), text(Report.channel), Report.category, Report.district)
            .where(*where_r)).all()
        cols = list(zip(*rows, strict=True)) if rows else [[]] * 8
        r = {"id": _i(cols[0]), "campaign": _i(cols[1]), "received": _f(cols[2]),
             "closed": _f(cols[3]),
             "status": _codes([getattr(v, "value", v) for v in cols[4]], self.vocab["status"]),
             "channel": _codes([getattr(v, "value", v) for v in cols[5]],
                               self.vocab["channel"]),
             "category": _codes(list(cols[6]), self.vocab["category"]),
             "district": _codes(list(cols[7]), self.vocab["district"])}
        where_a = [Assignment.report_id.in_(ids)] if ids is not None else []
        esc = (select(Escalation.assignment_id.label("aid"), sa.func.max(sa.case(
            *((Escalation.level == lv, rk) for lv, rk in LEVEL_RANK.items()), else_=0))
            .label("rank")).group_by(Escalation.assignment_id))
        if ids is not None:
            esc = esc.where(Escalation.report_id.in_(ids))
        esc = esc.subquery()
        rows = conn.execute(select(
            Assignment.report_id, Assignment.unit_id, Assignment.round,
            sa.case((Assignment.is_current == sa.true(), 1), else_=0),
            sa.case((Assignment.returned_at.is_(None), 0), else_=1),
            ep(Assignment.dispatched_at), ep(Assignment.acknowledged_at),
            ep(Assignment.replied_at), ep(Assignment.reply_due_at),
            ep(Assignment.acknowledge_due_at), sa.func.coalesce(esc.c.rank, 0), Assignment.id)
            .outerjoin(esc, esc.c.aid == Assignment.id).where(*where_a)).all()
        cols = list(zip(*rows, strict=True)) if rows else [[]] * 12
        a = {"rid": _i(cols[0]), "unit": _i(cols[1]), "round": _i(cols[2], np.int32),
             "current": _i(cols[3], np.int8).astype(bool),
             "returned": _i(cols[4], np.int8).astype(bool), "dispatched": _f(cols[5]),
             "acked": _f(cols[6]), "replied": _f(cols[7]), "due": _f(cols[8]),
             "ack_due": _f(cols[9]), "rank": _i(cols[10], np.int8), "id": _i(cols[11])}
        # per report: latest rating, approved, reopened
        latest = select(sa.func.max(Feedback.id)).group_by(Feedback.report_id)
        if ids is not None:
            latest = latest.where(Feedback.report_id.in_(ids))
        ratings = dict(conn.execute(select(Feedback.report_id, text(Feedback.rating))
                                       .where(Feedback.id.in_(latest))).all())
        flags = conn.execute(select(Event.report_id, Event.kind).where(
            Event.kind.in_(("reply_approved", "reopened")),
            *([Event.report_id.in_(ids)] if ids is not None else [])).distinct()).all()
        approved = {rid for rid, kind in flags if kind == "reply_approved"}
        reopened = {rid for rid, kind in flags if kind == "reopened"}
        order = np.argsort(r["id"])
        sorted_ids = r["id"][order]

        def positions(keys) -> np.ndarray:
            keys = np.fromiter(keys, dtype=np.int64)
            found = np.searchsorted(sorted_ids, keys)
            ok = (found < len(sorted_ids)) & (sorted_ids[np.minimum(
                found, max(len(sorted_ids) - 1, 0))] == keys) if len(sorted_ids) else \
                np.zeros(len(keys), bool)
            return order[found[ok]], ok

        r["rating"] = np.full(len(r["id"]), -1, dtype=np.int8)
        pos, ok = positions(ratings.keys())
        codes = np.array([RATINGS.index(getattr(v, "value", v)) for v in ratings.values()],
                         dtype=np.int8)
        r["rating"][pos] = codes[ok] if len(codes) else codes
        for key, members in (("approved", approved), ("reopened", reopened)):
            r[key] = np.zeros(len(r["id"]), dtype=bool)
            r[key][positions(members)[0]] = True
        table = sqlutil.items_table(name)
        rows = conn.execute(select(Report.id, sqlutil.item_value(table, name))
                               .select_from(Report).join(table, sa.true())
                               .where(*where_r)).all()
        cols = list(zip(*rows, strict=True)) if rows else [[]] * 2
        i = {"rid": _i(cols[0]), "no": _i([int(v) for v in cols[1]], np.int32)}
        return r, a, i

    @staticmethod
    def _merge(old: dict, new: dict, key: str, drop: np.ndarray) -> dict:
        if not old:
            merged = new
        else:
            keep = ~np.isin(old[key], drop)
            merged = {k: np.concatenate([old[k][keep], new[k]]) for k in new}  # derived: redone
        order = np.argsort(merged[key], kind="stable")
        return {k: v[order] for k, v in merged.items()}

    def _derive(self, session: Session) -> None:
        r, a = self.r, self.a
        a["pos"] = np.searchsorted(r["id"], a["rid"]) if len(r["id"]) else a["rid"]
        r["unit"] = np.full(len(r["id"]), -1, dtype=np.int64)
        r["cur_due"] = np.full(len(r["id"]), NAN)
        r["cur_ack_due"] = np.full(len(r["id"]), NAN)
        r["cur_acked"] = np.full(len(r["id"]), NAN)
        r["cur_rank"] = np.zeros(len(r["id"]), dtype=np.int8)
        r["cur_aid"] = np.full(len(r["id"]), -1, dtype=np.int64)
        cur = np.flatnonzero(a["current"])
        # several current rows for one report cannot happen; the latest id wins if it did
        cur = cur[np.argsort(a["id"][cur], kind="stable")]
        for name, src in (("unit", "unit"), ("cur_due", "due"), ("cur_ack_due", "ack_due"),
                          ("cur_acked", "acked"), ("cur_rank", "rank"), ("cur_aid", "id")):
            r[name][a["pos"][cur]] = a[src][cur]
        clock = WorkClock.covering(deadlines.work_calendar(session), r["received"],
                                   a["dispatched"], np.array([time.time() + 400 * DAY]))
        received = r["received"][a["pos"]] if len(a["pos"]) else np.zeros(0)
        a["t_dispatch"] = np.where(a["round"] == 1, clock.between(received, a["dispatched"]),
                                   NAN)
        a["t_ack"] = clock.between(a["dispatched"], a["acked"])
        a["t_reply"] = clock.between(a["dispatched"], a["replied"])
        r["t_close"] = np.where(r["status"] == STATUSES.index("closed"),
                                clock.between(r["received"], r["closed"]), NAN)
        self.i["pos"] = np.searchsorted(r["id"], self.i["rid"]) if len(r["id"]) else \
            self.i["rid"]

    def load(self, session: Session) -> None:
        last_event = session.execute(select(sa.func.max(Event.id))).scalar() or 0
        last_report = session.execute(select(sa.func.max(Report.id))).scalar() or 0
        r, a, i = self._fetch(session, None)
        self.r = self._merge({}, r, "id", np.zeros(0))
        self.a = self._merge({}, a, "rid", np.zeros(0))
        self.i = self._merge({}, i, "rid", np.zeros(0))
        self._derive(session)
        self.last_event_id, self.last_report_id = last_event, last_report
        self.loaded_at = time.monotonic()

    def refresh(self, session: Session, full_after: float = 600.0,
                max_changed: int = 20000) -> None:
        """Bring the snapshot up to date (incrementally when possible)."""
        with self.lock:
            if not self.r or time.monotonic() - self.loaded_at > full_after:
                self.load(session)
                return
            last_event = session.execute(select(sa.func.max(Event.id))).scalar() or 0
            last_report = session.execute(select(sa.func.max(Report.id))).scalar() or 0
            if last_event == self.last_event_id and last_report == self.last_report_id:
                return
            changed = set(session.execute(select(Event.report_id).where(
                Event.id > self.last_event_id, Event.id <= last_event,
                Event.report_id.is_not(None)).distinct()).scalars())
            changed |= set(session.execute(select(Report.id).where(
                Report.id > self.last_report_id, Report.id <= last_report)).scalars())
            if len(changed) > max_changed:
                self.load(session)
                return
            ids = sorted(changed)
            for start in range(0, len(ids), 900):
                chunk = ids[start:start + 900]
                r, a, i = self._fetch(session, chunk)
                part = np.array(chunk, dtype=np.int64)
                self.r = self._merge(self.r, r, "id", part)
                self.a = self._merge(self.a, a, "rid", part)
                self.i = self._merge(self.i, i, "rid", part)
            self._derive(session)
            self.last_event_id, self.last_report_id = last_event, last_report

    # -- filters ----------------------------------------------------------------------

    def _code(self, vocab: str, value) -> int:
        try:
            return self.vocab[vocab].index(value)
        except ValueError:
            return -2

    def _overdue(self, now: float) -> np.ndarray:
        r = self.r
        """The array twin of routing.overdue.is_overdue."""
        with_unit = np.isin(r["status"], [STATUSES.index(s.value) for s in WITH_UNIT])
        unsigned = np.isin(r["status"], [STATUSES.index(s.value) for s in UNSIGNED])
        with np.errstate(invalid="ignore"):
            return with_unit & (r["cur_aid"] >= 0) & np.where(
                unsigned, r["cur_ack_due"] < now, r["cur_due"] < now)

    def mask(self, f: Filters, *, with_unit: bool = True, now: float | None = None):
        r = self.r
        m = np.ones(len(r["id"]), dtype=bool)
        if f.campaign_id is not None:
            m &= r["campaign"] == f.campaign_id
        if f.date_from:
            m &= r["received"] >= cst_start(f.date_from).timestamp()
        if f.date_to:
            m &= r["received"] < cst_start(f.date_to + timedelta(days=1)).timestamp()
        for dim in ("category", "district"):
            value = getattr(f, dim)
            if value:
                m &= r[dim] == self._code(dim, None if value == "-" else value)
        if f.channel:
            m &= r["channel"] == self._code("channel", f.channel)
        if f.status == "open":
            m &= np.isin(r["status"], [STATUSES.index(s.value) for s in OPEN])
        elif f.status:
            m &= r["status"] == self._code("status", f.status)
        if with_unit and f.unit_id:
            m &= r["unit"] == f.unit_id
        if f.item:
            hit = np.zeros(len(r["id"]), dtype=bool)
            hit[self.i["pos"][self.i["no"] == f.item]] = True
            m &= hit
        if f.overdue:
            m &= self._overdue(now if now is not None else time.time())
        return m

    # -- aggregates (same results as metrics.*) --------------------------------------

    def counts(self, f: Filters, dimension: str) -> list[tuple]:
        m = self.mask(f)
        if dimension == "item":
            values = self.i["no"][m[self.i["pos"]]]
            keys, n = np.unique(values, return_counts=True)
            rows = [(int(k), int(c)) for k, c in zip(keys, n, strict=True)]
        elif dimension == "unit":
            keys, n = np.unique(self.r["unit"][m], return_counts=True)
            rows = [(UNCLASSIFIED if k < 0 else int(k), int(c))
                    for k, c in zip(keys, n, strict=True)]
        else:
            keys, n = np.unique(self.r[dimension][m], return_counts=True)
            vocab = self.vocab[dimension]
            rows = [(UNCLASSIFIED if vocab[k] is None else vocab[k], int(c))
                    for k, c in zip(keys, n, strict=True)]
        return sorted(rows, key=lambda kv: (-kv[1], str(kv[0])))

    def total(self, f: Filters) -> int:
        return int(self.mask(f).sum())

    def trend(self, f: Filters, period: str = "day") -> list[tuple[str, int]]:
        received = self.r["received"][self.mask(f)]
        day = np.floor((received + 8 * 3600) / DAY).astype(np.int64)
        if period == "week":
            day = day - (day + 3) % 7  # 1970-01-01 was a Thursday: back to Monday
        keys, n = np.unique(day, return_counts=True)
        return [((_EPOCH_DAY + timedelta(days=int(k))).isoformat(), int(c))
                for k, c in zip(keys, n, strict=True)]

    def response_times(self, f: Filters, by: str = "unit",
                       now: datetime | None = None) -> dict[str, Timing]:
        now_ts = (now or datetime.now(UTC)).timestamp()
        r, a = self.r, self.a
        am = self.mask(f, with_unit=False)[a["pos"]] if len(a["pos"]) else np.zeros(0, bool)
        if f.unit_id:
            am &= a["unit"] == f.unit_id
        status = r["status"][a["pos"]]
        is_open = np.isin(status, [STATUSES.index(s.value) for s in WITH_UNIT])
        has_reply = ~np.isnan(a["replied"])
        with np.errstate(invalid="ignore"):
            on_time = has_reply & (a["replied"] <= a["due"])
            late = (has_reply & (a["replied"] > a["due"])) | (
                ~has_reply & a["current"] & is_open & ~a["returned"] & (a["due"] < now_ts))
        t_close = np.where(a["current"], r["t_close"][a["pos"]], NAN)
        vocab = self.vocab["category"]

        def label(code: int) -> str:
            if by == "unit":
                return "None" if code < 0 else str(code)
            return UNCLASSIFIED if vocab[code] is None else vocab[code]

        akeys = a["unit"] if by == "unit" else r["category"][a["pos"]]
        result: dict[str, Timing] = {}
        idx = np.flatnonzero(am)
        sub = {"dispatch": a["t_dispatch"][idx], "ack": a["t_ack"][idx],
               "reply": a["t_reply"][idx], "close": t_close[idx],
               "on_time": on_time[idx], "late": late[idx]}
        keys = akeys[idx]
        order = np.argsort(keys, kind="stable")
        groups = [("*", np.arange(idx.size))]
        if idx.size:
            values, starts = np.unique(keys[order], return_index=True)
            ends = list(starts[1:]) + [idx.size]
            groups += [(label(int(v)), order[b:e]) for v, b, e in
                       zip(values, starts, ends, strict=True)]
        for k, rows in groups:
            result[k] = Timing(
                key=k, assignments=int(rows.size), dispatch=median_p90(sub["dispatch"][rows]),
                acknowledge=median_p90(sub["ack"][rows]), reply=median_p90(sub["reply"][rows]),
                close=median_p90(sub["close"][rows]), on_time=int(sub["on_time"][rows].sum()),
                late=int(sub["late"][rows].sum()))
        rm = self.mask(f)
        rkeys = r["unit"] if by == "unit" else r["category"]
        rating = r["rating"]
        for code in [None, *np.unique(rkeys[rm]).tolist()]:
            m = rm if code is None else rm & (rkeys == code)
            k = "*" if code is None else label(int(code))
            t = result.setdefault(k, Timing(key=k))
            counts = np.bincount(rating[m & (rating >= 0)], minlength=4)
            t.callbacks = int(counts.sum())
            t.satisfied, t.basically, t.unsatisfied = (int(x) for x in counts[:3])
            t.rated = int(counts[:3].sum())
            t.approved = int((m & r["approved"]).sum())
            t.reopened = int((m & r["reopened"]).sum())
        return {k: v for k, v in result.items()
                if v.assignments or v.callbacks or v.approved}

    def overdue_ids(self, f: Filters, now: datetime, limit: int = 20) -> tuple[int, list[int]]:
        m = self.mask(f) & self._overdue(now.timestamp())
        idx = np.flatnonzero(m)
        order = np.lexsort((self.r["id"][idx], self.r["cur_due"][idx]))[:limit]
        return int(idx.size), [int(x) for x in self.r["id"][idx[order]]]

    def overdue_by_level(self, f: Filters, now: datetime) -> dict:
        m = self.mask(f) & self._overdue(now.timestamp())
        out: dict = {}
        units, ranks = self.r["unit"][m], self.r["cur_rank"][m]
        for unit_id, rank in zip(units.tolist(), ranks.tolist(), strict=True):
            level = RANK_LEVEL.get(rank or 0, "none")
            for target in (unit_id, "*"):
                bucket = out.setdefault(target, {})
                bucket[level] = bucket.get(level, 0) + 1
                bucket["total"] = bucket.get("total", 0) + 1
        return out


_lock = threading.Lock()


def facts_for(app, session: Session) -> Facts:
    """The app's snapshot, refreshed (incrementally) for this request."""
    with _lock:
        facts = app.extensions.get("dashboard_facts")
        if facts is None:
            facts = app.extensions["dashboard_facts"] = Facts()
    full_after = float(app.config.get("DASHBOARD_FULL_RELOAD_SECONDS", 600))
    facts.refresh(session, full_after=full_after)
    return facts
