from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagakit.keyed import KeyedScheduler

# (key, item) submissions interleaved with "yield to the loop" steps, and per item how many
# event-loop turns its processing takes, so keys overlap in every possible way.
steps = st.lists(
    st.one_of(
        st.tuples(st.sampled_from("abcde"), st.integers(0, 3)),
        st.just(None),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_each_key_is_processed_in_submission_order(plan: list[tuple[str, int] | None]) -> None:
    async def scenario() -> None:
        processed: dict[str, list[int]] = defaultdict(list)
        submitted: dict[str, list[int]] = defaultdict(list)
        running: set[str] = set()

        async def process(key: str, item: tuple[int, int]) -> None:
            assert key not in running, "two items of one key ran at once"
            running.add(key)
            try:
                number, turns = item
                for _ in range(turns):
                    await asyncio.sleep(0)
                processed[key].append(number)
            finally:
                running.discard(key)

        scheduler: KeyedScheduler[tuple[int, int]] = KeyedScheduler(process)
        for n, step in enumerate(plan):
            if step is None:
                await asyncio.sleep(0)
                continue
            key, turns = step
            submitted[key].append(n)
            scheduler.submit(key, (n, turns))
            assert scheduler.size == sum(map(len, submitted.values())) - sum(
                map(len, processed.values())
            )
        async with asyncio.timeout(5):
            await scheduler.wait_idle()
        assert dict(processed) == dict(submitted)
        assert scheduler.size == 0
        assert scheduler.tasks() == []

    asyncio.run(scenario())


async def test_a_failing_item_does_not_block_the_key() -> None:
    done: list[int] = []

    async def process(key: str, item: int) -> None:
        if item == 1:
            raise RuntimeError("boom")
        done.append(item)

    scheduler: KeyedScheduler[int] = KeyedScheduler(process)
    for n in range(4):
        scheduler.submit("k", n)
    async with asyncio.timeout(2):
        await scheduler.wait_idle()
    # what was queued behind the failing item is still processed, in order
    assert done == [0, 2, 3]
    assert scheduler.size == 0
    assert scheduler.tasks() == []


async def test_different_keys_run_concurrently_and_limit_applies() -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    active: set[str] = set()
    peak = 0

    async def process(key: str, item: int) -> None:
        nonlocal peak
        active.add(key)
        peak = max(peak, len(active))
        if len(active) == 3:
            started.set()
        await release.wait()
        active.discard(key)

    scheduler: KeyedScheduler[int] = KeyedScheduler(process)
    scheduler.limit = 3
    for key in "abc":
        scheduler.submit(key, 0)
    room = asyncio.create_task(scheduler.wait_for_room())
    async with asyncio.timeout(2):
        await started.wait()
    assert not room.done()  # full: the reader must wait
    release.set()
    async with asyncio.timeout(2):
        await room
        await scheduler.wait_idle()
    assert peak == 3


@pytest.mark.parametrize("let_start", [False, True])
async def test_abandon_cancels_everything_and_leaves_nothing_counted(let_start: bool) -> None:
    release = asyncio.Event()

    async def process(key: str, item: int) -> None:
        await release.wait()

    scheduler: KeyedScheduler[int] = KeyedScheduler(process)
    for n in range(6):
        scheduler.submit(f"k{n % 3}", n)
    if let_start:
        await asyncio.sleep(0.01)
    assert scheduler.abandon() == 6
    for task in scheduler.tasks():
        with pytest.raises(asyncio.CancelledError):
            await task
    assert scheduler.size == 0
    assert scheduler.tasks() == []
    async with asyncio.timeout(1):
        await scheduler.wait_idle()
