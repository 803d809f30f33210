// The Idempotency-Key of a checkout attempt, kept with the exact body it was made for.
//
// Retrying the same body (after a network error, a 5xx/503, a reload) sends the same key, so the
// server answers with the order already placed rather than placing a second one. A different
// body (the cart or the customer changed) gets a new key; success forgets the key.
import type { PlaceOrderBody } from "../api/types";
import { isRecord, readJson, removeKey, writeJson, type KeyValueStore } from "./storage";

export const ATTEMPT_KEY = "orders-saga.checkout-attempt.v1";

interface Attempt {
  key: string;
  body: string;
}

function attemptOf(value: unknown): Attempt | null {
  if (!isRecord(value) || typeof value.key !== "string" || typeof value.body !== "string") return null;
  return { key: value.key, body: value.body };
}

/** The canonical text of a body: what the key is tied to. */
export function bodyText(body: PlaceOrderBody): string {
  const { name, address, phone } = body.customer;
  return JSON.stringify({
    customer: { name, address, phone },
    items: body.items.map(({ item_id, quantity }) => ({ item_id, quantity })),
  });
}

/** A random UUID v4; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The key to send `body` with: the pending attempt's when it is the same body, else a new one. */
export function keyForAttempt(
  storage: KeyValueStore | null,
  body: PlaceOrderBody,
  newKey: () => string = newIdempotencyKey,
): string {
  const text = bodyText(body);
  const pending = readJson(storage, ATTEMPT_KEY, attemptOf);
  if (pending !== null && pending.body === text) return pending.key;
  const key = newKey();
  writeJson(storage, ATTEMPT_KEY, { key, body: text } satisfies Attempt);
  return key;
}

export function forgetAttempt(storage: KeyValueStore | null): void {
  removeKey(storage, ATTEMPT_KEY);
}
