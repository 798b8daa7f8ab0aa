"""Schemathesis drives every operation of /api/v1/openapi.json through the app's WSGI
interface: no server errors, answers as documented (status codes, content types, bodies).

Runs as the task force, as a unit (the reports under test are assigned to it) and with no
token. Schemathesis's pytest plugin does not run on pytest 9 yet, so each operation's
Hypothesis strategy is driven here directly; both valid and invalid data are generated.
Installed version: schemathesis==4.32.5.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import negative_data_rejection
from schemathesis.generation import GenerationMode
from werkzeug.exceptions import HTTPException

from app.api.credentials import issue_token
from intake.models import ReportStatus as S
from routing import transitions as t
from tests.support.flow import file_report, unit_id

MAX_EXAMPLES = 30
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# The API ignores query parameters it does not know (as most HTTP APIs do), which this
# check counts as accepting invalid data; every other invalid input must be a 4xx.
EXCLUDED = [negative_data_rejection]


@pytest.fixture
def reports(app, db, campaign_id) -> None:
    """Two reports dispatched to unit hzq, so the transitions have something to act on."""
    for _ in range(2):
        report = file_report(app, db, campaign_id)
        if report.status is not S.dispatched:
            t.dispatch(db, app.extensions["intake"], report.id, unit_id(db, "hzq"), t.SYSTEM)
            db.commit()


def run_schema(app, headers: dict[str, str], check=None, max_examples: int = MAX_EXAMPLES):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11
    for operation in operations:
        for mode in MODES:
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=max_examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case) -> None:
                if check is None:
                    case.call_and_validate(headers=headers, excluded_checks=EXCLUDED)
                else:
                    check(case, case.call(headers=headers))

            run()


def token(db, make_user, role: str, unit_code: str | None = None) -> str:
    user = make_user(role, unit_code=unit_code)
    secret = issue_token(db, user.username).secret
    db.commit()
    return secret


@pytest.mark.slow
def test_api_as_task_force(app, db, make_user, reports):
    run_schema(app, {"Authorization": f"Bearer {token(db, make_user, 'taskforce')}"})


@pytest.mark.slow
def test_api_as_unit(app, db, make_user, reports):
    run_schema(app, {"Authorization": f"Bearer {token(db, make_user, 'unit', 'hzq')}"})


def test_api_without_a_token_is_401_never_500(app, reports):
    adapter = app.url_map.bind("localhost")

    def check(case, response) -> None:
        assert response.status_code < 500, case.as_curl_command()
        if case.operation.path == "/api/v1/openapi.json":
            return
        try:
            adapter.match(case.formatted_path, case.method)
        except HTTPException:  # e.g. a negative id: no route, so nothing to authenticate
            assert response.status_code in (404, 405), case.as_curl_command()
        else:
            assert response.status_code == 401, case.as_curl_command()

    run_schema(app, {}, check, max_examples=10)
