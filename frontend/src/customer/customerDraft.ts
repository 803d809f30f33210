// The checkout form's fields, kept across reloads (a retry after a reload sends the same body).
import type { Customer } from "../api/types";
import { isRecord, readJson, writeJson, type KeyValueStore } from "./storage";

export const DRAFT_KEY = "orders-saga.customer.v1";

export const EMPTY_CUSTOMER: Customer = { name: "", address: "", phone: "" };

function draftOf(value: unknown): Customer | null {
  if (!isRecord(value)) return null;
  const field = (key: keyof Customer) => (typeof value[key] === "string" ? (value[key] as string) : "");
  return { name: field("name"), address: field("address"), phone: field("phone") };
}

export function loadDraft(storage: KeyValueStore | null): Customer {
  return readJson(storage, DRAFT_KEY, draftOf) ?? EMPTY_CUSTOMER;
}

export function saveDraft(storage: KeyValueStore | null, customer: Customer): void {
  writeJson(storage, DRAFT_KEY, customer);
}
