import { screen, within } from "@testing-library/react";
import { createOpsApi } from "./api";
import { RecentOrdersPanel } from "./RecentOrdersPanel";
import { fakeFetch, recentOrder, renderWithClient } from "./test-utils";

// Only the clock is fake, so "just now" does not depend on how fast the test runs.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date("2026-01-01T10:00:00Z"));
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("RecentOrdersPanel", () => {
  it("lists the orders with id, status, version and time", async () => {
    const { calls } = fakeFetch({
      "GET /api/ops/orders/recent": () => ({
        body: [
          recentOrder("aaaa1111", "courier_assigned"),
          recentOrder("bbbb2222", "cancelled", "payment_declined"),
          recentOrder("cccc3333", "delivered"),
        ],
      }),
    });
    renderWithClient(<RecentOrdersPanel api={createOpsApi("k", vi.fn())} />);
    const table = await screen.findByRole("table", { name: "Recent orders" });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((r) => within(r).getAllByRole("cell")[0]!.textContent)).toEqual([
      "aaaa1111",
      "bbbb2222",
      "cccc3333",
    ]);
    expect(rows[0]).toHaveTextContent("Courier assigned");
    expect(rows[0]).toHaveTextContent("just now");
    expect(rows[1]).toHaveTextContent("Cancelled — payment declined");
    expect(rows[2]).toHaveTextContent("Delivered");
    // ids are plain text: the operator cannot open a customer's order page
    expect(within(table).queryAllByRole("link")).toEqual([]);
    expect(calls[0]!.url).toBe("/api/ops/orders/recent?limit=25");
  });

  it("says when there are no orders and when loading failed", async () => {
    fakeFetch({ "GET /api/ops/orders/recent": () => ({ body: [] }) });
    const { unmount } = renderWithClient(<RecentOrdersPanel api={createOpsApi("k", vi.fn())} />);
    expect(await screen.findByText("No orders yet.")).toBeInTheDocument();
    unmount();
    fakeFetch({
      "GET /api/ops/orders/recent": () => ({ status: 503, body: { detail: "try later" } }),
    });
    renderWithClient(<RecentOrdersPanel api={createOpsApi("k", vi.fn())} />);
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "Could not load recent orders: try later",
    );
  });
});
