import { groupIssues, growth, streamIssues, worst } from "./health";
import { addObservation, type Sample } from "./history";
import { stream } from "./test-utils";

function historyOf(points: { at: number; lag: number; pending: number }[]): Sample[] {
  return points.reduce<Sample[]>(
    (h, p) =>
      addObservation(h, {
        source: "feed",
        at: p.at,
        streams: [stream("s", [{ group: "g", lag: p.lag, pending: p.pending }])],
        throughput: {},
      }),
    [],
  );
}

describe("growth", () => {
  it("compares with the oldest sample 10–30 s back", () => {
    const h = historyOf([
      { at: 0, lag: 100, pending: 0 }, // older than 30 s before the last: ignored
      { at: 15_000, lag: 2, pending: 1 },
      { at: 40_000, lag: 3, pending: 1 }, // less than 10 s before the last: not a reference
      { at: 44_000, lag: 9, pending: 1 },
    ]);
    expect(growth(h, "s", "g", "lag")).toEqual({ delta: 7, spanMs: 29_000 });
    expect(growth(h, "s", "g", "pending")).toEqual({ delta: 0, spanMs: 29_000 });
  });

  it("is unknown without a sample old enough", () => {
    const h = historyOf([
      { at: 0, lag: 0, pending: 0 },
      { at: 5_000, lag: 50, pending: 0 },
    ]);
    expect(growth(h, "s", "g", "lag")).toBeNull();
  });
});

describe("issues", () => {
  const g = (lag: number, pending: number, consumers = 1) => ({
    group: "g",
    lag,
    pending,
    consumers,
    last_delivered_id: "0-0",
  });

  it("flags growing lag and pending as warnings", () => {
    const h = historyOf([
      { at: 0, lag: 0, pending: 0 },
      { at: 20_000, lag: 12, pending: 5 },
    ]);
    const issues = groupIssues("s", g(12, 5), h);
    expect(issues).toEqual([
      { severity: "warning", text: "lag growing (+12 in 20 s)" },
      { severity: "warning", text: "pending growing (+5 in 20 s)" },
    ]);
    expect(worst(issues)).toBe("warning");
  });

  it("does not flag small wobbles", () => {
    const h = historyOf([
      { at: 0, lag: 0, pending: 0 },
      { at: 20_000, lag: 4, pending: 2 },
    ]);
    expect(groupIssues("s", g(4, 2), h)).toEqual([]);
  });

  it("flags a backlog with no consumers and dead letters as problems", () => {
    expect(groupIssues("s", g(3, 0, 0), [])).toEqual([
      { severity: "problem", text: "no consumers" },
    ]);
    expect(groupIssues("s", g(0, 0, 0), [])).toEqual([]);
    const issues = streamIssues(stream("s", [], { dead_letters: 2 }));
    expect(issues).toEqual([{ severity: "problem", text: "2 dead letters" }]);
    expect(worst([...issues, { severity: "warning", text: "x" }])).toBe("problem");
    expect(worst([])).toBe("ok");
  });
});
