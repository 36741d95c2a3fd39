"""schemathesis against our OpenAPI document: no generated request gets a server error.

The app runs in process (ASGI) over seeded tenant data, called as the admin (every operation
reachable) and, for reads, as a city responder (scope checks on every path). Examples are bounded so the
run stays well under a minute.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from apitest import build_env
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FOLDER = Path(tempfile.mkdtemp(prefix="icssa-schemathesis-"))
atexit.register(shutil.rmtree, FOLDER, ignore_errors=True)
ENV = build_env(FOLDER)
ENV.app.state.sharing.sync_alerts()
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", ENV.app)


@schema.parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors_as_admin(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=ENV.auth("admin"), checks=[not_a_server_error])


@schema.include(method="GET").parametrize()
@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors_on_reads_as_a_city_responder(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=ENV.auth("nj_resp"), checks=[not_a_server_error])
