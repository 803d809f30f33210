// How money, times, statuses and reasons are shown.
import type { CancelReason, OrderStatus } from "../api/types";

// The menu's prices carry no currency; the shop's is the euro.
const money = new Intl.NumberFormat("en-IE", { style: "currency", currency: "EUR" });

export function formatMoney(cents: number): string {
  return money.format(cents / 100);
}

export function formatTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function formatDateTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export const STATUS_LABELS: Record<OrderStatus, string> = {
  placed: "Order placed",
  paid: "Payment authorised",
  preparing: "Being prepared",
  ready: "Ready, waiting for a courier",
  courier_assigned: "Courier assigned",
  picked_up: "On its way",
  delivered: "Delivered",
  cancelled: "Cancelled",
};

export const REASON_LABELS: Record<CancelReason, string> = {
  payment_declined: "The payment was declined.",
  kitchen_rejected: "The kitchen could not take the order.",
  timeout: "A step took too long, so the order was stopped.",
  no_courier: "No courier was available.",
  delivery_failed: "The delivery failed.",
  customer_cancelled: "You cancelled the order.",
};

export function categoryLabel(category: string): string {
  return category.charAt(0).toUpperCase() + category.slice(1);
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
