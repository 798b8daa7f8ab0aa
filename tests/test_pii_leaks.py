"""The reporter's identity never leaks: not to unit pages, unit messages, exports, logs,
the database file, and no IP address is kept; receipt codes are strong and only hashed.

One distinctive reporter (欧阳娜娜, 139 8765 4321, ouyang.nana@example.com) reports through
the web form, SMS, the hotline and e-mail; the clues go to unit A, which works them; then
every page unit A can reach (walked from the URL map with real ids), every export, every
outbox row for a unit and every log line is searched for her in many spellings.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import re
import zipfile
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from flask import url_for
from sqlmodel import Session, select
from werkzeug.routing import AnyConverter, IntegerConverter

from intake.models import Attachment, Channel, Event, Report
from intake.models import ReportStatus as S
from intake.outbox import Message
from intake.pii import mask_email, mask_name, mask_phone
from intake.receipts import ALPHABET, CODE_LENGTH, check_code, new_receipt_code
from routing import transitions as t
from routing.models import Assignment
from tests.conftest import USE_PG, csrf_from
from tests.support.files import jpeg_with_gps
from tests.support.flow import unit_id

try:  # the signed-webhook helpers of the SMS tests
    from tests.test_sms import ACCOUNT, TOKEN, post_sms, sms_params
except ImportError:  # pragma: no cover - fall back to a local signer
    TOKEN, ACCOUNT, post_sms, sms_params = "test-twilio-auth-token", "AC" + "1" * 32, None, None

NAME = "欧阳娜娜"
PHONE = "13987654321"
E164 = "+86" + PHONE
EMAIL = "ouyang.nana@example.com"
CLIENT_IP = "203.0.113.45"
FORWARDED_IP = "198.51.100.66"
ENVIRON = {"REMOTE_ADDR": CLIENT_IP}
HEADERS = {"X-Forwarded-For": FORWARDED_IP, "X-Real-IP": FORWARDED_IP}

# Spellings that identify her: full forms, encodings, and "masks" that reveal too much.
FULL = [NAME, "欧阳娜", "阳娜娜", json.dumps(NAME)[1:-1], quote(NAME),
        PHONE, E164, "86" + PHONE, "139 8765 4321", "139-8765-4321", "1398765", "87654321",
        quote(E164), EMAIL, "ouyang.nana", quote(EMAIL)]
# The usual masks: fine for the task force and in logs, but a unit sees none of them.
MASKED = [mask_name(NAME), NAME[0] + "*", mask_phone(PHONE), mask_phone(E164),
          "****" + PHONE[-4:], mask_email(EMAIL)]
UNIT_TEXT = "湟中区多巴镇检查站的路政执法人员在行车道上随意拦截大货车检查，还辱骂司机，要求查处。"


def leaks(text: str, needles=FULL) -> list[str]:
    return [n for n in needles if n and n in text]


def body_text(response) -> str:
    """Text of a response, whatever it is: HTML, JSON, CSV (UTF-8 or GB18030), XLSX/DOCX."""
    data = response.get_data()
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return "\n".join(archive.read(n).decode("utf-8", "replace")
                                 for n in archive.namelist())
        except zipfile.BadZipFile:
            pass
    for codec in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _sign(app, path: str, params: dict) -> dict:
    from twilio.request_validator import RequestValidator

    url = app.config["PUBLIC_BASE_URL"].rstrip("/") + path
    return {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, params)}


def sms(app, client, body: str, sid: str):
    params = (sms_params(body, sid=sid, sender=E164) if sms_params else
              {"MessageSid": sid, "From": E164, "To": "+15005550006", "Body": body})
    return client.post("/sms/inbound", data=params, headers=_sign(app, "/sms/inbound", params),
                       environ_base=ENVIRON)


def login_client(app, user):
    client = app.test_client()
    token = csrf_from(client.get("/login", environ_base=ENVIRON).get_data(as_text=True))
    response = client.post("/login", data={"username": user.username,
                                           "password": f"pw-{user.username}",
                                           "csrf_token": token},
                           environ_base=ENVIRON, headers=HEADERS)
    assert response.status_code == 302
    return client


def post_form(client, url: str, form_url: str, data: dict):
    token = csrf_from(client.get(form_url, environ_base=ENVIRON).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data}, environ_base=ENVIRON,
                       headers=HEADERS)


@dataclass
class World:
    reports: list[Report] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    users: dict = field(default_factory=dict)


@pytest.fixture
def app_settings(app_settings: dict) -> dict:
    app_settings.update({"TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT,
                         "PUBLIC_BASE_URL": "http://intake.test"})
    return app_settings


@pytest.fixture
def logs(caplog):
    """Capture every log record (root and named loggers, including SQL statements)."""
    caplog.set_level(logging.DEBUG)
    for name in ("app", "app.outbox", "intake", "routing", "notices", "werkzeug", "twilio",
                 "flask_limiter"):
        caplog.set_level(logging.DEBUG, logger=name)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    return caplog


@pytest.fixture
def world(app, db, campaign_id, make_user, logs, live_url) -> World:
    """Her four reports, all with unit A (hzq), worked through the pages; logs captured."""
    services = app.extensions["intake"]
    w = World(users={"unit_a": make_user("unit", unit_code="hzq"),
                     "unit_b": make_user("unit", unit_code="zfjd"),
                     "taskforce": make_user("taskforce"), "operator": make_user("operator")})
    public = app.test_client()

    # 1. Web form, named, with a photo.
    response = post_form(public, "/report", "/report", {
        "text": UNIT_TEXT, "district": "湟中区", "identity": "named", "name": NAME,
        "phone": "139 8765 4321", "email": EMAIL, "consent": "y",
        "attachments": [(io.BytesIO(jpeg_with_gps()), "IMG_20240601_0001.jpg")]})
    assert response.status_code == 302, response.get_data(as_text=True)
    page = public.get("/report/receipt", environ_base=ENVIRON).get_data(as_text=True)
    w.codes.append(re.search(r'id="receipt-code">([^<]+)', page).group(1))

    # 2. SMS, signed like Twilio, over real HTTP (so the server's own log runs too).
    body = "湟中区拦隆口镇路政人员罚款不开票据，态度恶劣，请查处。"
    if post_sms is not None:
        db.commit()
        reply = post_sms(live_url, sms_params(body, sid="SM" + "a" * 32, sender=E164))
        assert reply.status_code == 200 and "受理编号" in reply.text
        public.get("/track", environ_base=ENVIRON)
    else:  # pragma: no cover
        reply = sms(app, public, body, "SM" + "a" * 32)
        assert reply.status_code == 200 and "受理编号" in reply.get_data(as_text=True)

    # 3. Hotline call registered by an operator.
    operator = login_client(app, w.users["operator"])
    response = post_form(operator, "/staff/calls", "/staff/calls", {
        "channel": "hotline", "caller_phone": PHONE, "caller_name": NAME,
        "district": "湟中区", "text": "来电反映湟中区鲁沙尔镇执法人员吃拿卡要。"})
    assert response.status_code == 200, response.get_data(as_text=True)

    # 4. E-mail.
    from intake.email_in import ingest_email

    raw = ("From: =?utf-8?b?5qyn6Ziz5aic5aic?= <" + EMAIL + ">\r\n"
           "To: jubao@xnjt.example\r\nSubject: =?utf-8?b?5Li+5oql?=\r\n"
           "Message-ID: <msg-1@mail.example.net>\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\n"
           "湟中区上新庄镇执法队员随意扣车不出具手续。\r\n").encode()
    db.commit()
    receipt = ingest_email(db, raw, services, campaign_id)
    db.commit()
    assert receipt is not None

    db.expire_all()
    w.reports = list(db.exec(select(Report).order_by(Report.id)))
    assert {r.channel for r in w.reports} == {Channel.web, Channel.sms, Channel.hotline,
                                                Channel.email}
    hzq = unit_id(db, "hzq")
    for report in w.reports:
        if report.status is not S.dispatched:
            db.commit()
            t.dispatch(db, services, report.id, hzq, t.SYSTEM)
            db.commit()
        assert t.current_assignment(db, report.id).unit_id == hzq
    db.commit()

    # Unit A signs and replies through its pages; the task force approves; she rates.
    unit = login_client(app, w.users["unit_a"])
    first = w.reports[0].id
    clue = f"/unit/clues/{first}"
    assert post_form(unit, f"{clue}/acknowledge", clue, {}).status_code == 302
    assert post_form(unit, f"{clue}/reply", clue, {
        "rep-finding": "属实", "rep-measures": "已约谈相关执法人员并整改。",
        "rep-public_text": "经核实属实，已整改。"}).status_code == 302
    db.commit()
    t.review(db, services, first, w.users["taskforce"], approve=True)
    db.commit()
    db.expire_all()
    assert db.get(Report, first).status is S.awaiting_feedback
    t.rate(db, services, first, "不满意", channel="web")  # reopened: unit A is told again
    db.commit()

    # The task force looks at the report (masked) and reveals once, with a reason.
    desk = login_client(app, w.users["taskforce"])
    desk.get(f"/taskforce/reports/{first}", environ_base=ENVIRON)
    post_form(desk, f"/taskforce/reports/{first}", f"/taskforce/reports/{first}",
              {"reveal-reason": "回访核实"})

    # The outbox worker delivers everything (console gateways log what they "send").
    from app.gateways import build_gateways
    from app.worker import run_cycle

    run_cycle(app, build_gateways(app))
    db.expire_all()
    db.commit()
    return w


def _ids(db: Session) -> dict[str, list]:
    def ids(model) -> list[int]:
        return list(db.exec(select(model.id).order_by(model.id)))

    values = {"report_id": ids(Report), "attachment_id": ids(Attachment),
              "assignment_id": ids(Assignment), "message_id": ids(Message),
              "tracking_no": list(db.exec(select(Report.tracking_no)))}
    db.rollback()
    return values


def reachable_urls(app, db: Session, *, endpoints=None, limit_per_rule: int = 12) -> list[str]:
    """GET URLs for every route (or the given endpoints), every argument filled with real ids."""
    ids = _ids(db)
    everything = ids["report_id"] + ids["attachment_id"] + ids["assignment_id"]
    urls: list[str] = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.endpoint == "static":
                continue
            if endpoints is not None and rule.endpoint not in endpoints:
                continue
            choices = []
            for name in sorted(rule.arguments):
                converter = rule._converters.get(name)
                if isinstance(converter, IntegerConverter):
                    choices.append(ids.get(name) or sorted(set(everything)) or [1])
                elif isinstance(converter, AnyConverter):
                    choices.append(sorted(converter.items))
                elif name == "code":
                    choices.append(["en", "zh_Hans_CN"])
                else:
                    choices.append(ids["tracking_no"] + ["x"])
            names = sorted(rule.arguments)
            for combo in itertools.islice(itertools.product(*choices), limit_per_rule):
                urls.append(url_for(rule.endpoint, **dict(zip(names, combo, strict=True))))
    return list(dict.fromkeys(urls))


def export_endpoints(app) -> list[str]:
    return sorted({rule.endpoint for rule in app.url_map.iter_rules()
                   if "GET" in rule.methods and ("export" in rule.endpoint
                                                 or "download" in rule.endpoint)})


# -- pages a unit can reach -------------------------------------------------------------------

def test_no_page_a_unit_can_reach_names_the_reporter(app, db, world):
    for role in ("unit_a", "unit_b"):
        client = login_client(app, world.users[role])
        reached = 0
        for url in reachable_urls(app, db):
            response = client.get(url, environ_base=ENVIRON)
            assert response.status_code != 500, f"{role} GET {url}"
            if response.status_code == 200:
                reached += 1
                found = leaks(body_text(response), FULL + MASKED)
                assert not found, f"{role} GET {url} shows {found}"
        assert reached >= 3, role
    # Unit A really saw its clues (the walk was not all 403s).
    client = login_client(app, world.users["unit_a"])
    page = client.get(f"/unit/clues/{world.reports[0].id}").get_data(as_text=True)
    assert "多巴镇" in page


def test_the_public_tracker_says_nothing_about_the_reporter(app, db, world):
    client = app.test_client()
    report = world.reports[0]
    page = post_form(client, "/track", "/track", {"tracking_no": report.tracking_no,
                                                  "receipt_code": world.codes[0]})
    assert page.status_code == 200
    assert not leaks(page.get_data(as_text=True), FULL + MASKED)


def test_task_force_pages_show_masks_until_an_audited_reveal(app, db, world):
    client = login_client(app, world.users["taskforce"])
    for url in reachable_urls(app, db):
        response = client.get(url, environ_base=ENVIRON)
        assert response.status_code != 500, url
        if response.status_code == 200:
            assert not leaks(body_text(response)), f"task force GET {url} unmasked"
    db.expire_all()
    reveals = db.exec(select(Event).where(Event.kind == "pii_revealed")).all()
    assert len(reveals) == 1 and reveals[0].actor_id == world.users["taskforce"].id
    assert reveals[0].note == "回访核实"


def test_unit_messages_in_the_outbox_carry_no_reporter_data(app, db, world):
    vault = app.extensions["pii"]
    rows = db.exec(select(Message).where(Message.unit_id.is_not(None))).all()
    assert rows, "units were told about their clues"
    for message in rows:
        for part in (vault.decrypt(message.recipient_enc), vault.decrypt(message.body_enc),
                     message.subject, message.last_error):
            assert not leaks(part or "", FULL + MASKED), (message.purpose, part)


def test_exports_carry_no_reporter_data(app, db, world):
    endpoints = export_endpoints(app)
    if not endpoints:
        pytest.skip("no export endpoints yet")
    for role in ("unit_a", "taskforce"):
        client = login_client(app, world.users[role])
        needles = FULL + MASKED if role == "unit_a" else FULL
        for url in reachable_urls(app, db, endpoints=set(endpoints)):
            for query in ("", "format=csv", "format=xlsx", "fmt=csv", "fmt=xlsx"):
                full = f"{url}{'&' if '?' in url else '?'}{query}" if query else url
                response = client.get(full, environ_base=ENVIRON)
                assert response.status_code != 500, f"{role} GET {full}"
                if response.status_code == 200:
                    found = leaks(body_text(response), needles)
                    assert not found, f"{role} GET {full} exports {found}"


# -- logs -------------------------------------------------------------------------------------

def test_logs_of_the_whole_flow_hold_no_reporter_data_and_no_ip(world, logs, capsys, live_url):
    records = logs.get_records("setup") + logs.get_records("call")
    assert any(r.name.startswith("app.outbox") for r in records), "the worker logged nothing?"
    if post_sms is not None:
        assert any(r.name.startswith("werkzeug") for r in records), "the server logged nothing?"
    captured = capsys.readouterr()
    for record in records:
        text = record.getMessage() + (logs.formatter.formatException(record.exc_info)
                                      if record.exc_info and logs.formatter else "")
        found = leaks(text)
        assert not found, f"{record.name}: {text[:300]} reveals {found}"
        if not record.name.startswith("werkzeug"):  # the dev server's access log is not ours
            ours = text.replace(live_url, "")  # links to our own (loopback) site are fine
            for address in (CLIENT_IP, FORWARDED_IP, "127.0.0.1"):
                assert address not in ours, f"{record.name} logs an IP: {text[:300]}"
        for code in world.codes:
            assert code not in text and code.replace("-", "") not in text, record.name
    for stream in (captured.out, captured.err):
        assert not leaks(stream)
        assert CLIENT_IP not in stream and FORWARDED_IP not in stream


# -- at rest ----------------------------------------------------------------------------------

def dump_tables(engine) -> str:
    """Every row of every table as text."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    parts = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                parts.append(f"{table.name}: {tuple(row)!r} {json.dumps([str(v) for v in row], ensure_ascii=False)}")
    return "\n".join(parts)


