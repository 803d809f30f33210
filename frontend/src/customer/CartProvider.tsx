import { createContext, useContext, useEffect, useMemo, useState, useSyncExternalStore, type ReactNode } from "react";
import type { MenuItem } from "../api/types";
import { addOne, removeLine, setQuantity, type Cart } from "./cart";
import { CART_KEY, CartStore } from "./cartStore";
import { browserStorage } from "./storage";

const CartContext = createContext<CartStore | null>(null);

export function CartProvider({ children }: { children: ReactNode }) {
  const [store] = useState(() => new CartStore(browserStorage()));
  useEffect(() => {
    const onStorage = (event: StorageEvent) => {
      if (event.key === CART_KEY || event.key === null) store.reload();
    };
    window.addEventListener("storage", onStorage);
    return () => window.removeEventListener("storage", onStorage);
  }, [store]);
  return <CartContext value={store}>{children}</CartContext>;
}

export interface CartActions {
  lines: Cart;
  add(item: MenuItem): void;
  setQuantity(itemId: string, quantity: number, limit: number): void;
  remove(itemId: string): void;
  clear(): void;
}

export function useCart(): CartActions {
  const store = useContext(CartContext);
  if (store === null) throw new Error("useCart outside <CartProvider>");
  const lines = useSyncExternalStore(store.subscribe, store.getSnapshot);
  return useMemo(
    () => ({
      lines,
      add: (item) => store.update((cart) => addOne(cart, item)),
      setQuantity: (itemId, quantity, limit) =>
        store.update((cart) => setQuantity(cart, itemId, quantity, limit)),
      remove: (itemId) => store.update((cart) => removeLine(cart, itemId)),
      clear: () => store.update(() => []),
    }),
    [lines, store],
  );
}
