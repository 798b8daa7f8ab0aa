"""The public web form, receipt and tracker, and the bad input they must refuse."""

from __future__ import annotations

import io
import re

import pytest
from sqlmodel import func, select

from intake.models import Attachment, Event, Report, Reporter
from intake.outbox import Message
from tests.conftest import csrf_from
from tests.support.files import has_exif, jpeg_with_gps

GOOD_TEXT = "6月20日下午，在湟源县109国道日月山方向，交通执法车辆在行车道上突然拦停大货车，导致后车追尾。"


def post_report(client, **fields):
    token = csrf_from(client.get("/report").get_data(as_text=True))
    data = {"csrf_token": token, "text": GOOD_TEXT, "district": "湟源县",
            "identity": "anonymous", "consent": "y"}
    data.update(fields)
    return client.post("/report", data=data, content_type="multipart/form-data")


def count(db, model) -> int:
    db.rollback()  # a fresh snapshot: what the app committed since
    return db.exec(select(func.count()).select_from(model)).one()


def receipt_of(client) -> tuple[str, str]:
    page = client.get("/report/receipt").get_data(as_text=True)
    return (re.search(r'id="tracking-no">([^<]+)', page).group(1),
            re.search(r'id="receipt-code">([^<]+)', page).group(1))


def track(client, number: str, code: str):
    token = csrf_from(client.get("/track").get_data(as_text=True))
    return client.post("/track", data={"csrf_token": token, "tracking_no": number,
                                       "receipt_code": code})


def test_anonymous_report_gets_a_receipt_and_can_be_tracked(client, db):
    response = post_report(client)
    assert response.status_code == 302
    number, code = receipt_of(client)
    assert re.fullmatch(r"XNJT-\d{8}-\d{4}", number)
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code)
    # The receipt is shown once.
    assert client.get("/report/receipt").status_code == 302
    page = track(client, number, code.lower().replace("-", " ")).get_data(as_text=True)
    assert "已受理" in page and number in page
    report = db.exec(select(Report)).one()
    assert report.reporter_id is None and report.is_anonymous
    assert code.replace("-", "") not in report.receipt_hash


def test_named_report_keeps_pii_encrypted_apart(client, db, app):
    post_report(client, identity="named", name="王小明", phone="139 1234 5678",
                email="wxm@example.com")
    report = db.exec(select(Report)).one()
    reporter = db.get(Reporter, report.reporter_id)
    assert "13912345678" not in (reporter.phone_enc or "")
    assert "王小明" not in (reporter.name_enc or "")
    vault = app.extensions["pii"]
    assert vault.decrypt(reporter.phone_enc) == "+8613912345678"
    assert vault.decrypt(reporter.name_enc) == "王小明"
    # A confirmation goes to the e-mail, without the receipt code.
    message = db.exec(select(Message).where(Message.purpose == "ack")).one()
    body = vault.decrypt(message.body_enc)
    assert report.tracking_no in body and "查询码见提交成功页面" in body


def test_wrong_code_and_unknown_number_look_the_same(client):
    post_report(client)
    number, code = receipt_of(client)
    wrong = track(client, number, "AAAA-BBBB-CCCC-DDDD")
    unknown = track(client, "XNJT-20000101-0001", code)
    assert wrong.status_code == unknown.status_code == 404
    strip = lambda r: re.sub(r'value="[^"]*"', "", r.get_data(as_text=True))  # noqa: E731
    assert strip(wrong) == strip(unknown).replace("XNJT-20000101-0001", number) or \
        "受理编号或查询码不正确" in strip(unknown)
    assert "受理编号或查询码不正确" in strip(wrong)


def test_script_tags_are_stored_as_plain_text(client, db):
    post_report(client, text=GOOD_TEXT + "<script>alert('x')</script><b>粗体</b>")
    report = db.exec(select(Report)).one()
    assert "<" not in report.text and "script>" not in report.text
    assert "粗体" in report.text


def test_photo_is_stored_without_exif_under_a_random_name(client, db, app):
    photo = jpeg_with_gps()
    assert has_exif(photo)
    response = post_report(client, attachments=[(io.BytesIO(photo), "IMG_0001.jpg")])
    assert response.status_code == 302
    attachment = db.exec(select(Attachment)).one()
    stored = (app.config["UPLOAD_DIR"] / attachment.stored_name).read_bytes()
    assert not has_exif(stored)
    assert attachment.content_type == "image/jpeg"
    assert "IMG_0001" not in attachment.stored_name
    assert attachment.original_name == "IMG_0001.jpg"


