from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sagakit.recent import Recent


@given(st.lists(st.tuples(st.integers(0, 20), st.integers()), max_size=200), st.integers(1, 10))
def test_keeps_the_most_recently_written_entries_up_to_capacity(
    writes: list[tuple[int, int]], capacity: int
) -> None:
    recent: Recent[int, int] = Recent(capacity)
    for key, value in writes:
        recent.put(key, value)
    latest: dict[int, int] = {}
    order: list[int] = []
    for key, value in writes:
        latest[key] = value
        if key in order:
            order.remove(key)
        order.append(key)
    kept = order[-capacity:]
    assert len(recent) == len(kept)
    for key in kept:
        assert recent.get(key) == latest[key]
    for key in order[:-capacity]:
        assert key not in recent


def test_pop_forgets() -> None:
    recent: Recent[str, int] = Recent(2)
    recent.put("a", 1)
    assert recent.pop("a") == 1
    assert recent.get("a") is None and recent.pop("a") is None
