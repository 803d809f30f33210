"""Retry delays: exponential growth with jitter, capped."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """`delay(n)` for the n-th retry (n >= 1): base * 2**(n-1), capped, then jittered.

    Equal jitter keeps the delay within [half, full] of the exponential value, so successive
    retries still grow while replicas retrying together spread out.
    """

    base_s: float = 0.05
    cap_s: float = 2.0

    def ceiling(self, attempt: int) -> float:
        exponent = min(max(attempt, 1) - 1, 62)
        return min(self.cap_s, self.base_s * (2.0**exponent))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = self.ceiling(attempt)
        draw = (rng or random).random()
        return ceiling / 2 + draw * ceiling / 2
