// The operator key is kept in localStorage so the dashboard asks for it once per browser.
const STORAGE_KEY = "orders-saga.operator-key";

export function loadKey(): string | null {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    return stored && stored.trim() ? stored : null;
  } catch {
    return null; // storage disabled: ask every time
  }
}

export function saveKey(key: string): void {
  try {
    localStorage.setItem(STORAGE_KEY, key);
  } catch {
    // storage disabled: the key lives for this page only
  }
}

export function clearKey(): void {
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing stored
  }
}