@pytest.mark.parametrize("fields, message", [
    ({"text": ""}, "请填写反映的问题内容"),
    ({"text": "   \n\t  "}, "请填写反映的问题内容"),
    ({"text": "举报" * 2001}, "内容过长"),
    ({"identity": "named", "phone": "12345"}, "电话号码格式不正确"),
    ({"identity": "named", "email": "not-an-email"}, "电子邮箱格式不正确"),
    ({"plate": "ABC"}, "车牌号格式不正确"),
    ({"consent": ""}, "请阅读并同意"),
    ({"district": "海东市"}, "请选择正确的区县"),
])
def test_bad_input_gets_a_message_and_stores_nothing(client, db, fields, message):
    response = post_report(client, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(db, Report) == 0 and count(db, Reporter) == 0 and count(db, Event) == 0


def test_bad_input_message_in_english_when_chosen(client, db):
    client.get("/lang/en")
    response = post_report(client, text="")
    assert response.status_code == 400
    assert "Please describe the problem" in response.get_data(as_text=True)


@pytest.mark.parametrize("files, message", [
    ([(b"MZ\x90\x00 not really a photo", "photo.jpg")], "不是可接受的照片、视频或 PDF"),
    ([(b"<html><script>alert(1)</script></html>", "page.pdf")], "不是可接受的照片、视频或 PDF"),
    ([(b"", "empty.jpg")], "是空文件"),
    ([(b"%PDF-1.4 x", f"f{i}.pdf") for i in range(6)], "最多上传 5 个附件"),
])
def test_refused_uploads_store_nothing(client, db, app, files, message):
    response = post_report(client, attachments=[(io.BytesIO(d), n) for d, n in files])
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(db, Report) == 0 and count(db, Attachment) == 0
    upload_dir = app.config["UPLOAD_DIR"]
    assert not upload_dir.exists() or not any(upload_dir.iterdir())


def test_oversized_upload_is_refused(client, db, app):
    app.config["MAX_ATTACHMENT_BYTES"] = 1024
    app.extensions["intake"].max_file_bytes = 1024
    response = post_report(client, attachments=[(io.BytesIO(jpeg_with_gps((400, 400))), "big.jpg")])
    assert response.status_code == 400
    assert "超过" in response.get_data(as_text=True)
    assert count(db, Report) == 0


def test_missing_csrf_is_refused_and_stores_nothing(client, db):
    response = client.post("/report", data={"text": GOOD_TEXT, "identity": "anonymous",
                                            "consent": "y"})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)
    assert count(db, Report) == 0


def test_tracking_numbers_are_sequential_per_day(client, db):
    for _ in range(3):
        assert post_report(client).status_code == 302
    numbers = sorted(r.tracking_no for r in db.exec(select(Report)))
    assert [n[-4:] for n in numbers] == ["0001", "0002", "0003"]


def test_report_page_works_on_a_phone_screen(client):
    page = client.get("/report").get_data(as_text=True)
    assert 'name="viewport"' in page
    assert "个人信息" in page  # the confidentiality consent text


def test_a_report_of_invisible_characters_only_is_refused(client, db):
    response = post_report(client, text="\u200b\u200b\u2060\ufeff \u3000")
    assert response.status_code == 400
    assert "请填写反映的问题内容" in response.get_data(as_text=True)
    assert count(db, Report) == 0


def _tracked_after(app, db, client, text: str, move) -> str:
    """File a web report anonymously, let the task force `move` it, read the tracker."""
    post_report(client, text=text, district="")
    number, code = receipt_of(client)
    report_id = db.exec(select(Report.id).where(Report.tracking_no == number)).one()
    db.rollback()
    with app.app_context():
        move(db, app.extensions["intake"], report_id)
        db.commit()
    return track(client, number, code).get_data(as_text=True)


def test_tracker_tells_an_anonymous_reporter_why_the_report_was_not_accepted(app, client, db):
    from routing import transitions as t

    reason = "内容不属于本次专项整治受理范围，请向12345热线反映"
    page = _tracked_after(app, db, client, "有人在路上乱收费，请查处。", lambda s, sv, rid: (
        t.not_accept(s, sv, rid, t.SYSTEM, reason=reason)))
    assert "不予受理" in page and reason in page


