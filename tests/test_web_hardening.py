"""Web hardening: cookies, security headers on every page, CSRF, login lockout, rate limits,
and a production configuration that refuses to start without its secrets."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import url_for
from werkzeug.routing import AnyConverter, IntegerConverter

from app.models import User
from config import ConfigError, ProductionConfig
from intake.models import Attachment
from intake.models import ReportStatus as S
from notices.timeutil import as_utc, utcnow
from routing import transitions as t
from tests.conftest import csrf_from
from tests.support.channels import flashes
from tests.support.files import jpeg_with_gps
from tests.support.flow import file_report, unit_id

ROLES = ("anonymous", "operator", "unit", "inspector", "taskforce", "admin")


@pytest.fixture
def app_settings(app_settings: dict) -> dict:
    app_settings["RATELIMIT_ENABLED"] = True
    app_settings["TWILIO_AUTH_TOKEN"] = "hardening-twilio-token"
    app_settings["PUBLIC_BASE_URL"] = "http://intake.test"
    return app_settings


@pytest.fixture
def world(app, db, campaign_id, make_user):
    report = file_report(app, db, campaign_id)
    if report.status is not S.dispatched:
        t.dispatch(db, app.extensions["intake"], report.id, unit_id(db, "hzq"), t.SYSTEM)
    upload_dir = app.config["UPLOAD_DIR"]
    upload_dir.mkdir(parents=True, exist_ok=True)
    (upload_dir / "hardening.jpg").write_bytes(jpeg_with_gps())
    attachment = Attachment(report_id=report.id, stored_name="hardening.jpg",
                            content_type="image/jpeg", size=10, sha256="0" * 64)
    db.add(attachment)
    db.commit()
    users = {role: make_user(role, unit_code="hzq" if role == "unit" else None)
             for role in ROLES if role != "anonymous"}
    return {"report_id": report.id, "attachment_id": attachment.id, "users": users}


def fill(rule, world) -> dict:
    """Values for a rule's arguments: real ids where they mean something, else placeholders."""
    values = {}
    for name in rule.arguments:
        converter = rule._converters.get(name)
        if name == "attachment_id":
            values[name] = world["attachment_id"]
        elif isinstance(converter, IntegerConverter):
            values[name] = world["report_id"]
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        elif name == "code":
            values[name] = "en"
        else:
            values[name] = "x"
    return values


def get_urls(app, world) -> list[str]:
    """A GET URL for every route of the app, arguments filled with real ids."""
    with app.test_request_context():
        return [url_for(rule.endpoint, **fill(rule, world)) for rule in app.url_map.iter_rules()
                if "GET" in rule.methods and rule.endpoint != "static"]


def check_html_headers(response, where: str) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert csp, f"{where}: no CSP"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";") if d.strip())
    script_src = directives.get("script-src", directives.get("default-src", ""))
    assert script_src and "*" not in script_src and "data:" not in script_src, where
    assert directives.get("object-src") == "'none'", where
    assert directives.get("frame-ancestors") == "'none'", where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") in ("no-referrer", "same-origin",
                                              "strict-origin-when-cross-origin"), where
    page = response.get_data(as_text=True)
    # Inline script would be blocked by the CSP anyway: none may be relied on.
    for match in re.finditer(r"<script\b([^>]*)>", page, re.I):
        assert "src=" in match.group(1), f"{where}: inline <script>"
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", page, re.I), f"{where}: inline event handler"
    assert "javascript:" not in page.lower(), where


# -- cookies ----------------------------------------------------------------------------------

def _session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "no session cookie set"
    return cookies[-1]


def test_session_cookie_is_httponly_and_samesite(client, world, app):
    user = world["users"]["taskforce"]
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": user.username,
                                           "password": f"pw-{user.username}",
                                           "csrf_token": token})
    assert response.status_code == 302
    cookie = _session_cookie(response)
    assert "HttpOnly" in cookie
    assert re.search(r"SameSite=(Lax|Strict)", cookie)
    assert app.permanent_session_lifetime <= timedelta(hours=12)


def _production_config(database_url: str, tmp_path, **attrs):
    values = {"SECRET_KEY": "p" * 48, "PII_KEYS": Fernet.generate_key().decode(),
              "HASH_KEY": "h" * 40, "DATABASE_URL": database_url,
              "UPLOAD_DIR": tmp_path / "prod" / "uploads",
              "CLASSIFIER_MODEL_PATH": tmp_path / "prod" / "model.json",
              "RATELIMIT_ALLOW_MEMORY": True}
    values.update(attrs)
    return type("TestProductionConfig", (ProductionConfig,), values)


