"""Typed views of the Redis stream replies the runtime reads (clients decode to str)."""

from __future__ import annotations

from typing import Any, cast

Fields = dict[str, str]
Entry = tuple[str, Fields | None]
StreamEntries = tuple[str, list[Entry]]


def read_reply(reply: Any) -> list[StreamEntries]:
    """XREADGROUP/XREAD: `[(stream, [(id, fields), ...]), ...]`; an empty list when nothing came."""
    return cast(list[StreamEntries], reply or [])


def entries(reply: Any) -> list[Entry]:
    """XRANGE/XCLAIM: `[(id, fields), ...]`; fields is None for an entry deleted while pending."""
    return cast(list[Entry], reply or [])


def autoclaim_reply(reply: Any) -> tuple[str, list[Entry], list[str]]:
    """XAUTOCLAIM: next cursor, claimed entries, and (Redis 7) ids deleted from the stream."""
    items = cast(list[Any], reply)
    deleted = cast(list[str], items[2]) if len(items) > 2 else []
    return cast(str, items[0]), entries(items[1]), deleted
