"""Public report form, receipt and tracker; the hotline console for operators and inspectors."""

from __future__ import annotations

import hashlib
import json
import re
import secrets

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from intake.forms import AGENCY_LABELS, CallForm, ReportForm, TrackForm
from intake.language import reading_english
from intake.models import Channel, Report
from intake.outbox import Message, MessageChannel
from intake.receipts import format_code
from intake.registration import RegistrationError, Submission, register_and_commit
from intake.sanitize import clean_text
from intake.services import current_services
from intake.tracking import PUBLIC_STATUS, find_for_tracker, public_view
from intake.uploads import IncomingFile
from notices.access import current_staff, staff_required
from notices.campaigns import active_campaigns, default_campaign, in_scope, public_campaign
from notices.db import get_session
from notices.models import Campaign
from notices.ratelimit import limiter
from notices.timeutil import cst_start, to_cst, utcnow

bp = Blueprint("intake", __name__, template_folder="templates")
calls_bp = Blueprint("calls", __name__, template_folder="templates")

RECEIPT_KEY = "fresh_receipt"
SUBMISSION_KEY_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
RECEIPT_TTL_SECONDS = 600  # the receipt page follows the POST at once; later it is gone


def _language() -> str:
    return "en" if reading_english() else "zh"


FORM_KEYS = "form_keys"  # the keys of the report forms this browser was given, not yet used


def _issue_form_key() -> str:
    key = secrets.token_urlsafe(24)
    session[FORM_KEYS] = [*session.get(FORM_KEYS, [])[-4:], key]
    return key


def _submission_ref(key: str | None, campaign_id: int, form: ReportForm) -> str | None:
    """What makes a re-post of the same form by the same browser find its report: a hash of
    the form's key, the campaign and every field. A key this session was not given, or any
    other content, files a new report, so a key seen elsewhere (a shared computer's
    history) opens nothing."""
    if not key or not SUBMISSION_KEY_RE.fullmatch(key) or key not in session.get(FORM_KEYS, []):
        return None
    fields = [key, str(campaign_id)] + [clean_text(str(f.data or "")) for f in (
        form.text, form.place_text, form.district, form.occurred_text, form.plate,
        form.identity, form.name, form.phone, form.email)]
    digest = hashlib.sha256("\n".join(fields).encode()).hexdigest()
    return f"web:{digest[:48]}"


def _retire_form_key(key: str | None) -> None:
    """Once its receipt was shown, the form's key repeats nothing: a later re-post (back
    button) is a new report and can never re-issue the shown report's code."""
    keys = [k for k in session.get(FORM_KEYS, []) if k != key]
    session[FORM_KEYS] = keys


def _submit(submission: Submission):
    """Register and commit; a database failure becomes a retry message, never a false receipt."""
    try:
        return register_and_commit(get_session(), submission, current_services())
    except OperationalError:
        current_app.logger.exception("registration failed: database unavailable")
        raise RegistrationError(_("系统繁忙，您的反映尚未保存，请稍后重新提交。")) from None


