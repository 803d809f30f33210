import { useId } from "react";
import type { MenuItem } from "../api/types";
import { addRefusal, quantityOf, type Cart } from "./cart";
import { formatMoney } from "./format";
import { card, muted, primaryButton } from "./ui";

function stockLabel(stock: number): string {
  if (stock <= 0) return "Out of stock";
  if (stock <= 5) return `Only ${stock} left`;
  return `${stock} in stock`;
}

export function MenuItemCard({ item, cart, onAdd }: { item: MenuItem; cart: Cart; onAdd(item: MenuItem): void }) {
  const noteId = useId();
  const refusal = addRefusal(cart, item);
  const inCart = quantityOf(cart, item.id);
  return (
    <article aria-label={item.name} className={`${card} flex w-full flex-col gap-2`}>
      <div className="flex items-start justify-between gap-3">
        <h3 className="text-base font-semibold">{item.name}</h3>
        <p className="shrink-0 font-semibold tabular-nums">{formatMoney(item.price_cents)}</p>
      </div>
      {item.description && <p className={`text-sm ${muted}`}>{item.description}</p>}
      <p className={`text-sm ${item.stock <= 0 ? "font-medium text-red-700 dark:text-red-400" : muted}`}>
        {stockLabel(item.stock)}
        {inCart > 0 && <span> · {inCart} in your cart</span>}
      </p>
      <div className="mt-auto flex flex-wrap items-center gap-x-3 gap-y-1 pt-1">
        <button
          type="button"
          className={primaryButton}
          disabled={refusal !== null}
          aria-describedby={refusal !== null ? noteId : undefined}
          onClick={() => onAdd(item)}
          aria-label={`Add ${item.name} to cart`}
        >
          Add
        </button>
        {refusal !== null && (
          <span id={noteId} className={`text-sm ${muted}`}>
            {refusal}
          </span>
        )}
      </div>
    </article>
  );
}
