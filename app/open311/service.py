"""Open311 GeoReport v2 over the campaign: services are checklist items, requests are reports.

Plain functions over a session; the views parse HTTP and commit.

Decisions (see the module docstring of app/open311/views.py for the wire rules):

* ``service_code`` is the checklist item number. A POSTed code is the sender's own
  categorisation (a 12345 operator's, an app user's): it becomes the report's first item,
  followed by the classifier's other items, and so takes part in routing exactly as a
  first item does (items 33 and 36 have their own rules). The classifier's own items are
  kept in ``classification["classifier_items"]`` and the posted code in
  ``classification["service_code"]``, so the task force sees any disagreement in triage
  and units return a misrouted clue through the usual 退回 loop.
* A client reads back only the requests it filed itself (``source_ref`` is
  ``open311:<client id>:<token>``): GeoReport reads are often public, but the campaign
  promises that a report is shown only to who filed it.
* Responses never read the Reporter table; descriptions have phone numbers, e-mail
  addresses and ID numbers masked.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, select

from app.models import ApiClient
from intake.models import Channel, Event, Report
from intake.receipts import format_code
from intake.registration import DISTRICTS, IntakeServices, Receipt, Submission, register
from intake.tracking import PUBLIC_STATUS
from notices.models import Campaign, ChecklistItem
from notices.timeutil import CST, FIRST_DAY, LAST_DAY, as_utc, iso_cst, to_cst, utcnow
from routing import deadlines
from routing.models import Assignment, Unit
from routing.transitions import TERMINAL

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2024-06-01T00:00:00+08:00"
FORMATS = ["text/xml", "application/json"]
CLOSED = TERMINAL
MAX_SPAN = timedelta(days=90)
MAX_REQUESTS = 1000
MAX_DESCRIPTION = 4000
POST_EVENT = "open311_request"
STATUS_NOTE_KINDS = ("reply_approved", "referred", "merged", "not_accepted")


class Open311Error(Exception):
    """An error the spec answers as ``[{"code", "description"}]`` (400, 403, 404)."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


# -- services -------------------------------------------------------------------------

def _service_name(item: ChecklistItem) -> str:
    return f"{item.group_title.rstrip('。.')}（第{item.number}项）"


def service_list(session: Session, campaign: Campaign) -> list[dict[str, Any]]:
    items = session.exec(select(ChecklistItem).where(ChecklistItem.campaign_id == campaign.id)
                         .order_by(ChecklistItem.number)).all()
    return [{"service_code": str(item.number), "service_name": _service_name(item),
             "description": item.text, "metadata": True, "type": "realtime",
             "keywords": ", ".join(item.keywords or []), "group": item.category}
            for item in items]


def checklist_item(session: Session, campaign: Campaign, code: str | None) -> ChecklistItem:
    """:raise Open311Error 400: no code; 404: not an item of the campaign."""
    code = (code or "").strip()
    if not code:
        raise Open311Error(400, "service_code is required")
    if not code.isascii() or not code.isdigit() or len(code) > 4:
        raise Open311Error(404, f"service_code {code[:20]!r} not found")
    item = session.exec(select(ChecklistItem).where(ChecklistItem.campaign_id == campaign.id,
                                                    ChecklistItem.number == int(code))).first()
    if item is None:
        raise Open311Error(404, f"service_code {code} not found")
    return item


def attributes() -> list[dict[str, Any]]:
    return [
        {"variable": True, "code": "district", "datatype": "singlevaluelist", "required": True,
         "datatype_description": "问题发生地所在区县（决定责任单位）", "order": 1,
         "description": "问题发生在哪个区县？",
         "values": [{"key": d, "name": d} for d in DISTRICTS]},
        {"variable": True, "code": "plate", "datatype": "string", "required": False,
         "datatype_description": "车牌号，例如 青A·12345", "order": 2,
         "description": "涉及车辆的车牌号（如有）", "values": []},
        {"variable": True, "code": "occurred_at", "datatype": "datetime", "required": False,
         "datatype_description": "ISO 8601, e.g. 2024-05-01T09:30:00+08:00", "order": 3,
         "description": "问题发生的时间（如记得）", "values": []},
    ]


def service_definition(session: Session, campaign: Campaign, code: str) -> dict[str, Any]:
    item = checklist_item(session, campaign, code)
    return {"service_code": str(item.number), "attributes": attributes()}


