"""When each order is sent: a fixed schedule computed before the run (open loop).

A profile is a sequence of segments, each with a rate that changes linearly from its start to
its end (orders per second). The k-th order (k = 0, 1, ...) is sent at the time t where the
expected number of arrivals so far, the integral of the rate from 0 to t, equals k; so a
profile with integral N over the run sends ceil(N) orders, evenly spaced at the local rate.

Profiles for a rate R over a duration D:

| profile  | rate over the run                                             | orders    |
|----------|---------------------------------------------------------------|-----------|
| constant | R throughout                                                  | R*D       |
| ramp     | linear from 0 at t=0 to R at t=D                              | R*D/2     |
| spike    | R/4 in [0, 0.4D), 4R in [0.4D, 0.6D) (the middle fifth), R/4  | R*D       |
|          | in [0.6D, D)                                                  |           |

(The spike sends as many orders as `constant`: 0.2*R*D at the baseline plus 0.8*R*D in the
burst, whose rate is 16 times the baseline.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

# Rounding in the sums must not add an order at the very end (or drop one at a boundary).
EPSILON = 1e-9


class Profile(StrEnum):
    CONSTANT = "constant"
    RAMP = "ramp"
    SPIKE = "spike"


@dataclass(frozen=True, slots=True)
class Segment:
    """`duration_s` seconds whose rate goes linearly from `start_rate` to `end_rate` (per s)."""

    duration_s: float
    start_rate: float
    end_rate: float

    @property
    def arrivals(self) -> float:
        return (self.start_rate + self.end_rate) / 2 * self.duration_s

    def time_of(self, arrivals: float) -> float:
        """Seconds into the segment at which `arrivals` (0 <= arrivals <= self.arrivals) is reached.

        Solves a*t + b*t^2/2 = x with a = start rate, b = slope, in the form that stays exact
        when the slope is zero or tiny.
        """
        a = self.start_rate
        b = (self.end_rate - self.start_rate) / self.duration_s
        root = math.sqrt(max(0.0, a * a + 2 * b * arrivals))
        return min(self.duration_s, 2 * arrivals / (a + root)) if a + root > 0 else 0.0


def segments(profile: Profile, rate: float, duration_s: float) -> list[Segment]:
    if rate <= 0 or duration_s <= 0:
        raise ValueError("rate and duration must be positive")
    if profile is Profile.CONSTANT:
        return [Segment(duration_s, rate, rate)]
    if profile is Profile.RAMP:
        return [Segment(duration_s, 0.0, rate)]
    fifth = duration_s / 5
    base = rate / 4
    return [
        Segment(2 * fifth, base, base),
        Segment(fifth, 4 * rate, 4 * rate),
        Segment(duration_s - 3 * fifth, base, base),
    ]


def send_times(parts: list[Segment]) -> list[float]:
    """Offsets in seconds from the start of the run: non-decreasing, below the duration."""
    times: list[float] = []
    offset = 0.0
    before = 0.0  # arrivals expected before this segment
    for part in parts:
        total = before + part.arrivals
        k = math.ceil(before - EPSILON)
        while k < total - EPSILON:
            times.append(offset + part.time_of(k - before))
            k += 1
        offset += part.duration_s
        before = total
    return times


def rate_at(parts: list[Segment], t: float) -> float:
    """The profile's rate at `t` seconds (0 outside the run)."""
    offset = 0.0
    for part in parts:
        if offset <= t < offset + part.duration_s:
            fraction = (t - offset) / part.duration_s
            return part.start_rate + (part.end_rate - part.start_rate) * fraction
        offset += part.duration_s
    return 0.0
