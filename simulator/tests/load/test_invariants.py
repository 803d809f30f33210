"""The invariant checks on synthetic observations."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simulator.load.invariants import (
    Kind,
    Stock,
    VersionSequence,
    Violation,
    stock_check,
    terminal_check,
    timeline_violations,
    versions_check,
)


def delivered(*versions: int) -> VersionSequence:
    sequence = VersionSequence()
    for version in versions:
        sequence.observe(version)
    return sequence


@given(st.integers(min_value=0, max_value=30))
def test_versions_one_after_another_are_clean(n: int) -> None:
    assert delivered(*range(1, n + 1)).violations == []


@given(st.integers(min_value=3, max_value=30), st.data())
def test_a_skipped_version_is_a_gap(n: int, data: st.DataObject) -> None:
    skipped = data.draw(st.integers(min_value=1, max_value=n - 1))
    versions = [v for v in range(1, n + 1) if v != skipped]
    assert delivered(*versions).violations == [Violation(Kind.GAP, skipped, skipped + 1)]


def test_an_older_version_after_a_newer_one_is_a_rewind() -> None:
    sequence = delivered(1, 2, 3, 1)
    assert sequence.violations == [Violation(Kind.REWIND, 4, 1)]
    assert sequence.last == 3


def test_the_same_version_twice_is_a_repeat() -> None:
    assert delivered(1, 2, 2, 3).violations == [Violation(Kind.REPEAT, 3, 2)]


def test_a_snapshot_whose_timeline_stops_short_of_its_version_is_a_gap() -> None:
    sequence = delivered(1, 2)  # the snapshot's timeline
    sequence.head(4)  # ... of an order at version 4
    assert sequence.violations == [Violation(Kind.GAP, 3, 4)]


def test_a_reconnect_continues_where_the_last_socket_stopped() -> None:
    sequence = delivered(1, 2, 3)
    # reconnected with since=3: the snapshot holds versions 4 and 5
    sequence.observe(4)
    sequence.observe(5)
    sequence.head(5)
    sequence.observe(6)
    assert sequence.violations == []
    assert sequence.last == 6


def test_a_snapshot_behind_what_was_seen_is_a_rewind() -> None:
    sequence = delivered(1, 2, 3)
    sequence.head(2)
    assert sequence.violations == [Violation(Kind.REWIND, 3, 2)]


def test_a_first_snapshot_before_the_order_is_known_is_fine() -> None:
    sequence = VersionSequence()
    sequence.head(0)  # notifications has not seen the order yet
    sequence.observe(1)
    assert sequence.violations == []


def test_timelines() -> None:
    assert timeline_violations([1, 2, 3], 3) == []
    assert timeline_violations([1, 3], 3) != []
    assert timeline_violations([1, 2], 3) != []  # the current version is missing
    assert timeline_violations([2, 1], 2) != []


def test_terminal_check() -> None:
    assert terminal_check({"a": "delivered", "b": "cancelled"}).ok
    check = terminal_check({"a": "delivered", "b": "paid", "c": None})
    assert not check.ok
    assert check.details == ["b: paid", "c: never seen"]
    assert "2/3 not terminal" in check.summary


def test_versions_check_reports_timelines_sockets_and_disagreements() -> None:
    clean = versions_check({"a": ([1, 2], 2)}, {"a": []})
    assert clean.ok
    assert not versions_check({"a": ([1, 3], 3)}, {}).ok
    assert not versions_check({"a": None}, {}).ok  # a timeline that could not be read
    gap = versions_check({"a": ([1, 2, 3], 3)}, {"a": [Violation(Kind.GAP, 2, 3)]})
    assert not gap.ok
    assert gap.details == ["a: websocket gap: expected version 2, got 3"]
    mismatch = versions_check({"a": ([1], 1)}, {}, {"a": ["websocket said paid for version 1"]})
    assert not mismatch.ok


def test_stock_sold_by_the_run_balances() -> None:
    stock = Stock(
        before={"pizza": 10, "pasta": 5},
        after={"pizza": 7, "pasta": 5},
        sold={"pizza": 3},
        refilled={},
    )
    check = stock_check(stock, refills_known=True)
    assert check.ok
    assert "no other customers" in check.summary
    assert check.as_dict()["sold"] == {"pizza": 3}


def test_a_stock_mismatch_is_detected() -> None:
    stock = Stock(before={"pizza": 10}, after={"pizza": 8}, sold={"pizza": 3}, refilled={})
    check = stock_check(stock, refills_known=True)
    assert not check.ok
    assert check.details == ["pizza: before 10, sold 3, refilled 0 -> expected 7, found 8"]


def test_refills_during_the_run_are_accounted_for() -> None:
    after_refill = {"pizza": 12}
    assert stock_check(
        Stock({"pizza": 10}, after_refill, {"pizza": 3}, {"pizza": 5}), refills_known=True
    ).ok
    unaccounted = stock_check(
        Stock({"pizza": 10}, after_refill, {"pizza": 3}, {}), refills_known=False
    )
    assert not unaccounted.ok
    assert "assumed no refills" in unaccounted.summary


def test_a_stock_check_that_could_not_run_is_not_ok() -> None:
    check = stock_check(None, refills_known=False, reason="orders still in flight")
    assert not check.ok
    assert "orders still in flight" in check.summary