def discovery(endpoint_url: str, campaign: Campaign) -> dict[str, Any]:
    contact = campaign.contact or {}
    return {
        "changeset": CHANGESET,
        "contact": f"{campaign.issuer} {contact.get('name', '')} {contact.get('phone', '')}"
                   .strip(),
        "key_service": ("api_key 由专项整治工作专班系统管理员签发（flask api issue-key）。"
                        "POST requests and GET requests need an api_key; a client reads back "
                        "only the requests it filed. Services and definitions are open."),
        "endpoints": [{"specification": SPEC_URL, "url": endpoint_url, "changeset": CHANGESET,
                       "type": "production", "formats": FORMATS}],
    }


# -- POST requests --------------------------------------------------------------------

@dataclass
class NewRequest:
    item: ChecklistItem
    text: str
    district: str
    place_text: str = ""
    latitude: float | None = None
    longitude: float | None = None
    plate: str | None = None
    occurred_text: str = ""
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    media_url: str | None = None


def _field(form: Mapping[str, str], name: str, max_length: int = 255) -> str:
    value = (form.get(name) or "").strip()
    if len(value) > max_length:
        raise Open311Error(400, f"{name} is longer than {max_length} characters")
    return value


def _coordinates(form: Mapping[str, str]) -> tuple[float | None, float | None]:
    lat, lon = _field(form, "lat", 32), _field(form, "long", 32)
    if not lat and not lon:
        return None, None
    try:
        latitude, longitude = float(lat), float(lon)
    except ValueError:
        raise Open311Error(400, "lat and long must both be decimal degrees (WGS84)") from None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise Open311Error(400, "lat or long is out of range")
    return latitude, longitude


def parse_datetime(value: str, name: str) -> datetime:
    """ISO 8601; a time without offset is China Standard Time. :raise Open311Error 400:"""
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        raise Open311Error(400, f"{name} must be an ISO 8601 datetime") from None
    if not FIRST_DAY <= parsed.date() <= LAST_DAY:
        raise Open311Error(400, f"{name} must be between {FIRST_DAY} and {LAST_DAY}")
    return parsed.replace(tzinfo=CST) if parsed.tzinfo is None else parsed


def _name(first: str, last: str) -> str | None:
    if re.search(r"[\u4e00-\u9fff]", first + last):
        return (last + first) or None
    return " ".join(part for part in (first, last) if part) or None


