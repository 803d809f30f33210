"""Keys of maps indexed by version inside a document (`history.v000003`, `timeline.v000003`).

Never a purely numeric path component: MongoDB, and the embedded server even more, may read
`field.3` as an array index (DESIGN.md §3). Zero-padded, so keys sort in version order.
"""

from __future__ import annotations


def version_key(version: int) -> str:
    return f"v{version:06d}"


def key_version(key: str) -> int | None:
    """The version a key stands for; None for any other key."""
    digits = key[1:]
    if not key.startswith("v") or not digits.isascii() or not digits.isdigit():
        return None
    return int(digits)
