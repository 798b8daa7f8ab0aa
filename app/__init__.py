"""The Flask application factory."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from flask import Flask

from config import Config, config_for


def create_app(config: type[Config] | str | None = None, **overrides: Any) -> Flask:
    """Build the app. `config` is a settings class or its name; `overrides` win over both."""
    settings = config_for(config) if config is None or isinstance(config, str) else config
    settings.validate()
    app = Flask(__name__, instance_path=str(Path(settings.UPLOAD_DIR).parent))
    app.config.from_object(settings)
    app.config.update(overrides)
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    if app.config["ENV_NAME"] != "production":
        _fill_dev_secrets(app)

    from app.extensions import babel, csrf, mail, select_locale
    from intake.pii import PiiVault
    from notices import db
    from notices.ratelimit import limiter

    db.init_app(app)
    csrf.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=str(Path(__file__).parent / "translations"))
    app.extensions["pii"] = PiiVault.from_config(app.config["PII_KEYS"], app.config["HASH_KEY"])

    from app import auth, cli, errors, health, logs, security, templating, views
    from app.wiring import build_intake_services
    from intake.sms import bp as sms_bp
    from intake.views import bp as intake_bp
    from intake.views import calls_bp
    from notices.campaigns import add_campaign_to_urls
    from notices.views import bp as notices_bp
    from routing.desk_views import bp as desk_bp
    from routing.public_views import bp as feedback_bp
    from routing.settings_views import bp as settings_bp
    from routing.unit_views import bp as unit_bp

    app.extensions["intake"] = build_intake_services(app)
    logs.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    templating.init_app(app)
    auth.init_app(app)
    app.url_defaults(add_campaign_to_urls)
    app.register_blueprint(notices_bp)
    app.register_blueprint(intake_bp)
    app.register_blueprint(calls_bp)
    app.register_blueprint(sms_bp)
    csrf.exempt(sms_bp)
    app.register_blueprint(unit_bp)
    app.register_blueprint(desk_bp)
    app.register_blueprint(feedback_bp)
    app.register_blueprint(settings_bp)
    from app.outbox_views import bp as outbox_bp

    app.register_blueprint(outbox_bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(health.bp)
    from app import admin, api, dashboard, ledger, open311

    for feature in (dashboard, ledger, admin, open311, api):
        feature.init_app(app)
    cli.init_app(app)
    logging.getLogger("app").setLevel(logging.INFO)
    return app


def _fill_dev_secrets(app: Flask) -> None:
    """Outside production, missing secrets come from instance/dev-secrets.json (made once).

    Keys must survive a restart, or encrypted reporter data could not be read back.
    Tests pass their own keys and never touch the file.
    """
    needed = [name for name in ("SECRET_KEY", "PII_KEYS", "HASH_KEY") if not app.config.get(name)]
    if not needed:
        return
    path = Path(app.instance_path) / "dev-secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    fresh = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PII_KEYS": Fernet.generate_key().decode(),
        "HASH_KEY": secrets.token_urlsafe(32),
    }
    changed = False
    for name in needed:
        if name not in stored:
            stored[name] = fresh[name]
            changed = True
        app.config[name] = stored[name]
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored))
        path.chmod(0o600)
