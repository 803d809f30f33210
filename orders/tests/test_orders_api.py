"""The orders HTTP contract: validation, prices, stock, idempotency, tokens, operator routes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from orders.menu import DEFAULT_MENU, DEFAULT_STOCK

from .conftest import CUSTOMER, OrdersUnderTest, StartOrders


async def stock_of(app: OrdersUnderTest, item_id: str) -> int:
    menu = (await app.client.get("/api/menu")).json()
    return next(item["stock"] for item in menu if item["id"] == item_id)


async def order_count(app: OrdersUnderTest) -> int:
    return await app.service.runtime.db.orders.count_documents({})


async def test_menu_is_seeded_with_prices_in_cents(orders_app: OrdersUnderTest) -> None:
    response = await orders_app.client.get("/api/menu")
    assert response.status_code == 200
    menu = response.json()
    assert {item["id"] for item in menu} == {item["id"] for item in DEFAULT_MENU}
    assert len({item["category"] for item in menu}) >= 4
    for item in menu:
        assert set(item) == {"id", "name", "description", "category", "price_cents", "stock"}
        assert isinstance(item["price_cents"], int) and item["stock"] == DEFAULT_STOCK


async def test_placing_an_order_prices_it_on_the_server_and_reserves_stock(
    orders_app: OrdersUnderTest,
) -> None:
    response = await orders_app.place(
        [
            {"item_id": "margherita", "quantity": 2},
            {"item_id": "espresso", "quantity": 1},
            {"item_id": "margherita", "quantity": 1},
        ]
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "placed" and order["version"] == 1
    lines = {line["item_id"]: line for line in order["items"]}
    assert lines["margherita"]["quantity"] == 3 and lines["margherita"]["unit_price_cents"] == 950
    assert order["total_cents"] == 3 * 950 + 250
    assert set(order) == {
        "id",
        "status",
        "version",
        "items",
        "total_cents",
        "created_at",
        "tracking_token",
    }
    assert await stock_of(orders_app, "margherita") == DEFAULT_STOCK - 3
    assert await stock_of(orders_app, "espresso") == DEFAULT_STOCK - 1


BAD_BODIES: list[tuple[str, Any]] = [
    ("no body", None),
    ("not an object", [1, 2]),
    (
        "unknown top-level field",
        {"customer": CUSTOMER, "items": [{"item_id": "espresso", "quantity": 1}], "discount": 100},
    ),
    (
        "unknown customer field",
        {"customer": {**CUSTOMER, "vip": True}, "items": [{"item_id": "espresso", "quantity": 1}]},
    ),
    ("no lines", {"customer": CUSTOMER, "items": []}),
    ("21 lines", {"customer": CUSTOMER, "items": [{"item_id": "espresso", "quantity": 1}] * 21}),
    ("zero quantity", {"customer": CUSTOMER, "items": [{"item_id": "espresso", "quantity": 0}]}),
    (
        "negative quantity",
        {"customer": CUSTOMER, "items": [{"item_id": "espresso", "quantity": -3}]},
    ),
    ("51 of one", {"customer": CUSTOMER, "items": [{"item_id": "espresso", "quantity": 51}]}),
    (
        "quantity as text",
        {"customer": CUSTOMER, "items": [{"item_id": "espresso", "quantity": "2"}]},
    ),
    (
        "quantity as bool",
        {"customer": CUSTOMER, "items": [{"item_id": "espresso", "quantity": True}]},
    ),
    (
        "fractional quantity",
        {"customer": CUSTOMER, "items": [{"item_id": "espresso", "quantity": 1.5}]},
    ),
    (
        "empty name",
        {"customer": {**CUSTOMER, "name": "  "}, "items": [{"item_id": "espresso", "quantity": 1}]},
    ),
    (
        "long address",
        {
            "customer": {**CUSTOMER, "address": "x" * 301},
            "items": [{"item_id": "espresso", "quantity": 1}],
        },
    ),
    (
        "bad phone",
        {
            "customer": {**CUSTOMER, "phone": "call me"},
            "items": [{"item_id": "espresso", "quantity": 1}],
        },
    ),
    (
        "price from the client",
        {
            "customer": CUSTOMER,
            "items": [{"item_id": "espresso", "quantity": 1, "unit_price_cents": 1}],
        },
    ),
    ("bad item id", {"customer": CUSTOMER, "items": [{"item_id": "../$where", "quantity": 1}]}),
]


@pytest.mark.parametrize(("case", "body"), BAD_BODIES, ids=[case for case, _ in BAD_BODIES])
async def test_invalid_orders_get_422_and_change_nothing(
    orders_app: OrdersUnderTest, case: str, body: Any
) -> None:
    response = await orders_app.client.post("/api/orders", json=body)
    assert response.status_code == 422, (case, response.text)
    assert "detail" in response.json()
    assert await order_count(orders_app) == 0
    assert await stock_of(orders_app, "espresso") == DEFAULT_STOCK


async def test_malformed_json_gets_422(orders_app: OrdersUnderTest) -> None:
    response = await orders_app.client.post(
        "/api/orders", content=b'{"customer": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422


async def test_an_oversized_body_gets_413(orders_app: OrdersUnderTest) -> None:
    body = {"customer": {**CUSTOMER, "name": "x" * 40_000}, "items": []}
    response = await orders_app.client.post("/api/orders", json=body)
    assert response.status_code == 413
    assert await order_count(orders_app) == 0


async def test_an_unknown_item_gets_422_and_reserves_nothing(orders_app: OrdersUnderTest) -> None:
    response = await orders_app.place(
        [{"item_id": "espresso", "quantity": 1}, {"item_id": "caviar", "quantity": 1}]
    )
    assert response.status_code == 422
    assert response.json()["detail"] == {"code": "unknown_item", "item_id": "caviar"}
    assert await stock_of(orders_app, "espresso") == DEFAULT_STOCK
    assert await order_count(orders_app) == 0


async def test_out_of_stock_gets_409_and_releases_what_it_had_reserved(
    orders_app: OrdersUnderTest,
) -> None:
    patched = await orders_app.client.patch(
        "/api/menu/items/tiramisu", json={"stock": 1}, headers=orders_app.operator
    )
    assert patched.status_code == 200
    response = await orders_app.place(
        [{"item_id": "espresso", "quantity": 2}, {"item_id": "tiramisu", "quantity": 2}]
    )
    assert response.status_code == 409
    assert response.json()["detail"] == {"code": "out_of_stock", "item_id": "tiramisu"}
    assert await stock_of(orders_app, "espresso") == DEFAULT_STOCK
    assert await stock_of(orders_app, "tiramisu") == 1
    assert await order_count(orders_app) == 0


async def test_concurrent_orders_never_oversell(orders_app: OrdersUnderTest) -> None:
    await orders_app.client.patch(
        "/api/menu/items/lasagna", json={"stock": 7}, headers=orders_app.operator
    )
    responses = await asyncio.gather(
        *(orders_app.place([{"item_id": "lasagna", "quantity": 2}]) for _ in range(10))
    )
    created = [r for r in responses if r.status_code == 201]
    assert len(created) == 3
    assert all(r.status_code == 409 for r in responses if r.status_code != 201)
    assert await stock_of(orders_app, "lasagna") == 1


async def test_idempotency_key_replays_the_original_answer(orders_app: OrdersUnderTest) -> None:
    first = await orders_app.place(**{"Idempotency-Key": "key-1"})
    again = await orders_app.place(**{"Idempotency-Key": "key-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert await order_count(orders_app) == 1
    assert await stock_of(orders_app, "margherita") == DEFAULT_STOCK - 2


async def test_idempotency_key_with_another_body_gets_422(orders_app: OrdersUnderTest) -> None:
    assert (await orders_app.place(**{"Idempotency-Key": "key-2"})).status_code == 201
    other = await orders_app.place(
        [{"item_id": "espresso", "quantity": 1}], **{"Idempotency-Key": "key-2"}
    )
    assert other.status_code == 422
    assert other.json()["detail"]["code"] == "idempotency_key_reused"
    assert await order_count(orders_app) == 1


async def test_idempotency_key_still_in_flight_gets_409(orders_app: OrdersUnderTest) -> None:
    responses = await asyncio.gather(
        *(orders_app.place(**{"Idempotency-Key": "key-3"}) for _ in range(5))
    )
    codes = sorted(r.status_code for r in responses)
    assert 201 in codes and set(codes) <= {201, 409}
    for response in responses:
        if response.status_code == 409:
            assert response.json()["detail"]["code"] == "idempotency_key_in_flight"
    assert await order_count(orders_app) == 1
    ids = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(ids) == 1


async def test_an_invalid_idempotency_key_gets_422(orders_app: OrdersUnderTest) -> None:
    response = await orders_app.place(**{"Idempotency-Key": "x" * 201})
    assert response.status_code == 422
    assert await order_count(orders_app) == 0


async def test_reading_an_order_needs_its_tracking_token(orders_app: OrdersUnderTest) -> None:
    created = (await orders_app.place()).json()
    order_id, token = created["id"], created["tracking_token"]
    other = (await orders_app.place()).json()

    ok = await orders_app.client.get(
        f"/api/orders/{order_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert ok.status_code == 200
    body = ok.json()
    assert body["customer"] == CUSTOMER and body["status"] == "placed" and body["reason"] is None
    assert set(body) == {
        "id",
        "status",
        "reason",
        "version",
        "items",
        "total_cents",
        "customer",
        "created_at",
        "updated_at",
    }

    missing = await orders_app.client.get(f"/api/orders/{order_id}")
    assert missing.status_code == 401
    for header in ("Bearer nope", f"Bearer {other['tracking_token']}", f"Basic {token}"):
        response = await orders_app.client.get(
            f"/api/orders/{order_id}", headers={"Authorization": header}
        )
        assert response.status_code in (401, 404), header
        assert "customer" not in response.text


@pytest.mark.parametrize(
    "order_id", ["nope", "0" * 31, "G" * 32, "%00", "a" * 200, "../../etc", "1 OR 1=1"]
)
async def test_malformed_order_ids_get_404(orders_app: OrdersUnderTest, order_id: str) -> None:
    headers = {"Authorization": "Bearer x"}
    assert (
        await orders_app.client.get(f"/api/orders/{order_id}", headers=headers)
    ).status_code == 404
    assert (
        await orders_app.client.post(f"/api/orders/{order_id}/cancel", headers=headers)
    ).status_code == 404


async def test_cancel_while_placed_then_409(orders_app: OrdersUnderTest) -> None:
    created = (await orders_app.place()).json()
    auth = {"Authorization": f"Bearer {created['tracking_token']}"}
    cancelled = await orders_app.client.post(f"/api/orders/{created['id']}/cancel", headers=auth)
    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["reason"] == "customer_cancelled"
    assert cancelled.json()["version"] == 2
    again = await orders_app.client.post(f"/api/orders/{created['id']}/cancel", headers=auth)
    assert again.status_code == 409
    assert again.json()["detail"] == {"code": "not_cancellable", "status": "cancelled"}


async def test_operator_routes_need_the_key(orders_app: OrdersUnderTest) -> None:
    calls = [
        (
            "POST",
            "/api/menu/items",
            {"name": "Soup", "category": "starters", "price_cents": 500, "stock": 5},
        ),
        ("PATCH", "/api/menu/items/espresso", {"price_cents": 1}),
        ("POST", "/api/stock/refill", {"add": 1}),
    ]
    for method, path, body in calls:
        for headers in ({}, {"X-API-Key": "wrong"}):
            response = await orders_app.client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (method, path, headers)
    assert await stock_of(orders_app, "espresso") == DEFAULT_STOCK
    menu = (await orders_app.client.get("/api/menu")).json()
    assert all(item["name"] != "Soup" for item in menu)


async def test_operator_manages_menu_items(orders_app: OrdersUnderTest) -> None:
    key = orders_app.operator
    created = await orders_app.client.post(
        "/api/menu/items",
        json={"name": "Minestrone Soup", "category": "starters", "price_cents": 700, "stock": 3},
        headers=key,
    )
    assert created.status_code == 201
    assert created.json()["id"] == "minestrone-soup"
    duplicate = await orders_app.client.post(
        "/api/menu/items",
        json={"id": "minestrone-soup", "name": "X", "category": "s", "price_cents": 1, "stock": 1},
        headers=key,
    )
    assert duplicate.status_code == 409
    patched = await orders_app.client.patch(
        "/api/menu/items/minestrone-soup", json={"price_cents": 750}, headers=key
    )
    assert patched.status_code == 200 and patched.json()["price_cents"] == 750
    assert (
        await orders_app.client.patch("/api/menu/items/none", json={"stock": 1}, headers=key)
    ).status_code == 404
    assert (
        await orders_app.client.patch("/api/menu/items/minestrone-soup", json={}, headers=key)
    ).status_code == 422
    assert (
        await orders_app.client.post(
            "/api/menu/items",
            json={"name": "Y", "category": "s", "price_cents": -1, "stock": 1},
            headers=key,
        )
    ).status_code == 422


async def test_refill_is_idempotent_per_run(orders_app: OrdersUnderTest) -> None:
    key = orders_app.operator
    await orders_app.place([{"item_id": "caesar", "quantity": 5}])
    body = {"to": 100, "item_ids": ["caesar", "espresso"], "run_id": "cron-1"}
    first = await orders_app.client.post("/api/stock/refill", json=body, headers=key)
    assert first.status_code == 200
    assert first.json()["changed"] == {"caesar": 5}
    assert first.json()["levels"] == {"caesar": 100, "espresso": 100}
    await orders_app.place([{"item_id": "caesar", "quantity": 1}])
    again = await orders_app.client.post("/api/stock/refill", json=body, headers=key)
    assert again.json()["changed"] == {}
    assert await stock_of(orders_app, "caesar") == 99
    added = await orders_app.client.post(
        "/api/stock/refill", json={"add": 10, "item_ids": ["caesar"]}, headers=key
    )
    assert added.json()["changed"] == {"caesar": 10}
    both = await orders_app.client.post("/api/stock/refill", json={"to": 1, "add": 1}, headers=key)
    assert both.status_code == 422
    runs = await orders_app.client.get("/api/stock/refills", headers=key)
    assert [(r["run_id"], r["changed"]) for r in runs.json()][:1] == [("cron-1", {"caesar": 5})]
    assert len(runs.json()) == 2
    assert (await orders_app.client.get("/api/stock/refills")).status_code == 401
    events = await orders_app.redis.xrange(orders_app.streams.orders_events)
    refills = [f for _, f in events if f["type"] == "stock.refilled"]
    assert len(refills) == 2  # one per run, the repeated run announced nothing new


async def test_health_readiness_and_metrics(orders_app: OrdersUnderTest) -> None:
    assert (await orders_app.client.get("/healthz")).status_code == 200
    for _ in range(50):
        ready = await orders_app.client.get("/readyz")
        if ready.status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert ready.status_code == 200, ready.text
    await orders_app.client.get("/api/orders/" + "a" * 32, headers={"Authorization": "Bearer x"})
    metrics = (await orders_app.client.get("/metrics")).text
    assert 'route="/api/orders/{order_id}"' in metrics
    assert "a" * 32 not in metrics


async def test_a_retry_after_a_crash_between_reserving_and_creating_reuses_the_stock(
    start_orders: StartOrders,
) -> None:
    """The first attempt died after its reservations: the retry must not double or lose them."""
    orders_app = await start_orders(idempotency_in_flight_s=0.2)
    context = orders_app.service.app.state.orders
    keys, menu = context.placement._keys, context.menu
    body = {"customer": CUSTOMER, "items": [{"item_id": "funghi", "quantity": 3}]}
    from orders.placement import body_hash
    from orders.schemas import PlaceOrderRequest

    claim = await keys.claim(
        "crashed", body_hash(PlaceOrderRequest.model_validate(body)), "f" * 32, stale_after_ms=0
    )
    assert await menu.reserve("funghi", claim.order_id, 3)  # ... and then the process died
    await asyncio.sleep(0.3)  # the retry comes after the first attempt counts as dead
    retry = await orders_app.client.post(
        "/api/orders", json=body, headers={"Idempotency-Key": "crashed"}
    )
    assert retry.status_code == 201, retry.text
    assert retry.json()["id"] == "f" * 32
    assert await stock_of(orders_app, "funghi") == DEFAULT_STOCK - 3


async def test_refill_runs_reject_a_time_beyond_any_date(orders_app: OrdersUnderTest) -> None:
    """Found by fuzzing: an integer past MongoDB's 64-bit range reached the query (500)."""
    response = await orders_app.client.get(
        "/api/stock/refills", params={"since_ms": 10**20}, headers=orders_app.operator
    )
    assert response.status_code == 422
