"""Deterministic chance: the same (seed, order, question) always gets the same answer.

Every random choice the simulator makes about an order (decline the payment? how long does the
kitchen take?) is derived from a hash of the seed, the order id and the name of the question,
so a redelivered command is answered exactly as the first delivery was, and a run can be
repeated with the same seed.
"""

from __future__ import annotations

import hashlib
import random

from simulator.delays import Delay


def _digest(seed: str, order_id: str, name: str) -> bytes:
    return hashlib.sha256("\x1f".join((seed, order_id, name)).encode()).digest()


class Decisions:
    def __init__(self, seed: str) -> None:
        self.seed = seed

    def unit(self, order_id: str, name: str) -> float:
        """A number in [0, 1), uniformly distributed over order ids."""
        return int.from_bytes(_digest(self.seed, order_id, name)[:8], "big") / 2**64

    def happens(self, rate: float, order_id: str, name: str) -> bool:
        """True for a `rate` share of orders: never at 0, always at 1."""
        return self.unit(order_id, name) < rate

    def rng(self, order_id: str, name: str) -> random.Random:
        return random.Random(int.from_bytes(_digest(self.seed, order_id, name), "big"))

    def delay_ms(self, delay: Delay, order_id: str, name: str) -> int:
        return delay.sample_ms(self.rng(order_id, f"delay:{name}"))

    def token(self, order_id: str, name: str, length: int = 16) -> str:
        """A stable hex identifier (payment ids) for this order."""
        return _digest(self.seed, order_id, f"id:{name}").hex()[:length]
