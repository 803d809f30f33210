import { addObservation, type Sample } from "./history";
import { stream } from "./test-utils";

const snapshot = (length: number) => [stream("s", [{ group: "g", lag: 0 }], { length })];

describe("addObservation", () => {
  it("computes rates between polled snapshots", () => {
    let history: Sample[] = [];
    history = addObservation(history, { source: "poll", at: 1000, streams: snapshot(10) });
    history = addObservation(history, { source: "poll", at: 3000, streams: snapshot(30) });
    expect(history.map((s) => s.rates)).toEqual([{}, { s: 10 }]);
    expect(history[1]!.groupRates).toEqual({ s: { g: 10 } });
  });

  it("takes the feed's rates as they are", () => {
    const history = addObservation([], {
      source: "feed",
      at: 1000,
      streams: snapshot(10),
      throughput: { s: { g: 2.5, h: 1 } },
    });
    expect(history[0]!.rates).toEqual({ s: 3.5 });
  });

  it("drops samples older than the window and ignores out-of-order ones", () => {
    let history: Sample[] = [];
    for (const at of [0, 1000, 2000, 3000]) {
      history = addObservation(history, { source: "poll", at, streams: snapshot(at) }, 1500);
    }
    expect(history.map((s) => s.at)).toEqual([2000, 3000]);
    expect(addObservation(history, { source: "poll", at: 2500, streams: snapshot(0) }, 1500)).toBe(
      history,
    );
  });
});
