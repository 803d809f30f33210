import type { StreamView, Throughput } from "./types";

/** Entries a group has been delivered so far, as far as the counters tell (null: unknown). */
function deliveredSoFar(stream: StreamView, group: string): number | null {
  const g = stream.groups.find((candidate) => candidate.group === group);
  return g && g.lag !== null ? stream.length - g.lag : null;
}

/**
 * Per-group delivery rates (entries/s) between two polled snapshots, computed from
 * `length - lag`, the entries delivered so far. A counter that went down (the stream was
 * trimmed) or a group that was not there before gives null rather than a wrong number.
 */
export function ratesFromCounters(
  before: StreamView[],
  after: StreamView[],
  elapsedMs: number,
): Throughput {
  const rates: Throughput = {};
  for (const stream of after) {
    const previous = before.find((s) => s.stream === stream.stream);
    rates[stream.stream] = {};
    for (const { group } of stream.groups) {
      const then = previous ? deliveredSoFar(previous, group) : null;
      const now = deliveredSoFar(stream, group);
      const delta = then === null || now === null ? null : now - then;
      rates[stream.stream]![group] =
        delta === null || delta < 0 || elapsedMs <= 0
          ? null
          : Math.round((delta / (elapsedMs / 1000)) * 100) / 100;
    }
  }
  return rates;
}

function sumKnown(values: (number | null | undefined)[]): number | null {
  const known = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  return known.length ? known.reduce((a, b) => a + b, 0) : null;
}

/** Entries/s delivered per stream, summed over its consumer groups (null: nothing known). */
export function streamRates(throughput: Throughput): Record<string, number | null> {
  return Object.fromEntries(
    Object.entries(throughput).map(([stream, groups]) => [stream, sumKnown(Object.values(groups))]),
  );
}

export function totalRate(rates: Record<string, number | null>): number | null {
  return sumKnown(Object.values(rates));
}

export type RateSummary = { now: number | null; average: number | null; peak: number | null };

/** The latest known value, the mean and the peak of a series with gaps. */
export function summarize(series: (number | null)[]): RateSummary {
  const known = series.filter((v): v is number => v !== null);
  if (!known.length) return { now: null, average: null, peak: null };
  let now: number | null = null;
  for (let i = series.length - 1; i >= 0 && now === null; i--) now = series[i] ?? null;
  return {
    now,
    average: known.reduce((a, b) => a + b, 0) / known.length,
    peak: Math.max(...known),
  };
}
