"""The staff JSON API: tokens, role and unit scoping, transitions, the OpenAPI document."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from app.api.credentials import hash_secret, issue_token, revoke_token
from app.models import ApiClient, ApiToken
from intake.models import Event, Report
from intake.models import ReportStatus as S
from routing import transitions as t
from tests.support.flow import file_report, unit_id

PII = ("13800001111", "+8613800001111", "李四")


@pytest.fixture
def world(app, db: Session, campaign_id: int, make_user) -> dict:
    """A report assigned to unit A (hzq), and a token for each role."""
    report = file_report(app, db, campaign_id)
    if report.status is not S.dispatched:
        t.dispatch(db, app.extensions["intake"], report.id, unit_id(db, "hzq"), t.SYSTEM)
        db.commit()
    users = {"unit_a": make_user("unit", unit_code="hzq"),
             "unit_b": make_user("unit", unit_code="zfjd"),
             "taskforce": make_user("taskforce"), "admin": make_user("admin"),
             "operator": make_user("operator"), "inspector": make_user("inspector")}
    tokens = {role: issue_token(db, user.username).secret for role, user in users.items()}
    db.commit()
    return {"report_id": report.id, "tracking_no": report.tracking_no, "users": users,
            "tokens": tokens}


def call(client, method: str, path: str, token: str | None = None, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.open(path, method=method, headers=headers, **kwargs)


def no_pii(response) -> None:
    body = response.get_data(as_text=True)
    for value in PII:
        assert value not in body, f"{value} leaked by {response.request.path}"


def flask_path(rule) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)


# -- the OpenAPI document ---------------------------------------------------------------

def test_openapi_paths_and_routes_match(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in document["paths"].items()
                  for method in ops}
    routes = {(flask_path(rule), method) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented - routes == set(), "documented but not routed"
    assert routes - documented == set(), "routed but not documented"


def test_every_protected_endpoint_refuses_missing_bad_and_revoked_tokens(app, client, db,
                                                                         world):
    revoked = issue_token(db, world["users"]["taskforce"].username)
    db.commit()
    revoke_token(db, revoked.id)
    db.commit()
    document = client.get("/api/v1/openapi.json").get_json()
    bad = ["", "xnt_00000000_nope", "garbage", "xnk_" + "0" * 8 + "_x", revoked.secret,
           "xnt_" + "ä" * 8 + "_x", "x" * 500]
    for path, ops in document["paths"].items():
        url = path.replace("{report_id}", str(world["report_id"])).replace(
            "{assignment_id}", "1")
        for method, op in ops.items():
            if op.get("security") == []:
                continue
            for token in bad:
                response = call(client, method.upper(), url, token or None, json={})
                assert response.status_code == 401, (method, url, token)
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
                assert response.get_json()[0]["code"] == 401


def test_a_signed_in_browser_session_does_not_open_the_api(client, login, world):
    login(world["users"]["taskforce"])
    assert client.get("/api/v1/reports").status_code == 401
    assert client.post(f"/api/v1/reports/{world['report_id']}/escalate",
                       json={}).status_code == 401


def test_tokens_are_stored_only_as_hashes(db, world):
    for row in db.exec(select(ApiToken)):
        assert all(row.token_hash != secret for secret in world["tokens"].values())
    secret = world["tokens"]["admin"]
    assert db.exec(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret))).one()


# -- reading, scoped like the pages ---------------------------------------------------------

def test_roles_and_unit_scoping(client, world):
    rid, tokens = world["report_id"], world["tokens"]
    for role in ("taskforce", "admin", "unit_a"):
        listing = call(client, "GET", "/api/v1/reports", tokens[role])
        assert listing.status_code == 200
        assert rid in [r["id"] for r in listing.get_json()["reports"]], role
        detail = call(client, "GET", f"/api/v1/reports/{rid}", tokens[role])
        assert detail.status_code == 200 and detail.get_json()["tracking_no"] == \
            world["tracking_no"]
        no_pii(listing)
        no_pii(detail)
    unit_b = tokens["unit_b"]
    assert call(client, "GET", "/api/v1/reports", unit_b).get_json()["reports"] == []
    assert call(client, "GET", f"/api/v1/reports/{rid}", unit_b).status_code == 403
    assert call(client, "GET", "/api/v1/assignments", unit_b).get_json()["assignments"] == []
    assignments = call(client, "GET", "/api/v1/assignments", tokens["unit_a"]).get_json()
    [entry] = assignments["assignments"]
    assert entry["report_id"] == rid and entry["reply_due_at"].endswith("+08:00")
    assert call(client, "GET", f"/api/v1/assignments/{entry['id']}", unit_b).status_code == 403
    assert call(client, "GET", f"/api/v1/assignments/{entry['id']}",
                tokens["unit_a"]).status_code == 200
    for role in ("operator", "inspector"):
        assert call(client, "GET", "/api/v1/reports", tokens[role]).status_code == 403
        assert call(client, "GET", "/api/v1/me", tokens[role]).status_code == 200
    assert call(client, "GET", "/api/v1/reports/999999", tokens["admin"]).status_code == 404
    assert call(client, "GET", "/api/v1/reports/99999999999999",
                tokens["admin"]).status_code == 404
    assert call(client, "GET", "/api/v1/reports?status=bogus",
                tokens["admin"]).status_code == 400
    assert call(client, "GET", "/api/v1/reports?limit=0", tokens["admin"]).status_code == 400


def test_unit_history_hides_task_force_notes(app, client, db, world):
    db.add(Event(report_id=world["report_id"], kind="triage_reason", note="内部分拣说明"))
    db.commit()
    unit = call(client, "GET", f"/api/v1/reports/{world['report_id']}",
                world["tokens"]["unit_a"]).get_json()
    assert "内部分拣说明" not in str(unit["history"])
    desk = call(client, "GET", f"/api/v1/reports/{world['report_id']}",
                world["tokens"]["taskforce"]).get_json()
    assert "内部分拣说明" in str(desk["history"])


def test_dashboard_counts(client, world):
    desk = call(client, "GET", "/api/v1/dashboard", world["tokens"]["taskforce"]).get_json()
    assert desk["total"] >= 1 and desk["by_status"]["dispatched"] >= 1
    assert any(row["assigned"] >= 1 for row in desk["by_unit"])
    unit_b = call(client, "GET", "/api/v1/dashboard", world["tokens"]["unit_b"]).get_json()
    assert unit_b["total"] == 0 and unit_b["by_unit"] == []


# -- transitions through routing.transitions ------------------------------------------------

def test_the_loop_through_the_api(client, db, world):
    rid, tokens = world["report_id"], world["tokens"]
    path = f"/api/v1/reports/{rid}"
    assert call(client, "POST", f"{path}/acknowledge", tokens["unit_b"]).status_code == 403
    assert call(client, "POST", f"{path}/acknowledge", tokens["taskforce"]).status_code == 403
    response = call(client, "POST", f"{path}/acknowledge", tokens["unit_a"])
    assert response.status_code == 200 and response.get_json()["status"] == "acknowledged"
    again = call(client, "POST", f"{path}/acknowledge", tokens["unit_a"])
    assert again.status_code == 409 and again.get_json()[0]["description"]
    assert call(client, "POST", f"{path}/reply", tokens["unit_a"],
                json={"finding": "maybe"}).status_code == 400
    assert call(client, "POST", f"{path}/reply", tokens["unit_a"],
                data="not json").status_code == 400
    reply = call(client, "POST", f"{path}/reply", tokens["unit_a"], json={
        "finding": "属实", "measures": "已约谈执法人员", "public_text": "经核实属实，已整改。"})
    assert reply.status_code == 200 and reply.get_json()["status"] == "replied"
    assert call(client, "POST", f"{path}/review", tokens["taskforce"],
                json={"approve": False}).status_code == 409  # a reason is required
    approved = call(client, "POST", f"{path}/review", tokens["taskforce"],
                    json={"approve": True, "note": "同意"})
    assert approved.status_code == 200
    assert approved.get_json()["status"] == "awaiting_feedback"
    no_pii(approved)
    db.commit()
    kinds = [e.kind for e in db.exec(select(Event).where(Event.report_id == rid))]
    assert {"acknowledged", "replied", "reply_approved"} <= set(kinds)


def test_escalate_and_return(client, db, world):
    rid, tokens = world["report_id"], world["tokens"]
    path = f"/api/v1/reports/{rid}"
    assert call(client, "POST", f"{path}/escalate", tokens["unit_a"], json={}).status_code == 403
    assert call(client, "POST", f"{path}/escalate", tokens["admin"],
                json={"level": "loud"}).status_code == 400
    response = call(client, "POST", f"{path}/escalate", tokens["admin"], json={"note": "请尽快"})
    assert response.status_code == 200
    assert "escalated_reminder" in [h["kind"] for h in response.get_json()["history"]]
    assert call(client, "POST", f"{path}/return", tokens["unit_a"],
                json={"reason": ""}).status_code == 400
    returned = call(client, "POST", f"{path}/return", tokens["unit_a"],
                    json={"reason": "不属于本单位辖区"})
    assert returned.status_code == 200 and returned.get_json()["status"] == "returned"
    db.commit()
    assert db.get(Report, rid).status is S.returned


# -- the admin's commands ------------------------------------------------------------------

def test_cli_issues_and_revokes_keys_and_tokens(app, db, world):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["api", "issue-key", "12345 平台"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("xnk_")
    db.commit()
    client = db.exec(select(ApiClient)).one()
    assert client.key_hash == hash_secret(secret) and secret not in client.key_hash
    assert secret[4:12] == client.key_prefix
    assert "12345 平台" in runner.invoke(args=["api", "list-keys"]).output
    assert runner.invoke(args=["api", "revoke-key", str(client.id)]).exit_code == 0
    assert runner.invoke(args=["api", "revoke-key", "999"]).exit_code != 0

    username = world["users"]["admin"].username
    result = runner.invoke(args=["api", "issue-token", username, "--name", "脚本"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    http = app.test_client()
    assert call(http, "GET", "/api/v1/me", token).get_json()["username"] == username
    token_id = re.search(r"token (\d+)", result.output).group(1)
    assert runner.invoke(args=["api", "revoke-token", token_id]).exit_code == 0
    assert call(http, "GET", "/api/v1/me", token).status_code == 401
    assert runner.invoke(args=["api", "issue-token", "nobody"]).exit_code != 0
    assert "revoked" in runner.invoke(args=["api", "list-tokens"]).output
    db.commit()
    kinds = {e.kind for e in db.exec(select(Event).where(Event.kind.like("api_%")))}
    assert kinds == {"api_key_issued", "api_key_revoked", "api_token_issued",
                     "api_token_revoked"}


def test_inactive_account_token_stops_working(client, db, world):
    user = world["users"]["taskforce"]
    user.is_active = False
    db.add(user)
    db.commit()
    assert call(client, "GET", "/api/v1/me", world["tokens"]["taskforce"]).status_code == 401
