"""Latency histograms: HdrHistogram, recorded in microseconds, reported in milliseconds."""

from __future__ import annotations

from dataclasses import dataclass

from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour; longer values are recorded as one hour
SIGNIFICANT_FIGURES = 3
PERCENTILES = (50.0, 95.0, 99.0)


@dataclass(frozen=True, slots=True)
class Summary:
    """Milliseconds; all zero when nothing was recorded."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "count": self.count,
            "p50_ms": round(self.p50, 3),
            "p95_ms": round(self.p95, 3),
            "p99_ms": round(self.p99, 3),
            "max_ms": round(self.max, 3),
            "mean_ms": round(self.mean, 3),
        }


class Latencies:
    def __init__(self) -> None:
        self._histogram = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)
        self._total_us = 0  # hdrh computes the mean by walking every bucket: slow

    def record(self, seconds: float) -> None:
        micros = min(HIGHEST_US, max(LOWEST_US, round(seconds * 1_000_000)))
        self._histogram.record_value(micros)
        self._total_us += micros

    @property
    def count(self) -> int:
        total: int = self._histogram.get_total_count()
        return total

    def percentile_ms(self, percentile: float) -> float:
        if self.count == 0:
            return 0.0
        micros: int = self._histogram.get_value_at_percentile(percentile)
        return micros / 1000

    def summary(self) -> Summary:
        if self.count == 0:
            return Summary(0, 0.0, 0.0, 0.0, 0.0, 0.0)
        p50, p95, p99 = (self.percentile_ms(p) for p in PERCENTILES)
        return Summary(
            count=self.count,
            p50=p50,
            p95=p95,
            p99=p99,
            max=self._histogram.get_max_value() / 1000,
            mean=self._total_us / self.count / 1000,
        )
