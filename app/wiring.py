"""Builds the services the domain packages need from the app's settings.

The classifier is loaded once per process (and per model file version) and shared by
every app instance, so a worker that serves many requests pays its start-up cost once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from intake.registration import IntakeServices

log = logging.getLogger(__name__)
_lock = threading.Lock()
_classifiers: dict[tuple, object] = {}


def load_classifier(campaign_dir: Path, model_path: Path | None) -> object | None:
    try:
        from intake.classification import Classifier
    except ImportError:
        return None
    model = model_path if model_path and model_path.exists() else None
    key = (str(campaign_dir), str(model), model.stat().st_mtime_ns if model else None)
    with _lock:
        if key not in _classifiers:
            _classifiers[key] = Classifier.load(campaign_dir, model)
        return _classifiers[key]


def classify_function(app: Flask) -> Callable[[str, str], dict]:
    """A `classify(text, channel) -> dict` that loads the classifier on first use."""
    campaign_dir = Path(app.config["CAMPAIGN_DATA_DIR"]) / app.config["DEFAULT_CAMPAIGN"]
    model_path = Path(app.config["CLASSIFIER_MODEL_PATH"])

    def classify(text: str, channel: str) -> dict:
        classifier = load_classifier(campaign_dir, model_path)
        if classifier is None:
            return {}
        return classifier.classify(text, channel).to_dict()

    return classify


def build_intake_services(app: Flask) -> IntakeServices:
    from routing.dispatch import after_register_hook
    from routing.feedback import rate_by_message

    services = IntakeServices(
        vault=app.extensions["pii"],
        upload_dir=Path(app.config["UPLOAD_DIR"]),
        max_chars=app.config["MAX_REPORT_CHARS"],
        max_files=app.config["MAX_ATTACHMENTS"],
        max_file_bytes=app.config["MAX_ATTACHMENT_BYTES"],
        public_base_url=app.config["PUBLIC_BASE_URL"],
        taskforce_email=app.config["TASKFORCE_EMAIL"],
        classify=classify_function(app),
    )
    services.after_register.append(after_register_hook(services))
    services.rate = rate_by_message(services)
    return services


def warm_up(app: object) -> None:
    """Load the classifier now (gunicorn calls this in the master before forking workers).

    Anything that is not this app (the benchmark's hello-world) is left alone.
    """
    services = getattr(app, "extensions", {}).get("intake")
    if services is None or services.classify is None:
        return
    with app.app_context():
        services.classify("预热", "web")
