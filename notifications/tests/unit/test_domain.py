"""The head-advancing rule and the per-socket sequencer, alone and together."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifications.domain import (
    FirstWrite,
    Sequencer,
    StatusEntry,
    Step,
    consecutive_after,
    first_write,
    is_order_id,
    parse_since,
)

ORDER = "0" * 32


def entry(version: int) -> StatusEntry:
    return StatusEntry(ORDER, version, f"s{version}", None, "2024-01-01T00:00:00+00:00")


def test_head_advances_only_to_the_next_version_and_through_stored_ones() -> None:
    assert consecutive_after(0, [1]) == [1]
    assert consecutive_after(0, [2, 3]) == []  # v1 missing: early versions wait
    assert consecutive_after(1, [3, 2, 5]) == [2, 3]
    assert consecutive_after(3, [1, 2, 3]) == []  # stale or duplicate: nothing
    assert consecutive_after(0, []) == []


def test_first_write_presumes_in_order_arrival_unless_the_head_passed_it() -> None:
    assert first_write(1, None) is FirstWrite.CREATE  # an order not seen here
    assert first_write(1, 0) is FirstWrite.APPLY  # its document exists, waiting for v1
    assert first_write(4, 3) is FirstWrite.APPLY
    assert first_write(4, None) is FirstWrite.APPLY  # another replica may have seen v1..v3
    assert first_write(4, 1) is FirstWrite.APPLY  # ... or moved the head since
    assert first_write(3, 3) is FirstWrite.NONE  # heads never go back: applied already
    assert first_write(2, 3) is FirstWrite.NONE


def test_sequencer_steps() -> None:
    sequencer = Sequencer(last_sent=3)
    assert sequencer.step(2) is Step.SKIP
    assert sequencer.step(3) is Step.SKIP
    assert sequencer.step(4) is Step.SEND
    assert sequencer.step(6) is Step.FETCH


def test_sequencer_accepts_the_consecutive_run_only() -> None:
    sequencer = Sequencer(last_sent=1)
    sent = sequencer.accept([entry(4), entry(2), entry(3), entry(3), entry(6), entry(1)])
    assert [e.version for e in sent] == [2, 3, 4]
    assert sequencer.last_sent == 4
    assert sequencer.accept([entry(6)]) == []
    assert sequencer.last_sent == 4


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, 0),
        ("", 0),
        ("0", 0),
        ("7", 7),
        ("-1", None),
        ("x", None),
        ("1.5", None),
        ("٣", None),
        ("99999999999", None),
    ],
)
def test_parse_since(raw: str | None, expected: int | None) -> None:
    assert parse_since(raw) == expected


def test_order_ids_are_uuid4_hex() -> None:
    assert is_order_id("0123456789abcdef0123456789abcdef")
    assert not is_order_id("0123456789ABCDEF0123456789ABCDEF")
    assert not is_order_id("0123456789abcdef0123456789abcde")
    assert not is_order_id("0123456789abcdef0123456789abcdef0")
    assert not is_order_id("../../etc/passwd")


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[int, list[int]]:
    """Versions 1..n, each at least once, in any order, with duplicates."""
    n = draw(st.integers(min_value=1, max_value=12))
    extra = draw(st.lists(st.integers(min_value=1, max_value=n), max_size=12))
    arrivals = draw(st.permutations([*range(1, n + 1), *extra]))
    return n, list(arrivals)


def simulate(
    n: int,
    arrivals: list[int],
    since: int,
    subscribe_at: int,
    snapshot_delay: int,
    lost: list[bool],
    heartbeats: list[bool],
    delays: list[int],
) -> list[int]:
    """Events arrive in the given order (with duplicates); each applied version is fanned out
    unless `lost`, reaching the socket `delays` arrivals later (replicas publish concurrently,
    so the fan-out can reorder); a socket subscribes at `subscribe_at`, reads its snapshot
    `snapshot_delay` arrivals later, handles what reached it, and catches up from the database
    when `heartbeats` says so. The versions the socket sent (snapshot timeline included)."""
    stored: set[int] = set()
    head = 0
    sequencer: Sequencer | None = None
    in_flight: list[tuple[int, int, int]] = []  # (reaches the socket at, publish order, version)
    queue: list[int] = []
    sent: list[int] = []
    published = 0

    def applied(after: int, upto: int) -> list[StatusEntry]:
        return [entry(v) for v in range(after + 1, min(upto, head) + 1)]

    def take_snapshot() -> Sequencer:
        sent.extend(range(since + 1, head + 1))  # the snapshot's timeline
        return Sequencer(last_sent=max(since, head))

    def on_fanout(sequencer: Sequencer, version: int) -> None:
        step = sequencer.step(version)
        if step is Step.SEND:
            sent.extend(e.version for e in sequencer.accept([entry(version)]))
        elif step is Step.FETCH:
            sent.extend(e.version for e in sequencer.accept(applied(sequencer.last_sent, version)))

    for index, version in enumerate(arrivals):
        if sequencer is None and index >= subscribe_at + snapshot_delay:
            sequencer = take_snapshot()
        stored.add(version)
        visible = consecutive_after(head, stored)
        if visible:
            head = visible[-1]
        for v in visible:
            if index >= subscribe_at and not lost[published % len(lost)]:
                in_flight.append((index + delays[published % len(delays)], published, v))
            published += 1
        in_flight.sort()
        while in_flight and in_flight[0][0] <= index:
            queue.append(in_flight.pop(0)[2])
        if sequencer is not None:
            while queue:
                on_fanout(sequencer, queue.pop(0))
            if heartbeats[index % len(heartbeats)]:
                sent.extend(e.version for e in sequencer.accept(applied(sequencer.last_sent, head)))

    assert head == n
    if sequencer is None:  # the snapshot was read after everything happened
        sequencer = take_snapshot()
    for v in [*queue, *(version for _, _, version in in_flight)]:
        on_fanout(sequencer, v)
    if any(heartbeats):
        sent.extend(e.version for e in sequencer.accept(applied(sequencer.last_sent, head)))
    return sent


socket_timing = {
    "since": st.integers(min_value=0, max_value=14),
    "subscribe_at": st.integers(min_value=0, max_value=30),
    "snapshot_delay": st.integers(min_value=0, max_value=3),
    "delays": st.lists(st.integers(min_value=0, max_value=2), min_size=1, max_size=40),
}


@settings(max_examples=400, deadline=None)
@given(
    delivery=deliveries(),
    lost=st.lists(st.booleans(), min_size=40, max_size=40),
    heartbeats=st.lists(st.booleans(), min_size=40, max_size=40).filter(any),
    **socket_timing,
)
def test_any_delivery_yields_sends_strictly_increasing_by_one(
    delivery: tuple[int, list[int]],
    since: int,
    subscribe_at: int,
    snapshot_delay: int,
    lost: list[bool],
    heartbeats: list[bool],
    delays: list[int],
) -> None:
    """Whatever the order, duplication and loss, a socket that keeps catching up sends
    exactly since+1, since+2, ..., n: no gap, no repeat, no rewind."""
    n, arrivals = delivery
    sent = simulate(n, arrivals, since, subscribe_at, snapshot_delay, lost, heartbeats, delays)
    assert sent == list(range(since + 1, n + 1))


@settings(max_examples=300, deadline=None)
@given(delivery=deliveries(), **socket_timing)
def test_a_reliable_fanout_needs_no_heartbeat(
    delivery: tuple[int, list[int]],
    since: int,
    subscribe_at: int,
    snapshot_delay: int,
    delays: list[int],
) -> None:
    """Nothing lost: the snapshot and the fan-out alone bring the socket to the last version,
    including statuses that raced with the snapshot or overtook each other."""
    n, arrivals = delivery
    sent = simulate(n, arrivals, since, subscribe_at, snapshot_delay, [False], [False], delays)
    assert sent == list(range(since + 1, n + 1))
