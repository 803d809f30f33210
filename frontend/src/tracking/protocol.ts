// Messages of WS /ws/tracking/{id} (notifications/schemas.py), checked field by field: whatever
// does not fit is ignored rather than trusted.
import {
  isCancelReason,
  isOrderStatus,
  type CancelReason,
  type OrderStatus,
} from "../api/types";

export interface TimelineEntry {
  status: OrderStatus;
  version: number;
  reason: CancelReason | null;
  at: string;
}

export interface SnapshotMessage {
  type: "snapshot";
  orderId: string;
  /** null (version 0) while notifications has not seen the order's first status yet. */
  status: OrderStatus | null;
  version: number;
  reason: CancelReason | null;
  /** Only the entries with a version above the `since` the socket was opened with. */
  timeline: TimelineEntry[];
}

export interface StatusMessage {
  type: "status";
  orderId: string;
  entry: TimelineEntry;
}

export interface HeartbeatMessage {
  type: "heartbeat";
}

export type ServerMessage = SnapshotMessage | StatusMessage | HeartbeatMessage;

type Fields = Record<string, unknown>;

function isVersion(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function reasonOf(value: unknown): CancelReason | null | undefined {
  if (value === null || value === undefined) return null;
  return isCancelReason(value) ? value : undefined;
}

function entryOf(fields: Fields): TimelineEntry | null {
  const reason = reasonOf(fields.reason);
  if (
    !isOrderStatus(fields.status) ||
    !isVersion(fields.version) ||
    fields.version < 1 ||
    reason === undefined ||
    typeof fields.at !== "string"
  ) {
    return null;
  }
  return { status: fields.status, version: fields.version, reason, at: fields.at };
}

function isFields(value: unknown): value is Fields {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function snapshotOf(fields: Fields): SnapshotMessage | null {
  const reason = reasonOf(fields.reason);
  const status = fields.status === null ? null : isOrderStatus(fields.status) ? fields.status : undefined;
  if (
    typeof fields.order_id !== "string" ||
    status === undefined ||
    !isVersion(fields.version) ||
    reason === undefined ||
    !Array.isArray(fields.timeline)
  ) {
    return null;
  }
  const timeline: TimelineEntry[] = [];
  for (const item of fields.timeline) {
    const entry = isFields(item) ? entryOf(item) : null;
    if (entry === null) return null;
    timeline.push(entry);
  }
  return { type: "snapshot", orderId: fields.order_id, status, version: fields.version, reason, timeline };
}

/** The message in a text frame, or null when it is not one this client understands. */
export function parseMessage(data: unknown): ServerMessage | null {
  if (typeof data !== "string") return null;
  let fields: unknown;
  try {
    fields = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isFields(fields)) return null;
  switch (fields.type) {
    case "snapshot":
      return snapshotOf(fields);
    case "status": {
      const entry = entryOf(fields);
      if (entry === null || typeof fields.order_id !== "string") return null;
      return { type: "status", orderId: fields.order_id, entry };
    }
    case "heartbeat":
      return { type: "heartbeat" };
    default:
      return null;
  }
}
