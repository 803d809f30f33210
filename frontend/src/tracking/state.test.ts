import { describe, expect, it } from "vitest";
import type { TimelineEntry } from "./protocol";
import { applyEntries, applyMessage, INITIAL_TRACKING } from "./state";

const at = "2025-01-01T12:00:00+00:00";
const e = (version: number, status: TimelineEntry["status"]): TimelineEntry => ({ status, version, reason: null, at });

describe("tracking state", () => {
  it("applies consecutive versions whatever order they come in", () => {
    const { state, outcome } = applyEntries(INITIAL_TRACKING, [e(2, "paid"), e(1, "placed")]);
    expect(outcome).toBe("applied");
    expect(state.status).toBe("paid");
    expect(state.timeline.map((x) => x.version)).toEqual([1, 2]);
  });

  it("stops at a gap and keeps what came before it", () => {
    const { state, outcome } = applyEntries(INITIAL_TRACKING, [e(1, "placed"), e(3, "preparing")]);
    expect(outcome).toBe("gap");
    expect(state.version).toBe(1);
    expect(state.status).toBe("placed");
  });

  it("returns the same state for old versions", () => {
    const held = applyEntries(INITIAL_TRACKING, [e(1, "placed"), e(2, "paid")]).state;
    const { state, outcome } = applyMessage(held, { type: "status", orderId: "x", entry: e(1, "placed") });
    expect(outcome).toBe("unchanged");
    expect(state).toBe(held);
  });

  it("accepts an empty snapshot of an order not seen yet", () => {
    const reduced = applyMessage(INITIAL_TRACKING, {
      type: "snapshot", orderId: "x", status: null, version: 0, reason: null, timeline: [],
    });
    expect(reduced).toEqual({ state: INITIAL_TRACKING, outcome: "unchanged" });
  });
});
