// A dead letter's payload as an operator sees it: the message type and a short, one-line body
// with personal data (the customer object, an address, a phone number) masked.

const PERSONAL = new Set(["customer", "address", "phone", "email"]);
export const PREVIEW_CHARS = 160;

function mask(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(mask);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, PERSONAL.has(k.toLowerCase()) ? "•••" : mask(v)]),
    );
  }
  return value;
}

/** The envelope's `payload` is JSON text; anything else (garbage entries) is shown as is. */
function body(fields: Record<string, unknown>): unknown {
  const { payload } = fields;
  if (typeof payload === "string") {
    try {
      return JSON.parse(payload);
    } catch {
      return payload;
    }
  }
  const rest = { ...fields };
  delete rest.type;
  return rest;
}

/** The masked payload as text: one line, or indented with `pretty`. */
export function payloadText(fields: Record<string, unknown>, pretty = false): string {
  const content = mask(body(fields));
  return typeof content === "string" ? content : JSON.stringify(content, null, pretty ? 2 : 0);
}

export function messageType(fields: Record<string, unknown>): string | null {
  return typeof fields.type === "string" && fields.type ? fields.type : null;
}

export function preview(fields: Record<string, unknown>, chars: number = PREVIEW_CHARS): string {
  const text = payloadText(fields);
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}
