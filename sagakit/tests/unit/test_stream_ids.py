from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sagakit import stream_ids

U64 = 2**64 - 1
ms_values = st.one_of(st.integers(0, 2**45), st.sampled_from([0, 1, U64 - 1]))
seq_values = st.one_of(st.integers(0, 1000), st.integers(0, U64), st.sampled_from([0, U64]))
ids = st.builds(stream_ids.format_id, ms_values, seq_values)


def as_int(entry_id: str) -> int:
    """Redis orders ids by ms, then seq: the same order as one 128-bit number."""
    ms, seq = stream_ids.parse(entry_id)
    return (ms << 64) | seq


@given(ms=ms_values, seq=seq_values)
def test_format_and_parse_round_trip(ms: int, seq: int) -> None:
    assert stream_ids.parse(stream_ids.format_id(ms, seq)) == (ms, seq)


def test_an_id_without_sequence_means_sequence_zero() -> None:
    assert stream_ids.parse("1700000000000") == (1700000000000, 0)


@given(ids)
def test_successor_is_the_smallest_greater_id(entry_id: str) -> None:
    nxt = stream_ids.successor(entry_id)
    assert as_int(nxt) == as_int(entry_id) + 1
    _, seq = stream_ids.parse(nxt)
    assert 0 <= seq <= U64


def test_successor_rolls_the_sequence_over_into_the_next_millisecond() -> None:
    assert stream_ids.successor(f"5-{U64}") == "6-0"
    assert stream_ids.successor("0-0") == "0-1"


@given(st.lists(ids, min_size=1, max_size=20))
def test_lowest_follows_redis_ordering(entries: list[str]) -> None:
    assert as_int(stream_ids.lowest(entries)) == min(as_int(e) for e in entries)


def test_lowest_is_numeric_not_lexicographic() -> None:
    assert stream_ids.lowest(["10-0", "9-5", "9-10"]) == "9-5"
    assert stream_ids.lowest(["100-2", "20-99"]) == "20-99"
