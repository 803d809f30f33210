import type { DeadLetter, Outcomes, RecentOrder, StreamView } from "./types";

/** The server refused the operator key (HTTP 401 or WebSocket close 4401). */
export class UnauthorizedError extends Error {
  constructor() {
    super("The operator key was rejected.");
    this.name = "UnauthorizedError";
  }
}

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

async function errorMessage(response: Response): Promise<string> {
  try {
    const body: unknown = await response.json();
    const detail = (body as { detail?: unknown } | null)?.detail;
    if (typeof detail === "string") return detail;
  } catch {
    // not JSON: fall back to the status line
  }
  return `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
}

export type Selection = { stream: string; ids?: string[] };

/** The operator endpoints, bound to one key. `onUnauthorized(key)` runs before a 401 is
 * thrown, with the refused key (a newer one may have been entered meanwhile). */
export function createOpsApi(key: string, onUnauthorized: (key: string) => void) {
  async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
    const headers = new Headers(init.headers);
    headers.set("X-API-Key", key);
    headers.set("Accept", "application/json");
    if (init.body !== undefined) headers.set("Content-Type", "application/json");
    const response = await fetch(path, { ...init, headers });
    if (response.status === 401) {
      onUnauthorized(key);
      throw new UnauthorizedError();
    }
    if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
    return (await response.json()) as T;
  }

  const post = <T>(path: string, body: unknown) =>
    call<T>(path, { method: "POST", body: JSON.stringify(body) });

  return {
    streams: () => call<StreamView[]>("/api/ops/streams"),
    outcomes: () => call<Outcomes>("/api/ops/outcomes"),
    recentOrders: (limit = 50) => call<RecentOrder[]>(`/api/ops/orders/recent?limit=${limit}`),
    deadLetters: (limit = 100) => call<DeadLetter[]>(`/api/ops/dlq?limit=${limit}`),
    replay: (selection: Selection) => post<{ replayed: number }>("/api/ops/dlq/replay", selection),
    purge: (selection: Selection) => post<{ purged: number }>("/api/ops/dlq/purge", selection),
  };
}

export type OpsApi = ReturnType<typeof createOpsApi>;

export function opsSocketUrl(key: string, location: Location = window.location): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws/ops?key=${encodeURIComponent(key)}`;
}
