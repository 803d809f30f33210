"""What each order contains: random but reproducible from the seed.

Contents depend only on the seed, the menu's item ids and the order's number, never on timing.
The Idempotency-Key carries the run's own id as well, so running again with the same seed
places new orders instead of getting the previous run's answers back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

NAMES = ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov")
STREETS = ("Compiler Way", "Bletchley Park", "Analytical Lane", "Lambda Road", "Stack Street")

MAX_LINES = 3
MAX_QUANTITY = 3


@dataclass(frozen=True, slots=True)
class OrderContents:
    body: dict[str, Any]
    idempotency_key: str

    @property
    def quantities(self) -> dict[str, int]:
        return {line["item_id"]: line["quantity"] for line in self.body["items"]}


def order_contents(
    item_ids: list[str], count: int, *, seed: int, run_id: str
) -> list[OrderContents]:
    """`count` orders of 1-3 distinct menu items, 1-3 of each."""
    if not item_ids:
        raise ValueError("the menu is empty")
    rng = random.Random(seed)
    menu = sorted(item_ids)
    orders: list[OrderContents] = []
    for n in range(count):
        lines = rng.sample(menu, rng.randint(1, min(MAX_LINES, len(menu))))
        customer = {
            "name": rng.choice(NAMES),
            "address": f"{rng.randint(1, 999)} {rng.choice(STREETS)}",
            "phone": f"+1 555 {rng.randint(0, 9999):04d}",
        }
        body = {
            "customer": customer,
            "items": [
                {"item_id": item_id, "quantity": rng.randint(1, MAX_QUANTITY)} for item_id in lines
            ],
        }
        orders.append(OrderContents(body, f"sim-{run_id}-{n}"))
    return orders
