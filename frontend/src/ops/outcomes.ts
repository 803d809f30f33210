import { ORDER_STATUSES } from "../api/types";
import type { Bar } from "./BarChart";
import { formatCount, humanize } from "./format";
import type { Outcomes } from "./types";

/** The saga's statuses in the order an order goes through them. */
export const STATUS_ORDER: readonly string[] = ORDER_STATUSES;
const FINAL = new Set(["delivered", "cancelled"]);

function ordered(counts: Record<string, number>, order: readonly string[]): [string, number][] {
  const known = order.filter((k) => k in counts).map((k): [string, number] => [k, counts[k]!]);
  const others = Object.entries(counts).filter(([k]) => !order.includes(k));
  return [...known, ...others];
}

export function statusBars(outcomes: Outcomes): Bar[] {
  return ordered(outcomes.by_status, STATUS_ORDER).map(([status, value]) => ({
    label: humanize(status),
    value,
    tone: status === "delivered" ? "good" : status === "cancelled" ? "bad" : "neutral",
  }));
}

export function reasonBars(outcomes: Outcomes): Bar[] {
  return Object.entries(outcomes.cancelled_by_reason)
    .map(([reason, value]): Bar => ({ label: humanize(reason), value, tone: "bad" }))
    .sort((a, b) => b.value - a.value);
}

function share(part: number, total: number, what: string): string {
  return `${formatCount(part)} ${what} (${Math.round((part / total) * 100)}%)`;
}

export function outcomeSummary(outcomes: Outcomes): string {
  const { total, by_status } = outcomes;
  if (!total) return "No orders yet.";
  const delivered = by_status.delivered ?? 0;
  const cancelled = by_status.cancelled ?? 0;
  const inProgress = Object.entries(by_status)
    .filter(([status]) => !FINAL.has(status))
    .reduce((sum, [, n]) => sum + n, 0);
  return (
    `${formatCount(total)} orders: ${share(delivered, total, "delivered")}, ` +
    `${share(cancelled, total, "cancelled")}, ${share(inProgress, total, "in progress")}.`
  );
}

export function reasonSummary(outcomes: Outcomes): string {
  const bars = reasonBars(outcomes).filter((b) => b.value > 0);
  if (!bars.length) return "No cancellations.";
  return `Cancellations by reason: ${bars.map((b) => `${b.label.toLowerCase()} ${formatCount(b.value)}`).join(", ")}.`;
}
