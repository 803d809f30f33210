"""The HTTP pieces every service shares: errors, body limit, route-template metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from pymongo.errors import ServerSelectionTimeoutError

from sagakit.health import Health
from sagakit.web import install_common


def app_with(route: str, exc: Exception) -> FastAPI:
    app = FastAPI()

    @app.post(route)
    async def fails(item_id: str = "x") -> None:
        raise exc

    install_common(app, service="test", health=Health(), max_body_bytes=1024)
    return app


async def call(app: FastAPI, path: str, body: bytes = b"{}") -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(path, content=body)


async def test_a_database_that_is_away_answers_503_with_retry_after() -> None:
    response = await call(app_with("/x", ServerSelectionTimeoutError("no primary")), "/x")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "no primary" not in response.text  # no internals in the answer


async def test_a_bug_is_a_500_without_details() -> None:
    response = await call(app_with("/x", KeyError("secret internal detail")), "/x")
    assert response.status_code == 500
    assert "secret" not in response.text


async def test_a_body_declared_over_the_limit_is_413() -> None:
    response = await call(app_with("/x", KeyError()), "/x", body=b"x" * 2000)
    assert response.status_code == 413


async def test_a_streamed_body_over_the_limit_is_413_even_when_the_app_parses_it() -> None:
    app = FastAPI()

    @app.post("/json")
    async def takes_json(payload: dict[str, str]) -> dict[str, str]:
        return payload  # FastAPI reads and parses the body before this runs

    install_common(app, service="test", health=Health(), max_body_bytes=1024)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 500  # no Content-Length: the limit is found while reading

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/json", content=chunks())
    assert response.status_code == 413
