"""What a citizen sees on the report form, the receipt and the tracker: nothing typed is
dropped unasked, errors are shown where they are, the tracker answers after a rating and
says what to do when the code is lost; staff pages carry no promise meant for reporters."""

from __future__ import annotations

import io
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from intake.models import Report, Reporter
from notices.models import Campaign
from tests.conftest import csrf_from
from tests.support.browser import MARKS
from tests.test_intake_web import GOOD_TEXT, _answered, count, post_report, receipt_of, track

ANONYMOUS_WITH_CONTACT = "您选择了匿名举报，但填写了姓名、电话或邮箱"
FILES_AGAIN = "之前选择的附件不会保留，请重新选择"
FOOTER = "您提交的个人信息严格保密"


def text_of(html: str) -> str:
    """The page as read: tags, scripts and styles removed, entities decoded."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def field_block(html: str, field_id: str) -> str:
    """The markup of the form field whose input has id `field_id`."""
    blocks = re.split(r'(?=<div class="field)', html)
    return next(b for b in blocks if f'id="{field_id}"' in b)


# ---- 1. contact details typed beside 匿名举报 -------------------------------------------

def test_contact_details_typed_beside_anonymous_are_asked_about_not_dropped(client, db):
    response = post_report(client, identity="anonymous", name="王小明", phone="13912345678",
                           email="wxm@example.com")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    identity = field_block(page, "identity-0")
    assert "has-error" in identity and ANONYMOUS_WITH_CONTACT in identity
    assert "实名举报" in text_of(identity)
    # Every typed value is still in the form.
    assert 'value="王小明"' in page and 'value="13912345678"' in page
    assert 'value="wxm@example.com"' in page and GOOD_TEXT in page
    assert count(db, Report) == 0 and count(db, Reporter) == 0

    # Choosing 实名举报 keeps the details with the report.
    assert post_report(client, identity="named", name="王小明", phone="13912345678",
                       email="wxm@example.com").status_code == 302
    db.rollback()
    report = db.exec(select(Report)).one()
    assert report.reporter_id is not None and not report.is_anonymous


def test_anonymous_with_the_contact_fields_left_empty_is_accepted(client, db):
    assert post_report(client, identity="anonymous", name=" ", phone="",
                       email="").status_code == 302
    report = db.exec(select(Report)).one()
    assert report.reporter_id is None and report.is_anonymous


# ---- 2. errors where they are; attachments must be chosen again ----------------------

def test_an_invalid_submit_says_the_attachments_must_be_chosen_again(client, db):
    response = post_report(client, text="", attachments=[
        (io.BytesIO(b"%PDF-1.4 x"), "现场照片.pdf"), (io.BytesIO(b"%PDF-1.4 y"), "罚单.pdf")])
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    attachments = field_block(page, "attachments")
    assert FILES_AGAIN in attachments
    assert "现场照片.pdf" in attachments and "罚单.pdf" in attachments
    assert count(db, Report) == 0


def test_no_attachment_note_when_no_file_was_chosen(client):
    page = post_report(client, text="").get_data(as_text=True)
    assert FILES_AGAIN not in page


def test_the_error_summary_lists_each_message_with_a_link_to_its_field(client):
    response = post_report(client, text="", consent="", identity="anonymous", phone="139")
    page = response.get_data(as_text=True)
    summary = re.search(r'<div class="error-summary".*?</div>', page, re.S).group(0)
    links = re.findall(r'<a href="#([\w-]+)">([^<]+)</a>', summary)
    assert [target for target, _ in links] == ["text", "identity-0", "consent"]
    assert "请填写反映的问题内容" in links[0][1] and "请阅读并同意" in links[2][1]
    for target, _ in links:
        assert f'id="{target}"' in page
    # The summary comes before the form, each field is marked, its message beside it.
    assert page.index("error-summary") < page.index('id="report-form"')
    text = field_block(page, "text")
    assert "has-error" in text and 'aria-invalid="true"' in text
    assert text.index("请填写反映的问题内容") < text.index("<textarea")


def test_the_error_style_exists(client):
    css = client.get("/static/css/site.css").get_data(as_text=True)
    assert re.search(r"\.has-error[^{]*\{[^}]*var\(--bad\)", css)
    assert ".error-summary" in css


def test_the_report_form_loads_its_script_and_works_without_it(client):
    page = client.get("/report").get_data(as_text=True)
    assert '<script src="/static/js/report.js" defer>' in page
    # Without the script every contact field is there and enabled.
    block = re.search(r'<fieldset class="named-fields".*?</fieldset>', page, re.S).group(0)
    assert "hidden" not in block.split(">", 1)[0] and "disabled" not in block
    assert 'id="phone"' in block
    assert client.get("/static/js/report.js").status_code == 200


# ---- 3. the tracker after a rating; the receipt's link -------------------------------

def _rate(client, number: str, code: str, rating: str | None, note: str = ""):
    page = track(client, number, code).get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "rate-note": note}
    if rating:
        data["rate-rating"] = rating
    return client.post("/track/rate", data=data, follow_redirects=True)


def test_after_an_unsatisfied_rating_the_tracker_shows_the_reopened_report(app, client, db,
                                                                           make_user):
    number, code = _answered(app, db, client, make_user)
    response = _rate(client, number, code, "不满意", note="问题没有解决")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    seen = text_of(page)
    assert "感谢您的评价" in seen and number in seen
    assert "责任单位正在重新办理" in seen  # the status after the rating
    assert "已收到您的评价" in seen and "根据您的评价重新办理" in seen
    assert "重新办理的结果会再次答复您" in seen  # what happens next
    assert 'id="rating-form"' not in page
    assert code not in page and code.replace("-", "") not in page
    assert db.exec(select(Report.status).where(Report.tracking_no == number)).one().value \
        == "reopened"
    # Shown once: the next visit is an empty tracker, and no second rating is taken.
    again = client.get("/track").get_data(as_text=True)
    assert number not in again and 'id="tracked"' not in again
    token = csrf_from(again)
    second = client.post("/track/rate", data={"csrf_token": token, "rate-rating": "满意"},
                         follow_redirects=True).get_data(as_text=True)
    assert "页面已过期" in second


def test_after_a_satisfied_rating_the_tracker_says_it_is_closed(app, client, db, make_user):
    number, code = _answered(app, db, client, make_user)
    seen = text_of(_rate(client, number, code, "满意").get_data(as_text=True))
    assert number in seen and "已办结" in seen and "本件已办结" in seen


def test_a_refused_rating_says_why_and_shows_no_report_without_its_code(app, client, db,
                                                                       make_user):
    number, code = _answered(app, db, client, make_user)
    page = _rate(client, number, code, None).get_data(as_text=True)
    assert "请选择评价" in page
    assert 'id="tracked"' not in page and number not in text_of(page) and code not in page


def test_the_lookup_key_never_reopens_a_report_on_a_shared_computer(client, db):
    post_report(client)
    number, code = receipt_of(client)
    assert track(client, number, code).status_code == 200
    for data in ({}, {"rate-rating": "满意"}):  # nothing chosen; a report not awaiting rating
        token = csrf_from(client.get("/track").get_data(as_text=True))
        page = client.post("/track/rate", data={"csrf_token": token, **data},
                           follow_redirects=True).get_data(as_text=True)
        assert 'id="tracked"' not in page and number not in text_of(page)


@pytest.mark.parametrize("right", [True, False])
def test_the_tracker_never_sends_the_receipt_code_back(client, right):
    post_report(client)
    number, code = receipt_of(client)
    typed = code if right else code[:-1] + ("0" if code[-1] != "0" else "1")
    page = track(client, number, typed).get_data(as_text=True)
    assert typed not in page and typed.replace("-", "") not in page


def test_the_rating_form_is_not_shown_again_once_the_lookup_window_is_over(
        app, client, db, make_user, monkeypatch):
    import intake.views

    number, code = _answered(app, db, client, make_user)
    page = track(client, number, code).get_data(as_text=True)
    monkeypatch.setattr(intake.views, "TRACKED_TTL_SECONDS", -1)
    response = client.post("/track/rate", data={"csrf_token": csrf_from(page)},
                           follow_redirects=True).get_data(as_text=True)
    assert "页面已过期" in response and number not in text_of(response)


def test_the_receipt_links_to_the_tracker_with_the_number_but_never_the_code(client):
    post_report(client)
    receipt = client.get("/report/receipt").get_data(as_text=True)
    number = re.search(r'id="tracking-no">([^<]+)', receipt).group(1)
    code = re.search(r'id="receipt-code">([^<]+)', receipt).group(1)
    link = unescape(re.search(r'<a class="button" href="([^"]+)">查询进度</a>', receipt).group(1))
    assert urlsplit(link).path == "/track"
    assert parse_qs(urlsplit(link).query) == {"no": [number]}
    assert code not in link and code.replace("-", "") not in link
    page = client.get(link).get_data(as_text=True)
    assert re.search(rf'id="tracking_no"[^>]*value="{number}"', page)
    assert re.search(r'<input[^>]*autofocus[^>]*id="receipt_code"[^>]*value=""', page)


# ---- 4. a wrong or lost code ---------------------------------------------------------

def test_a_wrong_code_says_whom_to_call_with_the_campaigns_hotline(client, db):
    campaign = db.exec(select(Campaign)).first()
    campaign.channels = {**campaign.channels, "hotline": "0971-1234567"}
    db.add(campaign)
    db.commit()
    post_report(client)
    number, _code = receipt_of(client)
    response = track(client, number, "AAAA-BBBB-CCCC-DDDD")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    help_text = re.search(r'<div class="flash flash-error" id="track-error".*?</div>', page,
                          re.S).group(0)
    assert "受理编号或查询码不正确" in help_text
    assert "遗失后无法找回" in help_text
    assert 'href="tel:0971-1234567"' in help_text and "0971-1234567" in text_of(help_text)


def test_without_a_hotline_the_campaign_mailbox_is_given(client, db):
    campaign = db.exec(select(Campaign)).first()
    campaign.channels = {"email": "help@xnjt.example", "web": "/report"}
    db.add(campaign)
    db.commit()
    page = track(client, "XNJT-20000101-0001", "AAAA-BBBB-CCCC-DDDD").get_data(as_text=True)
    assert 'href="mailto:help@xnjt.example"' in page and "tel:" not in page


# ---- 5. punctuation follows the language --------------------------------------------

CHINESE_PUNCTUATION_AFTER_ENGLISH = re.compile(r"[A-Za-z)][ ]?[：（）]")


def test_english_pages_have_no_chinese_punctuation_after_english_words(app, client, db,
                                                                       make_user, login):
    client.get("/lang/en")
    post_report(client)
    receipt = client.get("/report/receipt").get_data(as_text=True)
    number = re.search(r'id="tracking-no">([^<]+)', receipt).group(1)
    code = re.search(r'id="receipt-code">([^<]+)', receipt).group(1)
    tracked = track(client, number, code).get_data(as_text=True)
    user = make_user("taskforce", username="desk-user")
    user.display_name = "专班工作人员"
    db.add(user)
    db.commit()
    login(user)
    staff_home = client.get("/staff").get_data(as_text=True)
    for page in (receipt, tracked, staff_home):
        found = CHINESE_PUNCTUATION_AFTER_ENGLISH.findall(text_of(page))
        assert not found, found


def test_the_sign_out_label_is_one_translatable_string(client, make_user, login):
    login(make_user("taskforce", username="desk-user"))
    page = client.get("/staff").get_data(as_text=True)
    assert re.search(r">\s*退出（desk-user）\s*</button>", page)


# ---- 6. the footer and the language switch ------------------------------------------

@pytest.mark.parametrize("path", ["/", "/report", "/track", "/checklist"])
def test_public_pages_carry_the_confidentiality_footer(client, path):
    assert FOOTER in client.get(path).get_data(as_text=True)


def test_staff_and_unit_pages_do_not(client, make_user, login):
    login(make_user("unit", unit_code="hzq"))
    assert FOOTER not in client.get("/staff").get_data(as_text=True)
    inbox = client.get("/unit")
    assert inbox.status_code == 200 and FOOTER not in inbox.get_data(as_text=True)
    assert FOOTER not in client.get("/login").get_data(as_text=True)


def test_the_language_switch_keeps_the_query_string(client):
    page = client.get("/track?no=XNJT-20260101-0001&lang=zh_Hans_CN").get_data(as_text=True)
    link = unescape(re.search(r'<a href="([^"]+)" lang="en">English</a>', page).group(1))
    target = parse_qs(urlsplit(link).query)["next"][0]
    assert target == "/track?no=XNJT-20260101-0001"  # the query kept, its ?lang= left out
    response = client.get(link)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/track?no=XNJT-20260101-0001")
    assert 'value="XNJT-20260101-0001"' in client.get(response.headers["Location"]) \
        .get_data(as_text=True)


def test_the_language_switch_still_refuses_other_sites(client):
    response = client.get("/lang/en?next=//evil.example/x")
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


# ---- the contact block in a browser ---------------------------------------------------

def browser_test(test):
    for mark in MARKS:
        test = mark(test)
    return test


@pytest.fixture
def phone_context(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, locale="zh-CN")
    yield context
    context.close()


@browser_test
def test_the_contact_block_follows_the_choice_of_identity(live_url, phone_context, db):
    page = phone_context.new_page()
    page.goto(live_url + "/report")
    assert page.is_hidden("#named-fields") and page.is_visible("#anonymous-note")
    page.check("#identity-1")  # 实名举报
    assert page.is_visible("#phone") and page.is_hidden("#anonymous-note")
    page.fill("#phone", "13912345678")
    page.check("#identity-0")  # back to 匿名举报: the details are neither shown nor sent
    assert page.is_hidden("#named-fields") and page.is_disabled("#phone")
    page.fill("#text", GOOD_TEXT)
    page.check("#consent")
    page.get_by_role("button", name="提交").click()
    page.wait_for_selector("#tracking-no")
    db.rollback()
    report = db.exec(select(Report)).one()
    assert report.is_anonymous and report.reporter_id is None


@browser_test
def test_without_script_the_server_asks_and_with_script_the_values_stay_in_view(
        live_url, browser, db):
    for scripted in (False, True):
        context = browser.new_context(viewport={"width": 390, "height": 844},
                                      java_script_enabled=scripted, locale="zh-CN")
        page = context.new_page()
        page.goto(live_url + "/report")
        if scripted:  # details typed as 实名举报, then 匿名举报 set without a change event
            page.check("#identity-1")  # (as a restored or autofilled form may do)
        page.fill("#text", GOOD_TEXT)
        page.fill("#phone", "13912345678")
        if scripted:
            page.eval_on_selector("#identity-0", "el => { el.checked = true; }")
        page.check("#consent")
        page.get_by_role("button", name="提交").click()
        page.wait_for_selector("#error-summary")
        assert ANONYMOUS_WITH_CONTACT in page.inner_text("#error-summary")
        # The page shown again keeps the typed number in view, whatever the script does.
        assert page.is_visible("#phone") and page.input_value("#phone") == "13912345678"
        assert page.is_checked("#identity-0")
        context.close()
    assert count(db, Report) == 0
