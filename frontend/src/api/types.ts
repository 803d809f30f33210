// Shapes of the customer HTTP/WS contract (DESIGN.md §6). Money is integer cents.

export const ORDER_STATUSES = [
  "placed",
  "paid",
  "preparing",
  "ready",
  "courier_assigned",
  "picked_up",
  "delivered",
  "cancelled",
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const CANCEL_REASONS = [
  "payment_declined",
  "kitchen_rejected",
  "timeout",
  "no_courier",
  "delivery_failed",
  "customer_cancelled",
] as const;
export type CancelReason = (typeof CANCEL_REASONS)[number];

/** orders/domain.py: DELIVERED and CANCELLED end the saga. */
export function isTerminal(status: OrderStatus | null): boolean {
  return status === "delivered" || status === "cancelled";
}

/** orders/domain.py `can_customer_cancel`: only before the kitchen has accepted. */
export function canCustomerCancel(status: OrderStatus | null): boolean {
  return status === "placed" || status === "paid";
}

export function isOrderStatus(value: unknown): value is OrderStatus {
  return typeof value === "string" && (ORDER_STATUSES as readonly string[]).includes(value);
}

export function isCancelReason(value: unknown): value is CancelReason {
  return typeof value === "string" && (CANCEL_REASONS as readonly string[]).includes(value);
}

export interface MenuItem {
  id: string;
  name: string;
  description: string;
  category: string;
  price_cents: number;
  stock: number;
}

export interface Customer {
  name: string;
  address: string;
  phone: string;
}

export interface OrderLineIn {
  item_id: string;
  quantity: number;
}

export interface PlaceOrderBody {
  customer: Customer;
  items: OrderLineIn[];
}

export interface OrderLine {
  item_id: string;
  name: string;
  quantity: number;
  unit_price_cents: number;
}

export interface OrderCreated {
  id: string;
  status: OrderStatus;
  version: number;
  items: OrderLine[];
  total_cents: number;
  created_at: string;
  tracking_token: string;
}

export interface OrderView {
  id: string;
  status: OrderStatus;
  reason: CancelReason | null;
  version: number;
  items: OrderLine[];
  total_cents: number;
  customer: Customer;
  created_at: string;
  updated_at: string;
}
