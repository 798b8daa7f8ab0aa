"""Privacy commands: PII key rotation, retention erasure and backups (app/privacy.py)."""

from __future__ import annotations

import sqlite3
import subprocess
from datetime import timedelta

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlmodel import Session, select

from app.privacy import (
    ERASED_MESSAGE,
    PrivacyError,
    backup_database,
    erase_expired,
    register_privacy_commands,
    rotate_keys,
)
from intake.models import Event, Report, Reporter
from intake.models import ReportStatus as S
from intake.outbox import Message, MessageStatus
from intake.pii import PiiVault
from notices.timeutil import utcnow
from tests.conftest import USE_PG
from tests.support.flow import file_report

NAME, PHONE, EMAIL = "欧阳娜娜", "13987654321", "ouyang.nana@example.com"


def make_app(app_settings: dict, **overrides):
    from app import create_app

    application = create_app("test", **{**app_settings, **overrides})
    register_privacy_commands(application)
    return application


def cli(app, *args: str):
    result = app.test_cli_runner().invoke(args=list(args))
    return result


def all_ciphertexts(db: Session) -> list[str]:
    db.expire_all()
    values = []
    for reporter in db.exec(select(Reporter)):
        values += [v for v in (reporter.name_enc, reporter.phone_enc, reporter.email_enc,
                               reporter.id_number_enc, reporter.address_enc) if v]
    for message in db.exec(select(Message)):
        values += [message.recipient_enc, message.body_enc]
    db.rollback()
    return values


# -- rotation -------------------------------------------------------------------------------

def test_rotation_makes_old_key_unnecessary(app_settings, campaign_id, db, app):
    old_key = app_settings["PII_KEYS"]
    new_key = Fernet.generate_key().decode()
    # Data written under the old key: reporter PII and outbox rows (ack to the citizen).
    report = file_report(app, db, campaign_id, phone=PHONE, name=NAME, email=EMAIL)
    second = file_report(app, db, campaign_id, text="大通县客运站执法人员收钱不开票。", phone=None,
                         email=EMAIL, name="张三")
    before = all_ciphertexts(db)
    assert len(before) >= 6

    rotating = make_app(app_settings, PII_KEYS=f"{new_key},{old_key}")
    try:
        result = cli(rotating, "privacy", "rotate-keys", "--batch-size", "2")
        assert result.exit_code == 0, result.output
        assert "rotated" in result.output
        again = cli(rotating, "privacy", "rotate-keys")
        assert again.exit_code == 0, again.output
        assert again.output.startswith("rotated 0 value(s)")  # idempotent
    finally:
        rotating.extensions["engine"].dispose()

    after = all_ciphertexts(db)
    assert len(after) == len(before) and not set(after) & set(before)
    new_only = PiiVault([new_key], b"x")
    old_only = PiiVault([old_key], b"x")
    assert all(old_only.decrypt(v) is None for v in after)
    reporter = db.get(Reporter, report.reporter_id)
    assert new_only.decrypt(reporter.name_enc) == NAME
    assert new_only.decrypt(reporter.phone_enc) == "+86" + PHONE
    assert new_only.decrypt(reporter.email_enc) == EMAIL
    assert new_only.decrypt(db.get(Reporter, second.reporter_id).name_enc) == "张三"
    for message in db.exec(select(Message)):
        assert new_only.decrypt(message.recipient_enc)
        assert new_only.decrypt(message.body_enc)
    db.rollback()

    # With the old key removed from the configuration, the app still reads everything.
    rotated_app = make_app(app_settings, PII_KEYS=new_key)
    try:
        vault = rotated_app.extensions["pii"]
        with Session(rotated_app.extensions["engine"]) as session:
            row = session.get(Reporter, report.reporter_id)
            assert vault.decrypt(row.phone_enc) == "+86" + PHONE
    finally:
        rotated_app.extensions["engine"].dispose()


def test_rotation_reports_values_no_key_can_read(app, db, campaign_id):
    file_report(app, db, campaign_id)
    stranger = Fernet(Fernet.generate_key()).encrypt(b"orphan").decode()
    db.add(Reporter(name_enc=stranger))
    db.commit()
    result = rotate_keys(db, [Fernet.generate_key().decode(), app.config["PII_KEYS"]])
    assert result.unreadable == 1 and result.rotated > 0
    db.expire_all()
    assert db.exec(select(Reporter).where(Reporter.name_enc == stranger)).one()  # untouched


