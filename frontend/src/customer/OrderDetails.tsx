import { useQuery } from "@tanstack/react-query";
import { fetchOrder } from "../api/customer";
import { ApiError } from "../api/http";
import { formatDateTime, formatMoney } from "./format";
import { loadErrorMessage } from "./loadError";
import { muted } from "./ui";

export function OrderDetails({ orderId, token }: { orderId: string; token: string }) {
  const order = useQuery({
    queryKey: ["order", orderId, token],
    queryFn: ({ signal }) => fetchOrder(orderId, token, signal),
    staleTime: Infinity, // lines, total and address never change
    retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
  });
  if (order.isPending) return <p className={muted}>Loading the order…</p>;
  if (order.isError) {
    const refused = order.error instanceof ApiError && (order.error.status === 404 || order.error.status === 401);
    return (
      <p className={muted}>
        {refused ? "The order’s details are not available with this tracking token." : loadErrorMessage(order.error, "the order’s details")}
      </p>
    );
  }
  const { items, total_cents, customer, created_at } = order.data;
  return (
    <div className="flex flex-col gap-3">
      <ul className="divide-y divide-slate-200 dark:divide-slate-700">
        {items.map((line) => (
          <li key={line.item_id} className="flex justify-between gap-2 py-2">
            <span>
              {line.quantity} × {line.name}
            </span>
            <span className="tabular-nums">{formatMoney(line.quantity * line.unit_price_cents)}</span>
          </li>
        ))}
      </ul>
      <p className="flex justify-between border-t border-slate-300 pt-2 font-semibold dark:border-slate-600">
        <span>Total</span>
        <span className="tabular-nums">{formatMoney(total_cents)}</span>
      </p>
      <dl className={`grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm ${muted}`}>
        <dt>Placed</dt>
        <dd>{formatDateTime(created_at)}</dd>
        <dt>Deliver to</dt>
        <dd className="break-words whitespace-pre-line">
          {customer.name}, {customer.address}
        </dd>
        <dt>Phone</dt>
        <dd>{customer.phone}</dd>
      </dl>
    </div>
  );
}
