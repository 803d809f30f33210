from __future__ import annotations

from pathlib import Path

from saga_contracts import messages
from saga_contracts.catalog import channels, render
from saga_contracts.topology import Streams

EVENTS_MD = Path(__file__).resolve().parents[2] / "docs" / "EVENTS.md"


def test_docs_events_md_matches_the_code() -> None:
    assert EVENTS_MD.read_text() == render(), (
        "docs/EVENTS.md is stale: run `uv run python -m saga_contracts.catalog > docs/EVENTS.md`"
    )


def test_every_message_model_travels_on_exactly_one_stream() -> None:
    placed = [model for channel in channels() for model in channel.messages]
    assert sorted(m.message_type for m in placed) == sorted(
        m.message_type for m in messages.ALL_MESSAGES
    )
    assert len(placed) == len(set(placed))


def test_the_catalogue_and_the_topology_agree() -> None:
    streams = Streams()
    assert sorted(c.stream for c in channels()) == sorted(streams.all())
    readers = streams.readers()
    for channel in channels():
        assert list(channel.readers) == readers[channel.stream]


def test_message_types_are_unique() -> None:
    kinds = [m.message_type for m in messages.ALL_MESSAGES]
    assert len(kinds) == len(set(kinds))
