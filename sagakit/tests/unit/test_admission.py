"""Admission control's decision (hysteresis, staleness) and its sampler, without Redis."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagakit.admission import AdmissionControl, AdmissionGate, Refusal
from sagakit.testing.waiting import eventually

limits = st.integers(min_value=1, max_value=100_000)
ratios = st.floats(min_value=0.0, max_value=0.99, allow_nan=False)
samples = st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=200_000)), max_size=60)


@given(limit=limits, ratio=ratios, backlogs=samples)
def test_hysteresis_sheds_above_the_limit_resumes_at_the_low_mark_holds_between(
    limit: int, ratio: float, backlogs: list[int | None]
) -> None:
    gate = AdmissionGate(limit, resume_ratio=ratio, stale_after_s=10.0)
    assert 0 <= gate.resume_at < limit
    before = False
    for t, backlog in enumerate(backlogs):  # one sample a second: never stale
        gate.observe(backlog, now=float(t))
        now = gate.shedding(float(t))
        if backlog is None:
            assert now == before  # an unknown sample changes nothing
        elif backlog > limit:
            assert now
        elif backlog <= gate.resume_at:
            assert not now
        else:
            assert now == before  # inside the band: no flapping
        before = now


@given(limit=limits, ratio=ratios, backlogs=samples)
def test_every_change_of_decision_crossed_the_whole_band(
    limit: int, ratio: float, backlogs: list[int | None]
) -> None:
    gate = AdmissionGate(limit, resume_ratio=ratio, stale_after_s=10.0)
    before = False
    for t, backlog in enumerate(backlogs):
        gate.observe(backlog, now=float(t))
        now = gate.shedding(float(t))
        if now and not before:
            assert backlog is not None and backlog > limit
        if before and not now:
            assert backlog is not None and backlog <= gate.resume_at
        before = now


@given(backlogs=samples)
def test_a_limit_of_zero_never_sheds(backlogs: list[int | None]) -> None:
    gate = AdmissionGate(0)
    for t, backlog in enumerate(backlogs):
        gate.observe(backlog, now=float(t))
        assert not gate.shedding(float(t))


def test_the_documented_defaults_shed_above_1000_and_resume_at_800() -> None:
    gate = AdmissionGate(1000)
    gate.observe(1000, now=0.0)
    assert not gate.shedding(0.0)
    gate.observe(1001, now=0.1)
    assert gate.shedding(0.1)
    gate.observe(801, now=0.2)
    assert gate.shedding(0.2)
    gate.observe(800, now=0.3)
    assert not gate.shedding(0.3)


def test_a_decision_expires_when_no_sample_confirms_it() -> None:
    gate = AdmissionGate(10, stale_after_s=2.0)
    gate.observe(11, now=0.0)
    gate.observe(None, now=1.0)  # Redis did not answer: the decision holds for a while ...
    assert gate.shedding(2.0)
    assert not gate.shedding(2.5)  # ... and then it is not known to be behind any more
    gate.observe(9, now=3.0)  # inside the band after an expired decision: admit
    assert not gate.shedding(3.0)
    gate.observe(11, now=3.1)
    assert gate.shedding(3.1)


@pytest.mark.parametrize(
    ("limit", "ratio", "stale"), [(-1, 0.8, 1.0), (10, 1.0, 1.0), (10, -0.1, 1.0), (10, 0.8, 0.0)]
)
def test_nonsense_settings_are_refused(limit: int, ratio: float, stale: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        AdmissionGate(limit, resume_ratio=ratio, stale_after_s=stale)


class FakeProbe:
    def __init__(self) -> None:
        self.backlog: int | Exception = 0

    async def sample(self) -> int:
        if isinstance(self.backlog, Exception):
            raise self.backlog
        return self.backlog

    async def aclose(self) -> None:
        pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_the_sampler_feeds_the_gate_and_an_unreachable_redis_ends_in_admitting() -> None:
    probe, clock = FakeProbe(), FakeClock()
    control = AdmissionControl(
        "unit-test", probe, AdmissionGate(100, stale_after_s=1.0), retry_after_s=2, clock=clock
    )
    await control.sample_once()
    assert not control.shedding()
    probe.backlog = 101
    await control.sample_once()
    assert control.shedding() and control.retry_after_s == 2
    probe.backlog = ConnectionError("Redis went away")
    clock.now += 0.5
    await control.sample_once()  # never raises
    assert control.shedding()  # one missed sample keeps the decision
    clock.now += 1.0
    await control.sample_once()
    assert not control.shedding()  # Redis unreachable is not a reason to refuse orders
    probe.backlog = 50
    await control.sample_once()
    assert not control.shedding()


steps = st.lists(
    st.one_of(st.just("arrive"), st.just("answer"), st.floats(min_value=0.0, max_value=1.0)),
    max_size=80,
)


@given(limit=st.integers(min_value=0, max_value=10), script=steps)
def test_a_request_is_refused_exactly_when_a_full_queue_has_stood_too_long(
    limit: int, script: list[str | float]
) -> None:
    """Arrivals, answers (of the oldest unanswered request) and time passing, in any order:
    an arrival is refused exactly when `limit` admitted requests are unanswered and the oldest
    has waited over `max_wait_s`; a refused one takes no place."""
    clock = FakeClock()
    control = AdmissionControl(
        "unit-test",
        FakeProbe(),
        AdmissionGate(0),
        max_in_flight=limit,
        max_wait_s=0.5,
        clock=clock,
    )
    admitted: list[tuple[int, float]] = []  # (ticket, when), oldest first
    for step in script:
        if isinstance(step, float):
            clock.now += step
        elif step == "answer":
            if admitted:
                control.done(admitted.pop(0)[0])
        else:
            standing = bool(limit) and len(admitted) >= limit and clock.now - admitted[0][1] > 0.5
            ticket = control.admit()
            if standing:
                assert ticket == Refusal("in_flight")
            else:
                assert isinstance(ticket, int)
                admitted.append((ticket, clock.now))
        assert control.in_flight == len(admitted)


def test_a_burst_is_admitted_while_it_is_served_promptly() -> None:
    clock = FakeClock()
    control = AdmissionControl(
        "unit-test", FakeProbe(), AdmissionGate(0), max_in_flight=2, max_wait_s=0.5, clock=clock
    )
    tickets = [control.admit() for _ in range(5)]  # five at once: no queue has stood yet
    assert all(isinstance(t, int) for t in tickets)
    clock.now += 0.6  # none answered for 0.6 s: the queue stands
    assert control.admit() == Refusal("in_flight")
    for ticket in tickets:
        assert isinstance(ticket, int)
        control.done(ticket)
    assert isinstance(control.admit(), int)


async def test_a_backlog_refuses_before_the_queue_is_looked_at() -> None:
    probe = FakeProbe()
    control = AdmissionControl("unit-test", probe, AdmissionGate(10), max_in_flight=5)
    probe.backlog = 11
    await control.sample_once()
    assert control.admit() == Refusal("backlog")
    assert control.in_flight == 0  # a refused request takes no place


def test_a_negative_in_flight_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        AdmissionControl("unit-test", FakeProbe(), AdmissionGate(0), max_in_flight=-1)


class CountingProbe(FakeProbe):
    def __init__(self) -> None:
        super().__init__()
        self.samples = 0

    async def sample(self) -> int:
        self.samples += 1
        return await super().sample()


async def test_an_idle_service_samples_nothing_and_demand_resumes_sampling() -> None:
    probe = CountingProbe()
    control = AdmissionControl("unit-test", probe, AdmissionGate(10), interval_s=0.01)
    await control.start()
    try:
        await asyncio.sleep(0.1)  # ten ticks with no placement asked for
        assert probe.samples == 0
        assert isinstance(control.admit(), int)
        await eventually(lambda: probe.samples >= 1, what="a sample after the request")
        sampled = probe.samples
        await asyncio.sleep(0.1)  # quiet again
        assert probe.samples == sampled
    finally:
        await control.stop()


async def test_shedding_keeps_sampling_without_requests_so_it_can_end() -> None:
    probe = CountingProbe()
    probe.backlog = 50
    control = AdmissionControl("unit-test", probe, AdmissionGate(10), interval_s=0.01)
    control.admit()
    await control.sample_once()
    assert control.shedding()
    await control.start()
    try:
        probe.backlog = 0
        await eventually(lambda: not control.shedding(), what="shedding ends by sampling")
    finally:
        await control.stop()
