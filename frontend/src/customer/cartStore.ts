// The cart kept in localStorage: survives reloads, and follows changes made in other tabs.
import { parseCart, type Cart } from "./cart";
import { readJson, removeKey, writeJson, type KeyValueStore } from "./storage";

export const CART_KEY = "orders-saga.cart.v1";

export class CartStore {
  private cart: Cart;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly storage: KeyValueStore | null) {
    this.cart = readJson(storage, CART_KEY, parseCart) ?? [];
  }

  getSnapshot = (): Cart => this.cart;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  update(change: (cart: Cart) => Cart): void {
    const next = change(this.cart);
    if (next === this.cart) return;
    this.cart = next;
    if (next.length === 0) removeKey(this.storage, CART_KEY);
    else writeJson(this.storage, CART_KEY, next);
    this.notify();
  }

  /** Another tab wrote the cart (a `storage` event). */
  reload(): void {
    this.cart = readJson(this.storage, CART_KEY, parseCart) ?? [];
    this.notify();
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}
