"""Stream entries whose field names or values are not UTF-8, as any client may XADD them.

The clients decode replies with `surrogateescape` (`connections.redis_client`): each byte that
is not UTF-8 becomes a lone surrogate U+DC80..U+DCFF instead of failing the whole reply, so
one such entry cannot stop a read, a claim or the recovery of a consumer's pending entries,
and encoding the text the same way gives back the original bytes. Valid UTF-8 never decodes
to those code points, so finding one means the entry was undecodable; `Intake` dead-letters
it at once (reason `undecodable`).

A dead letter keeps such fields twice: readable (each bad byte shown as `\\xff`) in `fields`,
and losslessly as base64 pairs in `fields_base64`, which replay appends back byte for byte.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping

import orjson

REASON = "undecodable"
RAW_FIELDS = "fields_base64"  # the dead-letter record's field holding the original bytes

_ESCAPED = re.compile("[\udc80-\udcff]")

RawFields = list[tuple[str, str]]  # [(base64 name, base64 value), ...]


def is_undecodable(fields: Mapping[str, str]) -> bool:
    # isascii() is a flag check in CPython, so entries of ASCII text cost a loop and no scan.
    for key, value in fields.items():
        if not (key.isascii() and value.isascii()) and (
            _ESCAPED.search(key) or _ESCAPED.search(value)
        ):
            return True
    return False


def original_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def readable(text: str) -> str:
    """The text with each byte that was not UTF-8 written as `\\xNN` (JSON can carry it)."""
    return original_bytes(text).decode("utf-8", "backslashreplace")


def readable_fields(fields: Mapping[str, str]) -> dict[str, str]:
    if not is_undecodable(fields):
        return dict(fields)
    return {readable(key): readable(value) for key, value in fields.items()}


def encode_raw(fields: Mapping[str, str]) -> str:
    """The fields' original bytes, as a JSON list of [base64 name, base64 value] pairs."""
    return orjson.dumps([[_b64(key), _b64(value)] for key, value in fields.items()]).decode()


def parse_raw(text: str) -> RawFields | None:
    """The pairs `encode_raw` wrote, checked to be base64; None for anything else."""
    try:
        pairs = orjson.loads(text)
        if not isinstance(pairs, list):
            return None
        checked: RawFields = []
        for name, value in pairs:
            base64.b64decode(name, validate=True)
            base64.b64decode(value, validate=True)
            checked.append((str(name), str(value)))
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return None
    return checked


def raw_bytes(pairs: RawFields) -> dict[bytes, bytes]:
    """The original field names and values, to append back as they were."""
    return {base64.b64decode(name): base64.b64decode(value) for name, value in pairs}


def _b64(text: str) -> str:
    return base64.b64encode(original_bytes(text)).decode()
