"""Several app servers and several workers on one PostgreSQL database (issue 8).

Two gunicorn instances (separate processes, `gunicorn.conf.py`, 2 workers each) serve the
same database on loopback. About a hundred submissions go to both at once: web-form reports
(anonymous, named with a phone, named with an e-mail) and Twilio-signed SMS with distinct
MessageSids, plus retries of some MessageSids sent to the *other* instance. Then two outbox
worker processes (`flask --app wsgi worker`) deliver concurrently to a loopback Twilio fake
and a loopback SMTP server. Checked: tracking numbers are unique, one report per
MessageSid, every acknowledged submission has its row, every queued message is sent
exactly once.
"""

from __future__ import annotations

import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from cryptography.fernet import Fernet
from twilio.request_validator import RequestValidator

from intake.pii import PiiVault
from tests.support.mail import CaptureSMTP
from tests.support.twilio_fake import FakeTwilio

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
                       reason="needs TEST_DATABASE_URL=postgresql://... (one shared database)"),
]

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PUBLIC = "https://jubao.example.gov.cn"  # what Twilio signs; both instances sit behind it
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
RECEIPT_NO = re.compile(r'id="tracking-no">([^<]+)<')
SMS_NO = re.compile(r"受理编号 ([A-Z0-9]+-\d{8}-\d{3,6})")
TEXTS = [
    "今天上午在城西区五四大街，执法人员对我的货车只罚款不开票据，车牌青A12345。",
    "城北区朝阳东路治超站执法人员吃拿卡要，每次过站都要给好处费。",
    "湟中区多巴镇路口交警对网约车选择性执法，本地车辆不查，外地车辆一律罚款。",
    "城东区八一路运管执法人员态度粗暴，扣车后不出具任何手续。",
    "大通县桥头镇客运站附近有人冒充执法人员拦车收费，请核查。",
]
WEB, SMS, RETRIES = 50, 40, 12


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        with suppress(requests.RequestException):
            if requests.get(url, timeout=5).status_code == 200:
                return
        time.sleep(0.3)
    raise AssertionError(f"{url} not ready: " + log.read_text(errors="replace")[-3000:])


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []
    yield started
    for proc in reversed(started):
        _stop(proc)


@pytest.fixture
def fakes():
    twilio, smtp = FakeTwilio().start(), CaptureSMTP().start()
    yield twilio, smtp
    twilio.stop()
    smtp.stop()


