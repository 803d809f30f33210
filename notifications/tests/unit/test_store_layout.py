"""The order document's layout and the memory of heads, without a database."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from notifications.store import KnownHeads, stored_entries
from sagakit.version_keys import key_version, version_key


@given(st.integers(min_value=1, max_value=10**9))
def test_version_keys_are_never_numeric_and_give_their_version_back(version: int) -> None:
    key = version_key(version)
    assert not key.isdigit()
    assert "." not in key
    assert key_version(key) == version


def test_version_keys_sort_by_version_up_to_a_million() -> None:
    assert version_key(3) == "v000003"
    assert sorted([version_key(10), version_key(9)]) == [version_key(9), version_key(10)]


def test_stored_entries_ignore_keys_that_are_not_versions() -> None:
    doc = {
        "_id": "o",
        "timeline": {
            "v000002": {"status": "paid", "at": "t2"},
            "v000001": {"status": "cancelled", "at": "t1", "reason": "timeout"},
            "x1": {"status": "?", "at": "?"},
            "v": {"status": "?", "at": "?"},
            "v-1": {"status": "?", "at": "?"},
        },
    }
    entries = stored_entries(doc)
    assert sorted(entries) == [1, 2]
    assert (entries[1].order_id, entries[1].status, entries[1].reason) == (
        "o",
        "cancelled",
        "timeout",
    )
    assert entries[2].reason is None
    assert stored_entries({"_id": "o", "version": 0}) == {}


def test_known_heads_never_go_back_and_forget_the_oldest() -> None:
    known = KnownHeads(capacity=2)
    known.saw("a", 3)
    known.saw("a", 1)  # an older sighting, reported late
    assert known.get("a") == 3
    known.saw("b", 1)
    known.saw("a", 4)  # "a" is now the most recent
    known.saw("c", 1)
    assert (known.get("a"), known.get("b"), known.get("c")) == (4, None, 1)
