from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from sagakit.dead_letters import _decode
from sagakit.undecodable import (
    RAW_FIELDS,
    encode_raw,
    is_undecodable,
    parse_raw,
    raw_bytes,
    readable_fields,
)


def as_received(fields: dict[bytes, bytes]) -> dict[str, str]:
    """The fields as the runtime's clients decode them (`surrogateescape`)."""
    return {
        k.decode("utf-8", "surrogateescape"): v.decode("utf-8", "surrogateescape")
        for k, v in fields.items()
    }


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@given(st.dictionaries(st.binary(max_size=12), st.binary(max_size=12), max_size=6))
def test_undecodable_means_some_name_or_value_is_not_utf8(fields: dict[bytes, bytes]) -> None:
    expected = not all(is_utf8(k) and is_utf8(v) for k, v in fields.items())
    assert is_undecodable(as_received(fields)) == expected


@given(st.dictionaries(st.binary(max_size=12), st.binary(max_size=12), max_size=6))
def test_a_dead_letter_record_keeps_the_bytes_and_lists_as_json(fields: dict[bytes, bytes]) -> None:
    received = as_received(fields)
    record = {"fields": orjson.dumps(readable_fields(received)).decode()}  # never refused
    record[RAW_FIELDS] = encode_raw(received)
    letter = _decode("s", "1-0", record)
    assert letter.raw_fields is not None
    assert raw_bytes(letter.raw_fields) == fields
    orjson.dumps(letter.as_dict())


@given(st.dictionaries(st.text(), st.text(), max_size=6))
def test_utf8_fields_are_listed_unchanged(fields: dict[str, str]) -> None:
    if is_undecodable(fields):  # text with lone surrogates is not what a client decodes
        return
    assert readable_fields(fields) == fields


def test_a_damaged_raw_record_is_ignored() -> None:
    for damaged in ["", "{}", "[1]", '[["!!", "AA=="]]', '[["AA=="]]']:
        assert parse_raw(damaged) is None