def _env(database_url: str, tmp_path: Path, twilio: FakeTwilio, keys: dict) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "FLASK_APP")}
    env.update(keys)
    env.update({
        "APP_ENV": "production", "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path), "UPLOAD_DIR": str(tmp_path / "uploads"),
        "CLASSIFIER_MODEL_PATH": str(tmp_path / "no-model.npz"),
        "RATELIMIT_ENABLED": "false", "SESSION_COOKIE_SECURE": "false",
        "PUBLIC_BASE_URL": PUBLIC, "SMS_GATEWAY": "console", "EMAIL_GATEWAY": "console",
        "TWILIO_AUTH_TOKEN": twilio.auth_token, "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "2", "GUNICORN_LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _web_submission(base: str, i: int) -> tuple[str, str]:
    """GET the form, POST it, read the receipt: ('web', tracking number)."""
    with requests.Session() as http:
        page = http.get(base + "/report", timeout=60)
        assert page.status_code == 200
        form = {"csrf_token": CSRF.search(page.text).group(1), "text": TEXTS[i % len(TEXTS)],
                "place_text": "五四大街", "occurred_text": "昨天", "consent": "y",
                "identity": "anonymous"}
        if i % 3 == 1:
            form.update(identity="named", name="张先生", phone=f"139{10_000_000 + i:08d}")
        elif i % 3 == 2:
            form.update(identity="named", name="李女士", email=f"reporter{i}@example.com")
        posted = http.post(base + "/report", data=form, allow_redirects=False, timeout=60)
        assert posted.status_code == 302, posted.text[:2000]
        assert posted.headers["Location"].endswith("/report/receipt")
        receipt = http.get(base + "/report/receipt", timeout=60)
        return "web", RECEIPT_NO.search(receipt.text).group(1)


def _sms_submission(base: str, params: dict, token: str) -> tuple[str, str]:
    """POST a signed webhook: (MessageSid, tracking number from the TwiML reply)."""
    signature = RequestValidator(token).compute_signature(PUBLIC + "/sms/inbound", params)
    response = requests.post(base + "/sms/inbound", data=params,
                             headers={"X-Twilio-Signature": signature}, timeout=60)
    assert response.status_code == 200, response.text[:2000]
    match = SMS_NO.search(response.text)
    assert match, response.text
    return params["MessageSid"], match.group(1)


def test_two_servers_and_two_workers_on_one_postgres(database_url, tmp_path, processes,
                                                     fakes):
    twilio, smtp = fakes
    keys = {"SECRET_KEY": secrets.token_urlsafe(48), "PII_KEYS": Fernet.generate_key().decode(),
            "HASH_KEY": secrets.token_urlsafe(32)}
    env = _env(database_url, tmp_path, twilio, keys)
    logs = [tmp_path / "gunicorn-a.log", tmp_path / "gunicorn-b.log"]
    bases = []
    for log in logs:
        port = _free_port()
        with log.open("wb") as out:
            processes.append(subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
                cwd=ROOT, env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True))
        bases.append(f"http://127.0.0.1:{port}")
    for base, proc, log in zip(bases, processes, logs, strict=True):
        _wait_ready(base + "/report", proc, log)

    # ~100 submissions at once, split across both instances; retries go to the other one.
    rng = random.Random(8)
    sms = [{"MessageSid": "SM" + secrets.token_hex(16), "AccountSid": twilio.account_sid,
            "From": f"+86138{20_000_000 + i:08d}", "To": "+15005550006",
            "Body": TEXTS[i % len(TEXTS)] + f"（第{i}条）", "NumMedia": "0"}
           for i in range(SMS)]
    tasks = [(_web_submission, bases[i % 2], i) for i in range(WEB)]
    tasks += [(_sms_submission, bases[i % 2], sms[i], twilio.auth_token) for i in range(SMS)]
    tasks += [(_sms_submission, bases[(i + 1) % 2], sms[i], twilio.auth_token)
              for i in range(RETRIES)]
    rng.shuffle(tasks)
    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(lambda task: task[0](*task[1:]), tasks))

    web_numbers = [no for kind, no in results if kind == "web"]
    by_sid: dict[str, set[str]] = {}
    for kind, no in results:
        if kind != "web":
            by_sid.setdefault(kind, set()).add(no)
    assert len(web_numbers) == WEB and len(set(web_numbers)) == WEB
    assert len(by_sid) == SMS
    assert all(len(numbers) == 1 for numbers in by_sid.values()), by_sid  # retry: same reply
    acknowledged = set(web_numbers) | {no for numbers in by_sid.values() for no in numbers}
    assert len(acknowledged) == WEB + SMS

    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT tracking_no, channel, source_ref FROM report")).all()
        assert len(rows) == WEB + SMS
        numbers = [row.tracking_no for row in rows]
        assert len(set(numbers)) == len(numbers), Counter(numbers).most_common(3)
        assert set(numbers) == acknowledged  # every acknowledged submission has its row
        sids = Counter(row.source_ref for row in rows if row.channel == "sms")
        assert sids == Counter({sid: 1 for sid in by_sid})  # one report per MessageSid
        assert {row.tracking_no for row in rows if row.source_ref in by_sid} == {
            no for numbers in by_sid.values() for no in numbers}

        with engine.connect() as conn:
            queued = conn.execute(sa.text(
                "SELECT count(*) FROM message WHERE status = 'queued'")).scalar_one()
        assert queued >= WEB * 2 // 3  # at least the named web reporters' acknowledgements

        # Two delivery workers at once, small batches so their claims interleave.
        worker_env = {**env, "SMS_GATEWAY": "twilio", "TWILIO_FROM_NUMBER": "+15005550006",
                      "TWILIO_API_BASE": twilio.base_url, "EMAIL_GATEWAY": "smtp",
                      "MAIL_SERVER": smtp.host, "MAIL_PORT": str(smtp.port)}
        worker_logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
        workers = []
        for log in worker_logs:
            with log.open("wb") as out:
                workers.append(subprocess.Popen(
                    [str(BIN / "flask"), "--app", "wsgi", "worker", "--interval", "0.2",
                     "--batch", "3"], cwd=ROOT, env=worker_env, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True))
        processes.extend(workers)
        deadline = time.monotonic() + 40
        pending, quiet = queued, 0
        while quiet < 3 and time.monotonic() < deadline:  # drained, and still so a second later
            time.sleep(0.5)
            with engine.connect() as conn:
                pending = conn.execute(sa.text(
                    "SELECT count(*) FROM message WHERE status IN ('queued', 'sending')")
                ).scalar_one()
            quiet = quiet + 1 if pending == 0 else 0
        for worker in workers:
            _stop(worker)
        worker_output = "\n".join(log.read_text(errors="replace") for log in worker_logs)
        assert pending == 0, worker_output[-3000:]

        vault = PiiVault.from_config(keys["PII_KEYS"], keys["HASH_KEY"])
        with engine.connect() as conn:
            messages = conn.execute(sa.text(
                "SELECT channel, status, attempts, provider_id, recipient_enc, body_enc, "
                "subject FROM message")).all()
    finally:
        engine.dispose()

    delivered = [m for m in messages if m.provider_id != "twiml-reply"]
    assert {m.status for m in delivered} == {"sent"}
    assert {m.attempts for m in delivered} == {1}  # claimed once, never re-claimed
    # A delivered acknowledgement's body is redacted (it held the receipt code): those are
    # matched by recipient, the others by recipient and text.
    queued_sms = [(vault.decrypt(m.recipient_enc), vault.decrypt(m.body_enc))
                  for m in delivered if m.channel == "sms"]
    expected_sms = Counter(item for item in queued_sms if item[1] != "[redacted]")
    expected_acks = Counter(to for to, body in queued_sms if body == "[redacted]")
    expected_mail = Counter((vault.decrypt(m.recipient_enc), m.subject)
                            for m in delivered if m.channel == "email")
    sent_sms = Counter((m.to, m.body) for m in twilio.messages
                       if (m.to, m.body) in expected_sms)
    sent_acks = Counter(m.to for m in twilio.messages if (m.to, m.body) not in expected_sms
                        and "受理编号" in m.body)
    sent_mail = Counter((rcpt, str(c.message["Subject"])) for c in smtp.received
                        for rcpt in c.rcpt_tos)
    # The workers' deadline sweep may queue warnings of its own while they run.
    assert len(queued_sms) + sum(expected_mail.values()) >= queued
    assert queued_sms and expected_mail
    assert sent_sms == expected_sms  # every queued SMS sent exactly once
    assert sent_acks == expected_acks
    assert len(twilio.messages) == len(queued_sms)
    assert sent_mail == expected_mail  # every queued e-mail sent exactly once
    assert twilio.requests == len(twilio.messages)

    for log in logs:
        text = log.read_text(errors="replace")
        assert "Traceback" not in text and "WORKER TIMEOUT" not in text, text[-3000:]