@bp.route("/report", methods=["GET", "POST"])
@bp.route("/c/<campaign>/report", methods=["GET", "POST"])
@limiter.limit("10/minute;60/hour", methods=["POST"])
def report(campaign: str | None = None):
    campaign = public_campaign(get_session(), campaign)
    form = ReportForm()
    if not form.submission_key.data:
        form.submission_key.data = _issue_form_key()
    if form.validate_on_submit():
        files = [IncomingFile(f.filename or "", f.read()) for f in form.attachments.data or []
                 if f and (f.filename or "")]
        named = form.identity.data == "named"
        submission = Submission(
            campaign_id=campaign.id, channel=Channel.web, text=form.text.data,
            place_text=form.place_text.data or "", district=form.district.data or None,
            occurred_text=form.occurred_text.data or "", plate=form.plate.data or None,
            anonymous=not named, name=form.name.data if named else None,
            phone=form.phone.data if named else None, email=form.email.data if named else None,
            attachments=files, language=_language(),
            source_ref=_submission_ref(form.submission_key.data, campaign.id, form))
        try:
            receipt = _submit(submission)
        except RegistrationError as exc:
            field = getattr(form, exc.field, None) if exc.field else None
            if field is not None and field.name != "csrf_token":
                field.errors = [*field.errors, str(exc.message)] if isinstance(
                    field.errors, list) else [str(exc.message)]
            else:
                flash(str(exc.message), "error")
        else:
            _seal(RECEIPT_KEY, json.dumps(
                {"tracking_no": receipt.tracking_no, "code": format_code(receipt.receipt_code),
                 "again": receipt.replayed, "form_key": form.submission_key.data}))
            return redirect(url_for("intake.receipt"))
    elif request.method == "POST" and not form.errors:
        flash(_("提交失败，请刷新页面后重试。"), "error")
    if form.submission_key.data not in session.get(FORM_KEYS, []):
        # The page shown again after an error carries a key this browser still holds (not
        # one retired with its receipt, or pushed out by other tabs).
        form.submission_key.data = _issue_form_key()
    # A file input cannot be refilled: the files chosen before must be chosen again.
    dropped = [(f.filename or "")[:80] for f in (request.files.getlist(form.attachments.name)
                                                 if request.method == "POST" else [])
               if f and f.filename]
    if dropped:
        form.attachments.errors = [*form.attachments.errors, _(
            "页面重新显示后，之前选择的附件不会保留，请重新选择后再提交。")]
    return render_template("intake/report.html", form=form, campaign=campaign,
                           max_chars=current_app.config["MAX_REPORT_CHARS"],
                           dropped_files=dropped), \
        (400 if request.method == "POST" else 200)


@bp.route("/report/receipt")
def receipt():
    opened = _unseal(RECEIPT_KEY, RECEIPT_TTL_SECONDS, forget=True)
    if opened is None:
        return redirect(url_for("intake.track"))
    fresh = json.loads(opened)
    _retire_form_key(fresh.pop("form_key", None))
    return render_template("intake/receipt.html", receipt=fresh)


TRACKED_KEY = "tracked"
TRACKED_TTL_SECONDS = 1800  # a shared computer's next user finds no rating form left open


def _seal(name: str, value: str) -> None:
    """Keep `value` in the session cookie, which is signed but not encrypted: sealed."""
    session[name] = current_services().vault.encrypt(value)


def _unseal(name: str, ttl: int, *, forget: bool = False) -> str | None:
    """What `_seal` kept under `name`, if no older than `ttl` seconds."""
    sealed = session.pop(name, None) if forget else session.get(name)
    return current_services().vault.decrypt(sealed, ttl=ttl) if isinstance(sealed, str) \
        else None


def remember_tracked(report_id: int) -> None:
    """This browser opened the report with its number and code: it may rate it for a while."""
    _seal(TRACKED_KEY, str(report_id))


def tracked_report_id(*, forget: bool = False) -> int | None:
    """The report this browser opened in the last TRACKED_TTL_SECONDS, if any."""
    opened = _unseal(TRACKED_KEY, TRACKED_TTL_SECONDS, forget=forget)
    return int(opened) if opened and opened.isdigit() else None


SHOWN_KEY = "tracked_again"
SHOWN_TTL_SECONDS = 120  # the redirect after a rating follows at once; later it is gone


def show_tracked_again(report_id: int, rating: str | None = None) -> None:
    """The next tracker page (the redirect after a rating, once) shows this report again,
    with the rating just given, so the reporter sees what became of it."""
    _seal(SHOWN_KEY, json.dumps({"id": report_id, "rating": rating}))


def _tracked_again() -> tuple[Report, str | None] | None:
    """The report `show_tracked_again` kept for this page, forgotten as it is read."""
    opened = _unseal(SHOWN_KEY, SHOWN_TTL_SECONDS, forget=True)
    if opened is None:
        return None
    data = json.loads(opened)
    report = get_session().get(Report, data.get("id")) if isinstance(data.get("id"), int) \
        else None
    return (report, data.get("rating")) if report is not None else None


def _campaign_of_number(tracking_no: str | None) -> Campaign | None:
    """The campaign whose tracking prefix the typed number has, else the default one: whose
    hotline a reporter who lost the code may call (the prefix alone is public)."""
    db = get_session()
    prefix = (tracking_no or "").strip().upper().split("-", 1)[0]
    found = db.exec(select(Campaign).where(Campaign.tracking_prefix == prefix)).first() \
        if prefix else None
    return found or default_campaign(db)


