import { useEffect, useState } from "react";
import { Link, useParams } from "react-router";
import { canCustomerCancel } from "../api/types";
import type { TrackerView } from "../tracking/connection";
import { useTracking, type ConnectionOverrides } from "../tracking/useTracking";
import { CancelOrder } from "./CancelOrder";
import { ConnectionIndicator } from "./ConnectionIndicator";
import { REASON_LABELS, STATUS_LABELS } from "./format";
import { recordStatus, tokenFor } from "./myOrders";
import { OrderDetails } from "./OrderDetails";
import { browserStorage } from "./storage";
import { Timeline } from "./Timeline";
import { TokenForm } from "./TokenForm";
import { card, errorBox, infoBox, muted, textLink } from "./ui";

const ORDER_ID = /^[0-9a-f]{32}$/;

function CurrentStatus({ view }: { view: TrackerView }) {
  const { status, reason } = view.tracking;
  const cancelled = status === "cancelled";
  return (
    <div
      data-testid="current-status"
      data-status={status ?? undefined}
      aria-live="polite"
      aria-atomic="true"
      className={`rounded-lg border-2 p-4 ${
        cancelled
          ? "border-red-300 bg-red-50 dark:border-red-800 dark:bg-red-950"
          : status === "delivered"
            ? "border-green-300 bg-green-50 dark:border-green-800 dark:bg-green-950"
            : "border-indigo-200 bg-indigo-50 dark:border-indigo-800 dark:bg-indigo-950"
      }`}
    >
      <p className={`text-sm ${muted}`}>Current status</p>
      <p className="text-2xl font-bold">{status === null ? "Waiting for the first update…" : STATUS_LABELS[status]}</p>
      {reason && <p className="mt-1 text-red-800 dark:text-red-200">{REASON_LABELS[reason]}</p>}
    </div>
  );
}

interface Props {
  /** Tests inject a fake socket and timers. */
  connectionOverrides?: ConnectionOverrides;
}

export function TrackPage({ connectionOverrides }: Props) {
  const { orderId = "" } = useParams();
  const storage = browserStorage();
  const validId = ORDER_ID.test(orderId);
  const storedToken = validId ? tokenFor(storage, orderId) : null;
  const [pastedToken, setPastedToken] = useState<string | null>(null);
  const token = pastedToken ?? storedToken;
  const view = useTracking(orderId, validId ? token : null, connectionOverrides);
  const status = view?.tracking.status ?? null;

  useEffect(() => {
    if (status !== null) recordStatus(storage, orderId, status);
  }, [storage, orderId, status]);

  const refused = view?.closedReason === "not_found" || view?.closedReason === "unauthorized";

  return (
    <div className="mx-auto flex max-w-3xl flex-col gap-6">
      <title>{`Order ${orderId.slice(0, 8)} · orders-saga`}</title>
      <div>
        <h1 className="text-2xl font-bold">Order {orderId.slice(0, 8)}</h1>
        <p className={`text-sm break-all ${muted}`}>
          <span className="sr-only">Order id </span>
          {orderId}
        </p>
      </div>

      {!validId && (
        <p role="alert" className={errorBox}>
          This is not a valid order id. <Link to="/orders" className={textLink}>See your orders</Link>.
        </p>
      )}

      {validId && token === null && (
        <section aria-labelledby="no-token" className={`${card} flex flex-col gap-3`}>
          <h2 id="no-token" className="text-lg font-semibold">
            No tracking token for this order
          </h2>
          <p>
            This browser did not place this order, or its data was cleared, so it does not hold the order’s
            tracking token. Orders can be tracked from the browser that placed them, or with the tracking token.
          </p>
          <TokenForm onToken={setPastedToken} />
        </section>
      )}

      {validId && token !== null && view !== null && (
        <>
          <div className="flex flex-wrap items-center justify-between gap-3">
            <ConnectionIndicator view={view} />
            {view.connection === "reconnecting" && (
              <p className={`text-sm ${muted}`}>Updates missed meanwhile will arrive when back online.</p>
            )}
          </div>

          {refused && (
            <div role="alert" className={errorBox}>
              <p>The tracking token was not accepted for this order.</p>
              {pastedToken !== null && (
                <div className="mt-3">
                  <TokenForm onToken={setPastedToken} />
                </div>
              )}
            </div>
          )}

          <CurrentStatus view={view} />

          {!refused && (
            <CancelOrder
              key={token}
              orderId={orderId}
              token={token}
              allowed={canCustomerCancel(status)}
            />
          )}
          {status === "delivered" && (
            <p className={infoBox}>Enjoy your meal!</p>
          )}

          <section aria-labelledby="timeline-heading" className={card}>
            <h2 id="timeline-heading" className="mb-3 text-lg font-semibold">
              Progress
            </h2>
            <Timeline entries={view.tracking.timeline} />
          </section>

          {!refused && (
            <section aria-labelledby="details-heading" className={card}>
              <h2 id="details-heading" className="mb-3 text-lg font-semibold">
                Your order
              </h2>
              <OrderDetails orderId={orderId} token={token} />
            </section>
          )}
        </>
      )}
    </div>
  );
}