def test_rotation_does_not_overwrite_a_concurrent_change(app, db, campaign_id):
    """A row redacted between read and write keeps the newer value (compare-and-swap)."""
    file_report(app, db, campaign_id)
    old_key = app.config["PII_KEYS"]
    vault = app.extensions["pii"]
    message = db.exec(select(Message).order_by(Message.id)).first()
    engine = app.extensions["engine"]
    redacted = vault.encrypt("[redacted]")
    fired = []

    def redact_first(conn, cursor, statement, parameters, context, executemany):
        if not fired and statement.lstrip().upper().startswith("UPDATE MESSAGE"):
            fired.append(True)
            conn.exec_driver_sql("UPDATE message SET body_enc = "
                                 + ("%(v)s" if USE_PG else ":v") + " WHERE id = "
                                 + str(message.id), {"v": redacted})

    sa.event.listen(engine, "before_cursor_execute", redact_first)
    try:
        result = rotate_keys(db, [Fernet.generate_key().decode(), old_key], batch_size=1)
    finally:
        sa.event.remove(engine, "before_cursor_execute", redact_first)
    assert fired and result.skipped >= 1
    db.expire_all()
    assert vault.decrypt(db.get(Message, message.id).body_enc) == "[redacted]"


def test_rotate_command_refuses_without_keys(app):
    register_privacy_commands(app)
    app.config["PII_KEYS"] = " , "
    result = cli(app, "privacy", "rotate-keys")
    assert result.exit_code != 0 and "PII_KEYS" in result.output


# -- retention ------------------------------------------------------------------------------

def _finish(db: Session, report: Report, status: S, days_ago: int) -> None:
    db.execute(sa.update(Report).where(Report.id == report.id)
               .values(status=status, closed_at=utcnow() - timedelta(days=days_ago)))
    db.commit()


def test_retention_erases_only_expired_finished_reports(app, db, campaign_id):
    register_privacy_commands(app)
    vault = app.extensions["pii"]
    text = f"我是{NAME}，电话{PHONE}。湟中区多巴镇检查站路政人员随意拦车罚款不开票据。"
    old_closed = file_report(app, db, campaign_id, text=text, phone=PHONE, name=NAME)
    old_referred = file_report(app, db, campaign_id, text="城西区交警乱扣分。", phone="13700002222",
                               name="王五")
    old_merged = file_report(app, db, campaign_id, text="大通县执法车辆违停。", phone=None,
                             email="merged@example.com", name="赵六")
    recent_closed = file_report(app, db, campaign_id, text="湟源县运管站刁难。",
                                phone="13600003333", name="钱七")
    old_open = file_report(app, db, campaign_id, text="城东区执法人员吃拿卡要。",
                           phone="13500004444", name="孙八")
    _finish(db, old_closed, S.closed, 400)
    _finish(db, old_referred, S.referred, 366)
    _finish(db, old_merged, S.merged, 500)
    _finish(db, recent_closed, S.closed, 30)
    db.execute(sa.update(Report).where(Report.id == old_open.id)
               .values(received_at=utcnow() - timedelta(days=900)))
    db.execute(sa.update(Message).values(status=MessageStatus.sent))
    db.commit()

    result = cli(app, "privacy", "erase-expired", "--days", "365")
    assert result.exit_code == 0, result.output
    assert "erased 3 reporter(s)" in result.output

    db.expire_all()
    for report in (old_closed, old_referred, old_merged):
        row = db.get(Report, report.id)
        reporter = db.get(Reporter, row.reporter_id)
        assert reporter.erased_at is not None
        assert not any((reporter.name_enc, reporter.phone_enc, reporter.email_enc,
                        reporter.id_number_enc, reporter.address_enc, reporter.phone_hash,
                        reporter.email_hash))
        assert row.text and row.tracking_no and row.items is not None  # anonymised report kept
        event = db.exec(select(Event).where(Event.report_id == row.id,
                                            Event.kind == "pii_erased")).one()
        assert NAME not in event.note + str(event.data) and PHONE not in str(event.data)
        for message in db.exec(select(Message).where(Message.report_id == row.id,
                                                     Message.unit_id.is_(None))):
            assert vault.decrypt(message.recipient_enc) == ERASED_MESSAGE
    scrubbed = db.get(Report, old_closed.id).text
    assert NAME not in scrubbed and PHONE not in scrubbed and "多巴镇" in scrubbed
    assert PHONE not in str(db.get(Report, old_closed.id).classification)

    for report in (recent_closed, old_open):
        reporter = db.get(Reporter, db.get(Report, report.id).reporter_id)
        assert reporter.erased_at is None and vault.decrypt(reporter.phone_enc)
        assert reporter.phone_hash

    again = cli(app, "privacy", "erase-expired", "--days", "365")
    assert "erased 0 reporter(s)" in again.output


