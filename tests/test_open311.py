"""Open311 GeoReport v2 over real HTTP (the app under a WSGI server on loopback), JSON and XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
import requests
from sqlmodel import Session, select

from app.api.credentials import issue_key, revoke_key
from app.models import ApiClient
from intake.models import Channel, Event, Report
from intake.models import ReportStatus as S
from notices.timeutil import to_cst, utcnow
from routing import transitions as t
from routing.models import Unit
from tests.support.flow import TEXT_HZ, unit_id

NAME_FIRST, NAME_LAST = "小明", "王"
PHONE, EMAIL = "13912345678", "wangxm@example.com"
PII = (PHONE, "+8613912345678", "139****5678", EMAIL, "王小明", NAME_FIRST)
TEXT = "湟中区多巴镇检查站的路政执法人员在行车道上随意拦截正常行驶的大货车进行罚款，不开票据。"


@pytest.fixture
def key(db: Session) -> str:
    issued = issue_key(db, "12345 平台")
    db.commit()
    return issued.secret


@pytest.fixture
def base(live_url: str) -> str:
    return live_url + "/open311/v2"


def post(base: str, fmt: str = "json", **fields: str) -> requests.Response:
    return requests.post(f"{base}/requests.{fmt}", data=fields, timeout=30)


def valid_fields(key: str, **extra: str) -> dict[str, str]:
    fields = {"api_key": key, "service_code": "5", "description": TEXT,
              "address_string": "湟中区多巴镇G109检查站", "lat": "36.6512", "long": "101.5236",
              "attribute[district]": "湟中区", "attribute[plate]": "青A·12345",
              "attribute[occurred_at]": "2024-05-01T09:30:00+08:00",
              "first_name": NAME_FIRST, "last_name": NAME_LAST, "phone": PHONE, "email": EMAIL,
              "media_url": "https://app.example.cn/m/1.jpg"}
    fields.update(extra)
    return fields


def xml(response: requests.Response) -> ET.Element:
    assert response.headers["Content-Type"].startswith("text/xml"), response.headers
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def assert_no_pii(response: requests.Response) -> None:
    body = response.content.decode("utf-8")
    for value in PII:
        assert value not in body, f"{value!r} leaked in {response.url}"


def fresh(db: Session) -> None:
    db.commit()
    db.expire_all()


# -- discovery and services ------------------------------------------------------------

def test_discovery_document_in_both_formats(live_url):
    data = requests.get(f"{live_url}/open311/discovery.json", timeout=30).json()
    endpoint = data["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == f"{live_url}/open311/v2"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    assert data["changeset"].endswith("+08:00") and data["key_service"]
    root = xml(requests.get(f"{live_url}/open311/v2/discovery.xml", timeout=30))
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == \
        ["text/xml", "application/json"]


def test_services_are_the_checklist_items(base):
    services = requests.get(f"{base}/services.json", timeout=30).json()
    assert [s["service_code"] for s in services] == [str(n) for n in range(1, 37)]
    first = services[0]
    assert set(first) == {"service_code", "service_name", "description", "metadata", "type",
                          "keywords", "group"}
    assert first["group"] == "逐利执法" and first["metadata"] is True
    assert first["type"] == "realtime" and "非法营运" in first["keywords"]
    root = xml(requests.get(f"{base}/services.xml", timeout=30))
    assert root.tag == "services" and len(root.findall("service")) == 36
    assert root.find("service/service_code").text == "1"
    assert root.find("service/metadata").text == "true"


def test_service_definition_in_both_formats(base):
    definition = requests.get(f"{base}/services/5.json", timeout=30).json()
    assert definition["service_code"] == "5"
    by_code = {a["code"]: a for a in definition["attributes"]}
    assert by_code["district"]["datatype"] == "singlevaluelist"
    assert by_code["district"]["required"] is True
    assert {v["key"] for v in by_code["district"]["values"]} >= {"湟中区", "城东区"}
    assert by_code["plate"]["datatype"] == "string"
    assert by_code["occurred_at"]["datatype"] == "datetime"
    root = xml(requests.get(f"{base}/services/5.xml", timeout=30))
    assert root.tag == "service_definition"
    attribute = root.find("attributes/attribute")
    assert attribute.find("code").text == "district"
    assert attribute.find("required").text == "true"
    assert [v.find("key").text for v in attribute.findall("values/value")][0] == "城东区"


def test_unknown_service_code_is_404_in_both_formats(base):
    response = requests.get(f"{base}/services/99.json", timeout=30)
    assert response.status_code == 404
    assert response.json()[0]["code"] == 404 and response.json()[0]["description"]
    response = requests.get(f"{base}/services/abc.xml", timeout=30)
    assert response.status_code == 404
    root = xml(response)
    assert root.tag == "errors" and root.find("error/code").text == "404"


# -- POST and read back ----------------------------------------------------------------

def test_post_registers_through_intake_and_reads_back_without_pii(app, base, key, db):
    response = post(base, **valid_fields(key))
    assert response.status_code == 200, response.text
    assert_no_pii(response)
    [created] = response.json()
    number = created["service_request_id"]
    assert created["receipt_code"] and created["service_notice"].startswith("已受理")
    assert created["token"]

    report = db.exec(select(Report).where(Report.tracking_no == number)).one()
    assert report.channel is Channel.api
    assert report.items[0] == 5 and report.classification["service_code"] == 5
    assert report.district == "湟中区" and report.plate == "青A·12345"
    assert report.occurred_text == "2024-05-01 09:30"
    assert (report.latitude, report.longitude) == (36.6512, 101.5236)
    client_id = db.exec(select(ApiClient.id)).one()
    audit = db.exec(select(Event).where(Event.report_id == report.id,
                                       Event.kind == "open311_request")).one()
    assert audit.data["api_client_id"] == client_id

    one = requests.get(f"{base}/requests/{number}.json", params={"api_key": key}, timeout=30)
    assert one.status_code == 200
    assert_no_pii(one)
    [item] = one.json()
    assert item["service_request_id"] == number and item["service_code"] == "5"
    assert item["status"] == "open" and item["description"] == TEXT
    assert item["requested_datetime"].endswith("+08:00")
    assert item["updated_datetime"].endswith("+08:00")
    assert item["address"] == "湟中区多巴镇G109检查站"
    assert item["media_url"] == "https://app.example.cn/m/1.jpg"
    assert item["lat"] == 36.6512 and item["long"] == 101.5236
    assert "receipt_code" not in item
    token = requests.get(f"{base}/tokens/{created['token']}.json", params={"api_key": key},
                         timeout=30).json()
    assert token == [{"service_request_id": number, "token": created["token"]}]


def test_post_and_read_back_in_xml(base, key):
    response = post(base, "xml", **valid_fields(key, service_code="12"))
    assert response.status_code == 200, response.text
    root = xml(response)
    assert root.tag == "service_requests"
    number = root.find("request/service_request_id").text
    assert root.find("request/receipt_code").text
    assert_no_pii(response)
    one = requests.get(f"{base}/requests/{number}.xml", params={"api_key": key}, timeout=30)
    request = xml(one).find("request")
    assert request.find("service_code").text == "12"
    assert request.find("status").text == "open"
    assert request.find("requested_datetime").text.endswith("+08:00")
    assert_no_pii(one)
    listing = requests.get(f"{base}/requests.xml", params={"api_key": key}, timeout=30)
    assert [r.find("service_request_id").text for r in xml(listing).findall("request")] \
        == [number]
    assert_no_pii(listing)


def test_phone_numbers_in_the_description_are_masked(base, key):
    text = "湟中区路政人员乱罚款，我的电话13912345678，邮箱wangxm@example.com，请回电。"
    number = post(base, **valid_fields(key, description=text)).json()[0]["service_request_id"]
    one = requests.get(f"{base}/requests/{number}.json", params={"api_key": key}, timeout=30)
    assert_no_pii(one)
    assert "***" in one.json()[0]["description"]


# -- errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_missing_or_revoked_key_is_403_and_stores_nothing(base, key, db, fmt):
    for fields in (valid_fields("xnk_00000000_not-a-key"), valid_fields(""),
                   {k: v for k, v in valid_fields(key).items() if k != "api_key"}):
        response = post(base, fmt, **fields)
        assert response.status_code == 403
        if fmt == "xml":
            assert xml(response).find("error/code").text == "403"
        else:
            assert response.json()[0]["code"] == 403
    client = db.exec(select(ApiClient)).one()
    revoke_key(db, client.id)
    db.commit()
    assert post(base, fmt, **valid_fields(key)).status_code == 403
    assert requests.get(f"{base}/requests.{fmt}", params={"api_key": key},
                        timeout=30).status_code == 403
    assert db.exec(select(Report)).all() == []


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_errors_follow_the_spec(base, key, db, fmt):
    def error(response: requests.Response) -> tuple[int, str]:
        if fmt == "xml":
            root = xml(response)
            assert root.tag == "errors"
            return int(root.find("error/code").text), root.find("error/description").text
        [entry] = response.json()
        return entry["code"], entry["description"]

    cases = [
        (valid_fields(key, service_code="99"), 404),
        (valid_fields(key, service_code=""), 400),
        (valid_fields(key, **{"attribute[district]": ""}), 400),
        (valid_fields(key, **{"attribute[district]": "海淀区"}), 400),
        (valid_fields(key, address_string="", lat="", long=""), 400),
        (valid_fields(key, lat="north"), 400),
        (valid_fields(key, description=""), 400),
        (valid_fields(key, description="拦" * 4001), 400),
        (valid_fields(key, phone="12"), 400),
        (valid_fields(key, **{"attribute[occurred_at]": "yesterday"}), 400),
        (valid_fields(key, media_url="javascript:alert(1)"), 400),
        (valid_fields(key, jurisdiction_id="beijing"), 404),
    ]
    for fields, status in cases:
        response = post(base, fmt, **fields)
        assert response.status_code == status, (fields, response.text)
        code, description = error(response)
        assert code == status and description
        assert_no_pii(response)
    assert db.exec(select(Report)).all() == []


def test_unknown_request_and_other_clients_requests_are_404(base, key, db):
    number = post(base, **valid_fields(key)).json()[0]["service_request_id"]
    other = issue_key(db, "县级系统").secret
    db.commit()
    response = requests.get(f"{base}/requests/{number}.json", params={"api_key": other},
                            timeout=30)
    assert response.status_code == 404
    assert requests.get(f"{base}/requests.json", params={"api_key": other},
                        timeout=30).json() == []
    response = requests.get(f"{base}/requests/XNJT-20000101-0001.xml", params={"api_key": key},
                            timeout=30)
    assert response.status_code == 404 and xml(response).find("error/code").text == "404"


# -- filters, status mapping, the feedback loop ------------------------------------------

def close(app, db: Session, report: Report, make_user) -> str:
    """Close a report whichever way routing sent it; returns the expected status_notes."""
    services = app.extensions["intake"]
    if report.status in t.INTAKE:
        t.not_accept(db, services, report.id, t.SYSTEM, reason="经核实不属于本次整治范围")
        db.commit()
        return "经核实不属于本次整治范围"
    assignment = t.current_assignment(db, report.id)
    code = db.get(Unit, assignment.unit_id).code
    unit_user, desk = make_user("unit", unit_code=code), make_user("taskforce")
    t.acknowledge(db, services, report.id, unit_user)
    t.reply(db, services, report.id, unit_user, finding="不属实", measures="调取执法记录仪核实",
            public_text="经核实不属实。")
    t.review(db, services, report.id, desk, approve=True)
    t.rate(db, services, report.id, "满意", channel="sms")
    db.commit()
    return "经核实不属实。"


def test_filter_by_status_service_code_and_date(app, base, key, db, make_user):
    first = post(base, **valid_fields(key)).json()[0]["service_request_id"]
    second = post(base, **valid_fields(key, service_code="12", description=(
        "城西区运政执法人员办案时态度恶劣，辱骂货车司机，随意扣车。"),
        **{"attribute[district]": "城西区"})).json()[0]["service_request_id"]
    report = db.exec(select(Report).where(Report.tracking_no == second)).one()
    note = close(app, db, report, make_user)

    def ids(**params: str) -> list[str]:
        response = requests.get(f"{base}/requests.json", params={"api_key": key, **params},
                                timeout=30)
        assert response.status_code == 200, response.text
        assert_no_pii(response)
        return [r["service_request_id"] for r in response.json()]

    assert ids() == [second, first]
    assert ids(status="closed") == [second]
    assert ids(status="open") == [first]
    assert ids(status="open,closed") == [second, first]
    assert ids(service_code="12") == [second]
    assert ids(service_request_id=f"{first},{second}", status="closed") == [second, first]
    closed = requests.get(f"{base}/requests/{second}.json", params={"api_key": key},
                          timeout=30).json()[0]
    assert closed["status"] == "closed" and closed["status_notes"] == note
    now = to_cst(utcnow())
    assert ids(start_date=(now + timedelta(days=1)).isoformat()) == []
    assert ids(start_date=(now - timedelta(days=1)).isoformat(),
               end_date=(now + timedelta(hours=1)).isoformat()) == [second, first]
    assert ids(end_date=(now - timedelta(days=1)).isoformat()) == []
    for params in ({"start_date": (now - timedelta(days=100)).isoformat(),
                    "end_date": now.isoformat()},
                   {"start_date": "not a date"}, {"status": "pending"},
                   {"start_date": "9999-12-31T23:59:59"}, {"end_date": "0001-01-01T00:00:00"},
                   {"start_date": now.isoformat(),
                    "end_date": (now - timedelta(days=1)).isoformat()}):
        response = requests.get(f"{base}/requests.json", params={"api_key": key, **params},
                                timeout=30)
        assert response.status_code == 400, params
        assert response.json()[0]["code"] == 400
    xml_filtered = requests.get(f"{base}/requests.xml",
                                params={"api_key": key, "status": "closed"}, timeout=30)
    assert [r.find("status").text for r in xml(xml_filtered).findall("request")] == ["closed"]


def test_status_notes_agency_and_expected_datetime_follow_the_loop(app, base, key, db,
                                                                    make_user):
    services = app.extensions["intake"]
    number = post(base, **valid_fields(key, description=TEXT_HZ)).json()[0][
        "service_request_id"]
    report = db.exec(select(Report).where(Report.tracking_no == number)).one()
    if report.status is not S.dispatched:
        t.dispatch(db, services, report.id, unit_id(db, "hzq"), t.SYSTEM)
        db.commit()
    fresh(db)
    assignment = t.current_assignment(db, report.id)
    unit_name = db.get(Unit, assignment.unit_id).name

    def read() -> dict:
        response = requests.get(f"{base}/requests/{number}.json", params={"api_key": key},
                                timeout=30)
        assert_no_pii(response)
        return response.json()[0]

    item = read()
    assert item["agency_responsible"] == unit_name
    assert item["expected_datetime"] == to_cst(assignment.reply_due_at).isoformat(
        timespec="seconds")
    assert item["status_notes"] is None
    unit_user, desk = make_user("unit", unit_code="hzq"), make_user("taskforce")
    t.acknowledge(db, services, report.id, unit_user)
    t.reply(db, services, report.id, unit_user, finding="属实", measures="已约谈执法人员",
            public_text="经核实属实，已责令整改并退还罚款。")
    t.review(db, services, report.id, desk, approve=True)
    db.commit()
    item = read()
    assert item["status"] == "open"
    assert item["status_notes"] == "经核实属实，已责令整改并退还罚款。"
    t.rate(db, services, report.id, "满意", channel="sms")
    db.commit()
    item = read()
    assert item["status"] == "closed" and item["expected_datetime"] is None
    assert item["status_notes"] == "经核实属实，已责令整改并退还罚款。"


class TestRateLimit:
    @pytest.fixture
    def app_settings(self, app_settings: dict) -> dict:
        app_settings.update(RATELIMIT_ENABLED=True, OPEN311_POST_LIMIT="2/minute",
                            OPEN311_READ_LIMIT="3/minute")
        return app_settings

    def test_limits_are_per_api_key(self, base, key, db):
        other = issue_key(db, "另一客户端").secret
        db.commit()
        fields = valid_fields(key, **{"attribute[district]": ""})  # 400s still count
        statuses = [post(base, **fields).status_code for _ in range(3)]
        assert statuses == [400, 400, 429]
        limited = post(base, "xml", **fields)
        assert limited.status_code == 429 and xml(limited).find("error/code").text == "429"
        assert post(base, **valid_fields(other)).status_code == 200
        reads = [requests.get(f"{base}/requests.json", params={"api_key": other},
                              timeout=30).status_code for _ in range(4)]
        assert reads == [200, 200, 200, 429]


def test_a_request_the_rules_cannot_route_waits_in_triage_with_its_photo_link(
        app, base, key, db, client, login, make_user):
    """The district given and the place in the text differ: the task force decides, and
    sees the platform's photo link (never fetched by this system)."""
    response = post(base, **valid_fields(key, description=(
        "我从城东区拉货出来，在检查站被运管执法人员随意扣车罚款不开票据，态度恶劣。"),
        address_string="城东区八一路", **{"attribute[district]": "湟中区"}))
    assert response.status_code == 200, response.text
    number = response.json()[0]["service_request_id"]
    report = db.exec(select(Report).where(Report.tracking_no == number)).one()
    db.rollback()
    assert report.status is S.triage
    login(make_user("taskforce"))
    page = client.get(f"/taskforce/reports/{report.id}").get_data(as_text=True)
    assert 'id="media-urls"' in page and "https://app.example.cn/m/1.jpg" in page


def test_the_district_attribute_and_the_address_decide_together(app, base, key, db):
    response = post(base, **valid_fields(key, description=(
        "我从城东区拉货出来，在检查站被运管执法人员随意扣车罚款不开票据，态度恶劣。")))
    number = response.json()[0]["service_request_id"]
    report = db.exec(select(Report).where(Report.tracking_no == number)).one()
    db.rollback()
    # 湟中区 given, 湟中区多巴镇 as the address: the text's 城东区 (where the load came
    # from) does not send it to the city districts' bureau.
    assert report.district == "湟中区"
    assert report.status in (S.dispatched, S.triage)
