// What the customer sees of an order: a pure reducer over the server's versioned statuses.
// Versions are applied strictly one after another: an old or repeated version changes nothing,
// and a version beyond the next one is a gap, never applied (the caller resyncs instead).
import type { CancelReason, OrderStatus } from "../api/types";
import type { ServerMessage, TimelineEntry } from "./protocol";

export interface TrackingState {
  status: OrderStatus | null;
  reason: CancelReason | null;
  /** The last version applied; 0 before the first. Every version up to it is in `timeline`. */
  version: number;
  timeline: readonly TimelineEntry[];
}

export const INITIAL_TRACKING: TrackingState = { status: null, reason: null, version: 0, timeline: [] };

export type Outcome = "applied" | "unchanged" | "gap";

export interface Reduced {
  state: TrackingState;
  outcome: Outcome;
}

/** Apply `entries` (in any order) on top of `state`, up to the first gap. */
export function applyEntries(state: TrackingState, entries: readonly TimelineEntry[]): Reduced {
  const sorted = [...entries].sort((a, b) => a.version - b.version);
  let next = state;
  for (const entry of sorted) {
    if (entry.version <= next.version) continue;
    if (entry.version > next.version + 1) {
      return { state: next, outcome: "gap" };
    }
    next = {
      status: entry.status,
      reason: entry.reason,
      version: entry.version,
      timeline: [...next.timeline, entry],
    };
  }
  return { state: next, outcome: next === state ? "unchanged" : "applied" };
}

export function applyMessage(state: TrackingState, message: ServerMessage): Reduced {
  switch (message.type) {
    case "heartbeat":
      return { state, outcome: "unchanged" };
    case "status":
      return applyEntries(state, [message.entry]);
    case "snapshot": {
      const reduced = applyEntries(state, message.timeline);
      // The head is ahead of the entries it came with: something in between is missing.
      if (reduced.outcome !== "gap" && message.version > reduced.state.version) {
        return { state: reduced.state, outcome: "gap" };
      }
      return reduced;
    }
  }
}
