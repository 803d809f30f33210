from __future__ import annotations

from sagakit.traceback_limiter import TracebackLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def raised_here() -> ValueError:
    try:
        raise ValueError("bad")
    except ValueError as exc:
        return exc


def raised_there() -> ValueError:
    try:
        raise ValueError("bad")
    except ValueError as exc:
        return exc


def test_a_storm_of_one_error_logs_one_traceback_per_interval_with_the_count_left_out() -> None:
    clock = Clock()
    limiter = TracebackLimiter(60.0, clock=clock)
    first = limiter.log_fields("s", raised_here())
    assert first["tracebacks_suppressed"] == 0
    assert isinstance(first["exc_info"], ValueError)
    for _ in range(500):
        clock.now += 0.1
        assert limiter.log_fields("s", raised_here()) == {}
    clock.now = 60.0
    again = limiter.log_fields("s", raised_here())
    assert again["tracebacks_suppressed"] == 500
    assert limiter.log_fields("s", raised_here()) == {}


def test_another_stream_type_or_location_has_its_own_limit() -> None:
    limiter = TracebackLimiter(60.0, clock=Clock())
    assert limiter.log_fields("s", raised_here())
    assert limiter.log_fields("other", raised_here())  # stream
    assert limiter.log_fields("s", raised_there())  # location
    assert limiter.log_fields("s", KeyError("k"))  # type (never raised: no location)
    assert not limiter.log_fields("s", raised_here())


def test_memory_stays_bounded_under_many_distinct_errors() -> None:
    clock = Clock()
    limiter = TracebackLimiter(60.0, max_keys=10, clock=clock)
    for n in range(100):
        assert limiter.log_fields(f"s{n}", raised_here())
    assert len(limiter._last) <= 10
