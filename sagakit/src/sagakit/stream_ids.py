"""Redis stream entry ids (`<ms>-<seq>`) as comparable values."""

from __future__ import annotations


def parse(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def format_id(ms: int, seq: int) -> str:
    return f"{ms}-{seq}"


def successor(entry_id: str) -> str:
    """The smallest id greater than `entry_id`."""
    ms, seq = parse(entry_id)
    if seq == 2**64 - 1:
        return format_id(ms + 1, 0)
    return format_id(ms, seq + 1)


def lowest(ids: list[str]) -> str:
    return min(ids, key=parse)