def test_production_session_cookie_is_secure(database_url, tmp_path):
    from app import create_app

    prod = create_app(_production_config(database_url, tmp_path))
    try:
        assert prod.config["SESSION_COOKIE_SECURE"] is True
        assert prod.config["SESSION_COOKIE_HTTPONLY"] is True
        assert prod.config["DEBUG"] is False and prod.config["TESTING"] is False
        response = prod.test_client().get("/login")
        cookie = _session_cookie(response)
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        prod.extensions["engine"].dispose()


@pytest.mark.parametrize("missing", ["SECRET_KEY", "PII_KEYS", "HASH_KEY"])
def test_production_refuses_to_start_without_a_secret(database_url, tmp_path, missing):
    from app import create_app

    with pytest.raises(ConfigError, match=missing):
        create_app(_production_config(database_url, tmp_path, **{missing: None}))


def test_production_refuses_per_process_rate_limits(database_url, tmp_path):
    from app import create_app

    with pytest.raises(ConfigError, match="RATELIMIT_STORAGE_URI"):
        create_app(_production_config(database_url, tmp_path, RATELIMIT_ALLOW_MEMORY=False))


def test_production_refuses_a_short_secret_key_or_bad_pii_key(database_url, tmp_path):
    from app import create_app

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(_production_config(database_url, tmp_path, SECRET_KEY="short"))
    with pytest.raises(ValueError):
        create_app(_production_config(database_url, tmp_path, PII_KEYS="not-a-fernet-key"))


def test_production_does_not_invent_secrets(database_url, tmp_path):
    """Only development fills missing secrets (dev-secrets.json); production never does."""
    from app import create_app

    with pytest.raises(ConfigError):
        create_app(_production_config(database_url, tmp_path, SECRET_KEY="", PII_KEYS=""))
    assert not (tmp_path / "prod" / "dev-secrets.json").exists()


# -- headers on every page --------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_every_html_page_has_a_strict_csp_and_no_framing(app, client, login, world, role):
    if role != "anonymous":
        login(world["users"][role])
    seen = 0
    for url in get_urls(app, world) + ["/no-such-page", "/unit/clues/999999"]:
        response = client.get(url)
        assert response.status_code != 500, f"{role} GET {url}"
        if response.mimetype == "text/html":
            check_html_headers(response, f"{role} GET {url} -> {response.status_code}")
            seen += 1
        else:
            assert response.headers.get("X-Content-Type-Options") == "nosniff", url
    assert seen >= 3


def test_pages_for_signed_in_staff_are_never_publicly_cacheable(app, client, login, world):
    problems = []
    for role in ("anonymous", "taskforce", "unit"):
        if role != "anonymous":
            login(world["users"][role])
        for url in get_urls(app, world):
            response = client.get(url)
            if response.mimetype != "text/html" or response.status_code != 200:
                continue
            cache = response.headers.get("Cache-Control", "")
            if "no-store" in cache or "private" in cache:
                continue
            if role != "anonymous" or response.headers.get("Set-Cookie"):
                problems.append(f"{role} GET {url}: {cache!r}")
    assert not problems, problems


def test_error_and_rate_limit_pages_carry_the_headers(client):
    check_html_headers(client.get("/no-such-page"), "404")
    response = client.post("/report", data={})  # no CSRF token
    assert response.status_code == 400
    check_html_headers(response, "csrf 400")


def test_every_post_route_needs_a_csrf_token_except_the_signed_webhook(app, client, world):
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "POST" not in rule.methods:
                continue
            url = url_for(rule.endpoint, **fill(rule, world))
            response = client.post(url, data={"text": "x"})
            if rule.endpoint == "sms.inbound":
                assert response.status_code == 403, url  # unsigned: refused by signature
            elif rule.endpoint.startswith(("api.", "open311.")):
                # Token-authenticated machine APIs may be exempt, but never open.
                assert response.status_code in (400, 401, 403, 404, 405), url
            else:
                assert response.status_code == 400, f"POST {url} without CSRF token"
                assert "页面已过期" in response.get_data(as_text=True), url


# -- login lockout with backoff ---------------------------------------------------------------

def _attempt(client, username: str, password: str) -> str:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token}, follow_redirects=False)
    return "ok" if response.status_code == 302 else response.get_data(as_text=True)


