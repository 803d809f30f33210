"""MongoDB semantics contract (DESIGN.md §3).

One test per query/update operator or behaviour the code relies on, each asserting MongoDB's
*documented* behaviour. The suite runs against whichever server the ``mongo_db`` fixture provides
(the embedded nx-27017 here, a real replica set under testcontainers, or ``MONGO_URL``).

Code may use only what this file covers *without* a ``@nx_deviation`` mark. A test marked
``@nx_deviation(reason)`` asserts MongoDB's documented behaviour that nx-27017 0.8.1 does not
follow: on nx-27017 it runs as ``xfail(strict=True)`` (so a fixed server is noticed), on a real
MongoDB it must pass. The reason says what nx-27017 does instead. Do not rely on those behaviours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from pymongo import ASCENDING, DESCENDING, InsertOne, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from sagakit.testing.mongo import is_nx27017

Doc = dict[str, Any]
Db = AsyncDatabase[Doc]
Coll = AsyncCollection[Doc]
_F = TypeVar("_F", bound=Callable[..., Awaitable[None]])

T0 = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
EPOCH_MS = 1_714_979_289_123  # T0 as integer epoch milliseconds

_NX_DEVIATIONS: dict[str, str] = {}


def nx_deviation(reason: str) -> Callable[[_F], _F]:
    """Mark a test whose documented MongoDB behaviour nx-27017 does not follow."""

    def register(fn: _F) -> _F:
        _NX_DEVIATIONS[fn.__name__] = reason
        return fn

    return register


@pytest.fixture(scope="session")
def server_is_nx27017(mongo_url: str) -> bool:
    return is_nx27017(mongo_url)


@pytest.fixture(autouse=True)
def _xfail_nx_deviations(request: pytest.FixtureRequest, server_is_nx27017: bool) -> None:
    reason = _NX_DEVIATIONS.get(request.function.__name__)
    if reason is not None and server_is_nx27017:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"nx-27017: {reason}"))


@pytest.fixture
def col(mongo_db: Db) -> Coll:
    return mongo_db["contract"]


async def ids(col: Coll, flt: Doc) -> set[Any]:
    return {d["_id"] async for d in col.find(flt, {"_id": 1})}


async def seed_order(col: Coll, **extra: Any) -> None:
    await col.insert_one({"_id": "o1", "status": "placed", "version": 3, **extra})


# --- find_one_and_update ---------------------------------------------------------------------


async def test_find_one_and_update_return_after(col: Coll) -> None:
    await seed_order(col)
    doc = await col.find_one_and_update(
        {"_id": "o1", "status": "placed", "version": 3},
        {"$set": {"status": "paid"}, "$inc": {"version": 1}},
        return_document=ReturnDocument.AFTER,
    )
    assert doc == {"_id": "o1", "status": "paid", "version": 4}


async def test_find_one_and_update_return_before(col: Coll) -> None:
    await seed_order(col)
    doc = await col.find_one_and_update(
        {"_id": "o1"},
        {"$set": {"status": "paid"}, "$inc": {"version": 1}},
        return_document=ReturnDocument.BEFORE,
    )
    assert doc == {"_id": "o1", "status": "placed", "version": 3}
    assert await col.find_one({"_id": "o1"}) == {"_id": "o1", "status": "paid", "version": 4}


async def test_find_one_and_update_default_returns_before(col: Coll) -> None:
    await seed_order(col)
    doc = await col.find_one_and_update({"_id": "o1"}, {"$set": {"status": "paid"}})
    assert doc is not None
    assert doc["status"] == "placed"


async def test_find_one_and_update_miss_returns_none_and_changes_nothing(col: Coll) -> None:
    await seed_order(col)
    for return_document in (ReturnDocument.BEFORE, ReturnDocument.AFTER):
        doc = await col.find_one_and_update(
            {"_id": "o1", "status": "paid"},
            {"$set": {"status": "preparing"}, "$inc": {"version": 1}},
            return_document=return_document,
        )
        assert doc is None
    assert await col.find_one({"_id": "o1"}) == {"_id": "o1", "status": "placed", "version": 3}


@nx_deviation(
    "find_one_and_update(upsert=True) ignores $setOnInsert when it inserts: the new document "
    "holds the filter's equality fields and the $set/$inc fields only (update_one and "
    "bulk_write UpdateOne upserts do apply $setOnInsert)"
)
async def test_find_one_and_update_upsert_inserts_with_set_on_insert(col: Coll) -> None:
    doc = await col.find_one_and_update(
        {"_id": "k1", "kind": "idem"},
        {"$setOnInsert": {"created_ms": EPOCH_MS, "hits": 0}, "$set": {"seen": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    # Equality fields of the filter are copied into the inserted document.
    assert doc == {"_id": "k1", "kind": "idem", "created_ms": EPOCH_MS, "hits": 0, "seen": 1}


async def test_find_one_and_update_upsert_copies_filter_and_applies_set(col: Coll) -> None:
    doc = await col.find_one_and_update(
        {"_id": "k1", "kind": "idem"},
        {"$set": {"seen": 1}, "$inc": {"hits": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert doc == {"_id": "k1", "kind": "idem", "seen": 1, "hits": 1}


async def test_find_one_and_update_upsert_return_before_is_none_on_insert(col: Coll) -> None:
    doc = await col.find_one_and_update(
        {"_id": "k1"},
        {"$set": {"body": "first"}},
        upsert=True,
        return_document=ReturnDocument.BEFORE,
    )
    assert doc is None
    assert await col.find_one({"_id": "k1"}) == {"_id": "k1", "body": "first"}


async def test_find_one_and_update_upsert_existing_ignores_set_on_insert(col: Coll) -> None:
    await col.insert_one({"_id": "k1", "body": "first", "n": 1})
    before = await col.find_one_and_update(
        {"_id": "k1"},
        {"$setOnInsert": {"body": "second"}, "$inc": {"n": 1}},
        upsert=True,
        return_document=ReturnDocument.BEFORE,
    )
    assert before == {"_id": "k1", "body": "first", "n": 1}
    assert await col.find_one({"_id": "k1"}) == {"_id": "k1", "body": "first", "n": 2}
    assert await col.count_documents({}) == 1


# --- filters ---------------------------------------------------------------------------------


async def test_equality_top_level_and_dotted_subdocument_key(col: Coll) -> None:
    await col.insert_many(
        [
            {"_id": 1, "status": "placed", "customer": {"name": "Ann", "addr": {"city": "Oslo"}}},
            {"_id": 2, "status": "paid", "customer": {"name": "Bob", "addr": {"city": "Rome"}}},
        ]
    )
    assert await ids(col, {"status": "placed"}) == {1}
    assert await ids(col, {"customer.name": "Bob"}) == {2}
    assert await ids(col, {"customer.addr.city": "Oslo"}) == {1}
    assert await ids(col, {"customer.name": "Cid"}) == set()
    assert await ids(col, {"status": "paid", "customer.name": "Ann"}) == set()


async def test_equality_none_matches_null_and_missing(col: Coll) -> None:
    await col.insert_many([{"_id": 1, "reason": None}, {"_id": 2}, {"_id": 3, "reason": "timeout"}])
    assert await ids(col, {"reason": None}) == {1, 2}


async def test_exists_on_dotted_map_keys(col: Coll) -> None:
    await col.insert_many(
        [
            {"_id": 1, "outbox": {"e1": {"type": "x"}}, "consumed": {"m1": 1}},
            {"_id": 2, "outbox": {}, "consumed": {}},
            {"_id": 3},
        ]
    )
    assert await ids(col, {"outbox.e1": {"$exists": True}}) == {1}
    assert await ids(col, {"outbox.e1": {"$exists": False}}) == {2, 3}
    assert await ids(col, {"consumed.m1": {"$exists": True}}) == {1}
    assert await ids(col, {"consumed.m2": {"$exists": False}}) == {1, 2, 3}
    assert await ids(col, {"outbox": {"$exists": True}}) == {1, 2}
    assert await ids(col, {"outbox": {"$exists": False}}) == {3}


@nx_deviation(
    "$exists does not see a field whose value is null: {$exists: true} misses it and "
    "{$exists: false} matches it (top-level and dotted keys)"
)
async def test_exists_true_matches_a_null_value(col: Coll) -> None:
    await col.insert_many([{"_id": 1, "k": None, "m": {"k": None}}, {"_id": 2, "m": {}}])
    assert await ids(col, {"m.k": {"$exists": True}}) == {1}
    assert await ids(col, {"m.k": {"$exists": False}}) == {2}
    assert await ids(col, {"k": {"$exists": True}}) == {1}
    assert await ids(col, {"k": {"$exists": False}}) == {2}


async def test_exists_on_stream_id_and_uuid_like_map_keys(col: Coll) -> None:
    keys = ["1700000000000-0", "0f3c2a9e5b7d4e1f", "e-7a1b"]
    await col.insert_one({"_id": 1, "consumed": {}})
    for key in keys:
        result = await col.update_one({"_id": 1}, {"$set": {f"consumed.{key}": 1}})
        assert result.modified_count == 1
    doc = await col.find_one({"_id": 1})
    assert doc == {"_id": 1, "consumed": dict.fromkeys(keys, 1)}
    for key in keys:
        assert await ids(col, {f"consumed.{key}": {"$exists": True}}) == {1}
    assert await ids(col, {"consumed.1700000000000-1": {"$exists": True}}) == set()


async def test_range_operators_on_ints(col: Coll) -> None:
    await col.insert_many([{"_id": n, "stock": n} for n in range(6)])
    assert await ids(col, {"stock": {"$gte": 3}}) == {3, 4, 5}
    assert await ids(col, {"stock": {"$gt": 3}}) == {4, 5}
    assert await ids(col, {"stock": {"$lte": 2}}) == {0, 1, 2}
    assert await ids(col, {"stock": {"$lt": 2}}) == {0, 1}
    assert await ids(col, {"stock": {"$gte": 1, "$lt": 3}}) == {1, 2}
    assert await ids(col, {"stock": {"$gt": 5}}) == set()


async def test_int_epoch_ms_set_range_and_sort(col: Coll) -> None:
    # Integer epoch milliseconds: exact ranges and ordering, also when written with $set.
    await col.insert_many([{"_id": n, "v": 0} for n in range(4)])
    for n in range(4):
        await col.update_one({"_id": n}, {"$set": {"since_ms": EPOCH_MS + n}})
    doc = await col.find_one({"_id": 0})
    assert doc is not None
    assert isinstance(doc["since_ms"], int)  # int64 decodes as bson.Int64, an int subclass
    assert not isinstance(doc["since_ms"], bool)
    assert doc["since_ms"] == EPOCH_MS
    assert await ids(col, {"since_ms": {"$lte": EPOCH_MS + 1}}) == {0, 1}
    assert await ids(col, {"since_ms": {"$lt": EPOCH_MS + 1}}) == {0}
    assert await ids(col, {"since_ms": {"$gt": EPOCH_MS + 2}}) == {3}
    cursor = col.find({"since_ms": {"$gte": EPOCH_MS}}).sort("since_ms", DESCENDING).limit(2)
    assert [d["_id"] async for d in cursor] == [3, 2]


async def test_range_operators_on_datetimes(col: Coll) -> None:
    await col.insert_many([{"_id": n, "at": T0 + timedelta(seconds=n)} for n in range(5)])
    t2 = T0 + timedelta(seconds=2)
    assert await ids(col, {"at": {"$lt": t2}}) == {0, 1}
    assert await ids(col, {"at": {"$lte": t2}}) == {0, 1, 2}
    assert await ids(col, {"at": {"$gt": t2}}) == {3, 4}
    assert await ids(col, {"at": {"$gte": t2}}) == {2, 3, 4}


@nx_deviation(
    "datetime comparisons (equality, $lt/$lte/$gt/$gte) are done by SQLite datetime(), i.e. "
    "truncated to whole seconds: {$lt: T+400ms} misses T, {at: T} also matches T+500ms"
)
async def test_datetime_comparisons_have_millisecond_precision(col: Coll) -> None:
    await col.insert_many(
        [{"_id": 0, "at": T0}, {"_id": 1, "at": T0 + timedelta(milliseconds=500)}]
    )
    assert await ids(col, {"at": {"$lt": T0 + timedelta(milliseconds=400)}}) == {0}
    assert await ids(col, {"at": {"$lte": T0 - timedelta(milliseconds=1)}}) == set()
    assert await ids(col, {"at": {"$gt": T0 + timedelta(milliseconds=100)}}) == {1}
    assert await ids(col, {"at": {"$gte": T0 + timedelta(milliseconds=1)}}) == {1}
    assert await ids(col, {"at": T0}) == {0}


async def test_datetime_sort_has_millisecond_precision(col: Coll) -> None:
    await col.insert_many(
        [{"_id": n, "at": T0 + timedelta(milliseconds=ms)} for n, ms in enumerate([300, 100, 200])]
    )
    assert [d["_id"] async for d in col.find({}).sort("at", ASCENDING)] == [1, 2, 0]
    assert [d["_id"] async for d in col.find({}).sort("at", DESCENDING)] == [0, 2, 1]


async def test_range_operators_skip_missing_and_null(col: Coll) -> None:
    # A range on a date/number never matches a missing field or null (sweeper and deadline
    # queries rely on this to skip documents that have nothing pending).
    await col.insert_many(
        [
            {"_id": "set", "since": T0, "n": 1},
            {"_id": "missing"},
            {"_id": "null", "since": None, "n": None},
        ]
    )
    later = T0 + timedelta(days=1)
    assert await ids(col, {"since": {"$lte": later}}) == {"set"}
    assert await ids(col, {"since": {"$gt": T0 - timedelta(days=1)}}) == {"set"}
    assert await ids(col, {"n": {"$lte": 10}}) == {"set"}
    assert await ids(col, {"n": {"$gte": 0}}) == {"set"}


@nx_deviation(
    "no type bracketing: a datetime range also matches date-like strings ('2024-01-01' via "
    "SQLite datetime()), and {$gt/$gte: <number>} also matches any string ('1', 'abc')"
)
async def test_range_operators_skip_other_types(col: Coll) -> None:
    await col.insert_many(
        [
            {"_id": "date", "since": T0, "n": 1},
            {"_id": "str", "since": "2024-01-01", "n": "1"},
            {"_id": "word", "since": "x", "n": "abc"},
        ]
    )
    later = T0 + timedelta(days=1)
    assert await ids(col, {"since": {"$lte": later}}) == {"date"}
    assert await ids(col, {"n": {"$gte": 0}}) == {"date"}
    assert await ids(col, {"n": {"$gt": 0}}) == {"date"}


async def test_in_and_nin_on_top_level_scalar(col: Coll) -> None:
    await col.insert_many(
        [{"_id": i, "status": s} for i, s in enumerate(["placed", "paid", "delivered"])]
    )
    assert await ids(col, {"status": {"$in": ["placed", "paid"]}}) == {0, 1}
    assert await ids(col, {"status": {"$in": []}}) == set()
    assert await ids(col, {"status": {"$nin": ["delivered", "cancelled"]}}) == {0, 1}
    assert await ids(col, {"_id": {"$in": [0, 2, 9]}}) == {0, 2}


async def test_nin_and_ne_match_documents_missing_the_field(col: Coll) -> None:
    await col.insert_many(
        [{"_id": 1, "status": "delivered"}, {"_id": 2, "status": "paid"}, {"_id": 3}]
    )
    assert await ids(col, {"status": {"$nin": ["delivered"]}}) == {2, 3}
    assert await ids(col, {"status": {"$ne": "delivered"}}) == {2, 3}


async def test_combined_guard_misses_when_any_part_differs(col: Coll) -> None:
    await seed_order(col)
    good = {"_id": "o1", "status": "placed", "version": 3}
    assert await col.find_one(good) is not None
    for bad in (
        {"_id": "o2", "status": "placed", "version": 3},
        {"_id": "o1", "status": "paid", "version": 3},
        {"_id": "o1", "status": "placed", "version": 2},
        {"_id": "o1", "status": "placed", "version": "3"},
    ):
        assert await col.find_one(bad) is None, bad
        result = await col.update_one(bad, {"$inc": {"version": 1}})
        assert (result.matched_count, result.modified_count) == (0, 0), bad
    assert await col.find_one({"_id": "o1"}) == {"_id": "o1", "status": "placed", "version": 3}


# --- updates ---------------------------------------------------------------------------------


async def test_set_dotted_key_creates_nested_maps(col: Coll) -> None:
    await seed_order(col)
    await col.update_one({"_id": "o1"}, {"$set": {"outbox.e1": {"type": "a", "n": 1}}})
    await col.update_one({"_id": "o1"}, {"$set": {"outbox.e2": {"type": "b"}, "res.i1.o1": 2}})
    doc = await col.find_one({"_id": "o1"})
    assert doc is not None
    assert doc["outbox"] == {"e1": {"type": "a", "n": 1}, "e2": {"type": "b"}}
    assert doc["res"] == {"i1": {"o1": 2}}
    assert isinstance(doc["outbox"], dict)


async def test_set_dotted_key_replaces_only_that_key(col: Coll) -> None:
    await col.insert_one({"_id": 1, "outbox": {"e1": {"a": 1}, "e2": {"b": 2}}})
    await col.update_one({"_id": 1}, {"$set": {"outbox.e1": {"z": 9}}})
    assert await col.find_one({"_id": 1}) == {"_id": 1, "outbox": {"e1": {"z": 9}, "e2": {"b": 2}}}


async def _set_via_update_one(col: Coll, flt: Doc, update: Doc) -> None:
    await col.update_one(flt, update)


async def _set_via_find_one_and_update(col: Coll, flt: Doc, update: Doc) -> None:
    await col.find_one_and_update(flt, update)


async def _set_via_bulk_write(col: Coll, flt: Doc, update: Doc) -> None:
    await col.bulk_write([UpdateOne(flt, update)])


SET_METHODS = pytest.mark.parametrize(
    "write",
    [_set_via_update_one, _set_via_find_one_and_update, _set_via_bulk_write],
    ids=["update_one", "find_one_and_update", "bulk_write"],
)


@nx_deviation(
    "$set of a bare datetime value on an existing document stores a string "
    "('2024-05-06 07:08:09.123000', sqlite3's adapter) that no datetime query matches; "
    "dates survive only inside a sub-document value, insert_one, replace_one and upsert-inserts"
)
@SET_METHODS
async def test_set_scalar_datetime_stays_a_date(
    col: Coll, write: Callable[[Coll, Doc, Doc], Awaitable[None]]
) -> None:
    await col.insert_one({"_id": 1, "m": {}})
    await write(col, {"_id": 1}, {"$set": {"since": T0, "m.at": T0}})
    doc = await col.find_one({"_id": 1})
    assert doc is not None
    assert isinstance(doc["since"], datetime)
    assert isinstance(doc["m"]["at"], datetime)
    assert (doc["since"], doc["m"]["at"]) == (T0, T0)
    assert await ids(col, {"since": {"$lte": T0 + timedelta(days=1)}}) == {1}


@nx_deviation(
    "$set of a bare bool on an existing document stores an int (True -> 1, False -> 0); "
    "bools survive only inside a sub-document value, insert_one, replace_one and upsert-inserts"
)
@SET_METHODS
async def test_set_scalar_bool_stays_a_bool(
    col: Coll, write: Callable[[Coll, Doc, Doc], Awaitable[None]]
) -> None:
    await col.insert_one({"_id": 1, "m": {}})
    await write(col, {"_id": 1}, {"$set": {"flag": True, "m.off": False}})
    doc = await col.find_one({"_id": 1})
    assert doc is not None
    assert type(doc["flag"]) is bool
    assert type(doc["m"]["off"]) is bool
    assert (doc["flag"], doc["m"]["off"]) == (True, False)


@SET_METHODS
async def test_set_subdocument_value_keeps_datetime_and_bool(
    col: Coll, write: Callable[[Coll, Doc, Doc], Awaitable[None]]
) -> None:
    await col.insert_one({"_id": 1, "outbox": {}})
    entry = {"at": T0, "urgent": True, "n": 1, "none": None, "nested": {"at": T0}}
    await write(col, {"_id": 1}, {"$set": {"outbox.e1": entry, "meta": {"ok": False}}})
    doc = await col.find_one({"_id": 1})
    assert doc is not None
    stored = doc["outbox"]["e1"]
    assert stored == entry
    assert isinstance(stored["at"], datetime)
    assert isinstance(stored["nested"]["at"], datetime)
    assert type(stored["urgent"]) is bool
    assert type(doc["meta"]["ok"]) is bool


async def test_set_scalar_int_str_float_none_keep_their_types(col: Coll) -> None:
    await col.insert_one({"_id": 1, "m": {}})
    await col.update_one(
        {"_id": 1},
        {"$set": {"i": 7, "big": EPOCH_MS, "s": "x", "f": 1.5, "none": None, "m.s": "y"}},
    )
    doc = await col.find_one({"_id": 1})
    assert doc == {
        "_id": 1,
        "i": 7,
        "big": EPOCH_MS,
        "s": "x",
        "f": 1.5,
        "none": None,
        "m": {"s": "y"},
    }
    assert [type(doc[k]) for k in ("i", "s", "f")] == [int, str, float]
    assert isinstance(doc["big"], int)  # int64 decodes as bson.Int64, an int subclass
    assert not isinstance(doc["big"], bool)


async def test_insert_keeps_bson_types(col: Coll) -> None:
    original = {
        "_id": 1,
        "at": T0,
        "flag": True,
        "off": False,
        "n": 3,
        "big": EPOCH_MS,
        "f": 0.5,
        "none": None,
        "m": {"at": T0, "flag": True},
    }
    await col.insert_one(dict(original))
    doc = await col.find_one({"_id": 1})
    assert doc == original
    assert doc is not None
    assert isinstance(doc["at"], datetime)
    assert (type(doc["flag"]), type(doc["off"]), type(doc["m"]["flag"])) == (bool, bool, bool)


async def test_replace_one_guarded_and_keeps_types(col: Coll) -> None:
    await col.insert_one({"_id": "o1", "version": 1, "flag": False})
    miss = await col.replace_one({"_id": "o1", "version": 2}, {"version": 3})
    assert (miss.matched_count, miss.modified_count) == (0, 0)
    hit = await col.replace_one({"_id": "o1", "version": 1}, {"version": 2, "at": T0, "flag": True})
    assert (hit.matched_count, hit.modified_count) == (1, 1)
    doc = await col.find_one({"_id": "o1"})
    assert doc == {"_id": "o1", "version": 2, "at": T0, "flag": True}
    assert doc is not None
    assert isinstance(doc["at"], datetime)
    assert type(doc["flag"]) is bool


async def test_find_one_and_replace_guarded(col: Coll) -> None:
    await col.insert_one({"_id": "o1", "version": 1})
    assert await col.find_one_and_replace({"_id": "o1", "version": 9}, {"version": 10}) is None
    after = await col.find_one_and_replace(
        {"_id": "o1", "version": 1}, {"version": 2, "at": T0}, return_document=ReturnDocument.AFTER
    )
    assert after == {"_id": "o1", "version": 2, "at": T0}


async def test_set_all_digit_key_in_subdocument_is_a_field_name(col: Coll) -> None:
    # On an embedded document (not an array), a numeric path component is a field name.
    await col.insert_one({"_id": 1, "m": {}})
    await col.update_one({"_id": 1}, {"$set": {"m.123": "x", "n.7": "y"}})
    assert await col.find_one({"_id": 1}) == {"_id": 1, "m": {"123": "x"}, "n": {"7": "y"}}
    assert await ids(col, {"m.123": {"$exists": True}}) == {1}


async def test_unset_dotted_key_and_top_level_field(col: Coll) -> None:
    await col.insert_one(
        {"_id": 1, "outbox": {"e1": {"a": 1}, "e2": {"b": 2}}, "outbox_since": T0, "keep": 1}
    )
    result = await col.update_one({"_id": 1}, {"$unset": {"outbox.e1": "", "outbox_since": ""}})
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert await col.find_one({"_id": 1}) == {"_id": 1, "outbox": {"e2": {"b": 2}}, "keep": 1}


async def test_unset_last_key_leaves_empty_subdocument(col: Coll) -> None:
    # MongoDB removes only the named key: the parent stays as an empty document ``{}``.
    await col.insert_one({"_id": 1, "outbox": {"e1": {"a": 1}}})
    await col.update_one({"_id": 1}, {"$unset": {"outbox.e1": ""}})
    assert await col.find_one({"_id": 1}) == {"_id": 1, "outbox": {}}
    assert await ids(col, {"outbox": {}}) == {1}
    assert await ids(col, {"outbox": {"$exists": True}}) == {1}


async def test_set_and_unset_sibling_keys_of_a_map_in_one_update(col: Coll) -> None:
    # The write coalescer replaces its previous mark of a document by a new one in one update.
    await col.insert_one({"_id": 1, "marks": {"w1": 1}, "keep": 1})
    result = await col.update_one(
        {"_id": 1}, {"$set": {"marks.w2": 1, "keep": 2}, "$unset": {"marks.w1": ""}}
    )
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert await col.find_one({"_id": 1}) == {"_id": 1, "marks": {"w2": 1}, "keep": 2}


async def test_unset_missing_field_is_a_noop(col: Coll) -> None:
    await col.insert_one({"_id": 1, "outbox": {}})
    result = await col.update_one({"_id": 1}, {"$unset": {"outbox.nope": "", "gone": ""}})
    assert result.matched_count == 1
    assert result.modified_count == 0
    assert await col.find_one({"_id": 1}) == {"_id": 1, "outbox": {}}


async def test_inc_existing_negative_and_missing_fields(col: Coll) -> None:
    await col.insert_one({"_id": 1, "stock": 10, "m": {}})
    await col.update_one({"_id": 1}, {"$inc": {"stock": -3, "sold": 3, "m.count": 1, "x.y": 5}})
    assert await col.find_one({"_id": 1}) == {
        "_id": 1,
        "stock": 7,
        "sold": 3,
        "m": {"count": 1},
        "x": {"y": 5},
    }


async def test_set_on_insert_ignored_by_update_that_matches(col: Coll) -> None:
    await col.insert_one({"_id": 1, "created": "first", "n": 0})
    result = await col.update_one(
        {"_id": 1}, {"$setOnInsert": {"created": "second"}, "$inc": {"n": 1}}, upsert=True
    )
    assert (result.matched_count, result.modified_count, result.upserted_id) == (1, 1, None)
    assert await col.find_one({"_id": 1}) == {"_id": 1, "created": "first", "n": 1}


async def test_update_one_upsert_inserts_and_reports_upserted_id(col: Coll) -> None:
    result = await col.update_one(
        {"_id": "i1"}, {"$setOnInsert": {"stock": 5, "created": T0}}, upsert=True
    )
    assert (result.matched_count, result.modified_count, result.upserted_id) == (0, 0, "i1")
    assert await col.find_one({"_id": "i1"}) == {"_id": "i1", "stock": 5, "created": T0}


async def test_several_operators_in_one_update(col: Coll) -> None:
    await col.insert_one(
        {"_id": "o1", "status": "placed", "version": 1, "consumed": {}, "outbox": {"e0": {}}}
    )
    guard = {"_id": "o1", "status": "placed", "version": 1, "consumed.m1": {"$exists": False}}
    result = await col.update_one(
        guard,
        {
            "$set": {
                "status": "paid",
                "consumed.m1": 1,
                "outbox.e1": {"type": "paid"},
                "outbox_since": EPOCH_MS,
            },
            "$unset": {"outbox.e0": ""},
            "$inc": {"version": 1},
            "$setOnInsert": {"created": T0},
        },
    )
    assert (result.matched_count, result.modified_count) == (1, 1)
    expected = {
        "_id": "o1",
        "status": "paid",
        "version": 2,
        "consumed": {"m1": 1},
        "outbox": {"e1": {"type": "paid"}},
        "outbox_since": EPOCH_MS,
    }
    assert await col.find_one({"_id": "o1"}) == expected
    # the same message redelivered: the consumed-key guard alone stops it
    again = await col.update_one(
        {"_id": "o1", "consumed.m1": {"$exists": False}},
        {"$set": {"status": "preparing"}, "$inc": {"version": 1}},
    )
    assert (again.matched_count, again.modified_count) == (0, 0)
    assert await col.find_one({"_id": "o1"}) == expected


async def test_update_one_counts(col: Coll) -> None:
    await col.insert_many([{"_id": 1, "s": "a"}, {"_id": 2, "s": "a"}])
    hit = await col.update_one({"s": "a"}, {"$set": {"s": "b"}})
    assert (hit.matched_count, hit.modified_count, hit.upserted_id) == (1, 1, None)
    miss = await col.update_one({"s": "zzz"}, {"$set": {"s": "b"}})
    assert (miss.matched_count, miss.modified_count, miss.upserted_id) == (0, 0, None)
    assert await col.count_documents({"s": "b"}) == 1  # only one document changed


async def test_update_setting_the_same_value_reports_not_modified(col: Coll) -> None:
    await col.insert_one({"_id": 1, "s": "a"})
    result = await col.update_one({"_id": 1}, {"$set": {"s": "a"}})
    assert (result.matched_count, result.modified_count) == (1, 0)


async def test_update_many(col: Coll) -> None:
    await col.insert_many([{"_id": i, "stock": i} for i in range(5)])
    result = await col.update_many({"stock": {"$lt": 3}}, {"$set": {"stock": 10}})
    assert (result.matched_count, result.modified_count) == (3, 3)
    assert await ids(col, {"stock": 10}) == {0, 1, 2}
    none = await col.update_many({"stock": {"$lt": 0}}, {"$set": {"stock": 10}})
    assert (none.matched_count, none.modified_count) == (0, 0)


# --- inserts and indexes ---------------------------------------------------------------------


async def test_insert_duplicate_id_raises_duplicate_key(col: Coll) -> None:
    await col.insert_one({"_id": "o1", "v": 1})
    with pytest.raises(DuplicateKeyError):
        await col.insert_one({"_id": "o1", "v": 2})
    assert await col.find_one({"_id": "o1"}) == {"_id": "o1", "v": 1}


async def test_compound_unique_index_rejects_duplicates(col: Coll) -> None:
    await col.create_index([("order_id", ASCENDING), ("version", ASCENDING)], unique=True)
    await col.insert_one({"order_id": "o1", "version": 1})
    await col.insert_one({"order_id": "o1", "version": 2})
    await col.insert_one({"order_id": "o2", "version": 1})
    with pytest.raises(DuplicateKeyError):
        await col.insert_one({"order_id": "o1", "version": 2, "other": True})
    with pytest.raises(DuplicateKeyError):
        await col.update_one({"order_id": "o2"}, {"$set": {"order_id": "o1", "version": 1}})
    assert await col.count_documents({}) == 3
    assert await col.count_documents({"other": True}) == 0


async def test_unique_index_violation_in_upsert_raises_duplicate_key(col: Coll) -> None:
    await col.create_index([("order_id", ASCENDING), ("version", ASCENDING)], unique=True)
    await col.insert_one({"_id": "a", "order_id": "o1", "version": 1})
    with pytest.raises(DuplicateKeyError):
        await col.update_one(
            {"_id": "b"}, {"$setOnInsert": {"order_id": "o1", "version": 1}}, upsert=True
        )
    assert await col.count_documents({}) == 1


@pytest.mark.parametrize("sparse", [False, True])
async def test_datetime_index_range_query_sorted_and_limited(col: Coll, sparse: bool) -> None:
    await col.create_index("outbox_since", sparse=sparse)
    await col.insert_many(
        [{"_id": n, "outbox_since": T0 + timedelta(seconds=n)} for n in range(6)]
        + [{"_id": "clean"}]
    )
    cutoff = T0 + timedelta(seconds=3)
    found = [
        d["_id"]
        async for d in col.find({"outbox_since": {"$lte": cutoff}}).sort("outbox_since").limit(3)
    ]
    assert found == [0, 1, 2]
    assert await ids(col, {"outbox_since": {"$lte": cutoff}}) == {0, 1, 2, 3}


async def test_create_index_is_idempotent(col: Coll) -> None:
    keys = [("order_id", ASCENDING), ("version", ASCENDING)]
    first = await col.create_index(keys, unique=True)
    second = await col.create_index(keys, unique=True)
    assert first == second == "order_id_1_version_1"
    info = await col.index_information()
    assert len(info) == 2  # _id_ and ours, once
    assert [spec["key"] for name, spec in info.items() if name != "_id_"] == [keys]
    await col.insert_one({"order_id": "o1", "version": 1})
    with pytest.raises(DuplicateKeyError):
        await col.insert_one({"order_id": "o1", "version": 1})


@nx_deviation(
    "index names are not kept: the server names every index idx_<collection>_<fields> "
    "(ignoring both the default 'order_id_1_version_1' and name=...), and drop_index(name) "
    "returns without dropping anything"
)
async def test_index_names_are_kept_and_drop_index_drops(col: Coll) -> None:
    await col.create_index([("order_id", ASCENDING), ("version", ASCENDING)], unique=True)
    await col.create_index("outbox_since", name="by_outbox_since")
    info = await col.index_information()
    assert sorted(info) == ["_id_", "by_outbox_since", "order_id_1_version_1"]
    assert info["order_id_1_version_1"].get("unique") is True
    await col.drop_index("by_outbox_since")
    assert sorted(await col.index_information()) == ["_id_", "order_id_1_version_1"]


@nx_deviation(
    "a unique (non-sparse) index does not treat a missing field as null: any number of "
    "documents without the field are accepted; use sparse=True for optional unique fields"
)
async def test_unique_index_treats_missing_field_as_null(col: Coll) -> None:
    await col.create_index("idempotency_key", unique=True)
    await col.insert_one({"_id": 1})
    with pytest.raises(DuplicateKeyError):
        await col.insert_one({"_id": 2})


async def test_sparse_unique_index_allows_many_missing(col: Coll) -> None:
    await col.create_index("idempotency_key", unique=True, sparse=True)
    await col.insert_many([{"_id": 1}, {"_id": 2}, {"_id": 3, "idempotency_key": "k"}])
    with pytest.raises(DuplicateKeyError):
        await col.insert_one({"_id": 4, "idempotency_key": "k"})
    assert await col.count_documents({}) == 3


# --- find, count, delete ---------------------------------------------------------------------


async def test_find_sort_limit_projection(col: Coll) -> None:
    await col.insert_many(
        [{"_id": i, "rank": r, "name": f"n{i}", "big": {"x": i}} for i, r in enumerate([3, 1, 2])]
    )
    asc = [d["_id"] async for d in col.find({}).sort("rank", ASCENDING)]
    assert asc == [1, 2, 0]
    desc = [d["_id"] async for d in col.find({}).sort("rank", DESCENDING)]
    assert desc == [0, 2, 1]
    assert [d["_id"] async for d in col.find({}).sort("rank", DESCENDING).limit(2)] == [0, 2]
    projected = [d async for d in col.find({"_id": 0}, {"name": 1})]
    assert projected == [{"_id": 0, "name": "n0"}]
    no_id = [d async for d in col.find({"_id": 0}, {"name": 1, "_id": 0})]
    assert no_id == [{"name": "n0"}]
    excluded = await col.find_one({"_id": 0}, {"big": 0})
    assert excluded == {"_id": 0, "rank": 3, "name": "n0"}


async def test_find_sort_on_two_keys(col: Coll) -> None:
    await col.insert_many(
        [
            {"_id": 1, "order_id": "b", "version": 1},
            {"_id": 2, "order_id": "a", "version": 2},
            {"_id": 3, "order_id": "a", "version": 1},
        ]
    )
    cursor = col.find({}).sort([("order_id", ASCENDING), ("version", DESCENDING)])
    assert [d["_id"] async for d in cursor] == [2, 3, 1]


async def test_count_documents(col: Coll) -> None:
    assert await col.count_documents({}) == 0
    await col.insert_many([{"_id": i, "odd": i % 2 == 1} for i in range(7)])
    assert await col.count_documents({}) == 7
    assert await col.count_documents({"odd": True}) == 3
    assert await col.count_documents({"_id": {"$gte": 5}}) == 2


async def test_delete_one_and_delete_many(col: Coll) -> None:
    await col.insert_many([{"_id": i, "g": i % 2} for i in range(6)])
    one = await col.delete_one({"g": 0})
    assert one.deleted_count == 1
    assert await col.count_documents({"g": 0}) == 2
    many = await col.delete_many({"g": 1})
    assert many.deleted_count == 3
    assert await col.count_documents({}) == 2
    assert (await col.delete_one({"g": 9})).deleted_count == 0


# --- bulk_write ------------------------------------------------------------------------------


async def test_bulk_write_unordered_counts(col: Coll) -> None:
    await col.insert_one({"_id": "i1", "stock": 1})
    result = await col.bulk_write(
        [
            UpdateOne({"_id": "i1"}, {"$set": {"stock": 5}}, upsert=True),
            UpdateOne({"_id": "i2"}, {"$setOnInsert": {"stock": 7}}, upsert=True),
            InsertOne({"_id": "i3", "stock": 0}),
        ],
        ordered=False,
    )
    assert result.inserted_count == 1
    assert result.matched_count == 1
    assert result.modified_count == 1
    assert result.upserted_count == 1
    assert result.upserted_ids == {1: "i2"}
    assert {d["_id"]: d["stock"] async for d in col.find({})} == {"i1": 5, "i2": 7, "i3": 0}


async def test_bulk_write_unordered_duplicate_applies_the_others(col: Coll) -> None:
    await col.insert_one({"_id": "dup"})
    with pytest.raises(BulkWriteError) as info:
        await col.bulk_write(
            [
                InsertOne({"_id": "a"}),
                InsertOne({"_id": "dup", "second": True}),
                UpdateOne({"_id": "u"}, {"$setOnInsert": {"x": 1}}, upsert=True),
                InsertOne({"_id": "b"}),
            ],
            ordered=False,
        )
    details = info.value.details
    assert [(e["index"], e["code"]) for e in details["writeErrors"]] == [(1, 11000)]
    assert details["nInserted"] == 2
    assert details["nUpserted"] == 1
    assert await ids(col, {}) == {"dup", "a", "u", "b"}
    assert await col.find_one({"_id": "dup"}) == {"_id": "dup"}


async def test_bulk_write_unordered_guarded_updates_count_only_those_that_matched(
    col: Coll,
) -> None:
    # Each UpdateOne is one atomic single-document update: all of it applies or none of it.
    await col.insert_many(
        [{"_id": f"o{n}", "status": "placed", "version": 1, "consumed": {}} for n in range(4)]
    )
    guard = {"status": "placed", "version": 1, "consumed.m1": {"$exists": False}}
    change = {
        "$set": {"status": "paid", "consumed.m1": True, "marks.w1": 1},
        "$unset": {"nothing": ""},
        "$inc": {"version": 1},
    }
    result = await col.bulk_write(
        [
            UpdateOne({"_id": "o0", **guard}, change),
            UpdateOne({"_id": "o1", **guard, "version": 7}, change),  # version differs
            UpdateOne({"_id": "o2", **guard}, change),
            UpdateOne({"_id": "missing", **guard}, change),
        ],
        ordered=False,
    )
    assert (result.matched_count, result.modified_count, result.upserted_count) == (2, 2, 0)
    after = {d["_id"]: d async for d in col.find({"_id": {"$in": ["o0", "o1", "o2", "o3"]}})}
    paid = {"status": "paid", "version": 2, "consumed": {"m1": True}, "marks": {"w1": 1}}
    placed = {"status": "placed", "version": 1, "consumed": {}}
    assert after == {
        "o0": {"_id": "o0", **paid},
        "o1": {"_id": "o1", **placed},
        "o2": {"_id": "o2", **paid},
        "o3": {"_id": "o3", **placed},
    }
    assert await col.count_documents({}) == 4


async def test_find_by_ids_projecting_a_map_field(col: Coll) -> None:
    await col.insert_many(
        [{"_id": "a", "marks": {"w1": 1}, "big": "x"}, {"_id": "b", "big": "y"}, {"_id": "c"}]
    )
    found = [d async for d in col.find({"_id": {"$in": ["a", "b", "zz"]}}, {"marks": 1})]
    assert sorted(found, key=lambda d: d["_id"]) == [
        {"_id": "a", "marks": {"w1": 1}},
        {"_id": "b"},
    ]


async def test_bulk_write_unordered_update_error_fails_only_its_index(col: Coll) -> None:
    await col.create_index("code", unique=True, sparse=True)
    await col.insert_many([{"_id": "a", "code": 1}, {"_id": "b", "code": 2}, {"_id": "c"}])
    with pytest.raises(BulkWriteError) as info:
        await col.bulk_write(
            [
                UpdateOne({"_id": "a"}, {"$set": {"x": 1}}),
                UpdateOne({"_id": "b"}, {"$set": {"code": 1, "x": 1}}),  # unique index
                UpdateOne({"_id": "c"}, {"$set": {"x": 1}}),
                InsertOne({"_id": "a"}),  # duplicate _id
                InsertOne({"_id": "d"}),
            ],
            ordered=False,
        )
    details = info.value.details
    assert sorted((e["index"], e["code"]) for e in details["writeErrors"]) == [
        (1, 11000),
        (3, 11000),
    ]
    assert details["nInserted"] == 1
    assert {d["_id"]: d async for d in col.find({})} == {
        "a": {"_id": "a", "code": 1, "x": 1},
        "b": {"_id": "b", "code": 2},
        "c": {"_id": "c", "x": 1},
        "d": {"_id": "d"},
    }


# --- datetimes -------------------------------------------------------------------------------


async def test_datetime_round_trip_millisecond_utc(col: Coll) -> None:
    exact = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    plus2 = datetime(2024, 5, 6, 9, 8, 9, 999999, tzinfo=timezone(timedelta(hours=2)))
    await col.insert_one({"_id": 1, "at": exact, "other": plus2})
    doc = await col.find_one({"_id": 1})
    assert doc is not None
    assert doc["at"] == exact.replace(microsecond=123000)  # truncated to the millisecond
    assert doc["at"].utcoffset() == timedelta(0)
    assert doc["other"] == datetime(2024, 5, 6, 7, 8, 9, 999000, tzinfo=UTC)
    assert doc["other"].utcoffset() == timedelta(0)
    assert await ids(col, {"at": exact.replace(microsecond=123000)}) == {1}


# --- concurrency -----------------------------------------------------------------------------


async def test_concurrent_guarded_updates_exactly_one_wins(col: Coll) -> None:
    await col.insert_one({"_id": "o1", "version": 1})
    results = await asyncio.gather(
        *(
            col.find_one_and_update(
                {"_id": "o1", "version": 1},
                {"$inc": {"version": 1}},
                return_document=ReturnDocument.AFTER,
            )
            for _ in range(20)
        )
    )
    winners = [r for r in results if r is not None]
    assert winners == [{"_id": "o1", "version": 2}]
    assert await col.find_one({"_id": "o1"}) == {"_id": "o1", "version": 2}


async def test_concurrent_conditional_stock_reservation(col: Coll) -> None:
    # DESIGN.md §3: one conditional update per item; stock never negative, no double reservation.
    await col.insert_many(
        [{"_id": "scarce", "stock": 5, "reservations": {}}, {"_id": "plenty", "stock": 100}]
    )

    async def reserve(item: str, order: str) -> bool:
        result = await col.update_one(
            {"_id": item, "stock": {"$gte": 1}, f"reservations.{order}": {"$exists": False}},
            {"$inc": {"stock": -1}, "$set": {f"reservations.{order}": 1}},
        )
        return result.modified_count == 1

    scarce = await asyncio.gather(*(reserve("scarce", f"o{i}") for i in range(20)))
    redelivered = await asyncio.gather(*(reserve("plenty", "o1") for _ in range(20)))
    assert sum(scarce) == 5
    assert sum(redelivered) == 1
    docs = {d["_id"]: d async for d in col.find({})}
    assert docs["scarce"]["stock"] == 0
    assert len(docs["scarce"]["reservations"]) == 5
    assert docs["plenty"]["stock"] == 99
    assert docs["plenty"]["reservations"] == {"o1": 1}


async def test_concurrent_inc_loses_no_update(col: Coll) -> None:
    await col.insert_one({"_id": 1, "n": 0})
    await asyncio.gather(*(col.update_one({"_id": 1}, {"$inc": {"n": 1}}) for _ in range(30)))
    assert await col.find_one({"_id": 1}) == {"_id": 1, "n": 30}
