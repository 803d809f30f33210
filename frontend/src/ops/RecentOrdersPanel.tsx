import { useQuery } from "@tanstack/react-query";
import type { OpsApi } from "./api";
import { formatAge, formatClock, humanize } from "./format";
import { useNow } from "./hooks";
import type { RecentOrder } from "./types";
import { Badge, numClass, Section, TableScroll, tableClass, tdClass, thClass } from "./ui";

export const RECENT_LIMIT = 25;
export const RECENT_REFRESH_MS = 5_000;

function StatusCell({ order }: { order: RecentOrder }) {
  if (order.status === "delivered") return <Badge severity="ok">Delivered</Badge>;
  if (order.status === "cancelled") {
    return (
      <Badge severity="problem">
        Cancelled{order.reason ? ` — ${humanize(order.reason).toLowerCase()}` : ""}
      </Badge>
    );
  }
  return <span>{humanize(order.status)}</span>;
}

/** The orders whose status changed last (operator view: no customer data). */
export function RecentOrdersPanel({ api }: { api: OpsApi }) {
  const now = useNow(5_000);
  const orders = useQuery({
    queryKey: ["ops", "recent-orders"],
    queryFn: () => api.recentOrders(RECENT_LIMIT),
    refetchInterval: RECENT_REFRESH_MS,
  });
  return (
    <Section
      id="recent-orders"
      title="Recent orders"
      description={`The ${RECENT_LIMIT} orders whose status changed last, newest first.`}
    >
      {orders.isPending && <p>Loading orders…</p>}
      {orders.isError && (
        <p role="alert" className="text-red-700 dark:text-red-300">
          Could not load recent orders: {orders.error.message}
        </p>
      )}
      {orders.isSuccess && orders.data.length === 0 && <p>No orders yet.</p>}
      {orders.isSuccess && orders.data.length > 0 && (
        <TableScroll label="Recent orders table, scrolls sideways">
          <table aria-label="Recent orders" className={tableClass}>
            <thead>
              <tr>
                <th scope="col" className={thClass}>
                  Order id
                </th>
                <th scope="col" className={thClass}>
                  Status
                </th>
                <th scope="col" className={`${thClass} ${numClass}`}>
                  Version
                </th>
                <th scope="col" className={thClass}>
                  Updated
                </th>
              </tr>
            </thead>
            <tbody>
              {orders.data.map((order) => (
                <tr key={order.order_id}>
                  <td className={`${tdClass} font-mono`}>{order.order_id}</td>
                  <td className={tdClass}>
                    <StatusCell order={order} />
                  </td>
                  <td className={`${tdClass} ${numClass}`}>{order.version}</td>
                  <td className={`${tdClass} whitespace-nowrap`}>
                    <time dateTime={order.at} title={order.at}>
                      {formatClock(order.at)}
                    </time>{" "}
                    <span className="text-xs text-slate-600 dark:text-slate-400">
                      ({formatAge(order.at, now)})
                    </span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </Section>
  );
}
