"""Pictures sent with an MMS report: fetched from Twilio (a loopback fake of its REST API) by
the worker, checked like web uploads, attached to the report and deleted at Twilio."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from app.gateways import build_gateways
from app.worker import fetch_due_media, run_cycle
from intake.models import Attachment, Event, MediaStatus, PendingMedia, Report
from intake.tracking import find_for_tracker, public_view
from intake.uploads import IncomingFile, UploadError, prepare
from notices.timeutil import as_utc, utcnow
from tests.support.files import avif_with_gps, has_exif, heic_like, jpeg_with_gps
from tests.support.twilio_fake import FakeTwilio
from tests.test_sms import CODE, TRACKING, post_sms, reply_text, sms_params

TEXT = "湟中区多巴镇治超站执法人员对我的货车乱罚款不开票据，照片见彩信。"


@pytest.fixture
def app_settings(app_settings: dict, twilio: FakeTwilio) -> dict:
    app_settings.update(twilio.settings())  # the webhook signing token, and the media API
    return app_settings


def sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def mms(twilio: FakeTwilio, body: str, pictures: dict[str, bytes | None], *,
        message_sid: str | None = None, urls: list[str] | None = None) -> dict:
    """Webhook parameters of an MMS whose pictures Twilio holds (None: not held any more)."""
    message_sid = message_sid or sid("MM")
    params = sms_params(body, sid=message_sid)
    params["AccountSid"] = twilio.account_sid
    params["NumMedia"] = str(len(urls if urls is not None else pictures))
    for i, (media_sid, data) in enumerate(pictures.items()):
        if data is not None:
            twilio.media[media_sid] = data
        params[f"MediaUrl{i}"] = (f"https://api.twilio.com/2010-04-01/Accounts/"
                                  f"{twilio.account_sid}/Messages/{message_sid}/Media/{media_sid}")
        params[f"MediaContentType{i}"] = "image/jpeg"
    for i, url in enumerate(urls or []):
        params[f"MediaUrl{i}"] = url
    return params


def send(live_url: str, twilio: FakeTwilio, params: dict) -> str:
    return reply_text(post_sms(live_url, params, token=twilio.auth_token))


def detached(db: Session, found: list) -> list:
    """Rows as read now; the session holds no transaction (and no snapshot) afterwards."""
    db.expunge_all()
    db.rollback()
    return found


def report_of(db: Session, reply: str) -> Report:
    number = TRACKING.search(reply).group(1)
    return detached(db, [db.exec(select(Report).where(Report.tracking_no == number)).one()])[0]


def rows(db: Session, model, report_id: int) -> list:
    return detached(db, list(db.exec(select(model).where(model.report_id == report_id)
                                     .order_by(model.id))))


def tracker_steps(app, db: Session, reply: str) -> list[tuple[str, str]]:
    with app.test_request_context():
        report = find_for_tracker(db, TRACKING.search(reply).group(1), CODE.search(reply).group(1))
        steps = [(step.label, step.text) for step in public_view(db, report).steps]
    db.rollback()
    return steps


def test_pictures_are_fetched_without_their_location_attached_and_deleted_at_twilio(
        app, db, live_url, twilio):
    pictures = {sid("ME"): jpeg_with_gps(), sid("ME"): jpeg_with_gps((80, 60))}
    reply = send(live_url, twilio, mms(twilio, TEXT, pictures))
    assert "2 张彩信图片将保存为证据材料" in reply and "未能接收" not in reply
    report = report_of(db, reply)
    assert [m.status for m in rows(db, PendingMedia, report.id)] == [MediaStatus.queued] * 2
    assert rows(db, Attachment, report.id) == []  # nothing fetched inside the webhook

    run_cycle(app, build_gateways(app))

    attachments = rows(db, Attachment, report.id)
    assert len(attachments) == 2
    for attachment in attachments:
        stored = (app.config["UPLOAD_DIR"] / attachment.stored_name).read_bytes()
        assert attachment.content_type == "image/jpeg" and not has_exif(stored)
    assert sorted(twilio.deleted) == sorted(pictures)  # Twilio keeps no copy
    assert [m.status for m in rows(db, PendingMedia, report.id)] == [MediaStatus.kept] * 2
    steps = tracker_steps(app, db, reply)
    assert [text for label, text in steps if label == "彩信图片已保存"] == \
        ["随短信发送的一张彩信图片已保存为证据材料。"] * 2

    run_cycle(app, build_gateways(app))  # nothing is fetched twice
    assert len(twilio.media_fetches) == 2 and len(rows(db, Attachment, report.id)) == 2


def test_a_retried_webhook_queues_its_pictures_once(app, db, live_url, twilio):
    params = mms(twilio, TEXT, {sid("ME"): jpeg_with_gps()})
    first = send(live_url, twilio, params)
    assert send(live_url, twilio, params) == first
    report = report_of(db, first)
    assert len(rows(db, PendingMedia, report.id)) == 1
    run_cycle(app, build_gateways(app))
    assert len(rows(db, Attachment, report.id)) == 1


def test_a_media_url_that_is_not_this_messages_picture_is_never_fetched(app, db, live_url,
                                                                        twilio):
    other_message = sid("MM")
    urls = [f"{twilio.base_url}/2010-04-01/Accounts/{twilio.account_sid}/Messages/"
            f"{other_message}/Media/{sid('ME')}",  # someone else's message
            f"https://api.twilio.com/2010-04-01/Accounts/AC{'9' * 32}/Messages/MM{'0' * 32}"
            f"/Media/{sid('ME')}",  # another account
            "http://169.254.169.254/latest/meta-data/"]
    reply = send(live_url, twilio, mms(twilio, TEXT, {}, urls=urls))
    assert "彩信图片未能接收" in reply and "将保存为证据材料" not in reply
    report = report_of(db, reply)
    assert rows(db, PendingMedia, report.id) == []
    run_cycle(app, build_gateways(app))
    assert twilio.media_fetches == [] and rows(db, Attachment, report.id) == []


def test_a_picture_twilio_no_longer_holds_is_told_lost_to_the_citizen(app, db, live_url, twilio):
    reply = send(live_url, twilio, mms(twilio, TEXT, {sid("ME"): None}))
    report = report_of(db, reply)
    run_cycle(app, build_gateways(app))
    [media] = rows(db, PendingMedia, report.id)
    assert media.status is MediaStatus.failed and "404" in media.last_error
    lost = [e for e in rows(db, Event, report.id) if e.kind == "media_failed"]
    assert len(lost) == 1 and lost[0].public and "404" in lost[0].data["reason"]
    assert ("彩信图片未能接收", "随短信发送的一张彩信图片未能接收。如需补充，请在网上“我要举报”页面或"
            "通过受理邮箱提交，并注明受理编号。") in tracker_steps(app, db, reply)
    assert rows(db, Attachment, report.id) == []


def test_a_file_that_is_no_photo_video_or_pdf_is_refused_and_nothing_is_kept(app, db, live_url,
                                                                            twilio):
    media_sid = sid("ME")
    reply = send(live_url, twilio, mms(twilio, TEXT, {media_sid: b"<html><script>x</script>"}))
    report = report_of(db, reply)
    run_cycle(app, build_gateways(app))
    [media] = rows(db, PendingMedia, report.id)
    assert media.status is MediaStatus.failed and "upload checks" in media.last_error
    assert rows(db, Attachment, report.id) == []
    upload_dir = app.config["UPLOAD_DIR"]
    assert not upload_dir.exists() or not any(upload_dir.iterdir())
    assert twilio.deleted == []  # not kept here, so left where it is


def test_an_unreachable_twilio_is_tried_again_later(app, db, live_url, twilio):
    reply = send(live_url, twilio, mms(twilio, TEXT, {sid("ME"): jpeg_with_gps()}))
    report = report_of(db, reply)
    twilio.media_status = 503
    engine = app.extensions["engine"]

    def session() -> Session:
        return Session(engine, expire_on_commit=False)

    gateway, services = build_gateways(app).sms, app.extensions["intake"]
    with app.app_context():
        assert fetch_due_media(session, gateway, services) == 0
    [media] = rows(db, PendingMedia, report.id)
    assert media.status is MediaStatus.queued and media.attempts == 1
    assert as_utc(media.next_attempt_at) > utcnow() + timedelta(seconds=30)  # backoff

    twilio.media_status = None
    with app.app_context():
        assert fetch_due_media(session, gateway, services) == 0  # not due yet
        assert fetch_due_media(session, gateway, services,
                               now=utcnow() + timedelta(hours=1)) == 1
    assert len(rows(db, Attachment, report.id)) == 1


def test_a_picture_only_mms_is_asked_for_words_with_its_pictures(live_url, db, twilio):
    reply = send(live_url, twilio, mms(twilio, "", {sid("ME"): jpeg_with_gps()}))
    assert "只有图片的彩信无法受理" in reply
    assert db.exec(select(Report)).first() is None


def test_an_english_mms_reporter_is_told_in_english(app, db, live_url, twilio):
    reply = send(live_url, twilio, mms(twilio, "The inspectors at the Duoba weighing station "
                                       "fined my truck without a receipt, photos attached.",
                                       {sid("ME"): jpeg_with_gps()}))
    assert "1 MMS picture(s) sent with your message will be kept as evidence" in reply
    assert "彩信" not in reply


def test_an_avif_picture_is_kept_as_a_jpeg_without_its_location(app, db, live_url, twilio):
    reply = send(live_url, twilio, mms(twilio, TEXT, {sid("ME"): avif_with_gps()}))
    report = report_of(db, reply)
    run_cycle(app, build_gateways(app))
    [attachment] = rows(db, Attachment, report.id)
    stored = (app.config["UPLOAD_DIR"] / attachment.stored_name).read_bytes()
    assert attachment.content_type == "image/jpeg" and stored.startswith(b"\xff\xd8")
    assert not has_exif(stored) and b"TestCam" not in stored


def test_an_heic_picture_is_refused_with_a_way_out_never_stored_as_a_video():
    with pytest.raises(UploadError) as refused:
        prepare([IncomingFile("IMG_0001.HEIC", heic_like())], max_files=1, max_bytes=10**6)
    assert "HEIC/HEIF" in str(refused.value) and "JPG" in str(refused.value)


def test_pictures_of_a_follow_up_merged_before_they_arrive_go_to_the_handled_report(
        app, db, live_url, twilio, make_user):
    from routing import transitions

    first = report_of(db, send(live_url, twilio, mms(twilio, TEXT, {})))
    reply = send(live_url, twilio, mms(twilio, "补充照片：" + TEXT, {sid("ME"): jpeg_with_gps()}))
    follow_up = report_of(db, reply)
    transitions.merge(db, app.extensions["intake"], follow_up.id, first.tracking_no,
                      make_user("taskforce"))
    db.commit()
    run_cycle(app, build_gateways(app))
    assert rows(db, Attachment, follow_up.id) == []
    assert len(rows(db, Attachment, first.id)) == 1  # where the unit handles it
    assert ("彩信图片已保存", "随短信发送的一张彩信图片已保存为证据材料。") in \
        tracker_steps(app, db, reply)
