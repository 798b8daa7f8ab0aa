"""Tracking numbers: one sequence per campaign and CST day, unique under concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlmodel import Session, select

from intake.models import TrackingCounter
from intake.receipts import next_tracking_no
from notices.models import Campaign


def _campaign_id(db: Session) -> int:
    return db.exec(select(Campaign.id).order_by(Campaign.id)).first()


def test_numbers_count_up_per_day_and_restart_on_a_new_day(app, db):
    campaign_id = _campaign_id(db)
    day1 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 CST
    late = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)  # 00:30 CST the next day
    numbers = [next_tracking_no(db, campaign_id, "XN", day1) for _ in range(3)]
    db.commit()
    assert numbers == ["XN-20260302-0001", "XN-20260302-0002", "XN-20260302-0003"]
    assert next_tracking_no(db, campaign_id, "XN", late) == "XN-20260303-0001"
    db.commit()
    rows = {r.day: r.last for r in db.exec(select(TrackingCounter)
                                           .where(TrackingCounter.campaign_id == campaign_id))}
    assert rows["20260302"] == 3 and rows["20260303"] == 1


def test_a_rolled_back_registration_leaves_a_gap_on_postgres_never_a_duplicate(app, db):
    """PostgreSQL moves the counter outside the registration's transaction; SQLite inside."""
    campaign_id = _campaign_id(db)
    at = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
    assert next_tracking_no(db, campaign_id, "XN", at) == "XN-20260304-0001"
    db.rollback()  # the registration failed
    second = next_tracking_no(db, campaign_id, "XN", at)
    db.commit()
    sqlite = app.extensions["engine"].dialect.name == "sqlite"
    assert second == ("XN-20260304-0001" if sqlite else "XN-20260304-0002")


def test_concurrent_sessions_never_share_a_number(app):
    engine = app.extensions["engine"]
    with Session(engine) as session:
        campaign_id = _campaign_id(session)
    at = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    got: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(10):
                with Session(engine) as session:
                    if engine.dialect.name == "sqlite":
                        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
                    number = next_tracking_no(session, campaign_id, "XN", at)
                    session.commit()
                with lock:
                    got.append(number)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(got) == 60 and len(set(got)) == 60
    assert sorted(got)[-1] == "XN-20260305-0060"
