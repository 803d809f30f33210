// JSON in localStorage that never throws: a full, disabled or tampered storage reads as empty.

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function browserStorage(): KeyValueStore | null {
  try {
    return window.localStorage;
  } catch {
    return null; // e.g. storage disabled by the browser's privacy settings
  }
}

export function readJson<T>(
  store: KeyValueStore | null,
  key: string,
  accept: (value: unknown) => T | null,
): T | null {
  try {
    const raw = store?.getItem(key);
    return raw == null ? null : accept(JSON.parse(raw));
  } catch {
    return null;
  }
}

export function writeJson(store: KeyValueStore | null, key: string, value: unknown): void {
  try {
    store?.setItem(key, JSON.stringify(value));
  } catch {
    // Quota exceeded or storage disabled: the app keeps working for this visit.
  }
}

export function removeKey(store: KeyValueStore | null, key: string): void {
  try {
    store?.removeItem(key);
  } catch {
    // as above
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
