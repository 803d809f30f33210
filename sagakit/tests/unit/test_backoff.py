from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from sagakit.backoff import Backoff

bases = st.floats(min_value=1e-4, max_value=10.0, allow_nan=False, allow_infinity=False)
caps = st.floats(min_value=1e-4, max_value=600.0, allow_nan=False, allow_infinity=False)
attempts = st.integers(min_value=-5, max_value=10_000)


@given(base=bases, cap=caps, attempt=attempts, seed=st.integers(0, 2**32 - 1))
def test_delay_is_within_half_and_full_ceiling(
    base: float, cap: float, attempt: int, seed: int
) -> None:
    backoff = Backoff(base, cap)
    ceiling = backoff.ceiling(attempt)
    delay = backoff.delay(attempt, random.Random(seed))
    assert ceiling / 2 <= delay <= ceiling


@given(base=bases, cap=caps, attempt=st.integers(min_value=1, max_value=10_000))
def test_ceilings_never_decrease_and_are_capped(base: float, cap: float, attempt: int) -> None:
    backoff = Backoff(base, cap)
    assert backoff.ceiling(attempt) <= backoff.ceiling(attempt + 1)
    assert 0 < backoff.ceiling(attempt) <= cap


@given(base=bases, cap=caps)
def test_first_retry_waits_about_the_base(base: float, cap: float) -> None:
    backoff = Backoff(base, cap)
    assert backoff.ceiling(1) == min(base, cap)
    assert backoff.ceiling(0) == backoff.ceiling(1)  # out-of-range attempts are clamped


def test_ceiling_doubles_until_the_cap() -> None:
    backoff = Backoff(0.1, 1.0)
    assert [backoff.ceiling(n) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert Backoff(0.1, 5.0).ceiling(10**9) == 5.0


def test_jitter_spreads_delays() -> None:
    rng = random.Random(7)
    delays = {Backoff(1.0, 10.0).delay(3, rng) for _ in range(50)}
    assert len(delays) > 40
    assert min(delays) < 2.5 < max(delays)
