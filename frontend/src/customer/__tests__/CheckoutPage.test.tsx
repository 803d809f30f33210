import { screen, waitFor, within } from "@testing-library/react";
import type { UserEvent } from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { ATTEMPT_KEY } from "../checkoutAttempt";
import { CART_KEY } from "../cartStore";
import { CheckoutPage } from "../CheckoutPage";
import { ORDERS_KEY } from "../myOrders";
import { json, MENU, mockFetch, networkDown, renderPage, resetBrowserState, setupUser } from "../../test/render";

const ORDER_ID = "0123456789abcdef0123456789abcdef";
const CREATED = {
  id: ORDER_ID,
  status: "placed",
  version: 1,
  items: [{ item_id: "margherita", name: "Pizza Margherita", quantity: 2, unit_price_cents: 950 }],
  total_cents: 1900,
  created_at: "2025-01-01T12:00:00+00:00",
  tracking_token: "tok-123",
};

function withCart(lines = [{ itemId: "margherita", name: "Pizza Margherita", unitPriceCents: 950, quantity: 2 }]) {
  localStorage.setItem(CART_KEY, JSON.stringify(lines));
}

function renderCheckout() {
  return renderPage(<CheckoutPage />, { path: "/checkout", at: "/checkout" });
}

async function fillValid(user: UserEvent) {
  await user.type(screen.getByLabelText("Name"), "  Ada Lovelace ");
  await user.type(screen.getByLabelText("Address"), "12 Analytical Row");
  await user.type(screen.getByLabelText("Phone"), "+44 20 7946 0000");
}

const placeOrder = () => screen.getByRole("button", { name: "Place order" });

function keysSent(calls: { method: string; url: string; headers: Headers }[]) {
  return calls.filter((c) => c.method === "POST" && c.url === "/api/orders").map((c) => c.headers.get("Idempotency-Key"));
}

beforeEach(() => {
  resetBrowserState();
  withCart();
});

describe("checkout validation", () => {
  it("refuses an empty form in the page, with errors tied to the inputs", async () => {
    const { calls } = mockFetch({ "GET /api/menu": json(200, MENU) });
    const user = setupUser();
    renderCheckout();

    await user.click(placeOrder());

    const name = screen.getByLabelText("Name");
    expect(name).toHaveAttribute("aria-invalid", "true");
    expect(name).toHaveAccessibleDescription("Up to 100 characters. Enter your name.");
    expect(screen.getByLabelText("Address")).toHaveAccessibleDescription(expect.stringContaining("Enter your address."));
    expect(screen.getByLabelText("Phone")).toHaveAttribute("aria-invalid", "true");
    expect(name).toHaveFocus();
    expect(calls.filter((c) => c.method === "POST")).toHaveLength(0);
  });

  it("applies the API's bounds: lengths after stripping, the phone pattern", async () => {
    mockFetch({ "GET /api/menu": json(200, MENU) });
    const user = setupUser();
    renderCheckout();

    await user.click(screen.getByLabelText("Name"));
    await user.paste("x".repeat(101));
    await user.type(screen.getByLabelText("Address"), "  ab  ");
    await user.type(screen.getByLabelText("Phone"), "12a4");
    await user.click(placeOrder());

    expect(screen.getByLabelText("Name")).toHaveAccessibleDescription(expect.stringContaining("at most 100 characters (now 101)"));
    expect(screen.getByLabelText("Address")).toHaveAccessibleDescription(expect.stringContaining("at least 3 characters"));
    expect(screen.getByLabelText("Phone")).toHaveAccessibleDescription(expect.stringContaining("digits, spaces and ( ) . - only"));

    await user.clear(screen.getByLabelText("Address"));
    await user.type(screen.getByLabelText("Address"), "abc");
    expect(screen.getByLabelText("Address")).not.toHaveAttribute("aria-invalid"); // rechecked as typed
  });
});

