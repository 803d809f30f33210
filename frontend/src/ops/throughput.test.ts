import { ratesFromCounters, streamRates, summarize, totalRate } from "./throughput";
import { stream } from "./test-utils";

describe("ratesFromCounters", () => {
  it("derives entries/s per group from length minus lag", () => {
    const before = [
      stream(
        "orders.events",
        [
          { group: "a", lag: 10 },
          { group: "b", lag: 0 },
        ],
        { length: 100 },
      ),
    ];
    // a delivered 140-90=50 more, b delivered 140-100=40 more, in 5 s.
    const after = [
      stream(
        "orders.events",
        [
          { group: "a", lag: 0 },
          { group: "b", lag: 0 },
        ],
        { length: 140 },
      ),
    ];
    expect(ratesFromCounters(before, after, 5000)).toEqual({ "orders.events": { a: 10, b: 8 } });
  });

  it("gives null instead of a negative rate when the stream was trimmed", () => {
    const before = [stream("s", [{ group: "g", lag: 0 }], { length: 500 })];
    const after = [stream("s", [{ group: "g", lag: 0 }], { length: 20 })];
    expect(ratesFromCounters(before, after, 1000)).toEqual({ s: { g: null } });
  });

  it("gives null when the lag is unknown or the group is new", () => {
    const before = [stream("s", [{ group: "g", lag: null }], { length: 10 })];
    const after = [
      stream(
        "s",
        [
          { group: "g", lag: 0 },
          { group: "new", lag: 0 },
        ],
        { length: 20 },
      ),
    ];
    expect(ratesFromCounters(before, after, 1000)).toEqual({ s: { g: null, new: null } });
  });

  it("gives null without elapsed time", () => {
    const snapshot = [stream("s", [{ group: "g", lag: 0 }])];
    expect(ratesFromCounters(snapshot, snapshot, 0)).toEqual({ s: { g: null } });
  });
});

describe("stream and total rates", () => {
  it("sums the known group rates and keeps unknown as null", () => {
    const rates = streamRates({ a: { x: 1.5, y: 2 }, b: { x: null }, c: {} });
    expect(rates).toEqual({ a: 3.5, b: null, c: null });
    expect(totalRate(rates)).toBe(3.5);
    expect(totalRate({ b: null })).toBeNull();
  });
});

describe("summarize", () => {
  it("takes the latest known value, the mean and the peak, skipping gaps", () => {
    expect(summarize([2, null, 6, 4, null])).toEqual({ now: 4, average: 4, peak: 6 });
    expect(summarize([null, null])).toEqual({ now: null, average: null, peak: null });
  });
});