def test_retention_keeps_a_reporter_with_another_open_report(app, db, campaign_id):
    vault = app.extensions["pii"]
    report = file_report(app, db, campaign_id, phone=PHONE, name=NAME)
    other = file_report(app, db, campaign_id, text="湟源县运管站刁难。", phone=None, name=None)
    db.execute(sa.update(Report).where(Report.id == other.id)
               .values(reporter_id=report.reporter_id))
    _finish(db, report, S.closed, 400)
    result = erase_expired(db, vault, days=365)
    assert result.reporters == 0
    db.expire_all()
    assert vault.decrypt(db.get(Reporter, report.reporter_id).phone_enc) == "+86" + PHONE


def test_retention_defaults_to_the_configured_days(app, db, campaign_id):
    register_privacy_commands(app)
    report = file_report(app, db, campaign_id, phone=PHONE, name=NAME)
    _finish(db, report, S.not_accepted, 20)
    app.config["PII_RETENTION_DAYS"] = 30
    assert "erased 0 reporter(s)" in cli(app, "privacy", "erase-expired").output
    app.config["PII_RETENTION_DAYS"] = 10
    assert "erased 1 reporter(s)" in cli(app, "privacy", "erase-expired").output


def test_erased_reporter_page_shows_nothing_to_reveal(app, db, campaign_id, client, login,
                                                      make_user):
    report = file_report(app, db, campaign_id, phone=PHONE, name=NAME)
    _finish(db, report, S.closed, 400)
    erase_expired(db, app.extensions["pii"], days=365)
    login(make_user("taskforce"))
    page = client.get(f"/taskforce/reports/{report.id}").get_data(as_text=True)
    assert "****" + PHONE[-4:] not in page and NAME[0] + "*" not in page
    assert "已删除" in page or "erased" in page.lower() or NAME not in page


# -- backup ---------------------------------------------------------------------------------

def test_backup_is_a_consistent_copy_that_holds_the_reports(app, db, campaign_id, tmp_path):
    register_privacy_commands(app)
    numbers = {file_report(app, db, campaign_id).tracking_no for _ in range(3)}
    output = tmp_path / "backups" / "intake.backup"
    result = cli(app, "backup", str(output))
    assert result.exit_code == 0, result.output
    assert output.exists() and output.stat().st_size > 0
    assert output.stat().st_mode & 0o077 == 0  # owner-only
    if USE_PG:
        assert output.read_bytes()[:5] == b"PGDMP"
        listing = subprocess.run(["pg_restore", "--list", str(output)], capture_output=True,
                                 text=True, check=True).stdout
        assert "TABLE DATA public report" in listing
        data = subprocess.run(["pg_restore", "--data-only", "--table=report", "--file=-",
                               str(output)], capture_output=True, text=True, check=True).stdout
        assert all(number in data for number in numbers)
    else:
        with sqlite3.connect(output) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            stored = {row[0] for row in conn.execute("SELECT tracking_no FROM report")}
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        conn.close()
        assert stored == numbers
    # It refuses to overwrite unless told to.
    refused = cli(app, "backup", str(output))
    assert refused.exit_code != 0 and "--force" in refused.output
    assert cli(app, "backup", str(output), "--force").exit_code == 0


def test_backup_without_pg_dump_says_what_to_do(monkeypatch, tmp_path):
    import app.privacy as privacy

    monkeypatch.setattr(privacy.shutil, "which", lambda name: None)
    with pytest.raises(PrivacyError, match="pg_dump was not found"):
        backup_database("postgresql://u:secret@127.0.0.1:1/db", tmp_path / "x.dump")
    assert not list(tmp_path.iterdir())  # no half-written file


def test_backup_refuses_memory_and_unknown_databases(tmp_path):
    with pytest.raises(PrivacyError, match="in-memory"):
        backup_database("sqlite://", tmp_path / "a.db")
    with pytest.raises(PrivacyError, match="no backup method"):
        backup_database("mysql://u@h/db", tmp_path / "b.db")
    assert not list(tmp_path.iterdir())
