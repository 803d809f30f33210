from __future__ import annotations

import asyncio

from redis.exceptions import ConnectionError as RedisConnectionError

from sagakit.dead_letters import DeadLetter, _decode
from sagakit.failure_details import MESSAGE_CHARS, TRACEBACK_CHARS, FailureDetails


def deep(n: int) -> None:
    if n == 0:
        raise RedisConnectionError("x" * 5_000)
    deep(n - 1)


def test_details_name_the_type_and_keep_a_bounded_message_and_the_innermost_frames() -> None:
    try:
        deep(200)
    except RedisConnectionError as exc:
        details = FailureDetails.of(exc)
    assert details.error_type == "redis.exceptions.ConnectionError"
    assert details.error_message == "x" * MESSAGE_CHARS
    assert len(details.traceback) <= TRACEBACK_CHARS
    assert details.traceback.count("in deep") <= 8  # the last frames only
    assert 'raise RedisConnectionError("x" * 5_000)' in details.traceback


def test_a_builtin_type_is_named_plainly() -> None:
    assert FailureDetails.of(ValueError("no")).error_type == "ValueError"


async def hang() -> None:
    await asyncio.sleep(3600)


async def test_a_timeout_shows_where_the_work_was_stuck() -> None:
    try:
        async with asyncio.timeout(0.01):
            await hang()
    except TimeoutError as exc:
        details = FailureDetails.of(exc)
    assert details.error_type == "TimeoutError"
    assert "in hang" in details.traceback


RECORD = {
    "original_id": "1-2",
    "group": "g",
    "reason": "max_deliveries",
    "error": "ValueError: no",
    "deliveries": "5",
    "at": "2024-01-01T00:00:00+00:00",
    "fields": '{"a": "b"}',
}


def test_a_record_written_before_the_details_existed_decodes_with_them_empty() -> None:
    letter = _decode("s", "9-9", RECORD)
    assert letter.failure == FailureDetails("", "", "")
    listed = letter.as_dict()
    assert (listed["error_type"], listed["error_message"], listed["traceback"]) == ("", "", "")
    assert listed["error"] == "ValueError: no"


def test_a_record_with_details_decodes_them() -> None:
    details = FailureDetails.of(ValueError("no"))
    letter = _decode("s", "9-9", {**RECORD, **details.as_record()})
    assert letter.failure == details
    assert letter.as_dict()["error_message"] == "no"


def test_a_dead_letter_built_without_details_has_empty_ones() -> None:
    letter = DeadLetter("9-9", "s", "1-2", "g", "unparseable", "bad", 1, "", {})
    assert letter.failure.traceback == ""
