// What the customer is told when POST /api/orders fails, and what the page does about it.
import { ApiError, NetworkError } from "../api/http";
import type { CustomerErrors, CustomerField } from "../api/validation";
import { isRecord } from "./storage";

export interface PlaceFailure {
  message: string;
  /** Server-side validation messages by form field (422). */
  fieldErrors: CustomerErrors;
  /** The cart line the server refused. */
  itemId: string | null;
  /** Stock or the menu changed: load the menu again. */
  refreshMenu: boolean;
  /** The pending Idempotency-Key must not be sent again. */
  forgetKey: boolean;
}

const SAFE_RETRY = "Trying again is safe: the same order will never be placed twice.";
const FIELDS: readonly string[] = ["name", "address", "phone"] satisfies CustomerField[];

function failure(message: string, changes: Partial<PlaceFailure> = {}): PlaceFailure {
  return { message, fieldErrors: {}, itemId: null, refreshMenu: false, forgetKey: false, ...changes };
}

function itemIdOf(error: ApiError): string | null {
  return isRecord(error.detail) && typeof error.detail.item_id === "string" ? error.detail.item_id : null;
}

/** FastAPI's 422 list: `[{loc: ["body", "customer", "name"], msg}, ...]`. */
function validationFailure(detail: unknown[]): PlaceFailure {
  const fieldErrors: CustomerErrors = {};
  const other: string[] = [];
  for (const item of detail) {
    if (!isRecord(item) || !Array.isArray(item.loc)) continue;
    const [where, group, field] = item.loc as unknown[];
    const msg = typeof item.msg === "string" ? item.msg : "invalid";
    if (where === "body" && group === "customer" && typeof field === "string" && FIELDS.includes(field)) {
      fieldErrors[field as CustomerField] ??= msg;
    } else {
      other.push(msg);
    }
  }
  const message =
    other.length > 0
      ? `The order was refused: ${other.join("; ")}.`
      : "The order was refused: please correct the highlighted fields.";
  return failure(message, { fieldErrors });
}

export function describePlaceError(error: unknown, nameOf: (itemId: string) => string): PlaceFailure {
  if (error instanceof NetworkError) {
    return failure(`The server could not be reached, so the order may not have been placed. Check your connection and try again. ${SAFE_RETRY}`);
  }
  if (!(error instanceof ApiError)) {
    return failure(`Something went wrong while placing the order. ${SAFE_RETRY}`);
  }
  if (error.status === 503 && error.code === "overloaded") {
    // Load shed by admission control: nothing was written, so the same key is sent again.
    return failure(`We're very busy — please try again in a few seconds. Your cart is kept. ${SAFE_RETRY}`);
  }
  if (error.status >= 500) {
    const wait = error.retryAfterS !== null ? `in ${error.retryAfterS} s` : "in a moment";
    const what = error.status === 503 ? "The service is busy or briefly unavailable" : `The server failed (HTTP ${error.status})`;
    return failure(`${what}. Please try again ${wait}. ${SAFE_RETRY}`);
  }
  const itemId = itemIdOf(error);
  switch (error.code) {
    case "out_of_stock":
      return failure(
        `Sorry, ${itemId ? nameOf(itemId) : "an item"} is out of stock, or not enough is left for your quantity. Lower the quantity or remove it, then place the order again.`,
        { itemId, refreshMenu: true },
      );
    case "unknown_item":
      return failure(
        `${itemId ? nameOf(itemId) : "An item"} is no longer on the menu. Remove it from your cart, then place the order again.`,
        { itemId, refreshMenu: true },
      );
    case "idempotency_key_in_flight":
      return failure(`Your order is still being processed. Wait a moment, then try again. ${SAFE_RETRY}`);
    case "idempotency_key_reused":
      return failure("This checkout attempt clashed with an earlier one. Press “Place order” again.", {
        forgetKey: true,
      });
  }
  if (error.status === 422 && Array.isArray(error.detail)) return validationFailure(error.detail);
  return failure(`The order was refused (HTTP ${error.status}).`);
}