def test_no_table_holds_plaintext_pii_ip_or_receipt_code(app, world):
    dump = dump_tables(app.extensions["engine"])
    assert "scrypt:" in dump
    found = [n for n in leaks(dump) if n not in ("1398765", "87654321")] + \
        [n for n in ("1398765", "87654321") if re.search(rf"(?<![0-9a-f]){n}(?![0-9a-f])", dump)]
    assert not found, f"plaintext in the database: {found}"
    for address in (CLIENT_IP, FORWARDED_IP, "127.0.0.1"):
        assert address not in dump, f"IP address {address} stored"
    for code in world.codes:
        assert code not in dump and code.replace("-", "") not in dump


@pytest.mark.skipif(USE_PG, reason="reads the SQLite database file itself")
def test_sqlite_file_and_wal_hold_no_plaintext_pii(app, world):
    path = app.extensions["engine"].url.database
    blobs = {}
    for suffix in ("", "-wal", "-journal"):
        try:
            with open(path + suffix, "rb") as handle:
                blobs[suffix or "db"] = handle.read()
        except FileNotFoundError:
            continue
    assert blobs.get("db")
    needles = {NAME.encode(), PHONE.encode(), E164.encode(), EMAIL.encode(),
               b"139 8765 4321", NAME.encode("utf-16-le"), PHONE.encode("utf-16-le")}
    for where, blob in blobs.items():
        found = [n for n in needles if n in blob]
        assert not found, f"{where} holds {found}"


