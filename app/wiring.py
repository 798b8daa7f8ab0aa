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
from typing import Any

from flask import Flask

from app.gateways import mms_account
from intake.registration import IntakeServices

log = logging.getLogger(__name__)
_lock = threading.Lock()
_classifiers: dict[tuple, object] = {}


def load_classifier(campaign_dir: Path, model_path: Path | None,
                    checklist: dict | None = None) -> object | None:
    """The classifier for these data files, model and checklist (one per version and
    campaign folder: a new version replaces the old one of the same folder)."""
    from intake.classification import Classifier

    model = model_path if model_path and model_path.exists() else None
    fingerprint = hashlib.sha256(json.dumps(checklist, sort_keys=True, ensure_ascii=False)
                                 .encode()).hexdigest() if checklist else None
    from notices.loader import data_parent

    parent = data_parent(campaign_dir)  # files taken from another campaign count too
    folders = [Path(campaign_dir)] + ([Path(campaign_dir).parent / parent] if parent else [])
    data_mtimes = tuple(p.stat().st_mtime_ns for folder in folders
                        for p in sorted(folder.glob("*.yaml")))
    key = (str(campaign_dir), str(model), model.stat().st_mtime_ns if model else None,
           fingerprint, data_mtimes)
    with _lock:
        if key not in _classifiers:
            for old in [k for k in _classifiers if k[0] == key[0]]:
                del _classifiers[old]  # the old version of this campaign is garbage
            _classifiers[key] = Classifier.load(campaign_dir, model, checklist)
        return _classifiers[key]


def own_model(app: Flask, slug: str) -> Path:
    """Where a campaign's own trained model lives: CLASSIFIER_MODEL_PATH for the default
    campaign, `<model>-<slug>.npz` beside it for the others."""
    default_model = Path(app.config["CLASSIFIER_MODEL_PATH"])
    if slug == app.config["DEFAULT_CAMPAIGN"]:
        return default_model
    return default_model.with_name(f"{default_model.stem}-{slug}{default_model.suffix}")


def model_for(app: Flask, campaign_dir: Path) -> Path:
    """The trained model a campaign uses: its own if trained, else the default campaign's
    when it shares that checklist (data_from, no checklist of its own)."""
    from notices.loader import data_parent

    default = app.config["DEFAULT_CAMPAIGN"]
    own = own_model(app, campaign_dir.name)
    if campaign_dir.name == default or own.exists():
        return own
    if data_parent(campaign_dir) == default and not (campaign_dir / "checklist.yaml").exists():
        return own_model(app, default)
    return own  # absent: the classifier runs on the checklist wording and cues alone


def classify_function(app: Flask) -> Callable[..., dict]:
    """A `classify(text, channel, campaign_id=None) -> dict` that loads each campaign's
    classifier on first use (None: the default campaign)."""
    campaigns = _CampaignData(app)

    def classify(text: str, channel: str, campaign_id: int | None = None) -> dict:
        return campaigns.classifier(campaign_id).classify(text, channel).to_dict()

    return classify


class _CampaignData:
    """Per campaign: its classifier, built from its data folder, model and checklist as the
    task force edited it (keywords on the admin page, gazetteer file). Those are looked at
    again at most every CHECK_SECONDS, so a submission pays a dictionary look-up. Before the
    campaign is seeded the data files serve (checklist None)."""

    CHECK_SECONDS = 60.0

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.known: dict[int | None, tuple[float, Any]] = {}

    def classifier(self, campaign_id: int | None) -> Any:
        now = time.monotonic()
        read_at, classifier = self.known.get(campaign_id, (float("-inf"), None))
        if classifier is None or now - read_at >= self.CHECK_SECONDS:
            slug, checklist = self._read(campaign_id)
            data_dir = Path(self.app.config["CAMPAIGN_DATA_DIR"])
            campaign_dir = data_dir / slug
            if not (campaign_dir / "campaign.yaml").exists():
                campaign_dir = data_dir / self.app.config["DEFAULT_CAMPAIGN"]
            classifier = load_classifier(campaign_dir, model_for(self.app, campaign_dir),
                                         checklist)
            self.known[campaign_id] = (now, classifier)
        return classifier

    def _read(self, campaign_id: int | None) -> tuple[str, dict | None]:
        from sqlmodel import Session

        from notices.loader import active_campaign, checklist_document
        from notices.models import Campaign

        default = self.app.config["DEFAULT_CAMPAIGN"]
        try:
            with Session(self.app.extensions["engine"]) as session:
                campaign = session.get(Campaign, campaign_id) if campaign_id is not None \
                    else active_campaign(session, default)
                if campaign is None:
                    return default, None
                return campaign.slug, checklist_document(session, campaign.id)
        except Exception:  # no tables yet (before migrate): the data file serves
            log.warning("checklist not readable from the database; using the data file")
            return default, None


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
        mms_account=mms_account(app.config),
    )
    services.after_register.append(after_register_hook(services))
    services.rate = rate_by_message(services)
    return services


def warm_up(app: object) -> None:
    """Load every active campaign's classifier now (gunicorn calls this in the master
    before forking workers).

    Anything that is not this app (the benchmark's hello-world) is left alone.
    """
    services = getattr(app, "extensions", {}).get("intake")
    if services is None or services.classify is None:
        return
    from sqlmodel import Session

    from notices.campaigns import active_campaigns

    with app.app_context():
        try:
            with Session(app.extensions["engine"]) as session:
                ids = [c.id for c in active_campaigns(session)]
        except Exception:  # before migrate: the default campaign's data files serve
            ids = []
        for campaign_id in ids or [None]:
            services.classify("预热", "web", campaign_id)
    # Warming read the checklist from the database: forked workers must not inherit those
    # pooled connections (two processes on one socket corrupt each other's transactions).
    app.extensions["engine"].dispose()
