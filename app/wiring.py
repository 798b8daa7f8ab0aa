"""Builds the services the domain packages need from the app's settings.

The classifier is loaded once per process (and per model file version) and shared by
every app instance, so a worker that serves many requests pays its start-up cost once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from intake.registration import IntakeServices

log = logging.getLogger(__name__)
_lock = threading.Lock()
_classifiers: dict[tuple, object] = {}


def load_classifier(campaign_dir: Path, model_path: Path | None,
                    checklist: dict | None = None) -> object | None:
    """The classifier for these data files, model and checklist (one per version)."""
    from intake.classification import Classifier

    model = model_path if model_path and model_path.exists() else None
    fingerprint = hashlib.sha256(json.dumps(checklist, sort_keys=True, ensure_ascii=False)
                                 .encode()).hexdigest() if checklist else None
    data_mtimes = tuple(p.stat().st_mtime_ns for p in sorted(Path(campaign_dir).glob("*.yaml")))
    key = (str(campaign_dir), str(model), model.stat().st_mtime_ns if model else None,
           fingerprint, data_mtimes)
    with _lock:
        if key not in _classifiers:
            _classifiers.clear()  # one version at a time: the old one is garbage
            _classifiers[key] = Classifier.load(campaign_dir, model, checklist)
        return _classifiers[key]


def classify_function(app: Flask) -> Callable[[str, str], dict]:
    """A `classify(text, channel) -> dict` that loads the classifier on first use."""
    campaign_dir = Path(app.config["CAMPAIGN_DATA_DIR"]) / app.config["DEFAULT_CAMPAIGN"]
    model_path = Path(app.config["CLASSIFIER_MODEL_PATH"])

    checklist = _StoredChecklist(app)

    def classify(text: str, channel: str) -> dict:
        classifier = load_classifier(campaign_dir, model_path, checklist.current())
        return classifier.classify(text, channel).to_dict()

    return classify


class _StoredChecklist:
    """The checklist as the task force edited it (keywords on the admin page), re-read from
    the database at most every CHECK_SECONDS; None before the campaign is seeded."""

    CHECK_SECONDS = 60.0

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.read_at = float("-inf")
        self.document: dict | None = None

    def current(self) -> dict | None:
        now = time.monotonic()
        if now - self.read_at >= self.CHECK_SECONDS:
            self.read_at = now
            self.document = self._read()
        return self.document

    def _read(self) -> dict | None:
        from sqlmodel import Session

        from notices.loader import active_campaign, checklist_document

        try:
            with Session(self.app.extensions["engine"]) as session:
                campaign = active_campaign(session, self.app.config["DEFAULT_CAMPAIGN"])
                return checklist_document(session, campaign.id) if campaign else None
        except Exception:  # no tables yet (before migrate): the data file serves
            log.warning("checklist not readable from the database; using the data file")
            return None


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
    # Warming read the checklist from the database: forked workers must not inherit those
    # pooled connections (two processes on one socket corrupt each other's transactions).
    app.extensions["engine"].dispose()
