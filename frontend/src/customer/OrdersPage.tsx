import { Link } from "react-router";
import { formatDateTime, formatMoney, STATUS_LABELS } from "./format";
import { loadOrders } from "./myOrders";
import { browserStorage } from "./storage";
import { card, muted, textLink } from "./ui";

export function OrdersPage() {
  const orders = loadOrders(browserStorage());
  return (
    <div className="mx-auto max-w-3xl">
      <title>My orders · orders-saga</title>
        <h1 className="mb-4 text-2xl font-bold">My orders</h1>
      {orders.length === 0 ? (
        <p>
          You have not placed an order from this browser yet.{" "}
          <Link to="/" className={textLink}>
            See the menu
          </Link>
        </p>
      ) : (
        <ul aria-label="Orders placed from this browser" className="flex flex-col gap-3">
          {orders.map((order) => (
            <li key={order.id} className={`${card} flex flex-wrap items-baseline justify-between gap-2`}>
              <div>
                <Link to={`/track/${order.id}`} className={textLink}>
                  Order {order.id.slice(0, 8)}
                </Link>
                <p className={`text-sm ${muted}`}>
                  Placed {formatDateTime(order.created_at)} · {formatMoney(order.total_cents)}
                </p>
              </div>
              {order.last_status && (
                <p className="text-sm">
                  <span className="sr-only">Last seen status: </span>
                  {STATUS_LABELS[order.last_status]}
                </p>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
