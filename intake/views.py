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

from intake.forms import CallForm, ReportForm, TrackForm
from intake.language import reading_english
from intake.models import Channel, Report
from intake.receipts import format_code
from intake.registration import RegistrationError, Submission, register_and_commit
from intake.sanitize import clean_text
from intake.services import current_services
from intake.tracking import find_for_tracker, public_view
from intake.uploads import IncomingFile
from notices.access import current_staff, staff_required
from notices.campaigns import active_campaigns, default_campaign, in_scope, public_campaign
from notices.db import get_session
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
    return render_template("intake/report.html", form=form, campaign=campaign,
                           max_chars=current_app.config["MAX_REPORT_CHARS"]), \
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


@bp.route("/track", methods=["GET", "POST"])
@limiter.limit("10/minute;100/hour", methods=["POST"])
def track():
    form = TrackForm()
    view = None
    status = 200
    if form.validate_on_submit():
        db = get_session()
        found = find_for_tracker(db, form.tracking_no.data, form.receipt_code.data)
        if found is None:
            flash(_("受理编号或查询码不正确，请核对后重试。"), "error")
            status = 404
        else:
            view = public_view(db, found)
            remember_tracked(found.id)
    elif request.method == "POST":
        status = 400
    return render_template("intake/track.html", form=form, view=view), status


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
            saved = {"report": receipt.report, "code": format_code(receipt.receipt_code)}
            flash(_("已登记，受理编号 %(no)s。", no=receipt.tracking_no), "success")
            form = CallForm(formdata=None)
            form.campaign.choices = [(c.id, c.short_title) for c in campaigns]
            form.campaign.data = campaign.id
    start = cst_start(to_cst(utcnow()).date())  # today in China
    today = db.exec(select(Report).where(Report.received_at >= start,
                                         Report.campaign_id.in_([c.id for c in campaigns]),
                                         Report.channel.in_([Channel.hotline, Channel.inspection]))
                    .order_by(Report.received_at.desc()).limit(200)).all()
    return render_template("intake/calls.html", form=form, saved=saved, today=today), \
        (400 if request.method == "POST" and saved is None else 200)