# -- receipt codes ----------------------------------------------------------------------------

def test_receipt_codes_have_at_least_80_bits_and_look_random():
    assert len(set(ALPHABET)) == len(ALPHABET) == 32
    assert len(ALPHABET) ** CODE_LENGTH >= 2 ** 80
    codes = [new_receipt_code() for _ in range(2000)]
    assert len(set(codes)) == len(codes)
    assert all(len(c) == CODE_LENGTH and set(c) <= set(ALPHABET) for c in codes)
    for position in range(CODE_LENGTH):  # every symbol turns up in every position
        assert len({c[position] for c in codes}) == len(ALPHABET)


def test_receipt_codes_are_stored_only_as_scrypt_hashes(app, db, world):
    rows = db.exec(select(Report).order_by(Report.id)).all()
    for report in rows:
        method, _, _rest = report.receipt_hash.partition("$")
        name, n, r, p = (method.split(":") + ["", "", ""])[:4]
        # Memory-hard: at least 1 MiB per guess (128·N·r bytes). With 80 random bits guessing
        # is out of reach anyway; the cost only slows checking codes against a stolen table
        # (intake/receipts.py explains the choice).
        assert name == "scrypt" and 128 * int(n) * int(r) >= 2 ** 20, report.receipt_hash
    assert check_code(rows[0].receipt_hash, world.codes[0])
    assert not check_code(rows[0].receipt_hash, "0000-0000-0000-0000")