def test_tracker_tells_where_a_report_was_referred(app, client, db):
    from routing import transitions as t

    def refer_unless_done(session, services, report_id):
        if session.get(Report, report_id).status.value != "referred":
            t.refer(session, services, report_id, t.SYSTEM)

    page = _tracked_after(app, db, client, "交警在路口乱扣分，电子警察乱拍。", refer_unless_done)
    assert "已移交有权处理的部门" in page and "市公安局交通警察支队" in page


def _answered(app, db, client, make_user) -> tuple[str, str]:
    """A web report dispatched, answered and approved: waiting for the citizen's rating."""
    from routing import transitions as t
    from routing.models import Unit

    post_report(client)
    number, code = receipt_of(client)
    report_id = db.exec(select(Report.id).where(Report.tracking_no == number)).one()
    services = app.extensions["intake"]
    with app.app_context():
        if db.get(Report, report_id).status.value != "dispatched":
            t.dispatch(db, services, report_id, db.exec(select(Unit.id).where(
                Unit.code == "hyx")).one(), t.SYSTEM)
        unit_user = make_user("unit", unit_code=db.get(
            Unit, t.current_assignment(db, report_id).unit_id).code)
        t.acknowledge(db, services, report_id, unit_user)
        t.reply(db, services, report_id, unit_user, finding="属实", measures="已查处",
                public_text="已查处。")
        t.review(db, services, report_id, make_user("taskforce"), approve=True)
        db.commit()
    return number, code


def test_a_rating_note_at_the_limit_with_line_breaks_is_accepted(app, client, db, make_user):
    """The textarea's maxlength counts a line break once; browsers send CRLF."""
    number, code = _answered(app, db, client, make_user)
    page = track(client, number, code).get_data(as_text=True)
    note = "\r\n".join(["处理及时，态度很好。" * 10] * 5)[:504]
    assert len(note.replace("\r\n", "\n")) == 500
    response = client.post("/track/rate", data={"csrf_token": csrf_from(page),
                                                "rate-rating": "满意", "rate-note": note},
                           follow_redirects=True)
    assert "感谢您的评价" in response.get_data(as_text=True)
    assert db.exec(select(Report.status).where(Report.tracking_no == number)).one().value \
        == "closed"


def test_a_refused_rating_says_why(app, client, db, make_user):
    number, code = _answered(app, db, client, make_user)
    page = track(client, number, code).get_data(as_text=True)
    too_long = client.post("/track/rate", data={"csrf_token": csrf_from(page),
                                                "rate-rating": "满意", "rate-note": "好" * 501},
                           follow_redirects=True).get_data(as_text=True)
    assert "意见请不超过500字" in too_long and "请选择评价" not in too_long
    expired = client.post("/track/rate", data={"csrf_token": "stale", "rate-rating": "满意"},
                          follow_redirects=True).get_data(as_text=True)
    assert "页面已过期" in expired
    assert db.exec(select(Report.status).where(Report.tracking_no == number)).one().value \
        == "awaiting_feedback"


def test_a_form_posted_twice_files_one_report_and_the_last_code_works(client, db):
    """A double click or a reload of a slow submit posts the same form again: one report,
    and the receipt the browser finally shows (the second) has a working code."""
    page = client.get("/report").get_data(as_text=True)
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', page).group(1)
    data = {"csrf_token": csrf_from(page), "submission_key": key, "text": GOOD_TEXT,
            "district": "湟源县", "identity": "anonymous", "consent": "y"}
    first = client.post("/report", data=data, content_type="multipart/form-data")
    second = client.post("/report", data=data, content_type="multipart/form-data")
    assert first.status_code == second.status_code == 302
    receipt = client.get("/report/receipt").get_data(as_text=True)
    number = re.search(r'id="tracking-no">([^<]+)', receipt).group(1)
    code = re.search(r'id="receipt-code">([^<]+)', receipt).group(1)
    assert 'id="submitted-again"' in receipt
    assert count(db, Report) == 1
    assert number in track(client, number, code).get_data(as_text=True)
    # A new visit to the form is a new report.
    again = post_report(client, text=GOOD_TEXT + "又一次")
    assert again.status_code == 302, again.get_data(as_text=True)[-3000:]
    assert count(db, Report) == 2


