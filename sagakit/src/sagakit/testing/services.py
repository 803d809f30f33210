"""Running services in tests: in-process with an HTTP client, or behind a real uvicorn server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import uvicorn
from fastapi import FastAPI

from sagakit.embedded.redis import free_port
from sagakit.web import ServiceApp


@contextlib.asynccontextmanager
async def running(*services: ServiceApp) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Start the services' runtimes; yield one in-process HTTP client per service; stop them."""
    started: list[ServiceApp] = []
    clients: list[httpx.AsyncClient] = []
    try:
        for service in services:
            await service.start()
            started.append(service)
            clients.append(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=service.app), base_url="http://test"
                )
            )
        yield clients
    finally:
        for client in clients:
            await client.aclose()
        for service in reversed(started):
            await service.stop()


@contextlib.asynccontextmanager
async def uvicorn_server(app: FastAPI) -> AsyncIterator[str]:
    """Serve `app` (without running its lifespan) on a free loopback port; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", ws_ping_interval=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
