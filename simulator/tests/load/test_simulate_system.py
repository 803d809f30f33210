"""The load generator against the whole system, in process: all four services behind the
gateway on one real port (HTTP and WebSocket), the actors answering at once."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import orjson
import pytest
from fastapi import FastAPI

from delivery.settings import DeliverySettings
from orders.settings import OrdersSettings
from orders_saga_cli.system import SystemSettings, build_services, gateway
from saga_contracts.secrets import Secrets
from sagakit.settings import ConnectionSettings
from sagakit.testing.services import running, uvicorn_server
from sagakit.testing.workers import fast_settings
from simulator.actors.settings import ActorSettings
from simulator.load.cli import report
from simulator.load.runner import SimulateOptions, simulate

SECRETS = Secrets(operator_api_key="o" * 24, tracking_secret="t" * 24)
LAST_LINE = re.compile(
    r"^simulate: \d+\.\d completed/s, p99 terminal \d+ ms, invariants (ok|FAILED)$"
)


@contextlib.asynccontextmanager
async def system(
    redis_url: str, mongo_url: str, namespace: str, *, admission_max_backlog: int = 5000
) -> AsyncIterator[str]:
    """The base URL of the whole system (actors with zero delays, default failure rates)."""
    connections = ConnectionSettings(
        redis_url=redis_url,
        mongo_url=mongo_url,
        mongo_db=f"t_{uuid.uuid4().hex[:10]}",
        consumer_name="simulate-test",
        stream_prefix=f"{namespace}.",
    )
    services = build_services(
        connections,
        SECRETS,
        SystemSettings(
            orders=OrdersSettings(
                deadline_poll_s=0.05, admission_max_backlog=admission_max_backlog
            ),
            delivery=DeliverySettings(assign_interval_s=0.1, deadline_poll_interval_s=0.05),
            actors=ActorSettings.benchmark(),
            worker=fast_settings(),
        ),
    )
    app = gateway(services)
    # uvicorn_server is typed for a FastAPI app; any ASGI app serves the same
    async with running(*services.values()), uvicorn_server(cast(FastAPI, app)) as url:
        yield url


@pytest.mark.timeout(60)
async def test_a_short_run_places_tracks_and_checks_every_order(
    redis_url: str,
    mongo_url: str,
    namespace: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with system(redis_url, mongo_url, namespace) as url:
        options = SimulateOptions(
            rate=20,
            duration_s=3,
            target=url,
            track_fraction=0.5,  # half over WebSockets, half read over HTTP at the end
            operator_key=SECRETS.operator_api_key.get_secret_value(),
            drain_timeout_s=20,
        )
        result = await simulate(options)

    code = report(result, json_path=tmp_path / "run.json", png_path=tmp_path / "run.png")
    lines = capsys.readouterr().out.splitlines()
    assert LAST_LINE.match(lines[-1]), lines[-1]
    assert lines[-1].endswith("invariants ok"), "\n".join(lines)
    assert code == 0
    assert [check.name for check in result.checks] == [
        "every accepted order terminal",
        "versions gap-free",
        "stock conserved",
    ]
    figures = orjson.loads((tmp_path / "run.json").read_bytes())
    assert figures["orders"]["placed"] == 60
    assert figures["orders"]["accepted"] + sum(figures["orders"]["rejected"].values()) == 60
    assert figures["orders"]["completed"] == figures["orders"]["accepted"] > 0
    assert figures["orders"]["tracked"] == 30
    assert figures["latency_ms"]["terminal"]["count"] == 30
    assert figures["outcomes"].get("delivered", 0) > 0
    assert figures["last_line"] == lines[-1]
    assert (tmp_path / "run.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.timeout(90)
async def test_past_capacity_orders_are_shed_and_every_accepted_one_still_ends(
    redis_url: str,
    mongo_url: str,
    namespace: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Far more orders than the saga can finish, with a small backlog limit: some are refused
    with 503 `overloaded` (nothing written), none fails, and the invariants hold for the
    accepted ones (stock conservation counts only what was sold to them)."""
    async with system(redis_url, mongo_url, namespace, admission_max_backlog=20) as url:
        options = SimulateOptions(
            rate=300,
            duration_s=2,
            target=url,
            track_fraction=0.2,
            operator_key=SECRETS.operator_api_key.get_secret_value(),
            drain_timeout_s=60,
        )
        result = await simulate(options)

    code = report(result, json_path=tmp_path / "run.json", png_path=None)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].endswith("invariants ok"), "\n".join(lines)
    assert code == 0
    orders = orjson.loads((tmp_path / "run.json").read_bytes())["orders"]
    assert orders["shed"] > 0, orders
    assert orders["accepted"] > 0, orders
    assert sum(orders["failed"].values()) == 0 and orders["unknown"] == 0, orders
    assert orders["accepted"] + sum(orders["rejected"].values()) + orders["shed"] == 600
    assert orders["completed"] == orders["accepted"]
