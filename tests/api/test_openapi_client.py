"""A typed client generated from /schema/openapi.json with openapi-python-client: no warning, and it works.

The generator runs offline in a temp dir on the document the app serves; the
generated package is imported and used against the app (the Litestar test
client is an httpx client), so an error response the document does not declare,
or declares wrongly, fails here.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import Creds

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "docs" / "examples" / "openapi-python-client.yaml"


async def test_every_error_response_is_problem_json(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    doc = (await client.get("/schema/openapi.json")).json()
    assert doc["components"]["schemas"]["Problem"]["required"] == ["detail", "status", "title", "type"]
    operations = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()
                  if method in {"get", "post", "put", "patch", "delete"}]
    assert len(operations) > 30
    for path, method, op in operations:
        errors = {code: r for code, r in op["responses"].items() if int(code) >= 400}
        assert {"400", "401", "403", "404", "422", "500"} <= set(errors), (method, path)
        for code, response in errors.items():
            assert list(response["content"]) == ["application/problem+json"], (method, path, code)
            assert response["content"]["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"}, (method, path, code)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generate the client once per module from the app's document (no server, no network)."""
    from vault.api.app import create_app
    from vault.config import Settings

    work = tmp_path_factory.mktemp("client")
    schema = work / "openapi.json"
    schema.write_text(json.dumps(create_app(Settings()).openapi_schema.to_schema()), encoding="utf-8")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    res = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(schema), "--meta", "none",
         "--output-path", str(work / "customer_vault_client"), "--config", str(CONFIG)],
        cwd=work, env=env, capture_output=True, text=True, timeout=240, check=False)
    output = res.stdout + res.stderr
    assert res.returncode == 0, output
    assert "WARNING" not in output and "Unable to" not in output and "Skipping" not in output, output
    return work


def test_generator_runs_without_warnings(generated: Path) -> None:
    assert (generated / "customer_vault_client" / "models" / "problem.py").exists()


async def test_generated_client_talks_to_the_vault(generated: Path, client: AsyncTestClient,  # type: ignore[type-arg]
                                                   principals: dict[str, Creds]) -> None:
    sys.path.insert(0, str(generated))
    try:
        pkg: Any = importlib.import_module("customer_vault_client")
        create: Any = importlib.import_module("customer_vault_client.api.customers.create_customer")
        get: Any = importlib.import_module("customer_vault_client.api.customers.get_customer")
        models: Any = importlib.import_module("customer_vault_client.models")
    finally:
        sys.path.remove(str(generated))
    # The generated client builds its own httpx client; route it through the app's in-process transport.
    api = pkg.AuthenticatedClient(base_url=str(client.base_url), token=principals["application"].key,
                                  httpx_args={"transport": client._transport})

    body = models.CreateCustomerBody.from_dict({"customer_ref": f"gen-{uuid.uuid4().hex[:8]}", "name": "홍길동",
                                                "phone": "010-2345-6789"})
    created = await create.asyncio(client=api, body=body, purpose="service_delivery")
    assert isinstance(created, models.CustomerRead), created
    assert created.fields["phone"] == "+821023456789"

    fetched = await get.asyncio(created.id, client=api, purpose="service_delivery")
    assert isinstance(fetched, models.CustomerRead) and fetched.id == created.id

    denied = await get.asyncio_detailed(created.id, client=api, purpose="legal_claims")
    assert denied.status_code == 403
    assert isinstance(denied.parsed, models.Problem)
    assert denied.parsed.type_.startswith("urn:vault:access.")

    missing = await get.asyncio_detailed(created.id, client=api)  # no purpose: 422, typed
    assert missing.status_code == 422 and isinstance(missing.parsed, models.Problem)
