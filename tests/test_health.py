"""/healthz and the worker heartbeat."""

from __future__ import annotations

from datetime import timedelta

from app.models import WorkerHeartbeat
from app.worker import beat
from notices.timeutil import utcnow


def test_unhealthy_until_a_worker_beats(client, db):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "ok" and response.json["migrations"] == "current"
    assert response.json["worker"] == "never seen"
    beat(db, "sent=0")
    db.commit()
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["status"] == "ok"


def test_stale_worker_fails_the_check(client, db):
    db.add(WorkerHeartbeat(name="outbox", at=utcnow() - timedelta(hours=1)))
    db.commit()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["worker"].startswith("stale")


def test_json_logs_carry_no_client_address_or_phone(app, client, capsys):
    import logging

    from app.logs import JsonFormatter, scrub

    assert "13912345678" not in scrub("call 13912345678 or +8613912345678")
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "from 10.1.2.3 a@b.cn", (), None)
    line = JsonFormatter().format(record)
    assert "10.1.2.3" not in line and "a@b.cn" not in line


def test_a_worker_whose_deliveries_crash_is_not_healthy(app, client, monkeypatch):
    """The heartbeat says the worker delivers, not only that it runs: a cycle whose
    delivery raised writes none, so /healthz goes stale and answers 503."""
    import app.worker as worker

    def broken(*args, **kwargs):
        raise RuntimeError("delivery crashed")

    monkeypatch.setattr(worker, "deliver_due", broken)
    worker.run_cycle(app, gateways=None)
    assert client.get("/healthz").status_code == 503
    monkeypatch.undo()
    worker.run_cycle(app, gateways={"sms": None, "email": None})  # nothing due: a healthy beat
    assert client.get("/healthz").status_code == 200


def test_messages_undelivered_for_an_hour_are_reported(app, client, db):
    from intake.outbox import queue_message

    beat(db, "sent=0")
    message = queue_message(db, app.extensions["pii"], channel="sms",
                            recipient="+8613800000000", body="x", purpose="result")
    db.commit()
    assert client.get("/healthz").json["outbox"] == "ok"
    message.created_at = utcnow() - timedelta(hours=2)
    db.add(message)
    db.commit()
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["outbox"] == "1 waiting over 60 min"