def test_the_receipt_code_travels_sealed_and_is_shown_once(client):
    import base64
    import zlib

    post_report(client)
    value = client.get_cookie("session").value
    payload = base64.urlsafe_b64decode(value.lstrip(".").split(".")[0] + "==")
    if value.startswith("."):
        payload = zlib.decompress(payload)
    page = client.get("/report/receipt").get_data(as_text=True)
    code = re.search(r'id="receipt-code">([^<]+)', page).group(1)
    assert code.encode() not in payload and code.replace("-", "").encode() not in payload
    assert client.get("/report/receipt").status_code == 302  # gone after one showing


def test_the_rating_form_does_not_outlive_the_lookup(app, client, db, make_user, monkeypatch):
    """On a shared computer the next person finds no open rating: it lasts half an hour."""
    import intake.views

    number, code = _answered(app, db, client, make_user)
    page = track(client, number, code).get_data(as_text=True)
    monkeypatch.setattr(intake.views, "TRACKED_TTL_SECONDS", -1)  # as if an hour later
    response = client.post("/track/rate", data={"csrf_token": csrf_from(page),
                                                "rate-rating": "不满意"}, follow_redirects=True)
    assert "页面已过期" in response.get_data(as_text=True)
    assert db.exec(select(Report.status).where(Report.tracking_no == number)).one().value \
        == "awaiting_feedback"


def _form(client) -> tuple[str, str]:
    page = client.get("/report").get_data(as_text=True)
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', page).group(1)
    return csrf_from(page), key


def _post_form(client, token: str, key: str, text: str = GOOD_TEXT):
    return client.post("/report", content_type="multipart/form-data", data={
        "csrf_token": token, "submission_key": key, "text": text, "district": "湟源县",
        "identity": "anonymous", "consent": "y"})


def test_a_form_key_opens_nothing_in_another_browser(app, db):
    """A key seen elsewhere (history, a proxy, the database) files a new report: it never
    re-issues the code of the report it made, nor stops the owner's code working."""
    owner, stranger = app.test_client(), app.test_client()
    token, key = _form(owner)
    _post_form(owner, token, key)
    number, code = receipt_of(owner)
    stolen_token, _unused = _form(stranger)
    _post_form(stranger, stolen_token, key)
    their_number, _their_code = receipt_of(stranger)
    assert their_number != number and count(db, Report) == 2
    assert number in track(owner, number, code).get_data(as_text=True)
    stored = db.exec(select(Report.source_ref).where(Report.tracking_no == number)).one()
    assert key not in (stored or "")  # only a hash of the key and text is kept


def test_the_same_form_with_other_content_is_another_report(client, db):
    token, key = _form(client)
    _post_form(client, token, key)
    _post_form(client, token, key, text="7月3日在大通县桥头镇，执法人员向货车司机索要香烟，不给就扣车。")
    assert count(db, Report) == 2
    client.post("/report", content_type="multipart/form-data", data={
        "csrf_token": token, "submission_key": key, "text": GOOD_TEXT, "district": "湟源县",
        "identity": "named", "phone": "13912345678", "consent": "y"})
    assert count(db, Report) == 3  # same text, now named with a phone: not the first one


def test_after_its_receipt_was_shown_a_re_post_cannot_reissue_the_code(client, db):
    """The back button on a shared computer: the next person re-posting the same form files
    a second report and learns nothing about the first."""
    token, key = _form(client)
    _post_form(client, token, key)
    number, code = receipt_of(client)
    _post_form(client, token, key)
    again = client.get("/report/receipt").get_data(as_text=True)
    assert number not in again and 'id="submitted-again"' not in again
    assert number in track(client, number, code).get_data(as_text=True)
    assert count(db, Report) == 2


def test_a_form_shown_again_after_an_error_gets_a_key_this_browser_holds(client, db):
    """Back after a receipt, an error, then a double click: still one report."""
    token, key = _form(client)
    _post_form(client, token, key)
    receipt_of(client)  # the key is retired with its receipt
    other = GOOD_TEXT + "另一件事。"
    bad = client.post("/report", content_type="multipart/form-data", data={
        "csrf_token": token, "submission_key": key, "text": other, "district": "湟源县",
        "identity": "anonymous"})  # consent missing
    assert bad.status_code == 400
    fresh = re.search(r'name="submission_key" type="hidden" value="([^"]+)"',
                      bad.get_data(as_text=True)).group(1)
    assert fresh != key
    _post_form(client, token, fresh, text=other)
    _post_form(client, token, fresh, text=other)
    assert count(db, Report) == 2
