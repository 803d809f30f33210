// Client-side mirror of the request rules in orders/src/orders/schemas.py (PlaceOrderRequest).
// pydantic strips with Rust's `str::trim` (Unicode White_Space) and counts code points, so this
// does the same rather than use String.prototype.trim / .length.
import type { Customer, OrderLineIn } from "./types";

export const LIMITS = {
  name: { min: 1, max: 100 },
  address: { min: 3, max: 300 },
  phoneDigitsAndSeparators: { min: 3, max: 30 },
  lines: { min: 1, max: 20 },
  quantity: { min: 1, max: 50 },
} as const;

export const PHONE_PATTERN = /^\+?[0-9][0-9 ().-]{2,29}$/;
export const ITEM_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;

const WHITE_SPACE = "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const EDGES = new RegExp(`^${WHITE_SPACE}+|${WHITE_SPACE}+$`, "g");

/** The value as the server keeps it after `strip_whitespace`. */
export function stripWhitespace(value: string): string {
  return value.replace(EDGES, "");
}

export function codePoints(value: string): number {
  return Array.from(value).length;
}

export type CustomerField = keyof Customer;
export type CustomerErrors = Partial<Record<CustomerField, string>>;

function lengthError(label: string, value: string, min: number, max: number): string | undefined {
  const length = codePoints(value);
  if (length === 0) return `Enter your ${label.toLowerCase()}.`;
  if (length < min) return `${label} must be at least ${min} characters.`;
  if (length > max) return `${label} must be at most ${max} characters (now ${length}).`;
  return undefined;
}

export function validateField(field: CustomerField, raw: string): string | undefined {
  const value = stripWhitespace(raw);
  switch (field) {
    case "name":
      return lengthError("Name", value, LIMITS.name.min, LIMITS.name.max);
    case "address":
      return lengthError("Address", value, LIMITS.address.min, LIMITS.address.max);
    case "phone":
      if (value === "") return "Enter your phone number.";
      if (!PHONE_PATTERN.test(value)) {
        const { min, max } = LIMITS.phoneDigitsAndSeparators;
        return `Enter a phone number of ${min} to ${max} characters starting with a digit (an optional + before it): digits, spaces and ( ) . - only.`;
      }
      return undefined;
  }
}

export function validateCustomer(customer: Customer): CustomerErrors {
  const errors: CustomerErrors = {};
  for (const field of ["name", "address", "phone"] as const) {
    const error = validateField(field, customer[field]);
    if (error !== undefined) errors[field] = error;
  }
  return errors;
}

export function normalizeCustomer(customer: Customer): Customer {
  return {
    name: stripWhitespace(customer.name),
    address: stripWhitespace(customer.address),
    phone: stripWhitespace(customer.phone),
  };
}

/** Why these lines would be refused with 422, or null when they fit the schema. */
export function validateLines(lines: readonly OrderLineIn[]): string | null {
  if (lines.length < LIMITS.lines.min) return "Your cart is empty.";
  if (lines.length > LIMITS.lines.max) {
    return `An order holds at most ${LIMITS.lines.max} different items; remove ${lines.length - LIMITS.lines.max}.`;
  }
  for (const line of lines) {
    if (!ITEM_ID_PATTERN.test(line.item_id)) return `Unknown item “${line.item_id}”.`;
    const { min, max } = LIMITS.quantity;
    if (!Number.isInteger(line.quantity) || line.quantity < min || line.quantity > max) {
      return `Quantities must be whole numbers from ${min} to ${max}.`;
    }
  }
  return null;
}
