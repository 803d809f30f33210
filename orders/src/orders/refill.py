"""Stock refill: top items up to a level or by an amount, once per run, announced on the stream.

A run is identified by `run_id` (the CronJob's run, or generated): each item records the last
run that refilled it, so repeating a run (a retried job) adds nothing, and the run's
`stock.refilled` event is created once, with the run's record, through the outbox.
"""

from __future__ import annotations

import uuid

from orders.schemas import RefillResult
from orders.store import MenuStore
from saga_contracts.messages import StockRefilled
from saga_contracts.topology import Streams
from sagakit.clock import now_ms
from sagakit.outbox import DocumentStore, Emit


class StockRefill:
    def __init__(self, menu: MenuStore, runs: DocumentStore, streams: Streams) -> None:
        self._menu = menu
        self._runs = runs
        self._streams = streams

    async def run(
        self,
        *,
        to: int | None = None,
        add: int | None = None,
        item_ids: list[str] | None = None,
        run_id: str | None = None,
    ) -> RefillResult:
        run_id = run_id or uuid.uuid4().hex
        targets = item_ids or await self._menu.all_ids()
        changed: dict[str, int] = {}
        for item_id in targets:
            added = await self._menu.refill(item_id, run_id, to=to, add=add)
            if added:
                changed[item_id] = added
        levels = await self._menu.levels(targets)
        event = StockRefilled(run_id=run_id, levels=levels)
        await self._runs.insert(
            {"_id": run_id, "at_ms": now_ms(), "changed": changed},
            emit=[
                Emit(self._streams.orders_events, event.envelope(key=f"refill:{run_id}", version=1))
            ],
        )
        return RefillResult(run_id=run_id, changed=changed, levels=levels)

    async def runs_since(self, since_ms: int) -> list[RefillResult]:
        """Refill runs recorded at or after `since_ms` (a load test accounts for them)."""
        cursor = self._runs.collection.find({"at_ms": {"$gte": since_ms}}).sort("at_ms", 1)
        return [
            RefillResult(run_id=run["_id"], changed=run.get("changed", {}), levels={})
            async for run in cursor
        ]
