"""Schemathesis over the whole OpenAPI, with every role's key: no request answers 5xx.

Issue 10 ("Prove it"). The app runs behind a real uvicorn server in a thread (as `vault serve`
runs it); Schemathesis generates requests for every operation from the published schema
(valid and invalid data), and each generated request is sent once with each role's key.
Bounded for CI: a few examples per operation, derandomized so a run is reproducible
(``VAULT_FUZZ_EXAMPLES`` raises the budget for a deeper local run).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import ROLES, Creds
from vault.api.app import create_app
from vault.bootstrap import Vault
from vault.config import Settings

EXAMPLES = int(os.environ.get("VAULT_FUZZ_EXAMPLES", "3"))


@pytest.fixture(scope="module")
def live_url(vault: Vault, settings: Settings) -> Iterator[str]:
    """The vault app served by uvicorn in a thread of its own (its own event loop and vault)."""
    del vault  # only makes sure the database and its system keys exist
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), http="vault.api.limits:BoundedHttpToolsProtocol",
                                           lifespan="on", log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(2000):
        if server.started or not thread.is_alive():
            break
        time.sleep(0.01)
    assert server.started, "live server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="module")
def role_headers(principals: dict[str, Creds]) -> dict[str, dict[str, str]]:
    return {role: principals[role].headers for role in ROLES}


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


# The schema the app publishes at /schema/openapi.json (building the app opens nothing: that happens at start-up).
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi_schema.to_schema())


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any, live_url: str, role_headers: dict[str, dict[str, str]],
                          http: requests.Session) -> None:
    for role, headers in role_headers.items():
        # Generous timeout: the first PII detection starts its worker process.
        response = case.call(base_url=live_url, session=http, headers={**(case.headers or {}), **headers},
                             timeout=120)
        assert response.status_code < 500, (role, case.method, case.formatted_path, response.status_code,
                                            response.text[:300])
        case.validate_response(response, checks=[not_a_server_error])
