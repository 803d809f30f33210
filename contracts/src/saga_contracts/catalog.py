"""Which messages travel on which stream, who writes them and who reads them.

The single source for docs/EVENTS.md (rendered by `python -m saga_contracts.catalog`); a test
fails when the committed document and this catalogue or the message models disagree.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from saga_contracts import messages as m
from saga_contracts.topology import Groups, Streams
from sagakit.envelope import Message


@dataclass(frozen=True)
class Channel:
    stream: str
    writer: str
    readers: tuple[str, ...]
    messages: tuple[type[Message], ...]
    purpose: str


def channels(streams: Streams | None = None) -> list[Channel]:
    s = streams or Streams()
    return [
        Channel(
            s.orders_events,
            "orders",
            (Groups.NOTIFICATIONS, Groups.ORDERS_STOCK),
            (m.OrderStatusChanged, m.StockRefilled),
            "every status change of an order (version +1 each), stock refills",
        ),
        Channel(
            s.orders_commands,
            "notifications",
            (Groups.ORDERS_REPUBLISH,),
            (m.RepublishStatuses,),
            "requests to publish an order's recorded statuses again (repairs a lost one)",
        ),
        Channel(
            s.payments_commands,
            "orders",
            (Groups.PAYMENTS,),
            (m.AuthorizePayment, m.VoidPayment, m.RefundPayment, m.CapturePayment),
            "the saga's requests to the payment gateway",
        ),
        Channel(
            s.payments_events,
            "simulator (payment gateway)",
            (Groups.ORDERS,),
            (m.PaymentAuthorized, m.PaymentDeclined, m.PaymentSettled),
            "the payment gateway's answers",
        ),
        Channel(
            s.kitchen_commands,
            "orders",
            (Groups.KITCHEN,),
            (m.PrepareOrder, m.CancelTicket),
            "tickets for the kitchen",
        ),
        Channel(
            s.kitchen_events,
            "simulator (kitchen)",
            (Groups.ORDERS,),
            (m.KitchenAccepted, m.KitchenRejected, m.KitchenReady),
            "the kitchen's answers",
        ),
        Channel(
            s.delivery_commands,
            "orders",
            (Groups.DELIVERY,),
            (m.RequestDelivery, m.CancelDelivery),
            "the saga's requests for delivery",
        ),
        Channel(
            s.delivery_events,
            "delivery",
            (Groups.ORDERS,),
            (
                m.CourierAssigned,
                m.DeliveryPickedUp,
                m.DeliveryDelivered,
                m.DeliveryFailed,
                m.NoCourier,
            ),
            "the delivery service's facts",
        ),
        Channel(
            s.couriers_commands,
            "delivery",
            (Groups.COURIERS,),
            (m.DispatchCourier,),
            "jobs for the couriers",
        ),
        Channel(
            s.couriers_events,
            "simulator (couriers)",
            (Groups.DELIVERY,),
            (m.CourierPickedUp, m.CourierDelivered, m.CourierFailed),
            "what the couriers report",
        ),
    ]


ENVELOPE_FIELDS = [
    ("id", "string", "unique message id (uuid4 hex); consumers deduplicate on it"),
    ("type", "string", "the message type, e.g. `order.status_changed`"),
    ("key", "string", "the order id: the ordering key (one order's messages in order)"),
    ("version", "integer (as text)", "the order's version when the message was produced"),
    ("occurred_at", "ISO-8601", "when it happened (UTC)"),
    ("causation_id", "string or empty", "id of the message that caused this one"),
    ("traceparent", "string or empty", "W3C trace context, carried along the causation chain"),
    ("payload", "JSON object", "the message's fields, below"),
]


DEAD_LETTER_FIELDS = [
    ("original_id", "the entry's id on the original stream"),
    ("group", "the consumer group that gave up"),
    ("reason", "`unparseable`, `invalid_payload` or `max_deliveries`"),
    ("error", "the last error (truncated)"),
    ("deliveries", "Redis' delivery count when it was given up"),
    ("at", "when (ISO-8601, UTC)"),
    ("fields", "the original entry's fields, verbatim, as one JSON object"),
]


def _type_name(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        target = defs.get(name, {})
        if "enum" in target:
            return " \\| ".join(f"`{v}`" for v in target["enum"])
        return name
    if "anyOf" in schema:
        return " or ".join(_type_name(s, defs) for s in schema["anyOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type_name(schema.get('items', {}), defs)}"
    if kind == "object" and "additionalProperties" in schema:
        return f"map of {_type_name(schema['additionalProperties'], defs)}"
    if schema.get("format") == "date-time":
        return "ISO-8601 datetime"
    return str(kind)


def _fields(model: type[Message]) -> list[tuple[str, str, bool]]:
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    return [
        (name, _type_name(prop, defs), name in required)
        for name, prop in schema.get("properties", {}).items()
    ]


def render() -> str:
    out = [
        "# Events and commands",
        "",
        "Generated from `contracts/src/saga_contracts` by "
        "`uv run python -m saga_contracts.catalog > docs/EVENTS.md`; "
        "`contracts/tests/test_catalog.py` fails when this file and the code disagree.",
        "",
        "Commands to a participant go on `<participant>.commands`, facts on `<service>.events`."
        " Every stream entry is an envelope; a deployment may prefix every stream name"
        " (`STREAM_PREFIX`). An entry that cannot be parsed, or whose payload does not fit its"
        " model, goes to `dlq.<stream>`. Readers ignore payload fields they do not know.",
        "",
        "## Envelope",
        "",
        "| field | type | meaning |",
        "|---|---|---|",
    ]
    out += [f"| `{name}` | {kind} | {meaning} |" for name, kind, meaning in ENVELOPE_FIELDS]
    out += [
        "",
        "## Streams",
        "",
        "| stream | written by | read by (groups) | messages |",
        "|---|---|---|---|",
    ]
    for channel in channels():
        kinds = ", ".join(f"`{model.message_type}`" for model in channel.messages)
        readers = ", ".join(f"`{group}`" for group in channel.readers)
        out.append(f"| `{channel.stream}` | {channel.writer} | {readers} | {kinds} |")
    for channel in channels():
        out += ["", f"## `{channel.stream}`", "", channel.purpose + "."]
        for model in channel.messages:
            out += ["", f"### `{model.message_type}`", ""]
            doc = (model.__doc__ or "").strip()
            if doc and not doc.startswith("Base of"):
                out += [doc, ""]
            out += ["| field | type | required |", "|---|---|---|"]
            out += [
                f"| `{name}` | {kind} | {'yes' if req else 'no'} |"
                for name, kind, req in _fields(model)
            ]
    out += [
        "",
        "## Dead letters: `dlq.<stream>`",
        "",
        "What a group gave up on (`sagakit.dead_letters`), listed, replayed to the original"
        " stream and purged with `orders-saga dlq` or `/api/ops/dlq`.",
        "",
        "| field | meaning |",
        "|---|---|",
    ]
    out += [f"| `{name}` | {meaning} |" for name, meaning in DEAD_LETTER_FIELDS]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
