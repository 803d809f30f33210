"""Property-based HTTP fuzzing of every route (schemathesis): no request content yields a 5xx.

The requests go to a real `orders-saga up`, through the same address a browser uses; the cases
come from each service's own OpenAPI schema. Operator routes get the right key, so their
validation is fuzzed too (a wrong or missing key is covered by the services' own tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from orders_saga_cli.system import build_services
from saga_contracts.secrets import Secrets
from sagakit.settings import ConnectionSettings

from .system import FAST_ACTORS, System


def _openapi() -> dict[str, Any]:
    """The three services' schemas merged (their paths are disjoint); nothing is started."""
    services = build_services(
        ConnectionSettings(), Secrets(operator_api_key="x" * 20, tracking_secret="y" * 20)
    )
    merged: dict[str, Any] = {}
    for name in ("orders", "delivery", "notifications"):
        schema = services[name].app.openapi()
        if not merged:
            merged = {**schema, "paths": {}, "components": {"schemas": {}}}
        merged["paths"].update(schema["paths"])
        merged["components"]["schemas"].update(schema.get("components", {}).get("schemas", {}))
    return merged


schema = schemathesis.openapi.from_dict(_openapi())


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    running = System(Path(tmp_path_factory.mktemp("fuzz")) / "data", env=FAST_ACTORS)
    running.start()
    yield running
    running.stop()


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_request_content_causes_a_server_error(case: Any, system: System) -> None:
    case.headers = {**(case.headers or {}), "X-API-Key": system.operator_key}
    response = case.call(base_url=system.url, timeout=10)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])


OVERSIZED = b'{"customer": {"name": "' + b"x" * (1024 * 1024) + b'"}}'


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/api/orders", "/api/menu/items", "/api/ops/dlq/replay"])
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_oversized_body_gets_413_and_the_system_carries_on(
    system: System, path: str, declared: bool
) -> None:
    def chunks() -> Iterator[bytes]:
        for start in range(0, len(OVERSIZED), 65536):
            yield OVERSIZED[start : start + 65536]

    headers = {"Content-Type": "application/json", "X-API-Key": system.operator_key}
    with httpx.Client(base_url=system.url, timeout=10) as client:
        response = client.post(path, content=OVERSIZED if declared else chunks(), headers=headers)
        assert response.status_code == 413, response.text[:200]
        assert client.get("/api/menu").status_code == 200
