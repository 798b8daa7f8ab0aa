"""Settings, all read from environment variables.

`Config` holds safe development defaults; `ProductionConfig.validate()` refuses to
start without real secrets. Tests pass their own overrides to `create_app`.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value is not None else default


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class ConfigError(RuntimeError):
    """A required setting is missing or unsafe."""


class Config:
    ENV_NAME = "development"
    DEBUG = False
    TESTING = False

    SECRET_KEY = _env("SECRET_KEY")
    # Fernet keys (urlsafe base64, 32 bytes), comma-separated, newest first: MultiFernet rotation.
    PII_KEYS = _env("PII_KEYS")
    # Key for hashing phone numbers/e-mails for duplicate look-ups and rate-limit buckets.
    HASH_KEY = _env("HASH_KEY")

    DATABASE_URL = _env("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'intake.db'}")
    SQL_ECHO = _env_bool("SQL_ECHO", False)

    CAMPAIGN_DATA_DIR = Path(_env("CAMPAIGN_DATA_DIR", str(BASE_DIR / "notices" / "data")))
    DEFAULT_CAMPAIGN = _env("DEFAULT_CAMPAIGN", "xining-2023-129")
    UPLOAD_DIR = Path(_env("UPLOAD_DIR", str(INSTANCE_DIR / "uploads")))
    CLASSIFIER_MODEL_PATH = Path(
        _env("CLASSIFIER_MODEL_PATH", str(INSTANCE_DIR / "classifier-model.npz"))
    )
    PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    TASKFORCE_EMAIL = _env("TASKFORCE_EMAIL", "zhuanban@xnjt.example")

    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_Hans_CN", "en")

    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 60 * 1024 * 1024)
    MAX_ATTACHMENT_BYTES = _env_int("MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024)
    MAX_ATTACHMENTS = 5
    MAX_REPORT_CHARS = _env_int("MAX_REPORT_CHARS", 4000)

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    WTF_CSRF_TIME_LIMIT = 6 * 3600

    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_ALLOW_MEMORY = _env_bool("RATELIMIT_ALLOW_MEMORY", False)
    RATELIMIT_HEADERS_ENABLED = True

    # Outbound messages. "console" writes to the log/outbox only; "twilio"/"smtp" deliver.
    SMS_GATEWAY = _env("SMS_GATEWAY", "console")
    TWILIO_ACCOUNT_SID = _env("TWILIO_ACCOUNT_SID")
    TWILIO_AUTH_TOKEN = _env("TWILIO_AUTH_TOKEN")
    TWILIO_FROM_NUMBER = _env("TWILIO_FROM_NUMBER")
    TWILIO_API_BASE = _env("TWILIO_API_BASE")  # e.g. a loopback test server
    EMAIL_GATEWAY = _env("EMAIL_GATEWAY", "console")
    MAIL_SERVER = _env("MAIL_SERVER", "127.0.0.1")
    MAIL_PORT = _env_int("MAIL_PORT", 25)
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)
    MAIL_USERNAME = _env("MAIL_USERNAME")
    MAIL_PASSWORD = _env("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = _env("MAIL_DEFAULT_SENDER", "zhuanban@xnjt.example")

    WORKER_STALE_SECONDS = _env_int("WORKER_STALE_SECONDS", 180)
    OUTBOX_BACKLOG_SECONDS = _env_int("OUTBOX_BACKLOG_SECONDS", 3600)
    SWEEP_INTERVAL_SECONDS = _env_int("SWEEP_INTERVAL_SECONDS", 60)
    JSON_LOGS = _env_bool("JSON_LOGS", False)
    TRUSTED_PROXIES = _env_int("TRUSTED_PROXIES", 0)

    LOGIN_MAX_FAILURES = _env_int("LOGIN_MAX_FAILURES", 5)
    PII_RETENTION_DAYS = _env_int("PII_RETENTION_DAYS", 365)

    @classmethod
    def validate(cls) -> None:
        """Development and test configs fill missing secrets with per-process random keys."""


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    DEBUG = True


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    RATELIMIT_ENABLED = False
    DATABASE_URL = _env("TEST_DATABASE_URL", "sqlite://")


class ProductionConfig(Config):
    ENV_NAME = "production"
    JSON_LOGS = _env_bool("JSON_LOGS", True)
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)

    @classmethod
    def validate(cls) -> None:
        missing = [name for name in ("SECRET_KEY", "PII_KEYS", "HASH_KEY") if not getattr(cls, name)]
        if missing:
            raise ConfigError(
                "Refusing to start in production without: " + ", ".join(missing)
                + ". Set them as environment variables (see README, Configuration)."
            )
        if len(cls.SECRET_KEY or "") < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters in production.")
        if len(cls.HASH_KEY or "") < 32:
            raise ConfigError("HASH_KEY must be at least 32 characters in production.")
        if cls.RATELIMIT_ENABLED and cls.RATELIMIT_STORAGE_URI.startswith("memory://") \
                and not cls.RATELIMIT_ALLOW_MEMORY:
            raise ConfigError(
                "RATELIMIT_STORAGE_URI is memory:// in production: each gunicorn worker would "
                "count on its own. Use redis://... (or set RATELIMIT_ALLOW_MEMORY=1 for a "
                "single-process deployment).")


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def config_for(name: str | None = None) -> type[Config]:
    name = name or _env("APP_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(f"APP_ENV must be one of {', '.join(CONFIGS)}, not {name!r}") from None
