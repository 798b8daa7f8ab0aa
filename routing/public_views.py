"""The citizen's rating from the tracker page, and attachment downloads for staff."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, send_file, url_for
from flask_babel import gettext as _

from intake.models import Attachment, Report
from intake.tracking import merge_root
from intake.views import show_tracked_again, tracked_report_id
from notices.access import current_staff, staff_required
from notices.campaigns import in_scope
from notices.db import get_session
from notices.ratelimit import limiter
from routing import transitions
from routing.forms import RatingForm
from routing.scope import unit_assignment
from routing.web import flash_errors, run

bp = Blueprint("feedback", __name__, template_folder="templates")


@bp.post("/track/rate")
@limiter.limit("10/minute")
def rate():
    """Rate the report this browser just opened with its tracking number and receipt code."""
    report_id = tracked_report_id()
    if report_id is None:  # never opened here, or too long ago (a shared computer)
        flash(_("页面已过期，请重新查询后再评价。"), "error")
        return redirect(url_for("intake.track"))
    form = RatingForm(prefix="rate")
    if form.validate_on_submit():
        if run(transitions.rate, report_id, form.rating.data, channel="web",
               note=form.note.data or "", success=_("感谢您的评价。")):
            # Rated once: no rating form is left open, and the report is shown this once
            # more. A refused rating shows nothing again: the lookup's key must not become
            # a way to reopen the report without its number and code.
            tracked_report_id(forget=True)
            show_tracked_again(report_id, form.rating.data)
    elif form.csrf_token.errors:
        flash(_("页面已过期，请重新查询后再评价。"), "error")
    else:
        flash_errors(form)
    return redirect(url_for("intake.track"))


@bp.route("/attachments/<int:attachment_id>")
@staff_required("taskforce", "admin", "unit")
def attachment(attachment_id: int):
    """Only to staff who may see the report; always as a download with the stored type."""
    db = get_session()
    item = db.get(Attachment, attachment_id)
    if item is None:
        abort(404)
    staff = current_staff()
    report = db.get(Report, item.report_id) if item.report_id else None
    if staff.role == "unit" and (report is None or not any(
            unit_assignment(db, about.id, staff.unit_id) for about in (
                report, merge_root(db, report)))):
        abort(403)  # a unit sees the evidence of its clues, merged duplicates' included
    if report is not None and not in_scope(report.campaign_id):
        abort(404)
    path = current_app.config["UPLOAD_DIR"] / item.stored_name
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype=item.content_type, as_attachment=True,
                         download_name=item.stored_name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
