// The cart as plain data and pure operations on it.
import { LIMITS } from "../api/validation";
import type { MenuItem, OrderLineIn } from "../api/types";
import { isRecord } from "./storage";

export interface CartLine {
  itemId: string;
  /** Name and price when added, shown until the menu (which has the current ones) is loaded. */
  name: string;
  unitPriceCents: number;
  quantity: number;
}

export type Cart = readonly CartLine[];

/** The most of `item` one order may hold: its stock, and never more than the API's 50. */
export function maxQuantity(item: Pick<MenuItem, "stock">): number {
  return Math.max(0, Math.min(item.stock, LIMITS.quantity.max));
}

export function quantityOf(cart: Cart, itemId: string): number {
  return cart.find((line) => line.itemId === itemId)?.quantity ?? 0;
}

/** Why one more `item` cannot go in the cart, or null when it can. */
export function addRefusal(cart: Cart, item: MenuItem): string | null {
  const limit = maxQuantity(item);
  const held = quantityOf(cart, item.id);
  if (item.stock <= 0) return "Out of stock";
  if (held === 0 && cart.length >= LIMITS.lines.max) {
    return `Your cart is full: ${LIMITS.lines.max} different items at most`;
  }
  if (held >= limit) {
    return limit === LIMITS.quantity.max
      ? `At most ${LIMITS.quantity.max} per order`
      : `All ${limit} left are in your cart`;
  }
  return null;
}

export function addOne(cart: Cart, item: MenuItem): Cart {
  if (addRefusal(cart, item) !== null) return cart;
  const held = quantityOf(cart, item.id);
  if (held === 0) {
    return [...cart, { itemId: item.id, name: item.name, unitPriceCents: item.price_cents, quantity: 1 }];
  }
  return cart.map((line) => (line.itemId === item.id ? { ...line, quantity: held + 1 } : line));
}

/** Set a line's quantity, kept within 1..`limit` (the item's current maximum). */
export function setQuantity(cart: Cart, itemId: string, quantity: number, limit: number): Cart {
  if (!Number.isFinite(quantity)) return cart;
  const upper = Math.max(1, Math.min(limit, LIMITS.quantity.max));
  const clamped = Math.min(upper, Math.max(1, Math.trunc(quantity)));
  return cart.map((line) => (line.itemId === itemId ? { ...line, quantity: clamped } : line));
}

export function removeLine(cart: Cart, itemId: string): Cart {
  return cart.filter((line) => line.itemId !== itemId);
}

export function itemCount(cart: Cart): number {
  return cart.reduce((sum, line) => sum + line.quantity, 0);
}

/** The total at the menu's current prices where known (the server prices the order anyway). */
export function cartTotal(cart: Cart, menu?: ReadonlyMap<string, MenuItem>): number {
  return cart.reduce(
    (sum, line) => sum + line.quantity * (menu?.get(line.itemId)?.price_cents ?? line.unitPriceCents),
    0,
  );
}

export function orderLines(cart: Cart): OrderLineIn[] {
  return cart.map((line) => ({ item_id: line.itemId, quantity: line.quantity }));
}

function lineOf(value: unknown): CartLine | null {
  if (!isRecord(value)) return null;
  const { itemId, name, unitPriceCents, quantity } = value;
  if (
    typeof itemId !== "string" ||
    typeof name !== "string" ||
    typeof unitPriceCents !== "number" ||
    !Number.isSafeInteger(quantity) ||
    (quantity as number) < LIMITS.quantity.min ||
    (quantity as number) > LIMITS.quantity.max
  ) {
    return null;
  }
  return { itemId, name, unitPriceCents, quantity: quantity as number };
}

/** A cart read back from storage: whatever does not look like a line is dropped. */
export function parseCart(value: unknown): Cart | null {
  if (!Array.isArray(value)) return null;
  const lines = value.map(lineOf).filter((line): line is CartLine => line !== null);
  const seen = new Set<string>();
  return lines.filter((line) => !seen.has(line.itemId) && seen.add(line.itemId)).slice(0, LIMITS.lines.max);
}
