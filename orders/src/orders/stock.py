"""What becomes of an order's reserved stock when it ends, and the janitor that settles the
reservations nobody settled.

Normally the `orders-stock` group settles an order's stock when it reads the order's terminal
`order.status_changed`. Two crashes leave a reservation behind instead: a request that died
between reserving and creating its order (no order), and an end event lost before that group
read it (Redis restarted empty, or the stream flushed) while notifications had already read it,
so nothing asks for it again. The janitor settles both, once they are older than a grace
period that leaves the request or the handler still at work alone. Releasing and settling are
guarded per reservation, so the janitor racing the handler changes the stock once.
"""

from __future__ import annotations

from collections import defaultdict

from orders.domain import StockOutcome
from orders.store import MenuStore
from saga_contracts.messages import OrderStatus
from sagakit.clock import now_ms
from sagakit.logs import get_logger
from sagakit.outbox import Collection, Document

log = get_logger("orders.stock")


async def settle_stock(menu: MenuStore, order: Document) -> bool:
    """Return the ended order's stock (nothing was cooked) or keep it sold; True if anything
    was still reserved."""
    release = order.get("stock_outcome") == StockOutcome.RELEASE.value
    changed = False
    for line in order["lines"]:
        if release:
            changed |= await menu.release(line["item_id"], order["_id"], line["quantity"])
        else:
            changed |= await menu.settle_sold(line["item_id"], order["_id"])
    return changed


class ReservationJanitor:
    def __init__(self, menu: MenuStore, orders: Collection, *, grace_s: float) -> None:
        self._menu = menu
        self._orders = orders
        self._grace_ms = int(grace_s * 1000)

    async def run_once(self) -> int:
        """One pass; how many orders' reservations it settled."""
        held: defaultdict[str, list[tuple[str, int]]] = defaultdict(list)
        for item_id, order_id, quantity in await self._menu.reservations_older_than(
            now_ms() - self._grace_ms
        ):
            held[order_id].append((item_id, quantity))
        if not held:
            return 0
        cursor = self._orders.find(
            {"_id": {"$in": list(held)}}, {"status": 1, "stock_outcome": 1, "lines": 1}
        )
        orders = {doc["_id"]: doc async for doc in cursor}
        settled = 0
        for order_id, reservations in held.items():
            order = orders.get(order_id)
            if order is None:
                released = [
                    item_id
                    for item_id, quantity in reservations
                    if await self._menu.release(item_id, order_id, quantity)
                ]
                if released:
                    log.warning("released an orphan reservation", order_id=order_id, items=released)
                    settled += 1
            elif OrderStatus(order["status"]).terminal and await settle_stock(self._menu, order):
                log.warning(
                    "settled the stock of an ended order whose end event was lost",
                    order_id=order_id,
                    status=order["status"],
                )
                settled += 1
        return settled