@bp.route("/track", methods=["GET", "POST"])
@limiter.limit("10/minute;100/hour", methods=["POST"])
def track():
    form = TrackForm()
    view = None
    rated = None
    can_rate = False
    wrong = False
    status = 200
    again = _tracked_again()
    if form.validate_on_submit():
        db = get_session()
        found = find_for_tracker(db, form.tracking_no.data, form.receipt_code.data)
        if found is None:
            wrong = True  # said in the page, with what to do if the code was lost
            status = 404
        else:
            view = public_view(db, found)
            remember_tracked(found.id)
            can_rate = True
    elif request.method == "POST":
        status = 400
    elif again is not None:
        # Back from a rating: the report as it now stands; the code is never put back in
        # the form, and it may be rated only while the lookup's own window lasts.
        report, rated = again
        view = public_view(get_session(), report)
        can_rate = tracked_report_id() == report.id
    else:
        # The receipt's link brings the tracking number (never the code).
        number = request.args.get("no", "").strip()[:40]
        if number:
            form.tracking_no.data = number
    form.receipt_code.data = ""  # the code is never sent back in a page
    return render_template("intake/track.html", form=form, view=view, rated=rated,
                           can_rate=can_rate, wrong=wrong,
                           campaign=_campaign_of_number(
                               view.tracking_no if view else form.tracking_no.data)), status


@calls_bp.route("/staff/calls", methods=["GET", "POST"])
@staff_required("operator", "inspector")
def console():
    staff = current_staff()
    db = get_session()
    campaigns = [c for c in active_campaigns(db) if in_scope(c.id)]
    if not campaigns:
        abort(404)
    form = CallForm()
    form.campaign.choices = [(c.id, c.short_title) for c in campaigns]
    campaign = next((c for c in campaigns if c.id == form.campaign.data), None)
    chosen_elsewhere = form.campaign.data is not None and campaign is None
    if campaign is None:
        default = default_campaign(db)
        campaign = default if default in campaigns else campaigns[0]
        form.campaign.data = campaign.id
    if staff.role == "inspector":
        form.channel.data = "inspection"
    saved = None
    if request.method == "POST" and chosen_elsewhere:
        # Never file a call under another campaign than the one asked for.
        form.campaign.errors = [_("所选专项整治不存在、已结束或不在您的职责范围内。")]
    elif form.validate_on_submit():
        channel = Channel.inspection if staff.role == "inspector" else Channel(
            form.channel.data if form.channel.data in ("hotline", "inspection") else "hotline")
        submission = Submission(
            campaign_id=campaign.id, channel=channel, text=form.text.data,
            place_text=form.place_text.data or "", district=form.district.data or None,
            occurred_text=form.occurred_text.data or "", plate=form.plate.data or None,
            anonymous=False, name=form.caller_name.data or None,
            phone=form.caller_phone.data or None, actor_id=staff.id, language="zh")
        try:
            receipt = _submit(submission)
        except RegistrationError as exc:
            flash(str(exc.message), "error")
        else:
            # Only say the caller was texted when an SMS receipt is really in the outbox
            # (no number given, or an inspection finding: nothing is sent).
            texted = db.exec(select(Message.id).where(
                Message.report_id == receipt.report.id, Message.purpose == "ack",
                Message.channel == MessageChannel.sms)).first() is not None
            saved = {"report": receipt.report, "code": format_code(receipt.receipt_code),
                     "texted": texted}
            flash(_("已登记，受理编号 %(no)s。", no=receipt.tracking_no), "success")
            form = CallForm(formdata=None)
            form.campaign.choices = [(c.id, c.short_title) for c in campaigns]
            form.campaign.data = campaign.id
    start = cst_start(to_cst(utcnow()).date())  # today in China
    today = db.exec(select(Report).where(Report.received_at >= start,
                                         Report.campaign_id.in_([c.id for c in campaigns]),
                                         Report.channel.in_([Channel.hotline, Channel.inspection]))
                    .order_by(Report.received_at.desc()).limit(200)).all()
    return render_template("intake/calls.html", form=form, saved=saved, today=today,
                           status_labels=PUBLIC_STATUS, agency_labels=AGENCY_LABELS), \
        (400 if request.method == "POST" and saved is None else 200)