def parse_request(session: Session, campaign: Campaign, form: Mapping[str, str]) -> NewRequest:
    """Check a POST's fields in the spec's order of concern. :raise Open311Error:"""
    item = checklist_item(session, campaign, form.get("service_code"))
    district = _field(form, "attribute[district]", 16)
    if not district:
        raise Open311Error(400, "attribute[district] is required: one of "
                           + ", ".join(DISTRICTS))
    if district not in DISTRICTS:
        raise Open311Error(400, "attribute[district] must be one of " + ", ".join(DISTRICTS))
    latitude, longitude = _coordinates(form)
    address = _field(form, "address_string", 255)
    if latitude is None and not address:
        raise Open311Error(400, "a location is required: address_string, or lat and long")
    text = _field(form, "description", MAX_DESCRIPTION * 2)
    if not text:
        raise Open311Error(400, "description is required")
    occurred = _field(form, "attribute[occurred_at]", 40)
    occurred_text = to_cst(parse_datetime(occurred, "attribute[occurred_at]")).strftime(
        "%Y-%m-%d %H:%M") if occurred else ""
    media_url = _field(form, "media_url", 1024) or None
    if media_url:
        parts = urlsplit(media_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Open311Error(400, "media_url must be an http(s) URL")
    return NewRequest(
        item=item, text=text, district=district, place_text=address, latitude=latitude,
        longitude=longitude, plate=_field(form, "attribute[plate]", 16) or None,
        occurred_text=occurred_text,
        name=_name(_field(form, "first_name", 32), _field(form, "last_name", 32)),
        phone=_field(form, "phone", 32) or None, email=_field(form, "email", 254) or None,
        media_url=media_url)


def classify_with_code(classify: Callable[..., dict] | None,
                       item: ChecklistItem) -> Callable[..., dict]:
    """The classifier, with the posted service_code put first among the items."""

    def wrapped(text: str, channel: str, *args: Any) -> dict:
        result = dict(classify(text, channel, *args) if classify else {})
        items = [int(i) for i in result.get("items") or []]
        scores = list(result.get("scores") or [])
        by_item = dict(zip(items, scores, strict=False))
        result["classifier_items"] = items
        result["service_code"] = item.number
        result["items"] = [item.number, *(i for i in items if i != item.number)]
        result["scores"] = [by_item.get(i, 0.0) for i in result["items"]]
        result["category"] = item.category
        return result

    return wrapped


def file_request(session: Session, services: IntakeServices, campaign: Campaign,
                 client: ApiClient, new: NewRequest) -> tuple[Receipt, str]:
    """Register through `intake.register` (channel api) and audit it; the caller commits.

    Returns the receipt and the request's token. :raise RegistrationError:
    """
    token = secrets.token_urlsafe(12)
    submission = Submission(
        campaign_id=campaign.id, channel=Channel.api, text=new.text,
        place_text=new.place_text, district=new.district, occurred_text=new.occurred_text,
        plate=new.plate, anonymous=False, name=new.name, phone=new.phone, email=new.email,
        latitude=new.latitude, longitude=new.longitude,
        source_ref=f"open311:{client.id}:{token}", language="zh")
    scoped = dataclasses.replace(services, classify=classify_with_code(services.classify,
                                                                       new.item))
    receipt = register(session, submission, scoped)
    session.add(Event(report_id=receipt.report.id, kind=POST_EVENT,
                      data={"api_client_id": client.id, "service_code": new.item.number,
                            "media_url": new.media_url}))
    session.flush()
    return receipt, token


def post_response(session: Session, campaign: Campaign, receipt: Receipt,
                  token: str) -> dict[str, Any]:
    report = receipt.report
    days = deadlines.reply_days(campaign, report.kind.value if report.kind else None)
    notice = (f"已受理，受理编号 {report.tracking_no}。当前状态：{_status_label(report)}。"
              f"责任单位一般在{days}个工作日内核实办理并答复；查询码仅此一次返回，请转告反映人妥善保存。")
    return {"service_request_id": report.tracking_no, "token": token,
            "service_notice": notice, "account_id": None,
            "receipt_code": format_code(receipt.receipt_code) if receipt.receipt_code else None}


# -- GET requests ---------------------------------------------------------------------

_MASKS = (
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),                      # e-mail
    re.compile(r"(?<!\d)[1-9]\d{5}(?:19|20)\d{2}\d{4}\d{3}[\dXx](?!\d)"),  # ID number
    re.compile(r"(?<!\d)(?:\+?86[-\s]?)?1[3-9]\d[-\s]?\d{4}[-\s]?\d{4}(?!\d)"),  # mobile
    re.compile(r"(?<!\d)0\d{2,3}[-－\s]?\d{7,8}(?!\d)"),                # landline
)


def public_description(text: str) -> str:
    for pattern in _MASKS:
        text = pattern.sub("***", text)
    return text


def _status_label(report: Report) -> str:
    return str(PUBLIC_STATUS.get(report.status, report.status.value))


def _own(client: ApiClient, campaign: Campaign) -> Any:
    """The requests this client filed in this jurisdiction (campaign)."""
    return select(Report).where(Report.channel == Channel.api,
                                Report.source_ref.like(f"open311:{client.id}:%"),
                                Report.campaign_id == campaign.id)


def _service_code(report: Report) -> str | None:
    items = report.items or []
    if items:
        return str(items[0])
    code = (report.classification or {}).get("service_code")
    return str(code) if code else None


def _serialise(session: Session, campaign: Campaign, reports: list[Report]) -> list[dict]:
    if not reports:
        return []
    ids = [r.id for r in reports]
    items = {str(i.number): i for i in session.exec(
        select(ChecklistItem).where(ChecklistItem.campaign_id == campaign.id))}
    units = {u.id: u.name for u in session.exec(select(Unit))}
    current = {a.report_id: a for a in session.exec(
        select(Assignment).where(Assignment.report_id.in_(ids),
                                 Assignment.is_current == True)  # noqa: E712
        .order_by(Assignment.id))}
    notes: dict[int, str] = {}
    replied: set[int] = set()
    referred_to: dict[int, str] = {}
    media: dict[int, str | None] = {}
    for event in session.exec(select(Event).where(
            Event.report_id.in_(ids), Event.kind.in_((*STATUS_NOTE_KINDS, POST_EVENT)))
            .order_by(Event.at, Event.id)):
        if event.kind == POST_EVENT:
            media[event.report_id] = (event.data or {}).get("media_url")
            continue
        if event.kind == "referred":
            referred_to[event.report_id] = (event.data or {}).get("unit") or ""
        if not event.public or not event.note:
            continue
        if event.kind == "reply_approved":  # the approved public reply wins
            notes[event.report_id] = event.note
            replied.add(event.report_id)
        elif event.report_id not in replied:
            notes[event.report_id] = event.note
    rows = []
    for report in reports:
        code = _service_code(report)
        item = items.get(code or "")
        assignment = current.get(report.id)
        is_open = report.status not in CLOSED
        agency = units.get(assignment.unit_id) if assignment else referred_to.get(report.id)
        rows.append({
            "service_request_id": report.tracking_no,
            "status": "open" if is_open else "closed",
            "status_notes": notes.get(report.id),
            "service_name": _service_name(item) if item else None,
            "service_code": code,
            "description": public_description(report.text),
            "agency_responsible": agency or None,
            "service_notice": _status_label(report),
            "requested_datetime": iso_cst(report.received_at),
            "updated_datetime": iso_cst(report.updated_at),
            "expected_datetime": iso_cst(assignment.reply_due_at) if assignment and is_open
            else None,
            "address": report.place_text or None,
            "address_id": None,
            "zipcode": None,
            "lat": report.latitude,
            "long": report.longitude,
            "media_url": media.get(report.id),
        })
    return rows


