"""The HTTP side of the run: the menu, placing orders, tracking views and refill runs."""

from __future__ import annotations

import asyncio
import itertools
import ssl
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

from simulator.load.contents import OrderContents
from simulator.load.records import Placement

PLACE_ATTEMPTS = 4
RETRY_DELAYS_S = (0.25, 0.5, 1.0)


@dataclass(frozen=True, slots=True)
class Placed:
    placement: Placement
    detail: str = ""
    order_id: str | None = None
    token: str | None = None


class RefillsUnavailable(Exception):
    """The operator route listing refill runs refused or failed."""


CONNECTIONS_PER_POOL = 32


class HttpPools:
    """Keep-alive HTTP/1.1 connection pools used in turn, `max_connections` in all; a request
    that finds its pool's connections busy waits, and the wait counts in its latency.

    Several small pools rather than one large one: httpx's pool does work proportional to its
    connections times its waiting requests on every change, so one pool of 512 connections
    made the generator CPU-bound (measured: 2,000 requests at 200/s against a server
    answering in 2 s took 84 s of CPU and 87 s instead of 12; 16 pools of 32: 5 s of CPU).
    """

    def __init__(self, target: str, *, max_connections: int, timeout_s: float) -> None:
        count = max(1, max_connections // CONNECTIONS_PER_POOL)
        size = max(1, max_connections // count)
        # Idle connections are dropped before uvicorn's 5 s keep-alive ends: reusing one the
        # server is closing fails the request (RemoteProtocolError), and a final tracking
        # read that fails so makes the versions check report a timeline as not readable.
        limits = httpx.Limits(
            max_connections=size, max_keepalive_connections=size, keepalive_expiry=4
        )
        tls = ssl.create_default_context()  # loading the CA bundle once, not once per pool
        self._clients = [
            httpx.AsyncClient(base_url=target, timeout=timeout_s, limits=limits, verify=tls)
            for _ in range(count)
        ]
        self._turn = itertools.cycle(self._clients)

    def next(self) -> httpx.AsyncClient:
        return next(self._turn)

    async def __aenter__(self) -> HttpPools:
        return self

    async def __aexit__(self, *_: object) -> None:
        await asyncio.gather(*(client.aclose() for client in self._clients))


class Api:
    def __init__(
        self, http: HttpPools, errors: Counter[str], operator_key: str | None = None
    ) -> None:
        self._http = http
        self._errors = errors
        self._operator = {"X-API-Key": operator_key} if operator_key else {}

    @property
    def has_operator_key(self) -> bool:
        return bool(self._operator)

    async def stock(self) -> dict[str, int]:
        """Each menu item's stock."""
        response = await self._http.next().get("/api/menu")
        response.raise_for_status()
        return {item["id"]: int(item["stock"]) for item in response.json()}

    async def place(
        self, contents: OrderContents, *, unanswered_before: bool = False
    ) -> tuple[Placed, int]:
        """POST the order, repeating it with its Idempotency-Key while the answer is unknown
        (no answer, 5xx other than a load shed, or the first attempt still in flight).
        Returns the answer and how many times the POST was repeated.

        A load shed is final only if no earlier attempt went unanswered (`unanswered_before`:
        in an earlier call): that attempt may have placed the order, and the shed retry says
        nothing about it, so the order stays unknown and is asked for again later."""
        headers = {"Idempotency-Key": contents.idempotency_key}
        last = Placed(Placement.UNKNOWN, "no attempt")
        for attempt in range(PLACE_ATTEMPTS):
            if attempt:
                await asyncio.sleep(RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S)) - 1])
            try:
                response = await self._http.next().post(
                    "/api/orders", json=contents.body, headers=headers
                )
            except httpx.HTTPError as exc:
                last = Placed(Placement.UNKNOWN, f"POST {type(exc).__name__}")
                self._errors[last.detail] += 1
                continue
            answer = _placed(response)
            if answer.placement is Placement.SHED and (attempt or unanswered_before):
                answer = Placed(Placement.UNKNOWN, "POST 503 overloaded after an unanswered try")
            if answer.placement is not Placement.UNKNOWN:
                return answer, attempt
            last = answer
            self._errors[answer.detail] += 1
        return last, PLACE_ATTEMPTS - 1

    async def tracking(self, order_id: str, token: str) -> dict[str, Any] | None:
        """The order's tracking view; None (and an error counted) when it cannot be read."""
        try:
            response = await self._http.next().get(
                f"/api/tracking/{order_id}", headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            self._errors[f"GET tracking {type(exc).__name__}"] += 1
            return None
        if response.status_code != 200:
            # a 404 just after placing can mean notifications has not seen the order yet
            self._errors[f"GET tracking {response.status_code}"] += 1
            return None
        view: dict[str, Any] = response.json()
        return view

    async def refilled_since(self, since_ms: int, *, excluding: set[str]) -> dict[str, int]:
        """What refill runs recorded at or after `since_ms` added, per item."""
        added: Counter[str] = Counter()
        for run in await self.refill_runs(since_ms):
            if run["run_id"] not in excluding:
                added.update(run.get("changed", {}))
        return dict(added)

    async def refill_runs(self, since_ms: int) -> list[dict[str, Any]]:
        """The refill runs recorded at or after `since_ms` (the servers' clock)."""
        try:
            response = await self._http.next().get(
                "/api/stock/refills", params={"since_ms": since_ms}, headers=self._operator
            )
        except httpx.HTTPError as exc:
            raise RefillsUnavailable(type(exc).__name__) from exc
        if response.status_code != 200:
            raise RefillsUnavailable(f"GET /api/stock/refills answered {response.status_code}")
        runs: list[dict[str, Any]] = response.json()
        return runs

    async def restock(self, to: int) -> str:
        """Raise every item's stock to at least `to`; returns the refill run's id."""
        response = await self._http.next().post(
            "/api/stock/refill", json={"to": to}, headers=self._operator
        )
        response.raise_for_status()
        return str(response.json()["run_id"])


def _placed(response: httpx.Response) -> Placed:
    code = response.status_code
    if code == 201:
        try:
            created = response.json()
            return Placed(Placement.ACCEPTED, "", created["id"], created["tracking_token"])
        except (ValueError, KeyError, TypeError):
            return Placed(Placement.FAILED, "POST 201 without an order")
    detail = _error_code(response)
    if code == 409 and detail == "idempotency_key_in_flight":
        return Placed(Placement.UNKNOWN, f"POST 409 {detail}")
    if code == 409:
        return Placed(Placement.REJECTED, detail or "409")
    if code == 503 and detail == "overloaded":
        # Load shed: nothing was written, so it is final (an open-loop generator does not
        # come back after Retry-After; the next scheduled order is a new customer).
        return Placed(Placement.SHED, detail)
    if code >= 500 or code == 429:
        return Placed(Placement.UNKNOWN, f"POST {code}")
    return Placed(Placement.FAILED, f"POST {code} {detail}".strip())


def _error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    detail = body.get("detail") if isinstance(body, dict) else None
    return str(detail.get("code", "")) if isinstance(detail, dict) else ""
