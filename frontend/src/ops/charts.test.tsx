import { render, screen, within } from "@testing-library/react";
import { addObservation, type Sample } from "./history";
import { OutcomesPanel } from "./OutcomesPanel";
import { ThroughputPanel } from "./ThroughputPanel";
import { outcomes, stream } from "./test-utils";

describe("ThroughputPanel", () => {
  it("describes the line and lists now / average / peak per stream", () => {
    let history: Sample[] = [];
    const feed = (at: number, a: number | null, b: number | null) => {
      history = addObservation(history, {
        source: "feed",
        at,
        streams: [stream("a", [{ group: "g" }]), stream("b", [{ group: "g" }])],
        throughput: { a: { g: a }, b: { g: b } },
      });
    };
    feed(1000, null, null);
    feed(2000, 2, 1);
    feed(3000, 6, 0);
    render(<ThroughputPanel history={history} now={3000} windowMs={300_000} />);
    expect(
      screen.getByRole("img", {
        name: "Entries delivered per second, all streams, last 5 minutes: now 6.0/s, average 4.5/s, peak 6.0/s.",
      }),
    ).toBeInTheDocument();
    const table = screen.getByRole("table", { name: "Throughput per stream" });
    const [a, b] = within(table).getAllByRole("row").slice(1);
    expect(a).toHaveTextContent(/^a6\.0\/s4\.0\/s6\.0\/s$/);
    expect(b).toHaveTextContent(/^b0\.0\/s0\.5\/s1\.0\/s$/);
  });

  it("says when nothing was measured yet", () => {
    render(<ThroughputPanel history={[]} now={0} windowMs={300_000} />);
    expect(
      screen.getByRole("img", { name: /no measurements yet in the last 5 minutes/ }),
    ).toBeInTheDocument();
  });
});

describe("OutcomesPanel", () => {
  it("draws statuses and cancellation reasons with summaries and data tables", () => {
    render(<OutcomesPanel outcomes={outcomes} />);
    expect(
      screen.getByRole("img", {
        name: "10 orders: 7 delivered (70%), 2 cancelled (20%), 1 in progress (10%).",
      }),
    ).toBeInTheDocument();
    expect(
      screen.getByRole("img", { name: "Cancellations by reason: payment declined 1, timeout 1." }),
    ).toBeInTheDocument();
    const reasons = screen.getByRole("table", { name: "Cancelled orders by reason" });
    expect(within(reasons).getByRole("row", { name: "Payment declined 1" })).toBeInTheDocument();
    expect(within(reasons).getByRole("row", { name: "No courier 0" })).toBeInTheDocument();
  });
});
