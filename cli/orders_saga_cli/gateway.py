"""One address for the whole system: requests go to the service that owns their path.

The public paths of DESIGN.md §6 are fixed and disjoint per service, so the gateway routes
by path prefix (HTTP and WebSocket alike), answers /healthz, /readyz and /metrics for the
whole process, and serves the built frontend for everything else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Receive, Scope, Send

from sagakit.health import Health

ROUTES: dict[str, tuple[str, ...]] = {
    "orders": ("/api/menu", "/api/orders", "/api/stock"),
    "delivery": ("/api/deliveries", "/api/couriers"),
    "notifications": ("/api/tracking", "/ws/tracking", "/api/ops", "/ws/ops"),
}

LANDING = """<!doctype html><html lang="en"><meta charset="utf-8">
<title>orders-saga</title><body style="font-family:sans-serif;max-width:40rem;margin:2rem auto">
<h1>orders-saga is running</h1>
<p>The browser app is not built (it needs Node.js: <code>npm --prefix frontend ci &amp;&amp;
npm --prefix frontend run build</code>). The API is here:</p>
<ul><li><a href="/api/menu">GET /api/menu</a></li><li>POST /api/orders</li>
<li>GET /api/tracking/{id}, WS /ws/tracking/{id}?token=&amp;since=</li>
<li><a href="/readyz">/readyz</a>, <a href="/metrics">/metrics</a></li></ul></body></html>"""


Reports = Callable[[], Awaitable[list[dict[str, Any]]]]
"""The readiness reports of every service behind the address."""


def local_reports(healths: Sequence[Health]) -> Reports:
    """Reports of services running in this process."""

    async def reports() -> list[dict[str, Any]]:
        return [health.report() for health in healths]

    return reports


class PathDispatcher:
    """ASGI app sending each request to the first app whose prefix matches its path."""

    def __init__(self, routes: Sequence[tuple[str, ASGIApp]], fallback: ASGIApp) -> None:
        self._routes = sorted(routes, key=lambda route: -len(route[0]))
        self._fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            for prefix, app in self._routes:
                if path == prefix or path.startswith(prefix + "/"):
                    await app(scope, receive, send)
                    return
        await self._fallback(scope, receive, send)


def frontend_app(dist: Path | None, service_reports: Reports) -> FastAPI:
    """Health of the whole system, metrics of this process, and the single-page app (or a
    landing page)."""
    app = FastAPI(title="orders-saga", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        reports = await service_reports()
        ready = all(report["ready"] for report in reports)
        return JSONResponse(
            {"ready": ready, "services": reports}, status_code=200 if ready else 503
        )

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/{path:path}", include_in_schema=False)
    def spa(path: str) -> Response:  # sync: file system calls run in the thread pool
        if dist is None:
            return HTMLResponse(LANDING)
        root = dist.resolve()
        candidate = (root / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(root):
            return FileResponse(candidate)
        return FileResponse(root / "index.html")  # client-side routes such as /track/<id>

    return app
