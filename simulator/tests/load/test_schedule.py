"""The fixed send schedule of each profile."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.load.schedule import Profile, Segment, rate_at, segments, send_times

rates = st.floats(min_value=0.2, max_value=200.0)
durations = st.floats(min_value=0.5, max_value=60.0)


def assert_in_run(times: list[float], duration: float) -> None:
    assert all(later >= earlier for earlier, later in itertools.pairwise(times))
    assert all(0.0 <= t < duration for t in times)


def between(times: list[float], start: float, end: float) -> int:
    return sum(start <= t < end for t in times)


@given(rate=rates, duration=durations)
def test_constant_sends_rate_times_duration_evenly(rate: float, duration: float) -> None:
    times = send_times(segments(Profile.CONSTANT, rate, duration))
    assert len(times) == math.ceil(rate * duration - 1e-9)
    assert_in_run(times, duration)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap == pytest.approx(1 / rate) for gap in gaps)


@given(rate=rates, duration=durations)
def test_ramp_sends_half_as_many_ever_faster(rate: float, duration: float) -> None:
    times = send_times(segments(Profile.RAMP, rate, duration))
    assert abs(len(times) - rate * duration / 2) <= 1
    assert_in_run(times, duration)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(later <= earlier + 1e-9 for earlier, later in itertools.pairwise(gaps))


@given(rate=st.floats(min_value=5.0, max_value=200.0), duration=durations)
def test_spike_bursts_at_sixteen_times_the_baseline_in_the_middle_fifth(
    rate: float, duration: float
) -> None:
    times = send_times(segments(Profile.SPIKE, rate, duration))
    assert abs(len(times) - rate * duration) <= 2
    assert_in_run(times, duration)
    fifth = duration / 5
    assert abs(between(times, 2 * fifth, 3 * fifth) - 0.8 * rate * duration) <= 2
    assert abs(between(times, 0, 2 * fifth) - 0.1 * rate * duration) <= 2
    assert abs(between(times, 3 * fifth, duration) - 0.1 * rate * duration) <= 2


def test_spike_rates() -> None:
    parts = segments(Profile.SPIKE, 100, 10)
    assert [rate_at(parts, t) for t in (0, 3.99, 4, 5.99, 6, 9.99, 10)] == [
        25,
        25,
        400,
        400,
        25,
        25,
        0,
    ]


def test_ramp_rate_grows_linearly_to_the_rate() -> None:
    parts = segments(Profile.RAMP, 100, 10)
    assert rate_at(parts, 0) == 0
    assert rate_at(parts, 5) == pytest.approx(50)
    assert rate_at(parts, 9.999) == pytest.approx(100, rel=1e-3)


@given(
    duration=st.floats(min_value=0.1, max_value=100),
    start=st.floats(min_value=0, max_value=1000),
    end=st.floats(min_value=0, max_value=1000),
    share=st.floats(min_value=0, max_value=1),
)
def test_a_segment_reaches_each_arrival_count_at_the_time_it_computes(
    duration: float, start: float, end: float, share: float
) -> None:
    part = Segment(duration, start, end)
    arrivals = share * part.arrivals
    t = part.time_of(arrivals)
    assert 0 <= t <= duration
    reached = start * t + (end - start) / duration * t * t / 2
    assert reached == pytest.approx(arrivals, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize(("rate", "duration"), [(0, 10), (10, 0), (-1, 10)])
def test_rate_and_duration_must_be_positive(rate: float, duration: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        segments(Profile.CONSTANT, rate, duration)
