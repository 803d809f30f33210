"""Failures: poison entries, handlers that fail or time out, and the dead-letter tooling."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
import structlog.testing
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from sagakit.dead_letters import DeadLetters, dlq_stream
from sagakit.envelope import Envelope, Message
from sagakit.publisher import Publisher
from sagakit.routing import Delivery, Router
from sagakit.testing.waiting import eventually
from sagakit.testing.workers import FAST, MakeWorker

pytestmark = pytest.mark.every_redis_version


class Charge(Message):
    message_type = "test.charge"
    amount_cents: int


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def pending_count(redis: Redis, stream: str, group: str) -> int:
    return int((await redis.xpending(stream, group))["pending"])


async def wait_acked(redis: Redis, stream: str, group: str) -> None:
    async def none_pending() -> bool:
        return await pending_count(redis, stream, group) == 0

    await eventually(none_pending, what="nothing pending")


def charge(amount: int, key: str, version: int = 1) -> Envelope:
    return Charge(amount_cents=amount).envelope(key=key, version=version)


async def test_poison_entries_go_to_the_dead_letter_stream_at_once_and_work_goes_on(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.payments"
    handled: list[tuple[str, int]] = []
    router = Router()

    @router.subscriber(stream, Charge)
    async def on_charge(event: Charge, delivery: Delivery) -> None:
        handled.append((delivery.envelope.key, event.amount_cents))

    await make_worker(router, group="g")
    await publisher.publish(stream, charge(1, "o1"))
    garbage_id = str(await redis.xadd(stream, {"hello": "world", "payload": "{not json"}))
    misfit = charge(0, "o2").model_copy(update={"payload": {"amount_cents": "a lot"}})
    misfit_id = await publisher.publish(stream, misfit)
    await publisher.publish_many([(stream, charge(2, "o2", 2)), (stream, charge(3, "o1", 2))])

    await eventually(lambda: len(handled) == 3, what="the good entries handled")
    assert sorted(handled) == [("o1", 1), ("o1", 3), ("o2", 2)]
    await wait_acked(redis, stream, "g")
    letters = {letter.original_id: letter for letter in await DeadLetters(redis).list(stream)}
    assert set(letters) == {garbage_id, misfit_id}
    assert letters[garbage_id].reason == "unparseable"
    assert letters[garbage_id].fields == {"hello": "world", "payload": "{not json"}
    assert letters[misfit_id].reason == "invalid_payload"
    assert "amount_cents" in letters[misfit_id].error
    assert letters[misfit_id].fields == misfit.to_fields()
    # at once: on the first delivery, with no retry
    assert {letter.deliveries for letter in letters.values()} == {1}
    assert all(letter.group == "g" for letter in letters.values())
    assert metric("sagakit_messages_retried_total", stream=stream, group="g") == 0


async def test_a_handler_that_always_fails_is_retried_with_growing_delays_then_dead_lettered(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.payments"
    attempts: list[tuple[float, int]] = []
    others: list[float] = []
    router = Router()

    @router.subscriber(stream, Charge)
    async def on_charge(event: Charge, delivery: Delivery) -> None:
        if delivery.envelope.key == "bad":
            attempts.append((time.monotonic(), delivery.attempt))
            raise RuntimeError("card declined by a broken gateway")
        others.append(time.monotonic())

    await make_worker(router, group="g", retry_base_s=0.1, retry_cap_s=0.8)
    bad_id = await publisher.publish(stream, charge(1, "bad"))
    await publisher.publish_many([(stream, charge(n, f"good-{n}")) for n in range(5)])

    dead = DeadLetters(redis)

    async def dead_lettered() -> bool:
        return await dead.count(stream) == 1

    await eventually(dead_lettered, what="the failing entry dead-lettered")
    limit = FAST["max_deliveries"]
    assert [attempt for _, attempt in attempts] == list(range(1, limit + 1))
    times = [t for t, _ in attempts]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps[-1] > 1.5 * gaps[0], gaps  # exponential: the ceilings grow 4x here
    [letter] = await dead.list(stream)
    assert letter.original_id == bad_id
    assert letter.reason == "max_deliveries"
    assert letter.deliveries == limit
    assert "card declined" in letter.error
    # the other orders were not held up behind the failing one
    assert len(others) == 5
    assert max(others) < times[-1]
    await wait_acked(redis, stream, "g")
    labels = {"stream": stream, "group": "g"}
    assert metric("sagakit_messages_retried_total", **labels) == limit - 1
    assert metric("sagakit_messages_failed_total", type="test.charge", **labels) == limit
    assert metric("sagakit_messages_processed_total", type="test.charge", **labels) == 5
    assert metric("sagakit_messages_dead_lettered_total", reason="max_deliveries", **labels) == 1


async def test_a_handler_that_fails_twice_then_succeeds_is_acknowledged(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.payments"
    attempts: list[int] = []
    router = Router()

    @router.subscriber(stream, Charge)
    async def on_charge(event: Charge, delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        if len(attempts) <= 2:
            raise RuntimeError("a bug that a later attempt gets past")

    await make_worker(router, group="g")
    await publisher.publish(stream, charge(5, "o1"))
    await eventually(lambda: len(attempts) == 3, what="third attempt")
    await wait_acked(redis, stream, "g")
    await asyncio.sleep(0.3)  # no further attempt may follow a success
    assert attempts == [1, 2, 3]
    assert await DeadLetters(redis).count(stream) == 0
    labels = {"stream": stream, "group": "g"}
    assert metric("sagakit_messages_retried_total", **labels) == 2
    assert metric("sagakit_messages_failed_total", type="test.charge", **labels) == 2
    assert metric("sagakit_messages_processed_total", type="test.charge", **labels) == 1


async def test_a_handler_that_times_out_while_redis_answers_is_retried_as_a_counted_delivery(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    """Its dependency answers, so the timeout is the handler's own: it counts a delivery
    (test_worker_give_up_ceiling.py has what is waited out instead)."""
    stream = f"{namespace}.payments"
    attempts: list[int] = []
    cancelled: list[int] = []
    router = Router()

    @router.subscriber(stream, Charge)
    async def on_charge(event: Charge, delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        if len(attempts) == 1:
            try:
                await asyncio.sleep(30)  # far beyond handler_timeout_s
            except asyncio.CancelledError:
                cancelled.append(len(attempts))
                raise

    await make_worker(router, group="g")
    await publisher.publish(stream, charge(5, "o1"))
    await eventually(lambda: len(attempts) == 2, what="a second attempt after the timeout")
    await wait_acked(redis, stream, "g")
    assert attempts == [1, 2]  # Redis' delivery count grew
    assert cancelled == [1]  # the timed-out attempt was cancelled, not left running
    labels = {"stream": stream, "group": "g"}
    assert metric("sagakit_messages_failed_total", type="test.charge", **labels) == 1
    assert metric("sagakit_messages_processed_total", type="test.charge", **labels) == 1
    assert await DeadLetters(redis).count(stream) == 0


async def test_dead_letters_can_be_listed_replayed_and_purged(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.payments"
    fixed = False
    done: list[tuple[str, str]] = []
    router = Router()

    @router.subscriber(stream, Charge)
    async def on_charge(event: Charge, delivery: Delivery) -> None:
        if not fixed:
            raise RuntimeError("bug in the handler")
        done.append((delivery.envelope.id, delivery.entry_id))

    await make_worker(router, group="g", max_deliveries=2)
    envelopes = [charge(n, f"o{n}") for n in range(3)]
    ids = await publisher.publish_many([(stream, e) for e in envelopes])
    garbage_id = str(await redis.xadd(stream, {"junk": "1"}))
    dead = DeadLetters(redis)

    async def all_dead() -> bool:
        return await dead.count(stream) == 4

    await eventually(all_dead, what="everything dead-lettered")
    await wait_acked(redis, stream, "g")
    assert stream in await dead.streams()
    letters = await dead.list(stream)
    by_original = {letter.original_id: letter for letter in letters}
    assert set(by_original) == {*ids, garbage_id}
    for entry_id, envelope in zip(ids, envelopes, strict=True):
        letter = by_original[entry_id]
        assert letter.reason == "max_deliveries"
        assert letter.fields == envelope.to_fields()
        assert letter.stream == stream
    assert by_original[garbage_id].fields == {"junk": "1"}
    # paging
    first_page = await dead.list(stream, count=2)
    rest = await dead.list(stream, after="(" + first_page[-1].dlq_id)
    assert [x.dlq_id for x in first_page + rest] == [x.dlq_id for x in letters]

    fixed = True
    one = by_original[ids[0]].dlq_id
    assert await dead.replay(stream, [one]) == 1
    await eventually(lambda: len(done) == 1, what="the replayed entry handled")
    assert done[0][0] == envelopes[0].id
    assert done[0][1] not in ids  # appended anew to the original stream
    assert await dead.count(stream) == 3

    garbage_dlq = by_original[garbage_id].dlq_id
    assert await dead.purge(stream, [garbage_dlq]) == 1
    assert await dead.replay(stream) == 2
    await eventually(lambda: len(done) == 3, what="the rest replayed and handled")
    assert sorted(message_id for message_id, _ in done) == sorted(e.id for e in envelopes)
    assert await dead.count(stream) == 0
    await wait_acked(redis, stream, "g")

    await redis.xadd(dlq_stream(stream), {"original_id": "1-1", "fields": "{}"})
    assert await dead.purge(stream) == 1
    assert await dead.count(stream) == 0
    assert stream not in await dead.streams()


async def test_a_storm_of_one_error_logs_its_traceback_once_and_each_failure_on_one_line(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.payments"
    router = Router()

    @router.subscriber(stream, Charge)
    async def on_charge(event: Charge, delivery: Delivery) -> None:
        raise RuntimeError("the same bug for every order")

    with structlog.testing.capture_logs() as logs:
        await make_worker(router, group="g", max_deliveries=2)
        await publisher.publish_many([(stream, charge(n, f"o{n}")) for n in range(3)])
        dead = DeadLetters(redis)

        async def all_dead() -> bool:
            return await dead.count(stream) == 3

        await eventually(all_dead, what="all three dead-lettered")
    failed = [e for e in logs if e["event"] == "handler failed"]
    given_up = [e for e in logs if e["event"] == "dead-lettering"]
    assert len(failed) == 6 and len(given_up) == 3  # one line per failure and per give-up
    assert {e["entry_id"] for e in failed} == {e["entry_id"] for e in given_up}
    # one traceback for the storm when the entries first failed, one when they were given up
    with_traceback = [e for e in failed + given_up if "exc_info" in e]
    assert [e["event"] for e in with_traceback] == ["handler failed", "dead-lettering"]
    assert all(isinstance(e["exc_info"], RuntimeError) for e in with_traceback)
    assert all(e["tracebacks_suppressed"] == 0 for e in with_traceback)
    # the dead-letter entries keep the details every one of them
    for letter in await dead.list(stream):
        assert letter.failure.error_type == "RuntimeError"
        assert letter.failure.error_message == "the same bug for every order"
        assert "in on_charge" in letter.failure.traceback
