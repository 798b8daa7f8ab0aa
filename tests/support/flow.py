"""Helpers to walk a report through the lifecycle in tests."""

from __future__ import annotations

from sqlmodel import Session, select

from intake.models import Channel, Report
from intake.registration import Submission, register
from routing.models import Unit

TEXT_HZ = "湟中区多巴镇检查站的路政执法人员在行车道上随意拦截正常行驶的大货车进行检查，导致后车险些追尾。"


def unit_id(db: Session, code: str) -> int:
    return db.exec(select(Unit.id).where(Unit.code == code)).one()


def file_report(app, db: Session, campaign_id: int, *, channel: Channel = Channel.hotline,
                text: str = TEXT_HZ, phone: str | None = "13800001111",
                email: str | None = None, name: str | None = "李四") -> Report:
    services = app.extensions["intake"]
    receipt = register(db, Submission(campaign_id=campaign_id, channel=channel, text=text,
                                      phone=phone, email=email, name=name,
                                      anonymous=False), services)
    db.commit()
    return receipt.report
