"""Health, readiness and metrics."""

from __future__ import annotations

from typing import Any

from sagakit.testing.waiting import eventually

from ..conftest import StartNotifications, bearer, new_order_id


async def test_health_readiness_and_metrics(start_notifications: StartNotifications) -> None:
    app = await start_notifications()
    assert (await app.client.get("/healthz")).status_code == 200
    report: dict[str, Any] = {}

    async def ready() -> bool:
        response = await app.client.get("/readyz")
        report.update(response.json())
        return response.status_code == 200

    await eventually(ready, what="ready")
    assert report["components"]["status-feed"] is True
    assert report["components"]["consumer:notifications"] is True

    order_id = new_order_id()
    await app.client.get(f"/api/tracking/{order_id}", headers=bearer(order_id))
    metrics = (await app.client.get("/metrics")).text
    assert 'route="/api/tracking/{order_id}"' in metrics
    assert order_id not in metrics
    assert "notifications_tracking_sockets" in metrics
