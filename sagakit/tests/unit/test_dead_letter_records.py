from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from sagakit.dead_letters import DLQ_PREFIX, _decode, dlq_stream


def test_dead_letter_stream_name() -> None:
    assert dlq_stream("payments.events") == "dlq.payments.events"
    assert dlq_stream("x").removeprefix(DLQ_PREFIX) == "x"


@given(
    fields=st.dictionaries(st.text(), st.text(), max_size=8),
    deliveries=st.integers(0, 10**6),
    reason=st.text(),
)
def test_any_original_fields_survive_the_record(
    fields: dict[str, str], deliveries: int, reason: str
) -> None:
    raw = {
        "original_id": "1-2",
        "group": "g",
        "reason": reason,
        "error": "boom",
        "deliveries": str(deliveries),
        "at": "2024-01-01T00:00:00+00:00",
        "fields": orjson.dumps(fields).decode(),
    }
    letter = _decode("s", "9-9", raw)
    assert letter.fields == fields
    assert letter.deliveries == deliveries
    assert letter.reason == reason
    assert (letter.stream, letter.dlq_id) == ("s", "9-9")
    assert (letter.original_id, letter.group) == ("1-2", "g")
    assert letter.as_dict()["fields"] == fields


@given(
    st.dictionaries(st.sampled_from(["fields", "reason", "original_id", "x"]), st.text()),
    st.one_of(st.none(), st.just(""), st.integers(0, 99).map(str)),
)
def test_a_damaged_record_still_decodes(raw: dict[str, str], deliveries: str | None) -> None:
    """Missing keys or a `fields` value that is not a JSON object never break listing."""
    if deliveries is not None:
        raw["deliveries"] = deliveries
    letter = _decode("s", "1-0", raw)
    assert isinstance(letter.fields, dict)
    assert letter.original_id == raw.get("original_id", "")
