import { describe, expect, it } from "vitest";
import type { MenuItem } from "../../api/types";
import { addOne, addRefusal, cartTotal, parseCart, setQuantity, type Cart } from "../cart";

const item = (id: string, stock: number, price_cents = 100): MenuItem => ({
  id, name: id, description: "", category: "c", price_cents, stock,
});

describe("cart operations", () => {
  it("caps a line at 50 even with more stock", () => {
    let cart: Cart = [];
    const plenty = item("a", 1000);
    for (let i = 0; i < 60; i += 1) cart = addOne(cart, plenty);
    expect(cart[0]!.quantity).toBe(50);
    expect(addRefusal(cart, plenty)).toBe("At most 50 per order");
    expect(setQuantity(cart, "a", 999, 1000)[0]!.quantity).toBe(50);
    expect(setQuantity(cart, "a", 0, 1000)[0]!.quantity).toBe(1);
  });

  it("holds at most 20 different items", () => {
    let cart: Cart = [];
    for (let i = 0; i < 20; i += 1) cart = addOne(cart, item(`i${i}`, 5));
    const extra = item("extra", 5);
    expect(addRefusal(cart, extra)).toContain("20 different items");
    expect(addOne(cart, extra)).toBe(cart);
    expect(addRefusal(cart, item("i3", 5))).toBeNull(); // more of one already in it is fine
  });

  it("totals at the menu's current prices when known", () => {
    const cart = addOne(addOne([], item("a", 5, 300)), item("a", 5, 300));
    expect(cartTotal(cart)).toBe(600);
    expect(cartTotal(cart, new Map([["a", item("a", 5, 350)]]))).toBe(700);
  });

  it("reads back only well-formed, distinct lines", () => {
    const line = { itemId: "a", name: "A", unitPriceCents: 1, quantity: 2 };
    expect(parseCart([line, { ...line, quantity: 3 }, { ...line, itemId: "b", quantity: 0 }, null])).toEqual([line]);
    expect(parseCart({})).toBeNull();
  });
});