def _lock_minutes(db, user) -> float:
    db.expire_all()
    row = db.get(User, user.id)
    db.rollback()
    return (as_utc(row.locked_until) - utcnow()).total_seconds() / 60


def _expire_lock(db, user) -> None:
    db.execute(sa.update(User).where(User.id == user.id)
               .values(locked_until=utcnow() - timedelta(seconds=1)))
    db.commit()


def test_login_lockout_backs_off_doubling(app, client, db, make_user):
    app.config["LOGIN_MAX_FAILURES"] = 3
    user = make_user("taskforce")
    good = f"pw-{user.username}"
    for _ in range(3):
        assert "用户名或密码错误" in _attempt(client, user.username, "wrong")
    first = _lock_minutes(db, user)
    assert 0.9 < first <= 1.01
    # Locked: even the right password is refused, and the refusal does not extend the lock.
    assert _attempt(client, user.username, good) != "ok"
    assert abs(_lock_minutes(db, user) - first) < 0.05

    durations = [first]
    for _ in range(3):
        _expire_lock(db, user)
        assert "用户名或密码错误" in _attempt(client, user.username, "wrong")
        durations.append(_lock_minutes(db, user))
    for shorter, longer in zip(durations, durations[1:], strict=False):
        assert 1.9 < longer / shorter < 2.1, durations  # 1, 2, 4, 8 minutes

    # The backoff is capped (2**10 minutes), and success resets the counter.
    db.execute(sa.update(User).where(User.id == user.id).values(failed_logins=40))
    db.commit()
    _expire_lock(db, user)
    _attempt(client, user.username, "wrong")
    assert _lock_minutes(db, user) <= 1024.01
    _expire_lock(db, user)
    assert _attempt(client, user.username, good) == "ok"
    db.expire_all()
    row = db.get(User, user.id)
    assert row.failed_logins == 0 and row.locked_until is None


def test_unknown_user_and_wrong_password_look_the_same(client, make_user):
    user = make_user("taskforce")
    wrong = _attempt(client, user.username, "wrong")
    unknown = _attempt(client, "nobody-" + user.username, "wrong")
    strip = lambda page: re.sub(r'value="[^"]*"', "", page)  # noqa: E731
    assert strip(wrong) == strip(unknown)


def test_login_is_rate_limited(client):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    statuses = [client.post("/login", data={"username": "nobody", "password": "x",
                                            "csrf_token": token}).status_code
                for _ in range(21)]
    assert statuses[:20] == [200] * 20 and statuses[20] == 429


# -- public POST rate limits ------------------------------------------------------------------

def test_every_public_post_route_has_a_rate_limit(app):
    from flask_limiter.util import get_qualified_name

    from notices.ratelimit import limiter

    decorated = limiter.limit_manager._decorated_limits  # route name -> limits
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, "required_roles", None) or rule.endpoint == "auth.logout":
            continue  # staff only: behind login (the login itself is limited); logout is inert
        assert get_qualified_name(view) in decorated, f"{rule.endpoint} has no rate limit"


