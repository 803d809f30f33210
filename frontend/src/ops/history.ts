import { ratesFromCounters, streamRates } from "./throughput";
import type { StreamView, Throughput } from "./types";

/** How far back the charts and the trend checks look. */
export const WINDOW_MS = 5 * 60_000;

export type Sample = {
  at: number; // ms since the epoch
  streams: StreamView[];
  /** Entries delivered per second per stream (summed over groups); null: unknown. */
  rates: Record<string, number | null>;
  /** Per-group rates behind `rates`. */
  groupRates: Throughput;
};

export type Observation =
  | { source: "feed"; at: number; streams: StreamView[]; throughput: Throughput }
  | { source: "poll"; at: number; streams: StreamView[] };

/**
 * Add one observation. The live feed brings rates computed by the server; a polled snapshot
 * gets rates from the counters of the previous sample. Samples older than the window go.
 */
export function addObservation(
  history: Sample[],
  observation: Observation,
  windowMs: number = WINDOW_MS,
): Sample[] {
  const last = history[history.length - 1];
  if (last && observation.at <= last.at) return history;
  const groupRates =
    observation.source === "feed"
      ? observation.throughput
      : last
        ? ratesFromCounters(last.streams, observation.streams, observation.at - last.at)
        : {};
  const sample: Sample = {
    at: observation.at,
    streams: observation.streams,
    rates: streamRates(groupRates),
    groupRates,
  };
  const since = observation.at - windowMs;
  return [...history.filter((s) => s.at >= since), sample];
}
