"""The menu's price cache: a burst of orders prices itself with one read, and a price change
made by this process is seen at once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from pymongo import monitoring

from orders.menu import DEFAULT_MENU
from orders.store import MenuStore
from sagakit.connections import mongo_client


class Finds(monitoring.CommandListener):
    def __init__(self) -> None:
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.count += event.command_name == "find"

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_a_burst_of_orders_reads_the_prices_once_and_sees_a_change_at_once(
    mongo_url: str,
) -> None:
    finds = Finds()
    client = mongo_client(mongo_url, event_listeners=[finds])
    db = client[f"t_{uuid.uuid4().hex[:12]}"]
    try:
        menu = MenuStore(db.menu_items, price_cache_s=3600)
        await menu.seed(DEFAULT_MENU, stock=10)
        first, second = DEFAULT_MENU[0]["id"], DEFAULT_MENU[1]["id"]
        finds.count = 0

        priced = await asyncio.gather(*(menu.by_ids([first, second]) for _ in range(20)))
        assert finds.count == 1
        expected: dict[str, Any] = {
            first: DEFAULT_MENU[0]["price_cents"],
            second: DEFAULT_MENU[1]["price_cents"],
        }
        assert all({k: v["price_cents"] for k, v in p.items()} == expected for p in priced)

        assert await menu.patch(first, {"price_cents": 1}) is not None
        after = await asyncio.gather(*(menu.by_ids([first]) for _ in range(5)))
        assert [p[first]["price_cents"] for p in after] == [1] * 5
        assert finds.count == 2
    finally:
        await client.drop_database(db.name)
        await client.close()
