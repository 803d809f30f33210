import { useState } from "react";
import { Link } from "react-router";
import type { MenuItem } from "../api/types";
import { LIMITS } from "../api/validation";
import { cartTotal, itemCount, maxQuantity, type CartLine } from "./cart";
import { useCart } from "./CartProvider";
import { formatMoney, plural } from "./format";
import { card, focusRing, muted, primaryButton, secondaryButton } from "./ui";

interface Props {
  menu: ReadonlyMap<string, MenuItem> | undefined;
  /** On the menu page: a link on to checkout. */
  checkoutLink?: boolean;
  /** An item the server just refused (out of stock): its line is marked. */
  problemItemId?: string | null;
}

export function CartPanel({ menu, checkoutLink = false, problemItemId = null }: Props) {
  const { lines } = useCart();
  const count = itemCount(lines);
  return (
    <section aria-labelledby="cart-heading" className={card}>
      <h2 id="cart-heading" className="text-lg font-semibold">
        Your cart{" "}
        <span className={`text-sm font-normal ${muted}`}>({plural(count, "item")})</span>
      </h2>
      {lines.length === 0 ? (
        <p className={`mt-2 text-sm ${muted}`}>Your cart is empty.</p>
      ) : (
        <>
          <ul className="mt-3 divide-y divide-slate-200 dark:divide-slate-700">
            {lines.map((line) => (
              <CartLineRow
                key={line.itemId}
                line={line}
                item={menu?.get(line.itemId)}
                problem={line.itemId === problemItemId}
              />
            ))}
          </ul>
          <p className="mt-3 flex justify-between border-t border-slate-300 pt-3 font-semibold dark:border-slate-600">
            <span>Total</span>
            <span className="tabular-nums" data-testid="cart-total">
              {formatMoney(cartTotal(lines, menu))}
            </span>
          </p>
          {checkoutLink && (
            <Link to="/checkout" className={`${primaryButton} mt-4 w-full`}>
              Checkout
            </Link>
          )}
        </>
      )}
    </section>
  );
}

function CartLineRow({ line, item, problem }: { line: CartLine; item: MenuItem | undefined; problem: boolean }) {
  const { setQuantity, remove } = useCart();
  const name = item?.name ?? line.name;
  const price = item?.price_cents ?? line.unitPriceCents;
  const limit = item ? maxQuantity(item) : LIMITS.quantity.max;
  const inputId = `qty-${line.itemId}`;
  const noteId = `qty-note-${line.itemId}`;
  const overStock = item !== undefined && line.quantity > item.stock;
  const gone = item === undefined ? null : item.stock <= 0 ? "Out of stock now" : overStock ? `Only ${item.stock} left` : null;
  const change = (quantity: number) => setQuantity(line.itemId, quantity, Math.max(limit, 1));
  return (
    <li className={`py-3 ${problem ? "-mx-2 rounded-md bg-red-50 px-2 dark:bg-red-950" : ""}`}>
      <div className="flex justify-between gap-2">
        <span className="font-medium">{name}</span>
        <span className="tabular-nums">{formatMoney(price * line.quantity)}</span>
      </div>
      <div className="mt-2 flex flex-wrap items-center gap-2">
        <label htmlFor={inputId} className="sr-only">
          Quantity of {name}
        </label>
        <button
          type="button"
          className={`${secondaryButton} h-9 w-9 px-0`}
          onClick={() => change(line.quantity - 1)}
          disabled={line.quantity <= 1}
          aria-label={`Decrease quantity of ${name}`}
        >
          −
        </button>
        <QuantityInput
          id={inputId}
          quantity={line.quantity}
          max={Math.max(limit, 1)}
          onCommit={change}
          describedBy={gone ? noteId : undefined}
          invalid={gone !== null}
        />
        <button
          type="button"
          className={`${secondaryButton} h-9 w-9 px-0`}
          onClick={() => change(line.quantity + 1)}
          disabled={line.quantity >= limit}
          aria-label={`Increase quantity of ${name}`}
        >
          +
        </button>
        <span className={`text-sm ${muted}`}>× {formatMoney(price)}</span>
        <button
          type="button"
          className={`ml-auto rounded px-2 py-1 text-sm text-red-700 underline hover:text-red-900 dark:text-red-400 dark:hover:text-red-300 ${focusRing}`}
          onClick={() => remove(line.itemId)}
          aria-label={`Remove ${name} from cart`}
        >
          Remove
        </button>
      </div>
      {gone && (
        <p id={noteId} className="mt-1 text-sm text-red-700 dark:text-red-400">
          {gone}
        </p>
      )}
    </li>
  );
}

interface QuantityProps {
  id: string;
  quantity: number;
  max: number;
  onCommit(quantity: number): void;
  describedBy: string | undefined;
  invalid: boolean;
}

/** Free typing (even an empty field for a moment); each whole number typed is applied, clamped. */
function QuantityInput({ id, quantity, max, onCommit, describedBy, invalid }: QuantityProps) {
  const [draft, setDraft] = useState<string | null>(null);
  return (
    <input
      id={id}
      type="number"
      inputMode="numeric"
      min={1}
      max={max}
      step={1}
      value={draft ?? String(quantity)}
      onChange={(event) => {
        const text = event.currentTarget.value;
        const value = Number(text);
        if (text !== "" && Number.isInteger(value)) {
          onCommit(value);
          setDraft(null);
        } else {
          setDraft(text);
        }
      }}
      onBlur={() => setDraft(null)}
      aria-describedby={describedBy}
      aria-invalid={invalid ? true : undefined}
      className={`h-9 w-16 rounded-md border border-slate-400 bg-white px-2 text-center tabular-nums dark:border-slate-500 dark:bg-slate-950 ${focusRing}`}
    />
  );
}
