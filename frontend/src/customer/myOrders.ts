// The orders this browser placed, with their tracking tokens (the only copy of them).
import { isOrderStatus, type OrderCreated, type OrderStatus } from "../api/types";
import { isRecord, readJson, writeJson, type KeyValueStore } from "./storage";

export const ORDERS_KEY = "orders-saga.orders.v1";

export interface PlacedOrder {
  id: string;
  tracking_token: string;
  created_at: string;
  total_cents: number;
  /** The last status seen on the tracking page, if it was visited. */
  last_status?: OrderStatus;
}

function orderOf(value: unknown): PlacedOrder | null {
  if (!isRecord(value)) return null;
  const { id, tracking_token, created_at, total_cents, last_status } = value;
  if (
    typeof id !== "string" ||
    typeof tracking_token !== "string" ||
    typeof created_at !== "string" ||
    typeof total_cents !== "number"
  ) {
    return null;
  }
  const order: PlacedOrder = { id, tracking_token, created_at, total_cents };
  if (isOrderStatus(last_status)) order.last_status = last_status;
  return order;
}

function ordersOf(value: unknown): PlacedOrder[] | null {
  if (!Array.isArray(value)) return null;
  return value.map(orderOf).filter((order): order is PlacedOrder => order !== null);
}

/** Newest first. */
export function loadOrders(storage: KeyValueStore | null): PlacedOrder[] {
  const orders = readJson(storage, ORDERS_KEY, ordersOf) ?? [];
  return orders.sort((a, b) => b.created_at.localeCompare(a.created_at));
}

export function rememberOrder(storage: KeyValueStore | null, created: OrderCreated): void {
  const others = loadOrders(storage).filter((order) => order.id !== created.id);
  const placed: PlacedOrder = {
    id: created.id,
    tracking_token: created.tracking_token,
    created_at: created.created_at,
    total_cents: created.total_cents,
    last_status: created.status,
  };
  writeJson(storage, ORDERS_KEY, [placed, ...others]);
}

export function tokenFor(storage: KeyValueStore | null, orderId: string): string | null {
  return loadOrders(storage).find((order) => order.id === orderId)?.tracking_token ?? null;
}

export function recordStatus(storage: KeyValueStore | null, orderId: string, status: OrderStatus): void {
  const orders = loadOrders(storage);
  const order = orders.find((o) => o.id === orderId);
  if (order === undefined || order.last_status === status) return;
  order.last_status = status;
  writeJson(storage, ORDERS_KEY, orders);
}
