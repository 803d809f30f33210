import { screen, within } from "@testing-library/react";
import { beforeEach, expect, it } from "vitest";
import { ORDERS_KEY, rememberOrder } from "../myOrders";
import { OrdersPage } from "../OrdersPage";
import { browserStorage } from "../storage";
import { renderPage, resetBrowserState } from "../../test/render";

beforeEach(resetBrowserState);

function created(id: string, created_at: string, total_cents: number) {
  return { id, status: "placed" as const, version: 1, items: [], total_cents, created_at, tracking_token: `tok-${id}` };
}

it("lists the orders this browser placed, newest first, each linking to its tracking page", () => {
  const a = "a".repeat(32);
  const b = "b".repeat(32);
  rememberOrder(browserStorage(), created(a, "2025-01-01T10:00:00+00:00", 950));
  rememberOrder(browserStorage(), created(b, "2025-01-02T10:00:00+00:00", 1900));
  renderPage(<OrdersPage />);

  const items = within(screen.getByRole("list", { name: "Orders placed from this browser" })).getAllByRole("listitem");
  expect(items.map((li) => within(li).getByRole("link").getAttribute("href"))).toEqual([`/track/${b}`, `/track/${a}`]);
  expect(items[0]).toHaveTextContent("€19.00");
  expect(items[0]).toHaveTextContent("Order placed");
  expect(JSON.parse(localStorage.getItem(ORDERS_KEY)!)).toHaveLength(2);
});

it("says when there are none", () => {
  renderPage(<OrdersPage />);
  expect(screen.getByText(/not placed an order from this browser yet/)).toBeInTheDocument();
});
