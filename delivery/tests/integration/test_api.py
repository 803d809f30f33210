"""Operator routes and the common ones: key required, malformed ids are 404, never a 5xx."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sagakit.testing.waiting import eventually

if TYPE_CHECKING:  # fixtures come from conftest.py; test modules cannot import it
    from conftest import Start

KEY = {"X-API-Key": "o" * 20}
OPERATOR_ROUTES = ["/api/couriers", "/api/deliveries/o1"]


async def test_operator_routes_need_the_key(start_delivery: Start) -> None:
    async with start_delivery(fleet=1) as h:
        await h.request("o1")
        await h.wait_event("delivery.courier_assigned", "o1")
        for headers in ({}, {"X-API-Key": "wrong-key-wrong-key"}, {"X-API-Key": ""}):
            for route in OPERATOR_ROUTES:
                response = await h.http.get(route, headers=headers)
                assert response.status_code == 401, (route, headers)
                assert "courier" not in response.text
        assert (await h.http.get("/api/deliveries/o1", headers=KEY)).status_code == 200


async def test_operator_sees_the_fleet_and_a_delivery(start_delivery: Start) -> None:
    async with start_delivery(fleet=3) as h:
        response = await h.http.get("/api/couriers", headers=KEY)
        assert response.status_code == 200
        assert response.json() == [
            {"id": "courier-01", "name": "Ada", "status": "idle", "order_id": None},
            {"id": "courier-02", "name": "Bruno", "status": "idle", "order_id": None},
            {"id": "courier-03", "name": "Chiara", "status": "idle", "order_id": None},
        ]

        await h.request("o1", address="3 Elm St")
        assigned = await h.wait_event("delivery.courier_assigned", "o1")
        courier_id = assigned.payload["courier_id"]

        response = await h.http.get("/api/deliveries/o1", headers=KEY)
        assert response.status_code == 200
        body = response.json()
        assert {k: body[k] for k in ("order_id", "status", "courier_id", "address", "version")} == {
            "order_id": "o1",
            "status": "assigned",
            "courier_id": courier_id,
            "address": "3 Elm St",
            "version": 2,
        }
        assert body["updated_at"] >= body["created_at"]
        couriers = (await h.http.get("/api/couriers", headers=KEY)).json()
        assert {"id": courier_id, "status": "busy", "order_id": "o1"}.items() <= next(
            c for c in couriers if c["id"] == courier_id
        ).items()


MALFORMED = ["a" * 129, "x%20y", "%24where", "o1%00", "%E2%98%83", "a.b", "%7B%7D", "o1%27--"]


async def test_unknown_and_malformed_ids_are_404(start_delivery: Start) -> None:
    async with start_delivery(fleet=1) as h:
        for order_id in ["unknown", *MALFORMED]:
            response = await h.http.get(f"/api/deliveries/{order_id}", headers=KEY)
            assert response.status_code == 404, order_id
            assert response.json() == {"detail": "no delivery for this order"}, order_id
        # a path that does not even reach the route is a 404 too, not a 5xx
        response = await h.http.get("/api/deliveries/..%2F..%2Fetc", headers=KEY)
        assert response.status_code == 404


async def test_health_readiness_and_metrics(start_delivery: Start) -> None:
    async with start_delivery(fleet=1) as h:
        assert (await h.http.get("/healthz")).status_code == 200

        async def ready() -> bool:
            return (await h.http.get("/readyz")).status_code == 200

        await eventually(ready, what="the service ready")
        await h.http.get("/api/deliveries/some-order", headers=KEY)
        metrics = await h.http.get("/metrics")
        assert metrics.status_code == 200
        assert 'route="/api/deliveries/{order_id}"' in metrics.text
        assert "some-order" not in metrics.text