# -- file names ----------------------------------------------------------------------

def test_unit_never_sees_the_reporters_file_names(app, db, campaign_id, make_user):
    public = app.test_client()
    response = post_form(public, "/report", "/report", {
        "text": UNIT_TEXT, "district": "湟中区", "identity": "named", "name": NAME,
        "phone": PHONE, "consent": "y",
        "attachments": [(io.BytesIO(jpeg_with_gps()), f"{NAME}身份证.jpg")]})
    assert response.status_code == 302
    db.commit()  # end the read transaction: SQLite would keep its old snapshot
    report = db.exec(select(Report)).one()
    if report.status is not S.dispatched:
        db.commit()
        t.dispatch(db, app.extensions["intake"], report.id, unit_id(db, "hzq"), t.SYSTEM)
        db.commit()
    unit = login_client(app, make_user("unit", unit_code="hzq"))
    page = unit.get(f"/unit/clues/{report.id}").get_data(as_text=True)
    assert "附件" in page
    assert not leaks(page, FULL + MASKED)


def test_reporters_own_details_typed_into_the_text_are_masked_for_units(app, db, campaign_id,
                                                                         make_user):
    from intake.models import Channel
    from intake.registration import Submission, register
    from routing import transitions as t
    from tests.support.flow import unit_id

    text = (f"我是{NAME}，电话{PHONE}，邮箱ouyang@example.com，身份证630102199001011234。"
            "湟中区多巴镇路政人员在行车道上随意拦截货车，查询码 ABCD-EFGH-JKMN-PQRS。")
    receipt = register(db, Submission(campaign_id=campaign_id, channel=Channel.sms, text=text,
                                      phone=PHONE, name=NAME, anonymous=False), app.extensions["intake"])
    db.commit()
    report = receipt.report
    if report.status.value != "dispatched":
        t.dispatch(db, app.extensions["intake"], report.id, unit_id(db, "hzq"), t.SYSTEM)
        db.commit()
    unit_user = make_user("unit", unit_code="hzq")
    client = app.test_client()
    from tests.conftest import csrf_from

    token = csrf_from(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": unit_user.username,
                                "password": f"pw-{unit_user.username}", "csrf_token": token})
    pages = client.get(f"/unit/clues/{report.id}").get_data(as_text=True) + \
        client.get("/unit").get_data(as_text=True)
    assert "多巴镇" in pages
    for secret in (NAME, PHONE, "ouyang@example.com", "630102199001011234", "ABCD-EFGH-JKMN-PQRS"):
        assert secret not in pages, secret
