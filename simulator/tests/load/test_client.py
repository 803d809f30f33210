"""How the generator classifies the answers to its POSTs."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from simulator.load.client import Api
from simulator.load.contents import OrderContents
from simulator.load.records import Placement

BODY: dict[str, Any] = {"items": [{"item_id": "margherita", "quantity": 2}]}
OVERLOADED = {"detail": {"code": "overloaded", "retry_after_s": 1}}


class OneClient:
    """Stands in for HttpPools: every request goes to `handler`."""

    def __init__(self, handler: httpx.MockTransport) -> None:
        self.client = httpx.AsyncClient(transport=handler, base_url="http://test")

    def next(self) -> httpx.AsyncClient:
        return self.client


def answering(*responses: httpx.Response | None) -> tuple[Api, list[httpx.Request]]:
    """An Api whose POSTs get `responses` in turn (None: the connection drops, no answer)."""
    sent: list[httpx.Request] = []
    queue = list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        response = queue.pop(0)
        if response is None:
            raise httpx.ReadError("connection dropped", request=request)
        return response

    return Api(OneClient(httpx.MockTransport(handle)), Counter()), sent  # type: ignore[arg-type]


async def test_a_load_shed_is_final_not_an_error_and_not_repeated() -> None:
    api, sent = answering(httpx.Response(503, json=OVERLOADED, headers={"Retry-After": "1"}))
    errors: Counter[str] = api._errors
    placed, retries = await api.place(OrderContents(BODY, "key-1"))
    assert placed.placement is Placement.SHED and placed.order_id is None
    assert retries == 0 and len(sent) == 1
    assert not errors


async def test_any_other_503_is_unknown_and_asked_again_with_the_same_key() -> None:
    created = {"id": "a" * 32, "tracking_token": "t"}
    api, sent = answering(
        httpx.Response(503, json={"detail": "temporarily unavailable, retry shortly"}),
        httpx.Response(201, json=created),
    )
    placed, retries = await api.place(OrderContents(BODY, "key-2"))
    assert placed.placement is Placement.ACCEPTED and retries == 1
    assert {r.headers["Idempotency-Key"] for r in sent} == {"key-2"}
    assert api._errors == {"POST 503": 1}


async def test_a_shed_after_an_unanswered_try_is_not_final(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The unanswered try may have placed the order: ask again (same key) until it is known."""
    monkeypatch.setattr("simulator.load.client.RETRY_DELAYS_S", (0.0, 0.0, 0.0))
    created = {"id": "b" * 32, "tracking_token": "t"}
    shed = httpx.Response(503, json=OVERLOADED, headers={"Retry-After": "1"})
    api, sent = answering(None, shed, httpx.Response(201, json=created))
    placed, retries = await api.place(OrderContents(BODY, "key-3"))
    assert placed.placement is Placement.ACCEPTED and placed.order_id == "b" * 32
    assert retries == 2 and {r.headers["Idempotency-Key"] for r in sent} == {"key-3"}

    api, _ = answering(shed, shed, shed, shed)  # asked again while draining, still shed
    placed, _ = await api.place(OrderContents(BODY, "key-3"), unanswered_before=True)
    assert placed.placement is Placement.UNKNOWN
