"""A delivery's life, driven through the streams: request, assignment, courier reports,
deadline, cancel, and duplicates of all of them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sagakit.testing.waiting import eventually

if TYPE_CHECKING:  # fixtures come from conftest.py; test modules cannot import it
    from conftest import Start


async def test_happy_path_assigns_dispatches_and_delivers(start_delivery: Start) -> None:
    async with start_delivery(fleet=2) as h:
        request = await h.request("o1", address="12 Harbour Rd")

        assigned = await h.wait_event("delivery.courier_assigned", "o1")
        courier_id = assigned.payload["courier_id"]
        assert courier_id in {"courier-01", "courier-02"}
        assert assigned.causation_id == request.id
        (dispatch,) = await h.dispatches("o1")
        assert dispatch.payload == {
            "order_id": "o1",
            "courier_id": courier_id,
            "address": "12 Harbour Rd",
        }
        courier = await h.courier(courier_id)
        assert (courier["status"], courier["order_id"]) == ("busy", "o1")

        await h.report("picked_up", "o1", courier_id)
        picked = await h.wait_event("delivery.picked_up", "o1")
        await h.report("delivered", "o1", courier_id)
        delivered = await h.wait_event("delivery.delivered", "o1")

        assert (assigned.version, picked.version, delivered.version) == (2, 3, 4)
        assert delivered.payload == {"order_id": "o1", "courier_id": courier_id}
        await h.wait_idle(courier_id)
        assert "order_id" not in await h.courier(courier_id)
        doc = await h.delivery("o1")
        assert doc is not None
        assert (doc["status"], doc["courier_id"]) == ("delivered", courier_id)
        assert "deadline_at" not in doc


async def test_no_free_courier_until_the_deadline_ends_in_no_courier(
    start_delivery: Start,
) -> None:
    async with start_delivery(fleet=1, no_courier_timeout_s=1.0) as h:
        await h.request("busy")
        await h.wait_event("delivery.courier_assigned", "busy")
        late = await h.request("late")

        no_courier = await h.wait_event("delivery.no_courier", "late")
        assert no_courier.payload == {"order_id": "late"}
        assert no_courier.causation_id == late.id  # fired by the deadline, caused by the request
        assert (await h.delivery("late") or {})["status"] == "no_courier"

        # The courier frees up afterwards: too late, the ended delivery does not get it.
        await h.report("delivered", "busy", "courier-01")
        await h.wait_event("delivery.delivered", "busy")
        await h.wait_idle("courier-01")
        await h.drained()
        assert await h.events("delivery.courier_assigned", "late") == []
        assert (await h.courier("courier-01"))["status"] == "idle"


async def test_a_freed_courier_goes_to_the_oldest_waiting_delivery(start_delivery: Start) -> None:
    async with start_delivery(fleet=1) as h:
        await h.request("first")
        await h.wait_event("delivery.courier_assigned", "first")
        second_request = await h.request("second")
        await h.wait_status("second", "waiting")
        await h.request("third")
        await h.wait_status("third", "waiting")

        await h.report("failed", "first", "courier-01")
        failed = await h.wait_event("delivery.failed", "first")
        assert failed.payload["order_id"] == "first"
        assigned = await h.wait_event("delivery.courier_assigned", "second")
        assert assigned.payload["courier_id"] == "courier-01"
        assert assigned.causation_id == second_request.id
        assert (await h.delivery("third") or {})["status"] == "waiting"

        # Delivered without a pick-up report: both facts, in order, and the next one is served.
        await h.report("delivered", "second", "courier-01")
        await h.wait_event("delivery.delivered", "second")
        second = [e.type for e in await h.events(order_id="second")]
        assert second == ["delivery.courier_assigned", "delivery.picked_up", "delivery.delivered"]
        await h.wait_event("delivery.courier_assigned", "third")
        assert len(await h.dispatches()) == 3


async def test_cancel_frees_the_courier_and_late_reports_are_ignored(
    start_delivery: Start,
) -> None:
    async with start_delivery(fleet=1) as h:
        await h.request("a")
        await h.wait_event("delivery.courier_assigned", "a")
        await h.request("b")
        await h.wait_status("b", "waiting")

        await h.cancel("a")
        await h.wait_status("a", "cancelled")
        await h.wait_event("delivery.courier_assigned", "b")  # the freed courier moved on

        # The courier actor had not heard of the cancel yet: its reports for "a" change
        # nothing, and above all do not free it from "b".
        await h.report("picked_up", "a", "courier-01")
        await h.report("delivered", "a", "courier-01")
        await h.drained()
        assert [e.type for e in await h.events(order_id="a")] == ["delivery.courier_assigned"]
        assert (await h.delivery("a") or {})["status"] == "cancelled"
        courier = await h.courier("courier-01")
        assert (courier["status"], courier["order_id"]) == ("busy", "b")


async def test_cancelling_waiting_and_unknown_deliveries(start_delivery: Start) -> None:
    async with start_delivery(fleet=1) as h:
        await h.request("holder")
        await h.wait_event("delivery.courier_assigned", "holder")
        await h.request("waiting")
        await h.wait_status("waiting", "waiting")
        await h.cancel("waiting")
        doc = await h.wait_status("waiting", "cancelled")
        assert "deadline_at" not in doc  # no no-courier deadline left to fire

        # A cancel that overtook its request: the request that follows finds it cancelled.
        await h.cancel("early")
        await h.wait_status("early", "cancelled")
        await h.request("early")

        await h.report("delivered", "holder", "courier-01")
        await h.wait_idle("courier-01")
        await h.drained()
        for order_id in ("waiting", "early"):
            assert await h.events(order_id=order_id) == []
            assert (await h.delivery(order_id) or {})["status"] == "cancelled"
        assert (await h.courier("courier-01"))["status"] == "idle"


async def test_duplicate_requests_and_reports_change_nothing(start_delivery: Start) -> None:
    async with start_delivery(fleet=3) as h:
        request = await h.request("o1")
        await h.replay(h.streams.delivery_commands, request)  # the same message redelivered
        await h.request("o1")  # the saga asking again
        assigned = await h.wait_event("delivery.courier_assigned", "o1")
        courier_id = assigned.payload["courier_id"]

        picked = await h.report("picked_up", "o1", courier_id)
        await h.replay(h.streams.couriers_events, picked)
        await h.report("picked_up", "o1", courier_id)
        delivered = await h.report("delivered", "o1", courier_id)
        await h.replay(h.streams.couriers_events, delivered)
        await h.report("delivered", "o1", courier_id)
        await h.report("failed", "o1", courier_id)
        await h.request("o1")
        await h.drained()

        types = [e.type for e in await h.events(order_id="o1")]
        assert types == ["delivery.courier_assigned", "delivery.picked_up", "delivery.delivered"]
        assert len(await h.dispatches("o1")) == 1
        couriers = [await h.courier(f"courier-0{n}") for n in (1, 2, 3)]
        assert [c["status"] for c in couriers] == ["idle"] * 3
        doc = await h.delivery("o1")
        assert doc is not None
        assert (doc["status"], doc["version"]) == ("delivered", 4)

        async def outbox_empty() -> bool:
            return "outbox_since" not in (await h.delivery("o1") or {})

        await eventually(outbox_empty, what="the outbox relayed and cleaned")
