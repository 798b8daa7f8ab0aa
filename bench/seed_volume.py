"""Generate realistic volume for a campaign: N reports with their whole feedback loop.

    python bench/seed_volume.py --url sqlite:////tmp/bench.db --reports 200000
    python bench/seed_volume.py --url postgresql://postgres@127.0.0.1:55432/bench

Migrates and seeds the campaign first (idempotent), then bulk-inserts reports over the
campaign's months (weekday-heavy, a May Day dip), assignments with working-day-ish
delays, replies, reviews, ratings (some reopened), escalations and the events the
dashboard counts. Reporters are anonymous (no PII is generated). Fast: Core executemany
in batches, no domain calls (those are tested elsewhere).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

CATEGORIES = {  # category -> checklist items
    "逐利执法": [1, 2, 3, 4, 5, 6], "执法规范化": [7, 8, 9, 10, 11, 12, 13, 14],
    "执法方式简单僵化": [15, 16, 17, 18, 19, 20], "粗暴执法": [21, 22, 23, 24, 25, 26, 27, 28, 29],
    '执法"寻租"': [30, 31, 32, 33, 34, 35], "制度文件管理": [36]}
DISTRICTS = {"城东区": "zfjd", "城中区": "zfjd", "城西区": "zfjd", "城北区": "zfjd",
             "湟中区": "hzq", "大通县": "dtx", "湟源县": "hyx"}
CHANNELS = ["web"] * 40 + ["hotline"] * 30 + ["sms"] * 15 + ["email"] * 8 + ["inspection"] * 5 \
    + ["api"] * 2
TEXTS = ["检查站执法人员在行车道上随意拦截大货车检查。", "执法人员态度生硬，不听解释就罚款。",
         "治超站收取月票后放行超载车辆。", "非法营运处罚金额明显高于同类案件。",
         "暂扣车辆停在社会停车场，收取高额停车费。", "执法人员未出示执法证件即开具罚单。"]


def _engine(url: str):
    from notices.db import make_engine

    return make_engine(url)


def prepare(url: str) -> None:
    from app.cli import run_migrations, seed_campaign

    run_migrations(url)
    engine = _engine(url)
    with Session(engine) as session:
        seed_campaign(session, ROOT / "notices" / "data" / "xining-2023-129")
        session.commit()
    engine.dispose()


def generate(url: str, n: int, seed: int = 7, batch: int = 10000) -> None:
    from app.models import LedgerEntry  # noqa: F401  (tables known to metadata)
    from intake.models import Event, Report
    from notices.models import Campaign
    from routing.models import Assignment, Escalation, Feedback, Reply, Unit

    rng = random.Random(seed)
    engine = _engine(url)
    with Session(engine) as session:
        campaign = session.exec(select(Campaign)).first()
        units = {u.code: u.id for u in session.exec(select(Unit))}
        start_id = (session.exec(select(sa.func.max(Report.id))).one() or 0) + 1
        start_aid = (session.exec(select(sa.func.max(Assignment.id))).one() or 0) + 1
        start_rid = (session.exec(select(sa.func.max(Reply.id))).one() or 0) + 1
    first = datetime(2023, 4, 20, 0, 0, tzinfo=UTC)
    span = (datetime(2023, 9, 30, tzinfo=UTC) - first).total_seconds()
    now = datetime.now(UTC)
    rows: dict[str, list[dict]] = {"report": [], "assignment": [], "reply": [], "feedback": [],
                                   "event": [], "escalation": []}
    tables = {"report": Report.__table__, "assignment": Assignment.__table__,
              "reply": Reply.__table__, "feedback": Feedback.__table__,
              "event": Event.__table__, "escalation": Escalation.__table__}
    order = ["report", "assignment", "reply", "feedback", "event", "escalation"]
    aid, rid = start_aid, start_rid
    t0 = time.perf_counter()

    def flush(conn) -> None:
        for name in order:
            if rows[name]:
                conn.execute(tables[name].insert(), rows[name])
                rows[name].clear()

    with engine.begin() as conn:
        for i in range(n):
            report_id = start_id + i
            while True:
                received = first + timedelta(seconds=rng.random() * span)
                local = received + timedelta(hours=8)
                weekday = local.weekday() < 5 or rng.random() < 0.35
                holiday = local.month == 5 and local.day <= 3
                if weekday and (not holiday or rng.random() < 0.3):
                    break
            category = rng.choice(list(CATEGORIES))
            items = [rng.choice(CATEGORIES[category])]
            district = rng.choice(list(DISTRICTS)) if rng.random() < 0.9 else None
            channel = rng.choice(CHANNELS)
            unit_code = DISTRICTS.get(district or "", rng.choice(["fgk", "ysk", "zfjd"]))
            fate = rng.random()
            age = (now - received).total_seconds()
            report = {"id": report_id, "campaign_id": campaign.id,
                      "tracking_no": f"B{report_id:09d}", "receipt_hash": "bench",
                      "channel": channel, "source_ref": None, "received_at": received,
                      "status": "closed", "version": 1, "text": rng.choice(TEXTS),
                      "place_text": "", "district": district, "occurred_text": "",
                      "plate": f"青A·{rng.randint(10000, 99999)}" if rng.random() < 0.3 else None,
                      "latitude": None, "longitude": None, "is_anonymous": True,
                      "reporter_id": None, "callback_shared": False, "kind": "complaint",
                      "agency": None, "category": category, "items": items, "confidence": 0.9,
                      "classification": {}, "classification_confirmed": True,
                      "duplicate_of_id": None, "language": "zh", "closed_at": None,
                      "updated_at": received}
            rows["report"].append(report)
            if fate < 0.04:
                report["status"] = "referred"
                report["closed_at"] = received + timedelta(hours=rng.uniform(1, 30))
                continue
            if fate < 0.06:
                report["status"] = "not_accepted"
                report["closed_at"] = received + timedelta(hours=rng.uniform(1, 30))
                continue
            if fate < 0.07:
                report["status"] = "triage"
                continue
            dispatched = received + timedelta(hours=rng.lognormvariate(2.0, 0.8))
            reply_due = dispatched + timedelta(days=14)
            acked = dispatched + timedelta(hours=rng.lognormvariate(2.5, 0.9))
            replied = dispatched + timedelta(days=rng.lognormvariate(1.9, 0.5))
            assignment = {"id": aid, "report_id": report_id, "unit_id": units[unit_code],
                          "round": 1, "is_current": True, "dispatched_at": dispatched,
                          "dispatched_by_id": None,
                          "acknowledge_due_at": dispatched + timedelta(days=1),
                          "return_due_at": dispatched + timedelta(days=2),
                          "reply_due_at": reply_due, "acknowledged_at": acked,
                          "returned_at": None, "return_reason": "",
                          "extension_requested_at": None, "extension_days": None,
                          "extension_reason": "", "extension_decision": None,
                          "replied_at": replied, "note": ""}
            rows["assignment"].append(assignment)
            aid += 1
            if fate < 0.10 or replied > now:  # still with the unit
                report["status"] = "acknowledged" if rng.random() < 0.7 else "dispatched"
                assignment["replied_at"] = None
                if report["status"] == "dispatched":
                    assignment["acknowledged_at"] = None
                if age > 20 * 86400:
                    for level in ("reminder", "supervision", "listed")[:rng.randint(1, 3)]:
                        rows["escalation"].append({
                            "report_id": report_id, "assignment_id": assignment["id"],
                            "due_kind": "reply", "level": level, "at": reply_due, "by_id": None,
                            "note": ""})
                continue
            rows["reply"].append({"id": rid, "report_id": report_id,
                                  "assignment_id": assignment["id"],
                                  "finding": rng.choice(["属实", "部分属实", "不属实", "不属实"]),
                                  "measures": "已核实处理。", "accountability": "",
                                  "public_text": "经核实，已处理。", "author_id": None,
                                  "created_at": replied, "review_status": "approved",
                                  "reviewer_id": None, "reviewed_at": replied,
                                  "review_note": ""})
            reply_id = rid
            rid += 1
            rows["event"].append({"report_id": report_id, "at": replied, "actor_id": None,
                                  "kind": "reply_approved", "public": True, "note": "",
                                  "data": {}})
            if fate < 0.14:
                report["status"] = "awaiting_feedback"
                continue
            rating = rng.choices(["满意", "基本满意", "不满意", "未评价"], [60, 20, 8, 12])[0]
            rated = replied + timedelta(days=rng.uniform(0.2, 3))
            rows["feedback"].append({"report_id": report_id, "reply_id": reply_id,
                                     "rating": rating, "channel": "sms", "note": "",
                                     "recorded_by_id": None, "at": rated})
            if rating == "不满意" and rng.random() < 0.7:
                rows["event"].append({"report_id": report_id, "at": rated, "actor_id": None,
                                      "kind": "reopened", "public": True, "note": "",
                                      "data": {}})
                rows["feedback"].append({"report_id": report_id, "reply_id": reply_id,
                                         "rating": rng.choice(["满意", "基本满意", "不满意"]),
                                         "channel": "sms", "note": "", "recorded_by_id": None,
                                         "at": rated + timedelta(days=5)})
                rated += timedelta(days=5)
            report["closed_at"] = rated
            if len(rows["report"]) >= batch:
                flush(conn)
                print(f"  {i + 1} reports ({time.perf_counter() - t0:.0f}s)", flush=True)
        flush(conn)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
            for table in ("report", "assignment", "reply", "escalation"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    print(f"{n} reports in {time.perf_counter() - t0:.1f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="database URL (created/migrated)")
    parser.add_argument("--reports", type=int, default=200000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    prepare(args.url)
    generate(args.url, args.reports, args.seed)


if __name__ == "__main__":
    main()
