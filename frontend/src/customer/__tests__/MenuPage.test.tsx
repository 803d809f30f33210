import { screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import { CART_KEY } from "../cartStore";
import { MenuPage } from "../MenuPage";
import { json, MENU, mockFetch, renderPage, resetBrowserState, setupUser } from "../../test/render";

beforeEach(resetBrowserState);

describe("menu page", () => {
  it("shows the menu by category with formatted prices and stock", async () => {
    mockFetch({ "GET /api/menu": json(200, MENU) });
    renderPage(<MenuPage />);

    const pizza = await screen.findByRole("region", { name: "Pizza" });
    const dessert = screen.getByRole("region", { name: "Dessert" });
    expect(within(pizza).getAllByRole("article").map((a) => a.getAttribute("aria-label"))).toEqual([
      "Pizza Margherita",
      "Pizza Funghi",
    ]);
    const margherita = screen.getByRole("article", { name: "Pizza Margherita" });
    expect(margherita).toHaveTextContent("€9.50");
    expect(margherita).toHaveTextContent("Tomato, mozzarella, basil");
    expect(margherita).toHaveTextContent("100 in stock");
    expect(within(dessert).getByRole("article", { name: "Tiramisù" })).toHaveTextContent("Out of stock");
  });

  it("adds to the cart and shows the total; an out-of-stock item cannot be added", async () => {
    mockFetch({ "GET /api/menu": json(200, MENU) });
    const user = setupUser();
    renderPage(<MenuPage />);

    await user.click(await screen.findByRole("button", { name: "Add Pizza Margherita to cart" }));
    await user.click(screen.getByRole("button", { name: "Add Pizza Margherita to cart" }));
    await user.click(screen.getByRole("button", { name: "Add Pizza Funghi to cart" }));

    const cart = screen.getByRole("complementary", { name: "Cart" });
    expect(within(cart).getByLabelText("Quantity of Pizza Margherita")).toHaveValue(2);
    expect(within(cart).getByLabelText("Quantity of Pizza Funghi")).toHaveValue(1);
    expect(within(cart).getByTestId("cart-total")).toHaveTextContent("€29.50");
    expect(within(cart).getByRole("link", { name: "Checkout" })).toHaveAttribute("href", "/checkout");
    expect(screen.getByRole("status")).toHaveTextContent("Added Pizza Funghi to cart (1 in cart).");

    const tiramisu = screen.getByRole("button", { name: "Add Tiramisù to cart" });
    expect(tiramisu).toBeDisabled();
    expect(tiramisu).toHaveAccessibleDescription("Out of stock");
  });

  it("caps what can be added at the stock", async () => {
    mockFetch({ "GET /api/menu": json(200, MENU) });
    const user = setupUser();
    renderPage(<MenuPage />);

    const add = await screen.findByRole("button", { name: "Add Pizza Funghi to cart" });
    await user.click(add);
    await user.click(add);
    expect(add).toBeDisabled();
    expect(add).toHaveAccessibleDescription("All 2 left are in your cart");
    const cart = screen.getByRole("complementary", { name: "Cart" });
    expect(within(cart).getByRole("button", { name: "Increase quantity of Pizza Funghi" })).toBeDisabled();
  });

  it("says so when the menu cannot be loaded, and tries again on request", async () => {
    mockFetch({ "GET /api/menu": [json(503, { detail: "busy" }, { "Retry-After": "5" }), json(200, MENU)] });
    const user = setupUser();
    renderPage(<MenuPage />);

    expect(await screen.findByRole("alert")).toHaveTextContent("busy or briefly unavailable. Try again in 5 s.");
    await user.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByRole("article", { name: "Pizza Margherita" })).toBeInTheDocument();
  });
});

describe("cart", () => {
  it("is kept across reloads, with quantities edited and lines removed", async () => {
    mockFetch({ "GET /api/menu": json(200, MENU) });
    const user = setupUser();
    const first = renderPage(<MenuPage />);
    await user.click(await screen.findByRole("button", { name: "Add Pizza Margherita to cart" }));
    await user.click(screen.getByRole("button", { name: "Add Pizza Funghi to cart" }));
    await user.click(screen.getByRole("button", { name: "Increase quantity of Pizza Margherita" }));
    await user.click(screen.getByRole("button", { name: "Increase quantity of Pizza Margherita" }));
    await user.click(screen.getByRole("button", { name: "Remove Pizza Funghi from cart" }));
    first.unmount();

    expect(JSON.parse(localStorage.getItem(CART_KEY) ?? "null")).toEqual([
      { itemId: "margherita", name: "Pizza Margherita", unitPriceCents: 950, quantity: 3 },
    ]);

    renderPage(<MenuPage />); // a reload: a new store reads the same storage
    const cart = screen.getByRole("complementary", { name: "Cart" });
    expect(within(cart).getByLabelText("Quantity of Pizza Margherita")).toHaveValue(3);
    expect(within(cart).queryByLabelText("Quantity of Pizza Funghi")).toBeNull();
    await waitFor(() => expect(within(cart).getByTestId("cart-total")).toHaveTextContent("€28.50"));

    const quantity = within(cart).getByLabelText("Quantity of Pizza Margherita");
    await user.clear(quantity);
    expect(quantity).toHaveValue(null); // an empty field while typing
    await user.type(quantity, "7");
    expect(quantity).toHaveValue(7);
    await waitFor(() => expect(within(cart).getByTestId("cart-total")).toHaveTextContent("€66.50"));
    await user.type(quantity, "0"); // 70: more than the API's 50 per line
    expect(quantity).toHaveValue(50);
  });

  it("ignores a tampered stored cart", () => {
    localStorage.setItem(CART_KEY, JSON.stringify([{ itemId: "x", name: "X", unitPriceCents: 1, quantity: 999 }, "junk"]));
    mockFetch({ "GET /api/menu": json(200, MENU) });
    renderPage(<MenuPage />);
    expect(screen.getByText("Your cart is empty.")).toBeInTheDocument();
  });
});
