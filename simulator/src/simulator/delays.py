"""Delay distributions, written as short strings in settings and the environment.

    0                 no delay (any bare number N means `fixed:N`)
    fixed:MS          always MS milliseconds
    uniform:A:B       uniformly between A and B milliseconds
    exp:MEAN_MS       exponentially distributed with that mean
    normal:MU:SIGMA   normally distributed, clamped at 0

A sample is taken from a random generator the caller passes in: seeded from the order id, it
gives the same delay every time the same order asks.
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator


class Delay(ABC):
    @abstractmethod
    def sample_ms(self, rng: random.Random) -> int:
        """One delay in whole milliseconds, never negative."""


@dataclass(frozen=True, slots=True)
class Fixed(Delay):
    ms: float

    def sample_ms(self, rng: random.Random) -> int:
        return round(self.ms)

    def __str__(self) -> str:
        return "0" if self.ms == 0 else f"fixed:{_number(self.ms)}"


@dataclass(frozen=True, slots=True)
class Uniform(Delay):
    low: float
    high: float

    def sample_ms(self, rng: random.Random) -> int:
        return round(rng.uniform(self.low, self.high))

    def __str__(self) -> str:
        return f"uniform:{_number(self.low)}:{_number(self.high)}"


@dataclass(frozen=True, slots=True)
class Exponential(Delay):
    mean: float

    def sample_ms(self, rng: random.Random) -> int:
        return round(rng.expovariate(1 / self.mean)) if self.mean > 0 else 0

    def __str__(self) -> str:
        return f"exp:{_number(self.mean)}"


@dataclass(frozen=True, slots=True)
class Normal(Delay):
    mu: float
    sigma: float

    def sample_ms(self, rng: random.Random) -> int:
        return max(0, round(rng.gauss(self.mu, self.sigma)))

    def __str__(self) -> str:
        return f"normal:{_number(self.mu)}:{_number(self.sigma)}"


ZERO = Fixed(0)

_FORMS = "0, fixed:MS, uniform:A:B, exp:MEAN_MS or normal:MU:SIGMA (milliseconds)"


def parse_delay(text: str) -> Delay:
    """Parse a delay specification; raise ValueError saying what is accepted."""
    kind, *raw = [part.strip() for part in text.strip().lower().split(":")]
    if not raw:
        return Fixed(_milliseconds(text, kind))
    args = [_milliseconds(text, value) for value in raw]
    match kind, args:
        case "fixed", [ms]:
            return Fixed(ms)
        case "uniform", [low, high]:
            if low > high:
                raise ValueError(f"delay {text!r}: uniform needs A <= B")
            return Uniform(low, high)
        case "exp", [mean]:
            return Exponential(mean)
        case "normal", [mu, sigma]:
            return Normal(mu, sigma)
    raise ValueError(f"delay {text!r} is not one of {_FORMS}")


def _milliseconds(text: str, value: str) -> float:
    try:
        ms = float(value)
    except ValueError:
        raise ValueError(f"delay {text!r} is not one of {_FORMS}") from None
    if not math.isfinite(ms) or ms < 0:
        raise ValueError(f"delay {text!r}: milliseconds must be finite and not negative")
    return ms


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _validate(value: Any) -> Delay:
    if isinstance(value, Delay):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return parse_delay(str(value))
    if isinstance(value, str):
        return parse_delay(value)
    raise ValueError(f"a delay is a string: {_FORMS}")


DelaySetting = Annotated[Delay, PlainValidator(_validate), PlainSerializer(str, return_type=str)]
"""A settings field holding a delay, given as its string form."""
