"""`up --processes`: every service in a process of its own, behind `up`'s one address.

Each service runs its pod's command (`service_process`) on a local port of its own. This
process proxies every public path to the service that owns it (`gateway.ROUTES`, HTTP and
WebSocket), serves the frontend and the whole system's `/readyz`, runs the periodic stock
refill (the chart's CronJob) and keeps the children running: one that dies is started again
(`supervisor`), as Kubernetes restarts a container. A service may run as several replicas
(`--replicas`, see `replicas`): each is a child of its own with its own consumer name, and the
proxy spreads requests over them. Where each child is — pid, address, restarts — is kept in
runtime.json under "processes", for operators and tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from orders_saga_cli.gateway import ROUTES, PathDispatcher, frontend_app
from orders_saga_cli.ops import refill_stock
from orders_saga_cli.proxy import ReverseProxy, http_client
from orders_saga_cli.replicas import consumer_name, replica_names
from orders_saga_cli.service_process import FACTORIES
from orders_saga_cli.supervisor import ChildSpec, Supervisor
from saga_contracts.secrets import Secrets
from sagakit.embedded.redis import free_port
from sagakit.lifecycle import Periodic
from sagakit.settings import ConnectionSettings

READY_TIMEOUT_S = 2.0


def child_env(connections: ConnectionSettings, secrets: Secrets) -> dict[str, str]:
    """The environment a pod gets (charts/orders-saga/templates/_helpers.tpl `appEnv`)."""
    return {
        **os.environ,
        "REDIS_URL": connections.redis_url,
        "MONGO_URL": connections.mongo_url,
        "MONGO_DB": connections.mongo_db,
        "STREAM_PREFIX": connections.stream_prefix,
        # Stable across restarts, like a pod's name: a restarted consumer takes back its own
        # pending entries at once instead of waiting for the claim threshold.
        "CONSUMER_NAME": connections.consumer_name,
        "OPERATOR_API_KEY": secrets.operator_api_key.get_secret_value(),
        "TRACKING_SECRET": secrets.tracking_secret.get_secret_value(),
    }


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    """Readers never see half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2))
    partial.replace(path)


class SeparateProcesses:
    def __init__(
        self,
        connections: ConnectionSettings,
        secrets: Secrets,
        frontend_dist: Path | None,
        refill: tuple[float, int],
        runtime_file: Path,
        replicas: Mapping[str, int] | None = None,
    ) -> None:
        env = child_env(connections, secrets)
        specs: list[ChildSpec] = []
        urls: dict[str, list[str]] = {}
        for service in FACTORIES:
            count = (replicas or {}).get(service, 1)
            for index, name in enumerate(replica_names(service, count), start=1):
                port = free_port()
                argv = [sys.executable, "-m", "orders_saga_cli.service_process", service, str(port)]
                replica_env = {
                    **env,
                    "CONSUMER_NAME": consumer_name(connections.consumer_name, index),
                    "POD_NAME": name,
                }
                url = f"http://127.0.0.1:{port}"
                specs.append(ChildSpec(name, [*argv, str(os.getpid())], replica_env, url))
                urls.setdefault(service, []).append(url)
        self._runtime_file = runtime_file
        self.supervisor = Supervisor(specs, on_change=self._record)
        self._client = http_client()
        self.app = PathDispatcher(
            [
                (prefix, ReverseProxy(service, urls[service], self._client))
                for service, prefixes in ROUTES.items()
                for prefix in prefixes
            ],
            frontend_app(frontend_dist, self._reports),
        )
        interval_s, to = refill
        self._refill = Periodic(
            "stock-refill", lambda: refill_stock(connections, to=to), interval_s
        )
        self._refill_on = interval_s > 0

    async def start(self) -> None:
        await self.supervisor.start()
        if self._refill_on:
            await self._refill.start()

    async def stop(self, timeout_s: float) -> None:
        await self._refill.stop()
        await self.supervisor.stop(timeout_s)
        await self._client.aclose()

    async def _reports(self) -> list[dict[str, Any]]:
        children = self.supervisor.children.items()
        return list(
            await asyncio.gather(*(self._report(name, child.spec.url) for name, child in children))
        )

    async def _report(self, name: str, url: str) -> dict[str, Any]:
        try:
            response = await self._client.get(url + "/readyz", timeout=READY_TIMEOUT_S)
            report: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return {
                "service": name,
                "ready": False,
                "components": {"process": False},
                "reasons": {"process": f"not answering: {type(exc).__name__}"},
            }
        return {"service": name, **report}

    def _record(self, views: dict[str, dict[str, Any]]) -> None:
        if not self._runtime_file.exists():  # `up` is stopping
            return
        runtime = json.loads(self._runtime_file.read_text())
        runtime["processes"] = views
        write_atomically(self._runtime_file, runtime)
