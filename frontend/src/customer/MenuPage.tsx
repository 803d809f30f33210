import { useState } from "react";
import type { MenuItem } from "../api/types";
import { CartPanel } from "./CartPanel";
import { quantityOf } from "./cart";
import { useCart } from "./CartProvider";
import { categoryLabel } from "./format";
import { loadErrorMessage } from "./loadError";
import { MenuItemCard } from "./MenuItemCard";
import { byCategory, useMenu } from "./useMenu";
import { errorBox, muted, secondaryButton } from "./ui";

export function MenuPage() {
  const menu = useMenu();
  const cart = useCart();
  const [announcement, setAnnouncement] = useState("");

  const add = (item: MenuItem) => {
    cart.add(item);
    setAnnouncement(`Added ${item.name} to cart (${quantityOf(cart.lines, item.id) + 1} in cart).`);
  };

  return (
    <div className="grid gap-6 lg:grid-cols-[1fr_22rem]">
      <div>
        <title>Menu · orders-saga</title>
        <h1 className="mb-4 text-2xl font-bold">Menu</h1>
        {menu.isPending && <p className={muted}>Loading the menu…</p>}
        {menu.isError && (
          <div role="alert" className={errorBox}>
            <p>{loadErrorMessage(menu.error, "the menu")}</p>
            <button type="button" className={`${secondaryButton} mt-2`} onClick={() => void menu.refetch()}>
              Try again
            </button>
          </div>
        )}
        {menu.data && menu.data.items.length === 0 && <p className={muted}>The menu is empty right now.</p>}
        {menu.data &&
          byCategory(menu.data.items).map(([category, items]) => (
            <section key={category} aria-labelledby={`category-${category}`} className="mb-8">
              <h2 id={`category-${category}`} className="mb-3 text-xl font-semibold">
                {categoryLabel(category)}
              </h2>
              <ul className="grid list-none gap-4 sm:grid-cols-2 xl:grid-cols-3">
                {items.map((item) => (
                  <li key={item.id} className="flex">
                    <MenuItemCard item={item} cart={cart.lines} onAdd={add} />
                  </li>
                ))}
              </ul>
            </section>
          ))}
        <p className="sr-only" role="status" aria-live="polite">
          {announcement}
        </p>
      </div>
      <aside aria-label="Cart" className="lg:sticky lg:top-4 lg:self-start">
        <CartPanel menu={menu.data?.byId} checkoutLink />
      </aside>
    </div>
  );
}
