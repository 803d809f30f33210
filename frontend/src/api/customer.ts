// The customer endpoints of orders (DESIGN.md §6).
import { requestJson } from "./http";
import type { MenuItem, OrderCreated, OrderView, PlaceOrderBody } from "./types";

const JSON_HEADERS = { "Content-Type": "application/json", Accept: "application/json" };

function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}`, Accept: "application/json" };
}

function orderPath(orderId: string): string {
  return `/api/orders/${encodeURIComponent(orderId)}`;
}

export function fetchMenu(signal?: AbortSignal): Promise<MenuItem[]> {
  return requestJson<MenuItem[]>("/api/menu", { signal, headers: { Accept: "application/json" } });
}

/** `body` is sent exactly as given: the idempotency key is tied to these bytes' content. */
export function placeOrder(body: PlaceOrderBody, idempotencyKey: string): Promise<OrderCreated> {
  return requestJson<OrderCreated>("/api/orders", {
    method: "POST",
    headers: { ...JSON_HEADERS, "Idempotency-Key": idempotencyKey },
    body: JSON.stringify(body),
  });
}

export function fetchOrder(orderId: string, token: string, signal?: AbortSignal): Promise<OrderView> {
  return requestJson<OrderView>(orderPath(orderId), { signal, headers: bearer(token) });
}

export function cancelOrder(orderId: string, token: string): Promise<OrderView> {
  return requestJson<OrderView>(`${orderPath(orderId)}/cancel`, {
    method: "POST",
    headers: bearer(token),
  });
}
