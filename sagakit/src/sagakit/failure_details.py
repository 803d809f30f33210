"""What an operator needs to debug a failure after the fact: the exception's type, message and
where it was raised (the last frames of its traceback, bounded in size)."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from dataclasses import dataclass

FRAMES_KEPT = 8  # per exception of the chain: the innermost ones, where it was raised
MESSAGE_CHARS = 1_000
TRACEBACK_CHARS = 4_000
LINE_CHARS = 500  # a long message must not crowd the frames out of the traceback


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _clip(chunk: str) -> str:
    return chunk if len(chunk) <= LINE_CHARS else chunk[: LINE_CHARS - 2] + "…\n"


def _tail(text: str, limit: int) -> str:
    """The end of `text` (where the innermost frames are), marked when cut."""
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


@dataclass(frozen=True, slots=True)
class FailureDetails:
    error_type: str
    error_message: str
    traceback: str

    @classmethod
    def of(cls, exc: BaseException) -> FailureDetails:
        # A chained exception keeps its cause's frames: for a handler timeout, the cancelled
        # await shows where the handler was stuck.
        formatted = traceback.TracebackException.from_exception(exc, limit=-FRAMES_KEPT)
        text = "".join(_clip(chunk) for chunk in formatted.format())
        return cls(
            error_type=_type_name(exc),
            error_message=str(exc)[:MESSAGE_CHARS],
            traceback=_tail(text, TRACEBACK_CHARS),
        )

    @classmethod
    def from_record(cls, raw: Mapping[str, str]) -> FailureDetails:
        """Read back from a record; a record written before these fields existed has none."""
        return cls(
            error_type=raw.get("error_type", ""),
            error_message=raw.get("error_message", ""),
            traceback=raw.get("traceback", ""),
        )

    def as_record(self) -> dict[str, str]:
        return {
            "error_type": self.error_type,
            "error_message": self.error_message,
            "traceback": self.traceback,
        }


NO_DETAILS = FailureDetails("", "", "")