describe("placing the order", () => {
  it("sends the stripped body, remembers the order, clears the cart and opens tracking", async () => {
    const { calls } = mockFetch({ "GET /api/menu": json(200, MENU), "POST /api/orders": json(201, CREATED) });
    const user = setupUser();
    renderCheckout();
    await fillValid(user);
    await user.click(placeOrder());

    expect(await screen.findByTestId("location")).toHaveTextContent(`/track/${ORDER_ID}`);
    const post = calls.find((c) => c.method === "POST")!;
    expect(post.body).toEqual({
      customer: { name: "Ada Lovelace", address: "12 Analytical Row", phone: "+44 20 7946 0000" },
      items: [{ item_id: "margherita", quantity: 2 }],
    });
    expect(post.headers.get("Idempotency-Key")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(JSON.parse(localStorage.getItem(ORDERS_KEY)!)).toEqual([
      { id: ORDER_ID, tracking_token: "tok-123", created_at: CREATED.created_at, total_cents: 1900, last_status: "placed" },
    ]);
    expect(localStorage.getItem(CART_KEY)).toBeNull();
    expect(localStorage.getItem(ATTEMPT_KEY)).toBeNull();
  });

  it("keeps the Idempotency-Key across retries after a network error and a 503, even across a reload", async () => {
    const { calls } = mockFetch({
      "GET /api/menu": json(200, MENU),
      "POST /api/orders": [
        networkDown,
        json(503, { detail: "unavailable" }, { "Retry-After": "3" }),
        json(201, CREATED),
      ],
    });
    const user = setupUser();
    const first = renderCheckout();
    await fillValid(user);

    await user.click(placeOrder());
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("The server could not be reached");
    expect(alert).toHaveTextContent("the same order will never be placed twice");
    await waitFor(() => expect(alert).toHaveFocus());

    first.unmount(); // the customer reloads: the form and the pending attempt come back
    renderCheckout();
    expect(screen.getByLabelText("Name")).toHaveValue("  Ada Lovelace ");
    await user.click(placeOrder());
    expect(await screen.findByRole("alert")).toHaveTextContent("busy or briefly unavailable. Please try again in 3 s.");

    await user.click(placeOrder());
    expect(await screen.findByTestId("location")).toHaveTextContent(`/track/${ORDER_ID}`);

    const keys = keysSent(calls);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
  });

  it("on a load shed (503 overloaded) says we're busy, keeps the cart and the key, and the retry places it", async () => {
    const { calls } = mockFetch({
      "GET /api/menu": json(200, MENU),
      "POST /api/orders": [
        json(503, { detail: { code: "overloaded", retry_after_s: 1 } }, { "Retry-After": "1" }),
        json(201, CREATED),
      ],
    });
    const user = setupUser();
    renderCheckout();
    await fillValid(user);

    await user.click(placeOrder());
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("We're very busy — please try again in a few seconds");
    await waitFor(() => expect(alert).toHaveFocus());
    expect(screen.queryByTestId("location")).toBeNull();
    expect(localStorage.getItem(CART_KEY)).not.toBeNull();
    expect(JSON.parse(localStorage.getItem(ATTEMPT_KEY)!).key).toBe(keysSent(calls)[0]);

    await user.click(placeOrder());
    expect(await screen.findByTestId("location")).toHaveTextContent(`/track/${ORDER_ID}`);
    const keys = keysSent(calls);
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
  });

  it("uses a new key when the customer details or the cart change, and after success", async () => {
    const { calls } = mockFetch({
      "GET /api/menu": json(200, MENU),
      "POST /api/orders": [networkDown, networkDown, networkDown, json(201, CREATED), json(201, CREATED)],
    });
    const user = setupUser();
    const first = renderCheckout();
    await fillValid(user);
    await user.click(placeOrder());
    await screen.findByRole("alert");

    await user.type(screen.getByLabelText("Phone"), "1"); // another customer detail
    await user.click(placeOrder());
    await waitFor(() => expect(keysSent(calls)).toHaveLength(2));

    const cart = screen.getByRole("complementary", { name: "Order summary" });
    await user.click(within(cart).getByRole("button", { name: "Increase quantity of Pizza Margherita" }));
    await user.click(placeOrder());
    await waitFor(() => expect(keysSent(calls)).toHaveLength(3));

    await user.click(placeOrder()); // same cart, same details: the same key again
    expect(await screen.findByTestId("location")).toHaveTextContent(`/track/${ORDER_ID}`);
    first.unmount();

    withCart(); // the next order, with the very same content
    renderCheckout();
    await user.click(placeOrder());
    await waitFor(() => expect(keysSent(calls)).toHaveLength(5));

    const [a, b, c, d, e] = keysSent(calls);
    expect(new Set([a, b, c]).size).toBe(3);
    expect(d).toBe(c);
    expect(e).not.toBe(d);
  });

  it("names the item that is out of stock (409), marks its line and reloads the menu", async () => {
    withCart([
      { itemId: "margherita", name: "Pizza Margherita", unitPriceCents: 950, quantity: 2 },
      { itemId: "funghi", name: "Pizza Funghi", unitPriceCents: 1050, quantity: 2 },
    ]);
    const { calls } = mockFetch({
      "GET /api/menu": json(200, MENU),
      "POST /api/orders": json(409, { detail: { code: "out_of_stock", item_id: "funghi" } }),
    });
    const user = setupUser();
    renderCheckout();
    await fillValid(user);
    const menuLoads = () => calls.filter((c) => c.url === "/api/menu").length;
    await waitFor(() => expect(menuLoads()).toBe(1));

    await user.click(placeOrder());

    expect(await screen.findByRole("alert")).toHaveTextContent("Sorry, Pizza Funghi is out of stock");
    const line = screen.getByLabelText("Quantity of Pizza Funghi").closest("li")!;
    expect(line.className).toContain("bg-red-50");
    await waitFor(() => expect(menuLoads()).toBe(2));
    expect(screen.queryByTestId("location")).toBeNull(); // still on the page: nothing navigated
    expect(localStorage.getItem(CART_KEY)).not.toBeNull();
  });

  it("puts the server's 422 field errors on the fields", async () => {
    mockFetch({
      "GET /api/menu": json(200, MENU),
      "POST /api/orders": json(422, {
        detail: [{ type: "string_pattern_mismatch", loc: ["body", "customer", "phone"], msg: "String should match pattern", input: "x" }],
      }),
    });
    const user = setupUser();
    renderCheckout();
    await fillValid(user);
    await user.click(placeOrder());

    const phone = screen.getByLabelText("Phone");
    await waitFor(() => expect(phone).toHaveAttribute("aria-invalid", "true"));
    expect(phone).toHaveAccessibleDescription(expect.stringContaining("String should match pattern"));
    expect(phone).toHaveFocus();
    expect(screen.getByRole("alert")).toHaveTextContent("please correct the highlighted fields");
  });

  it("offers the way back to the menu when the cart is empty", () => {
    localStorage.removeItem(CART_KEY);
    mockFetch({ "GET /api/menu": json(200, MENU) });
    renderCheckout();
    expect(screen.getByText("Your cart is empty.")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Place order" })).toBeNull();
  });
});
