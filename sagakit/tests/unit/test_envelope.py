from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagakit.envelope import FIELDS, Envelope, Message, PoisonMessage

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(), inner, max_size=4)
    ),
    max_leaves=20,
)
zones = st.one_of(
    st.just(UTC),
    st.builds(
        timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
    ),
)
# Optional metadata travels as "" for None, so a present value is non-empty.
optional_text = st.one_of(st.none(), st.text(min_size=1))

envelopes = st.builds(
    Envelope,
    id=st.text(),
    type=st.text(),
    key=st.text(),
    version=st.integers(min_value=-(2**70), max_value=2**70),
    occurred_at=st.datetimes(timezones=zones),
    causation_id=optional_text,
    traceparent=optional_text,
    payload=st.dictionaries(st.text(), json_values, max_size=6),
)


@given(envelopes)
def test_fields_round_trip_any_envelope(envelope: Envelope) -> None:
    fields = envelope.to_fields()
    assert set(fields) == set(FIELDS)
    assert all(isinstance(v, str) for v in fields.values())
    assert Envelope.from_fields(fields) == envelope


@given(st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=10))
def test_any_garbage_field_map_is_poison_or_an_envelope(fields: dict[str, str]) -> None:
    with contextlib.suppress(PoisonMessage):
        Envelope.from_fields(fields)


def _valid_fields() -> dict[str, str]:
    return Envelope(
        id="m1", type="t", key="o1", version=1, occurred_at=datetime.now(UTC), payload={"a": 1}
    ).to_fields()


@given(
    field=st.sampled_from(["id", "type", "key", "version", "occurred_at", "payload"]),
    value=st.one_of(
        st.text(max_size=30),
        st.sampled_from(["", "null", "[]", "1", "{", "9" * 5000, "[" * 3000, "nan", "-"]),
    ),
    drop=st.booleans(),
)
def test_a_corrupted_field_is_poison_and_nothing_else(field: str, value: str, drop: bool) -> None:
    fields = _valid_fields()
    if drop:
        del fields[field]
    else:
        fields[field] = value
    try:
        Envelope.from_fields(fields)
    except PoisonMessage:
        return
    assert not drop  # a missing required field can never decode


@pytest.mark.parametrize(
    "fields",
    [
        None,
        {},
        {"garbage": "x"},
        {**_valid_fields(), "payload": "[1, 2]"},
        {**_valid_fields(), "payload": "not json"},
        {**_valid_fields(), "version": "one"},
        {**_valid_fields(), "occurred_at": "yesterday"},
    ],
)
def test_known_garbage_is_poison(fields: dict[str, str] | None) -> None:
    with pytest.raises(PoisonMessage):
        Envelope.from_fields(fields)


class Paid(Message):
    message_type = "test.paid"
    amount_cents: int


def test_a_payload_that_does_not_fit_its_model_is_poison() -> None:
    envelope = Paid(amount_cents=5).envelope(key="o1", version=1)
    bad = envelope.model_copy(update={"payload": {"amount_cents": "lots"}})
    with pytest.raises(PoisonMessage):
        Paid.from_envelope(bad)
    missing = envelope.model_copy(update={"payload": {}})
    with pytest.raises(PoisonMessage):
        Paid.from_envelope(missing)
    with pytest.raises(PoisonMessage):
        Paid.from_envelope(envelope.model_copy(update={"type": "other"}))
    assert Paid.from_envelope(envelope).amount_cents == 5


def test_causation_and_trace_follow_the_cause() -> None:
    cause = Envelope(
        id="c1",
        type="t",
        key="o1",
        version=1,
        occurred_at=datetime.now(UTC),
        traceparent="00-abc-def-01",
        payload={},
    )
    effect = Paid(amount_cents=1).envelope(key="o1", version=2, causation=cause)
    assert effect.causation_id == "c1"
    assert effect.traceparent == "00-abc-def-01"
    fields: dict[str, Any] = effect.to_fields()
    assert orjson.loads(fields["payload"]) == {"amount_cents": 1}


def test_a_field_added_by_a_newer_producer_is_ignored_not_poison() -> None:
    envelope = Paid(amount_cents=5).envelope(key="o1", version=1)
    newer = envelope.model_copy(update={"payload": {"amount_cents": 1, "currency": "EUR"}})
    assert Paid.from_envelope(newer) == Paid(amount_cents=1)
