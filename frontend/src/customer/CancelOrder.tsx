import { useMutation } from "@tanstack/react-query";
import { cancelOrder } from "../api/customer";
import { ApiError, NetworkError } from "../api/http";
import { isOrderStatus } from "../api/types";
import { STATUS_LABELS } from "./format";
import { isRecord } from "./storage";
import { dangerButton, errorBox, infoBox } from "./ui";

function cancelErrorMessage(error: unknown): string {
  if (error instanceof NetworkError) return "The server could not be reached. Check your connection and try again.";
  if (error instanceof ApiError) {
    if (error.status === 409) {
      const status = isRecord(error.detail) ? error.detail.status : undefined;
      const now = isOrderStatus(status) ? `: it is already “${STATUS_LABELS[status].toLowerCase()}”` : "";
      return `Too late to cancel this order${now}.`;
    }
    if (error.status === 401 || error.status === 404) return "The tracking token was not accepted for this order.";
    if (error.status >= 500) {
      const wait = error.retryAfterS !== null ? ` in ${error.retryAfterS} s` : "";
      return `The service is busy or briefly unavailable. Please try again${wait}.`;
    }
    return `The cancellation was refused (HTTP ${error.status}).`;
  }
  return "The cancellation failed.";
}

/** The Cancel button while `allowed`; the outcome of a cancellation stays shown after. */
export function CancelOrder({ orderId, token, allowed }: { orderId: string; token: string; allowed: boolean }) {
  const cancel = useMutation({ mutationFn: () => cancelOrder(orderId, token) });
  if (!allowed && cancel.isIdle) return null;
  return (
    <div className="flex flex-col items-start gap-2">
      {allowed && (
        <button
          type="button"
          className={dangerButton}
          disabled={cancel.isPending || cancel.isSuccess}
          onClick={() => cancel.mutate()}
        >
          Cancel order
        </button>
      )}
      <div aria-live="polite">
        {cancel.isPending && <p>Cancelling…</p>}
        {cancel.isSuccess && <p className={infoBox}>Cancellation requested.</p>}
      </div>
      {cancel.isError && (
        <p role="alert" className={errorBox}>
          {cancelErrorMessage(cancel.error)}
        </p>
      )}
    </div>
  );
}
