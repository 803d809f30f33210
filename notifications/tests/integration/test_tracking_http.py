"""GET /api/tracking/{id}: the order's applied timeline, only with its tracking token."""

from __future__ import annotations

from ..conftest import StartNotifications, bearer, new_order_id, status_event, token


async def test_tracking_shows_applied_versions_only(
    start_notifications: StartNotifications,
) -> None:
    app = await start_notifications()
    order_id = new_order_id()
    await app.publish(status_event(order_id, 1), status_event(order_id, 2))
    await app.publish(status_event(order_id, 4))  # stored, not applied until v3 arrives
    await app.wait_head(order_id, 2)

    response = await app.client.get(f"/api/tracking/{order_id}", headers=bearer(order_id))
    assert response.status_code == 200
    body = response.json()
    assert (body["order_id"], body["status"], body["version"]) == (order_id, "paid", 2)
    assert [(e["version"], e["status"], e["reason"]) for e in body["timeline"]] == [
        (1, "placed", None),
        (2, "paid", None),
    ]
    assert all(e["at"] for e in body["timeline"])


async def test_tracking_requires_the_orders_token(
    start_notifications: StartNotifications,
) -> None:
    app = await start_notifications()
    order_id = new_order_id()
    await app.publish(status_event(order_id, 1))
    await app.wait_head(order_id, 1)
    path = f"/api/tracking/{order_id}"

    missing = await app.client.get(path)
    assert missing.status_code == 401
    assert order_id not in missing.text
    assert (await app.client.get(path, headers={"Authorization": "Bearer "})).status_code == 401
    basic = {"Authorization": f"Basic {token(order_id)}"}
    assert (await app.client.get(path, headers=basic)).status_code == 401

    other = new_order_id()
    wrong = await app.client.get(path, headers=bearer(other))
    assert wrong.status_code == 404
    assert "placed" not in wrong.text
    assert (await app.client.get(path, headers=bearer(order_id))).status_code == 200


async def test_malformed_id_is_not_found(start_notifications: StartNotifications) -> None:
    app = await start_notifications()
    for order_id in ("not-an-id", "0123456789ABCDEF0123456789ABCDEF", "0" * 31, "0" * 33):
        response = await app.client.get(f"/api/tracking/{order_id}", headers=bearer(order_id))
        assert response.status_code == 404, order_id


async def test_unknown_order_with_a_valid_token_is_not_found(
    start_notifications: StartNotifications,
) -> None:
    app = await start_notifications()
    order_id = new_order_id()
    response = await app.client.get(f"/api/tracking/{order_id}", headers=bearer(order_id))
    assert response.status_code == 404