def test_tracker_answers_429_after_the_limit_per_client(client, app):
    token = csrf_from(client.get("/track").get_data(as_text=True))
    data = {"csrf_token": token, "tracking_no": "XNJT-20000101-0001",
            "receipt_code": "AAAA-BBBB-CCCC-DDDD"}
    statuses = [client.post("/track", data=data).status_code for _ in range(11)]
    assert statuses[:10] == [404] * 10 and statuses[10] == 429
    limited = client.post("/track", data=data)
    assert limited.status_code == 429
    assert "操作过于频繁" in limited.get_data(as_text=True)
    check_html_headers(limited, "429")
    # Another client (address) has its own allowance.
    other = app.test_client()
    token = csrf_from(other.get("/track", environ_base={"REMOTE_ADDR": "198.51.100.7"})
                      .get_data(as_text=True))
    response = other.post("/track", data={**data, "csrf_token": token},
                          environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert response.status_code == 404


def test_report_form_is_rate_limited(client):
    token = csrf_from(client.get("/report").get_data(as_text=True))
    statuses = [client.post("/report", data={"csrf_token": token, "text": "",
                                             "identity": "anonymous", "consent": "y"}).status_code
                for _ in range(11)]
    assert statuses[:10] == [400] * 10 and statuses[10] == 429


def test_sms_webhook_is_rate_limited_per_sender_not_by_forgeries(client, app, db):
    from twilio.request_validator import RequestValidator

    url = app.config["PUBLIC_BASE_URL"] + "/sms/inbound"
    validator = RequestValidator(app.config["TWILIO_AUTH_TOKEN"])

    def send(body: str, sender: str, *, sid: str, signed: bool = True):
        params = {"MessageSid": sid, "From": sender, "To": "+15005550006", "Body": body}
        headers = {"X-Twilio-Signature": validator.compute_signature(url, params)
                   if signed else "forged"}
        return client.post("/sms/inbound", data=params, headers=headers)

    for i in range(10):  # forged requests neither work nor use up the sender's allowance
        assert send("帮助", "+8613911112222", sid=f"SMF{i}", signed=False).status_code == 403
    statuses = [send("帮助", "+8613911112222", sid=f"SMA{i}").status_code for i in range(7)]
    assert statuses[:6] == [200] * 6 and statuses[6] == 429
    assert send("帮助", "+8613933334444", sid="SMB0").status_code == 200  # other sender


def test_limiter_storage_holds_no_client_address(client, app):
    from notices.ratelimit import limiter

    address = "203.0.113.99"
    for _ in range(3):
        client.get("/track", environ_base={"REMOTE_ADDR": address})
        token = csrf_from(client.get("/track", environ_base={"REMOTE_ADDR": address})
                          .get_data(as_text=True))
        client.post("/track", data={"csrf_token": token, "tracking_no": "X", "receipt_code": "Y"},
                    environ_base={"REMOTE_ADDR": address})
    storage = limiter.storage
    keys = [str(k) for k in getattr(storage, "storage", {})] + \
        [str(k) for k in getattr(storage, "expirations", {})]
    assert keys, "memory storage was expected in tests"
    assert not any(address in k or "127.0.0.1" in k for k in keys), keys
    # Every bucket expires: nothing is kept beyond its window.
    assert all(k in getattr(storage, "expirations", {}) for k in getattr(storage, "storage", {}))


OFFSITE = ("//evil.example/", "https://evil.example/", "/\\evil.example/", "/\\/evil.example/",
           "/%5Cevil.example/", "\t//evil.example/")


def _offsite(location: str) -> bool:
    """Would a browser leave the site? Browsers read a backslash as a slash, skip tabs."""
    normalised = location.replace("\\", "/").replace("\t", "").lstrip()
    return normalised.startswith("//") or "://" in normalised.split("?")[0]


@pytest.mark.parametrize("target", OFFSITE)
def test_no_open_redirect_after_login(client, make_user, target):
    user = make_user("taskforce")
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", query_string={"next": target}, data={
        "username": user.username, "password": f"pw-{user.username}", "csrf_token": token})
    assert response.status_code == 302
    assert not _offsite(response.headers["Location"]), response.headers["Location"]


@pytest.mark.parametrize("target", OFFSITE)
def test_no_open_redirect_from_the_language_switch(client, target):
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code == 302
    assert not _offsite(response.headers["Location"]), response.headers["Location"]


def test_lockout_message_does_not_tell_which_usernames_exist(app, client, make_user):
    """A locked account, a wrong password and an unknown name get the same answer: the
    login page cannot be used to list staff usernames."""
    app.config["LOGIN_MAX_FAILURES"] = 3
    user = make_user("taskforce")

    def answer(username: str, password: str) -> list:
        return flashes(_attempt(client, username, password))

    real = [answer(user.username, "wrong") for _ in range(4)]
    unknown = [answer("nobody-" + user.username, "wrong") for _ in range(4)]
    assert all(a == real[0] for a in real + unknown) and "用户名或密码错误" in real[0][0][1]
    assert answer(user.username, f"pw-{user.username}") == real[0]  # locked: the same words


def test_password_reset_ends_the_accounts_sessions(app, client, login, make_user):
    """An admin resets a password because the account may be compromised: whoever is
    signed in with the old one is signed out at their next request."""
    victim = make_user("taskforce")
    other = app.test_client()
    assert _attempt(other, victim.username, f"pw-{victim.username}") == "ok"
    assert other.get("/taskforce/triage").status_code == 200
    login(make_user("admin"))
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    client.post("/admin/users/password", data={"csrf_token": token, "user_id": str(victim.id)})
    response = other.get("/taskforce/triage")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/admin/users").status_code == 200  # the admin's own session goes on
