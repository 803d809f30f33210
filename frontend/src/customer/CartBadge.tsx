import { NavLink } from "react-router";
import { itemCount } from "./cart";
import { useCart } from "./CartProvider";

/** The nav's way to the cart and checkout, with how many items it holds. */
export function CartBadge({ className }: { className: (state: { isActive: boolean }) => string }) {
  const count = itemCount(useCart().lines);
  return (
    <NavLink to="/checkout" className={className}>
      Cart
      <span
        aria-hidden="true"
        className="ml-1.5 inline-flex min-w-5 items-center justify-center rounded-full bg-slate-800 px-1.5 text-xs font-semibold text-white tabular-nums dark:bg-slate-100 dark:text-slate-900"
      >
        {count}
      </span>
      <span className="sr-only">, {count === 1 ? "1 item" : `${count} items`}</span>
    </NavLink>
  );
}
