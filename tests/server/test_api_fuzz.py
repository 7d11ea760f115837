"""Property-based requests generated from the server's own OpenAPI description (Schemathesis):
whatever a client sends to any operation — valid, malformed or hostile — the answer is never a
server error. Agent operations get an agent token, the rest an admin token (rate limits off,
so the generated requests reach the handlers)."""

from __future__ import annotations

import atexit
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from banscan.server.app import create_app
from banscan.server.state import ServerSettings
from banscan.store.accounts import create_api_token

from .conftest import ENROLL_SECRET

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

AGENT_PATHS = ("/api/v1/report", "/api/v1/agent/checkin")
UNLIMITED = ServerSettings(user_rate_limit=None, agent_rate_limit=None, anon_rate_limit=None)


# The app is built when the module is collected (Schemathesis parametrizes from its schema);
# its database lives in a temporary folder removed when the process exits.
_TMP = tempfile.TemporaryDirectory(prefix="banscan-fuzz-")
atexit.register(_TMP.cleanup)
_URL = f"sqlite:///{Path(_TMP.name) / 'fuzz.db'}"
APP = create_app(_URL, enroll_secret=ENROLL_SECRET, settings=UNLIMITED)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def tokens() -> Iterator[dict[str, str]]:
    with TestClient(APP) as client:
        r = client.post(
            "/api/v1/enroll",
            json={"enroll_secret": ENROLL_SECRET, "host_identifier": "fuzz-1", "hostname": "fuzz-1"},
        )
        assert r.status_code == 201, r.text
        yield {"admin": create_api_token(_URL, "fuzz", "admin"), "agent": r.json()["token"]}


@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_request_makes_a_server_error(case: Any, tokens: dict[str, str]) -> None:
    token = tokens["agent"] if case.path in AGENT_PATHS else tokens["admin"]
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error])
