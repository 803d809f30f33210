"""How the actors behave: delays, failure rates and the seed, read from the environment.

The defaults add up to a few seconds per order, so a person can watch it move; the
`benchmark()` preset (or `ACTORS_ZERO_DELAY=true`) answers every command at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from simulator.delays import ZERO, Delay, DelaySetting, parse_delay

Rate = Annotated[float, Field(ge=0.0, le=1.0)]


@dataclass(frozen=True, slots=True)
class ActorDelays:
    payment: Delay
    kitchen_accept: Delay
    kitchen_cook: Delay
    courier_pickup: Delay
    courier_travel: Delay


class ActorSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    sim_seed: str = "orders-saga"
    actors_zero_delay: bool = False

    payment_delay: DelaySetting = parse_delay("uniform:200:800")
    kitchen_accept_delay: DelaySetting = parse_delay("uniform:300:900")
    kitchen_cook_delay: DelaySetting = parse_delay("uniform:1000:2500")
    courier_pickup_delay: DelaySetting = parse_delay("uniform:500:1500")
    courier_travel_delay: DelaySetting = parse_delay("uniform:1000:2500")

    payment_decline_rate: Rate = 0.05
    payment_silence_rate: Rate = 0.0
    kitchen_reject_rate: Rate = 0.03
    kitchen_silence_rate: Rate = 0.0
    courier_fail_rate: Rate = 0.02

    # Delayed replies wait in Redis (see actors/replies.py): how often due ones are looked for,
    # how long a replica owns the ones it is publishing, how long a cancelled ticket is kept.
    sim_reply_poll_ms: int = Field(50, ge=1)
    sim_reply_lease_ms: int = Field(10_000, ge=100)
    sim_cancelled_ttl_s: int = Field(86_400, ge=1)

    @classmethod
    def benchmark(cls, **overrides: Any) -> ActorSettings:
        """Every answer at once: all delays zero (failure rates as configured)."""
        return cls(**{"actors_zero_delay": True, **overrides})

    @property
    def delays(self) -> ActorDelays:
        if self.actors_zero_delay:
            return ActorDelays(ZERO, ZERO, ZERO, ZERO, ZERO)
        return ActorDelays(
            payment=self.payment_delay,
            kitchen_accept=self.kitchen_accept_delay,
            kitchen_cook=self.kitchen_cook_delay,
            courier_pickup=self.courier_pickup_delay,
            courier_travel=self.courier_travel_delay,
        )
