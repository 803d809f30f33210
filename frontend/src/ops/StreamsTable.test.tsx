import { render, screen, within } from "@testing-library/react";
import { addObservation, type Sample } from "./history";
import { StreamsTable } from "./StreamsTable";
import { stream } from "./test-utils";

function rows() {
  const table = screen.getByRole("table", { name: "Streams" });
  return within(table).getAllByRole("row").slice(1); // without the header
}

describe("StreamsTable", () => {
  it("shows one row per stream and group with formatted numbers", () => {
    const streams = [
      stream(
        "orders.events",
        [
          { group: "notifications", lag: 0 },
          { group: "orders-stock", lag: 1234 },
        ],
        {
          length: 12345,
        },
      ),
      stream("orders.commands", []),
    ];
    render(
      <StreamsTable
        streams={streams}
        history={[]}
        groupRates={{ "orders.events": { notifications: 2.5 } }}
      />,
    );
    const [first, second, third] = rows();
    expect(first).toHaveTextContent("orders.events");
    expect(first).toHaveTextContent("12,345");
    expect(first).toHaveTextContent("notifications");
    expect(first).toHaveTextContent("2.5/s");
    expect(second).toHaveTextContent("orders-stock");
    expect(second).toHaveTextContent("1,234");
    expect(second).toHaveTextContent("—"); // rate unknown
    expect(third).toHaveTextContent("orders.commands");
    expect(third).toHaveTextContent("no consumer group");
    for (const row of [first, second, third]) {
      expect(row).toHaveAttribute("data-severity", "ok");
      expect(row).toHaveTextContent("OK");
    }
  });

  it("highlights dead letters, growing lag and a group without consumers", () => {
    const at = (t: number, lag: number) =>
      [
        stream("payments.events", [{ group: "orders", lag }]),
        stream("kitchen.events", [{ group: "orders", lag: 0 }], { dead_letters: 3 }),
        stream("delivery.events", [{ group: "orders", lag: 7, consumers: 0 }]),
      ].map((s) => ({ ...s, length: 100 + t }));
    let history: Sample[] = [];
    history = addObservation(history, { source: "feed", at: 0, streams: at(0, 0), throughput: {} });
    history = addObservation(history, {
      source: "feed",
      at: 15_000,
      streams: at(15, 40),
      throughput: {},
    });
    render(<StreamsTable streams={history[1]!.streams} history={history} groupRates={{}} />);
    const [payments, kitchen, delivery] = rows();
    expect(payments).toHaveAttribute("data-severity", "warning");
    expect(payments).toHaveTextContent("lag growing (+40 in 15 s)");
    expect(kitchen).toHaveAttribute("data-severity", "problem");
    expect(kitchen).toHaveTextContent("3 dead letters");
    expect(delivery).toHaveAttribute("data-severity", "problem");
    expect(delivery).toHaveTextContent("no consumers");
  });

  it("marks every group row of a stream with dead letters", () => {
    const streams = [
      stream("orders.events", [{ group: "a" }, { group: "b" }], { dead_letters: 1 }),
    ];
    render(<StreamsTable streams={streams} history={[]} groupRates={{}} />);
    const [a, b] = rows();
    expect(a).toHaveAttribute("data-severity", "problem");
    expect(b).toHaveAttribute("data-severity", "problem");
    expect(a).toHaveTextContent("1 dead letter");
  });

  it("shows how old the oldest dead letter is and how long dead letters are kept", () => {
    const streams = [
      stream("kitchen.events", [{ group: "orders" }], {
        dead_letters: 2,
        dead_letters_oldest_age_s: 3 * 3600 + 5,
      }),
      stream("orders.events", [{ group: "orders" }]),
    ];
    render(<StreamsTable streams={streams} history={[]} groupRates={{}} />);
    const [kitchen, orders] = rows();
    expect(kitchen).toHaveTextContent("oldest 3 h");
    expect(orders).not.toHaveTextContent("oldest");
    expect(
      screen.getByText(/Dead letters are kept 7 d, at most 100,000 per stream/),
    ).toBeInTheDocument();
  });
});