@dataclass
class Query:
    ids: list[str]
    codes: list[str]
    start: datetime
    end: datetime
    statuses: set[str]


def parse_query(args: Mapping[str, str]) -> Query:
    """GET requests' filters. :raise Open311Error 400:"""
    ids = [v.strip().upper() for v in (args.get("service_request_id") or "").split(",")
           if v.strip()][:MAX_REQUESTS]
    codes = [v.strip() for v in (args.get("service_code") or "").split(",") if v.strip()]
    statuses = {v.strip().lower() for v in (args.get("status") or "").split(",") if v.strip()}
    if statuses - {"open", "closed"}:
        raise Open311Error(400, "status must be open, closed or both (comma-separated)")
    raw_start, raw_end = (args.get("start_date") or "").strip(), (args.get("end_date") or "").strip()
    start = parse_datetime(raw_start, "start_date") if raw_start else None
    end = parse_datetime(raw_end, "end_date") if raw_end else None
    if end is None:
        end = start + MAX_SPAN if start else utcnow()
    if start is None:
        start = end - MAX_SPAN
    if end < start:
        raise Open311Error(400, "end_date is before start_date")
    if end - start > MAX_SPAN:
        raise Open311Error(400, "start_date and end_date may not span more than 90 days")
    # SQLite compares stored UTC text, so filters are given in UTC too.
    return Query(ids, codes, as_utc(start), as_utc(end), statuses)


def find_requests(session: Session, campaign: Campaign, client: ApiClient,
                  query: Query) -> list[dict[str, Any]]:
    """The client's own requests: by id (overriding the other filters), else by the filters,
    newest first, at most 1,000."""
    select_own = _own(client, campaign).order_by(Report.received_at.desc(), Report.id.desc())
    if query.ids:
        return _serialise(session, campaign, list(session.exec(
            select_own.where(Report.tracking_no.in_(query.ids)))))
    rows = session.exec(select_own.where(Report.received_at >= query.start,
                                         Report.received_at <= query.end))
    found: list[Report] = []
    for report in rows:
        if query.codes and _service_code(report) not in query.codes:
            continue
        if query.statuses and ("closed" if report.status in CLOSED else "open") \
                not in query.statuses:
            continue
        found.append(report)
        if len(found) >= MAX_REQUESTS:
            break
    return _serialise(session, campaign, found)


def get_request(session: Session, campaign: Campaign, client: ApiClient,
                service_request_id: str) -> list[dict[str, Any]]:
    """:raise Open311Error 404: not a request this client filed."""
    number = (service_request_id or "").strip().upper()
    report = session.exec(_own(client, campaign).where(Report.tracking_no == number)).first()
    if report is None:
        raise Open311Error(404, f"service_request_id {number[:40]} not found")
    return _serialise(session, campaign, [report])


def request_for_token(session: Session, client: ApiClient, token: str) -> list[dict[str, Any]]:
    """GET tokens/{token}: the service_request_id a POST's token stands for."""
    token = (token or "").strip()
    report = session.exec(select(Report).where(
        Report.channel == Channel.api,
        Report.source_ref == f"open311:{client.id}:{token}")).first() if token else None
    if report is None:
        raise Open311Error(404, "token not found")
    return [{"service_request_id": report.tracking_no, "token": token}]
