import { act, screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import { ORDERS_KEY } from "../myOrders";
import { TrackPage } from "../TrackPage";
import { entry, FakeServer, ManualTimers, ORDER_ID, snapshot, statusMessage } from "../../test/fakeSocket";
import { json, mockFetch, renderPage, resetBrowserState, setupUser } from "../../test/render";

const ORDER = {
  id: ORDER_ID,
  status: "placed",
  reason: null,
  version: 1,
  items: [{ item_id: "margherita", name: "Pizza Margherita", quantity: 2, unit_price_cents: 950 }],
  total_cents: 1900,
  customer: { name: "Ada Lovelace", address: "12 Analytical Row", phone: "+44 20 7946 0000" },
  created_at: "2025-01-01T12:00:00+00:00",
  updated_at: "2025-01-01T12:00:00+00:00",
};

function storeOrder(token = "tok-123") {
  localStorage.setItem(
    ORDERS_KEY,
    JSON.stringify([{ id: ORDER_ID, tracking_token: token, created_at: ORDER.created_at, total_cents: 1900 }]),
  );
}

function renderTracking() {
  const server = new FakeServer();
  const clock = new ManualTimers();
  const page = renderPage(
    <TrackPage connectionOverrides={{ createSocket: server.factory, timers: clock.timers, random: () => 0 }} />,
    { path: "/track/:orderId", at: `/track/${ORDER_ID}` },
  );
  return { server, clock, page };
}

const send = (server: FakeServer, message: unknown) => act(() => server.last.send(message));
const status = () => screen.getByTestId("current-status");
const connection = () => screen.getByTestId("connection");
const timelineItems = () => within(screen.getByRole("list", { name: "Timeline" })).queryAllByRole("listitem");

beforeEach(resetBrowserState);

describe("tracking page", () => {
  it("shows the live status, the timeline with times and the connection state", async () => {
    storeOrder();
    mockFetch({ [`GET /api/orders/${ORDER_ID}`]: json(200, ORDER) });
    const { server } = renderTracking();

    expect(server.last.token).toBe("tok-123");
    expect(server.last.since).toBe(0);
    expect(connection()).toHaveAttribute("data-state", "connecting");
    expect(status()).toHaveAttribute("aria-live", "polite");
    expect(status()).not.toHaveAttribute("data-status"); // no status known yet

    send(server, snapshot(0, 2));
    expect(connection()).toHaveAttribute("data-state", "live");
    expect(status()).toHaveAttribute("data-status", "paid");
    expect(status()).toHaveTextContent("Payment authorised");
    expect(timelineItems()).toHaveLength(2);
    expect(timelineItems()[0]!.querySelector("time")).toHaveAttribute("datetime", entry(1).at);

    send(server, statusMessage(3));
    expect(status()).toHaveAttribute("data-status", "preparing");
    const items = timelineItems();
    expect(items.map((li) => li.dataset.status)).toEqual(["placed", "paid", "preparing"]);
    expect(items[2]).toHaveAttribute("aria-current", "step");
    expect(items[1]).not.toHaveAttribute("aria-current");

    expect(await screen.findByText("2 × Pizza Margherita")).toBeInTheDocument();
  });

  it("reconnects after a drop from the last version, and never shows an older status", async () => {
    storeOrder();
    mockFetch({ [`GET /api/orders/${ORDER_ID}`]: json(200, ORDER) });
    const { server, clock } = renderTracking();
    send(server, snapshot(0, 3));

    act(() => server.last.drop(1006));
    expect(connection()).toHaveAttribute("data-state", "reconnecting");
    expect(connection()).toHaveTextContent("reconnecting in 1 s");
    expect(status()).toHaveAttribute("data-status", "preparing");

    act(() => clock.fire(500));
    expect(server.sockets).toHaveLength(2);
    expect(server.last.since).toBe(3);
    send(server, snapshot(3, 4));
    expect(connection()).toHaveAttribute("data-state", "live");
    expect(status()).toHaveAttribute("data-status", "ready");

    send(server, statusMessage(2)); // a stale duplicate
    expect(status()).toHaveAttribute("data-status", "ready");
    expect(timelineItems()).toHaveLength(4);
  });

  it("shows why a cancelled order ended, and closes for good", () => {
    storeOrder();
    mockFetch({ [`GET /api/orders/${ORDER_ID}`]: json(200, ORDER) });
    const { server, clock } = renderTracking();
    send(server, snapshot(0, 2, [entry(1), entry(2, "cancelled", "payment_declined")]));

    expect(status()).toHaveAttribute("data-status", "cancelled");
    expect(status()).toHaveTextContent("The payment was declined.");
    expect(connection()).toHaveAttribute("data-state", "closed");
    expect(connection()).toHaveTextContent("Final status");
    expect(screen.queryByRole("button", { name: "Cancel order" })).toBeNull();
    expect(clock.waits).toEqual([]);
    expect(JSON.parse(localStorage.getItem(ORDERS_KEY)!)[0].last_status).toBe("cancelled");
  });

  it("cancels with the bearer token while cancelling is allowed", async () => {
    storeOrder();
    const { calls } = mockFetch({
      [`GET /api/orders/${ORDER_ID}`]: json(200, ORDER),
      [`POST /api/orders/${ORDER_ID}/cancel`]: json(202, { ...ORDER, status: "cancelled", reason: "customer_cancelled", version: 2 }),
    });
    const user = setupUser();
    const { server } = renderTracking();
    send(server, snapshot(0, 1));

    await user.click(screen.getByRole("button", { name: "Cancel order" }));
    expect(await screen.findByText("Cancellation requested.")).toBeInTheDocument();
    const cancel = calls.find((c) => c.method === "POST")!;
    expect(cancel.url).toBe(`/api/orders/${ORDER_ID}/cancel`);
    expect(cancel.headers.get("Authorization")).toBe("Bearer tok-123");

    send(server, statusMessage(2, "cancelled", "customer_cancelled"));
    expect(status()).toHaveTextContent("You cancelled the order.");
    expect(screen.queryByRole("button", { name: "Cancel order" })).toBeNull();
  });

  it("says it is too late when the cancel answers 409", async () => {
    storeOrder();
    mockFetch({
      [`GET /api/orders/${ORDER_ID}`]: json(200, ORDER),
      [`POST /api/orders/${ORDER_ID}/cancel`]: json(409, { detail: { code: "not_cancellable", status: "preparing" } }),
    });
    const user = setupUser();
    const { server } = renderTracking();
    send(server, snapshot(0, 2));

    await user.click(screen.getByRole("button", { name: "Cancel order" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Too late to cancel this order: it is already “being prepared”.");
    send(server, statusMessage(3));
    expect(screen.queryByRole("button", { name: "Cancel order" })).toBeNull();
    expect(screen.getByRole("alert")).toHaveTextContent("Too late to cancel"); // the answer stays
  });

  it("without a stored token, says so and tracks with a pasted one", async () => {
    mockFetch({ [`GET /api/orders/${ORDER_ID}`]: json(200, ORDER) });
    const user = setupUser();
    const { server } = renderTracking();

    expect(screen.getByRole("heading", { name: "No tracking token for this order" })).toBeInTheDocument();
    expect(server.sockets).toHaveLength(0);
    expect(screen.queryByTestId("connection")).toBeNull();

    await user.type(screen.getByLabelText("Tracking token"), "pasted-token");
    await user.click(screen.getByRole("button", { name: "Track with this token" }));
    expect(server.last.token).toBe("pasted-token");
    send(server, snapshot(0, 1));
    expect(status()).toHaveAttribute("data-status", "placed");
  });

  it("says when the server refuses the token", async () => {
    storeOrder("wrong");
    mockFetch({ [`GET /api/orders/${ORDER_ID}`]: json(404, { detail: { code: "not_found" } }) });
    const { server, clock } = renderTracking();
    act(() => server.last.drop(4404));

    expect(screen.getByRole("alert")).toHaveTextContent("The tracking token was not accepted for this order.");
    expect(connection()).toHaveAttribute("data-state", "closed");
    expect(clock.waits).toEqual([]);
    await waitFor(() => expect(screen.queryByRole("button", { name: "Cancel order" })).toBeNull());
  });
});
