"""Shared fixtures: a fresh database per test, built by the real migrations.

SQLite (default): the migrated and seeded template file is copied for every test.
PostgreSQL: set TEST_DATABASE_URL=postgresql://user@host/postgres (an admin URL); a template
database is migrated and seeded once per run and each test gets `CREATE DATABASE ... TEMPLATE`.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlmodel import Session

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN_DIR = ROOT / "notices" / "data" / "xining-2023-129"
PG_ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "")
USE_PG = PG_ADMIN_URL.startswith("postgresql")
TEST_PII_KEY = Fernet.generate_key().decode()


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _pg_admin(sql: str) -> None:
    engine = sa.create_engine(PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"),
                              isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(sql)
    engine.dispose()


def _seed(url: str) -> None:
    from app.cli import run_migrations, seed_campaign
    from notices.db import make_engine

    run_migrations(url)
    engine = make_engine(url)
    with Session(engine) as session:
        seed_campaign(session, CAMPAIGN_DIR)
        session.commit()
    engine.dispose()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, seeded database that each test copies."""
    if USE_PG:
        name = f"tmpl_{uuid.uuid4().hex[:10]}"
        _pg_admin(f"CREATE DATABASE {name}")
        _seed(_pg_url(name))
        yield name
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        _seed(f"sqlite:///{path}")
        yield str(path)


@pytest.fixture
def database_url(template_db: str, tmp_path: Path) -> Iterator[str]:
    if USE_PG:
        name = f"t_{uuid.uuid4().hex[:12]}"
        _pg_admin(f"CREATE DATABASE {name} TEMPLATE {template_db}")
        yield _pg_url(name)
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    else:
        path = tmp_path / "test.db"
        shutil.copyfile(template_db, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def app_settings(database_url: str, tmp_path: Path) -> dict:
    """Overrides passed to create_app; tests may change them before `app` is built."""
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-" + uuid.uuid4().hex,
        "PII_KEYS": TEST_PII_KEY,
        "HASH_KEY": "test-hash-key",
        "UPLOAD_DIR": tmp_path / "uploads",
        "CLASSIFIER_MODEL_PATH": tmp_path / "classifier-model.json",
        "SERVER_NAME": None,
    }


@pytest.fixture
def app(app_settings: dict):
    from app import create_app

    application = create_app("test", **app_settings)
    yield application
    application.extensions["engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app) -> Iterator[Session]:
    """A session on the test's database, for arranging and checking rows."""
    with Session(app.extensions["engine"], expire_on_commit=False) as session:
        yield session


@pytest.fixture
def make_user(db: Session) -> Callable[..., object]:
    """Factory: make_user("taskforce") or make_user("unit", unit_code="hzq"); password 'pw-<name>'."""
    from sqlmodel import select

    from app.auth import create_user
    from routing.models import Unit

    def factory(role: str, *, username: str | None = None, unit_code: str | None = None,
                campaign_id: int | None = None):
        username = username or f"{role}-{unit_code or ''}-{uuid.uuid4().hex[:6]}"
        unit_id = None
        if unit_code:
            unit_id = db.exec(select(Unit).where(Unit.code == unit_code)).one().id
        user = create_user(db, username=username, password=f"pw-{username}", role=role,
                           unit_id=unit_id, display_name=username, campaign_id=campaign_id)
        db.commit()
        return user

    return factory


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


@pytest.fixture
def login(client) -> Callable[[object], None]:
    def do_login(user, password: str | None = None) -> None:
        token = csrf_from(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data={
            "username": user.username, "password": password or f"pw-{user.username}",
            "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)

    return do_login


@pytest.fixture
def live_url(app) -> Iterator[str]:
    """Base URL of the test app served over real HTTP on loopback."""
    from tests.support.live import serve

    with serve(app) as url:
        app.config["PUBLIC_BASE_URL"] = url
        app.extensions["intake"].public_base_url = url
        yield url


@pytest.fixture
def campaign_id(db: Session) -> int:
    from sqlmodel import select

    from notices.models import Campaign

    return db.exec(select(Campaign.id)).first()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright (tests/support/browser.py)."""
    from playwright.sync_api import sync_playwright

    from tests.support.browser import ARGS, CHROMIUM

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def twilio():
    """A loopback server speaking Twilio's REST API (tests/support/twilio_fake.py); a test
    module points the app at it with `app_settings.update(twilio.settings())`."""
    from tests.support.twilio_fake import FakeTwilio

    fake = FakeTwilio().start()
    yield fake
    fake.stop()
