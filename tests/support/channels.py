"""Helpers for the per-channel lifecycle tests: staff clients that work through the real
pages (CSRF tokens taken from the rendered forms), outbox delivery, timeline and PII checks."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

from flask.testing import FlaskClient
from sqlmodel import Session, select

from app.gateways import build_gateways
from app.worker import deliver_due
from intake.models import Event, Report
from intake.outbox import Message, MessageStatus
from routing.models import Assignment, Unit

FLASH_RE = re.compile(r'<div class="flash flash-(\w+)" role="status">(.*?)</div>', re.S)
CSRF_RE = re.compile(r'name="([\w-]*csrf_token)"[^>]*value="([^"]+)"')

# The lifecycle of the brief, after the report is in the triage queue or dispatched.
LOOP = ["acknowledged", "replied", "reply_rejected", "replied", "reviewed", "reply_approved",
        "rated", "reopened", "acknowledged", "replied", "reviewed", "reply_approved", "rated",
        "closed"]
TIMELINE_KINDS = {"received", "triage", "triage_reason", "classification_confirmed",
                  "dispatched", *LOOP}


def flashes(page: str) -> list[tuple[str, str]]:
    return [(kind, html.unescape(text).strip()) for kind, text in FLASH_RE.findall(page)]


def csrf(page: str) -> str:
    match = CSRF_RE.search(page)
    assert match, "page has no CSRF token"
    return match.group(2)


@dataclass
class StaffClient:
    """A logged-in member of staff using the pages like a browser would."""

    client: FlaskClient
    user: object

    @classmethod
    def login(cls, app, user) -> StaffClient:
        client = app.test_client()
        token = csrf(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data={"username": user.username,
                                               "password": f"pw-{user.username}",
                                               "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)
        return cls(client, user)

    def page(self, path: str, status: int = 200) -> str:
        response = self.client.get(path)
        assert response.status_code == status, (path, response.status_code)
        return response.get_data(as_text=True)

    def submit(self, form_page: str, action: str, data: dict, *,
               expect: str | None = None) -> str:
        """POST `data` plus the CSRF token of `form_page`; follow the redirect and return the
        page it lands on, asserting that no error was flashed (and `expect` was, if given)."""
        response = self.client.post(action, data={"csrf_token": csrf(form_page), **data})
        assert response.status_code in (200, 302), (action, response.status_code,
                                                    response.get_data(as_text=True)[:500])
        landed = self.client.get(response.headers["Location"]).get_data(as_text=True) \
            if response.status_code == 302 else response.get_data(as_text=True)
        messages = flashes(landed)
        assert not [m for m in messages if m[0] == "error"], (action, messages)
        if expect is not None:
            assert any(expect in text for _, text in messages), (action, messages)
        return landed


def fresh(db: Session, report_id: int) -> Report:
    db.commit()  # end the read transaction: SQLite would keep its old snapshot
    db.expire_all()
    report = db.get(Report, report_id)
    db.commit()
    return report


def report_by_tracking_no(db: Session, tracking_no: str) -> Report:
    db.commit()
    report = db.exec(select(Report).where(Report.tracking_no == tracking_no)).one()
    db.commit()
    return report


def unit_code_of_current_assignment(db: Session, report_id: int) -> str:
    db.commit()
    code = db.exec(select(Unit.code).join(Assignment, Assignment.unit_id == Unit.id)
                   .where(Assignment.report_id == report_id,
                          Assignment.is_current == True)  # noqa: E712
                   .order_by(Assignment.id.desc())).first()
    db.commit()
    return code


def assignment_rounds(db: Session, report_id: int) -> list[tuple[int, str, bool]]:
    db.commit()
    rows = db.exec(select(Assignment.round, Unit.code, Assignment.is_current)
                   .join(Unit, Unit.id == Assignment.unit_id)
                   .where(Assignment.report_id == report_id).order_by(Assignment.id)).all()
    db.commit()
    return [tuple(r) for r in rows]


def event_kinds(db: Session, report_id: int) -> list[str]:
    db.commit()
    kinds = [e.kind for e in db.exec(select(Event).where(Event.report_id == report_id)
                                     .order_by(Event.at, Event.id))]
    db.commit()
    return kinds


def deliver_all(app) -> int:
    """Run the outbox worker until nothing is due; returns how many messages it sent."""
    engine = app.extensions["engine"]
    total = 0
    with app.app_context():
        gateways = build_gateways(app)
        for _ in range(20):
            sent = deliver_due(lambda: Session(engine, expire_on_commit=False), gateways)
            total += sent
            if sent == 0:
                break
    return total


@dataclass
class Outgoing:
    """One outbox row, decrypted."""

    id: int
    channel: str
    recipient: str
    subject: str
    body: str
    purpose: str
    unit_id: int | None
    status: MessageStatus
    last_error: str


def outbox(app, db: Session, report_id: int) -> list[Outgoing]:
    vault = app.extensions["pii"]
    db.commit()
    rows = db.exec(select(Message).where(Message.report_id == report_id)
                   .order_by(Message.id)).all()
    db.commit()
    return [Outgoing(m.id, m.channel.value, vault.decrypt(m.recipient_enc), m.subject,
                     vault.decrypt(m.body_enc), m.purpose, m.unit_id, m.status, m.last_error)
            for m in rows]


def assert_no_pii(texts: Iterable[str], secrets: Iterable[str]) -> None:
    secrets = [s for s in secrets if s]
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"reporter PII {secret!r} in unit-facing text: {text!r}"
