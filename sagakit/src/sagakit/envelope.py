"""The message envelope every stream entry carries, and its wire encoding.

A stream entry is a flat map of strings. The envelope's metadata travels as separate fields
(so `XRANGE` output stays readable and tooling can filter without parsing JSON) and the
payload as one JSON field.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Self

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

# occurred_at is read by other processes and shown to users: the one clock's (clock.py)
from sagakit.clock import utcnow as utcnow

FIELDS = ("id", "type", "key", "version", "occurred_at", "causation_id", "traceparent", "payload")


class PoisonMessage(Exception):
    """A stream entry that can never be handled: it goes to the dead-letter stream at once."""


def new_message_id() -> str:
    return uuid.uuid4().hex


class Envelope(BaseModel):
    """Metadata and payload of one message; immutable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    type: str
    key: str
    version: int
    occurred_at: datetime
    causation_id: str | None = None
    traceparent: str | None = None
    payload: dict[str, Any]

    def to_fields(self) -> dict[str, str]:
        return {
            "id": self.id,
            "type": self.type,
            "key": self.key,
            "version": str(self.version),
            "occurred_at": self.occurred_at.isoformat(),
            "causation_id": self.causation_id or "",
            "traceparent": self.traceparent or "",
            "payload": orjson.dumps(self.payload).decode(),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str] | None) -> Envelope:
        """Decode a stream entry; raise PoisonMessage when it is not a valid envelope."""
        if not fields:
            raise PoisonMessage("entry has no fields")
        try:
            payload = orjson.loads(fields["payload"])
            if not isinstance(payload, dict):
                raise PoisonMessage("payload is not a JSON object")
            return cls(
                id=fields["id"],
                type=fields["type"],
                key=fields["key"],
                version=int(fields["version"]),
                occurred_at=datetime.fromisoformat(fields["occurred_at"]),
                causation_id=fields.get("causation_id") or None,
                traceparent=fields.get("traceparent") or None,
                payload=payload,
            )
        except PoisonMessage:
            raise
        except (KeyError, ValueError, TypeError, orjson.JSONDecodeError, ValidationError) as exc:
            raise PoisonMessage(f"not an envelope: {exc.__class__.__name__}: {exc}") from exc


class Message(BaseModel):
    """Base of typed event and command payloads. Subclasses set `message_type`.

    Readers are tolerant: fields a newer producer adds are ignored, so adding a field never
    turns older consumers' messages into poison. Missing or mistyped fields still are.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_type: ClassVar[str]

    def envelope(
        self,
        *,
        key: str,
        version: int,
        causation: Envelope | None = None,
        message_id: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Envelope:
        """Wrap this payload; causation and trace context follow from the message that caused it."""
        return Envelope(
            id=message_id or new_message_id(),
            type=self.message_type,
            key=key,
            version=version,
            occurred_at=occurred_at or utcnow(),
            causation_id=causation.id if causation else None,
            traceparent=causation.traceparent if causation else None,
            payload=self.model_dump(mode="json"),
        )

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> Self:
        """Validate the payload into this model; raise PoisonMessage when it does not fit."""
        if envelope.type != cls.message_type:
            raise PoisonMessage(f"expected {cls.message_type}, got {envelope.type}")
        try:
            return cls.model_validate(envelope.payload)
        except ValidationError as exc:
            raise PoisonMessage(f"invalid {cls.message_type} payload: {exc}") from exc
