// Test helpers for the operator dashboard: a fake WebSocket, a fake fetch and sample data.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { vi } from "vitest";
import type { SocketLike } from "./feed";
import type { DeadLetter, Outcomes, RecentOrder, StatsMessage, StreamView } from "./types";

export class FakeSocket implements SocketLike {
  static all: FakeSocket[] = [];
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  closedByClient = false;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }

  static create = (url: string): FakeSocket => new FakeSocket(url);
  static latest(): FakeSocket {
    const socket = FakeSocket.all[FakeSocket.all.length - 1];
    if (!socket) throw new Error("no socket was opened");
    return socket;
  }

  close(): void {
    this.closedByClient = true;
  }
  open(): void {
    this.onopen?.(new Event("open"));
  }
  send(message: unknown): void {
    this.onmessage?.(new MessageEvent("message", { data: JSON.stringify(message) }));
  }
  sendRaw(data: string): void {
    this.onmessage?.(new MessageEvent("message", { data }));
  }
  serverClose(code: number, reason = ""): void {
    this.onclose?.(new CloseEvent("close", { code, reason }));
  }
}

export type Call = { url: string; method: string; key: string | null; body: unknown };

/** A fake `fetch` that answers by "METHOD path" (query string ignored) and records calls. */
export function fakeFetch(
  routes: Record<string, (call: Call) => { status?: number; body: unknown }>,
) {
  const calls: Call[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const method = init.method ?? "GET";
    const headers = new Headers(init.headers);
    const call: Call = {
      url,
      method,
      key: headers.get("X-API-Key"),
      body: typeof init.body === "string" ? JSON.parse(init.body) : undefined,
    };
    calls.push(call);
    const route = routes[`${method} ${url.split("?")[0]}`];
    const answer = route ? route(call) : { status: 404, body: { detail: "no route in test" } };
    return new Response(JSON.stringify(answer.body), {
      status: answer.status ?? 200,
      headers: { "Content-Type": "application/json" },
    });
  });
  vi.stubGlobal("fetch", fn);
  return { fn, calls };
}

export function renderWithClient(ui: ReactElement) {
  const client = new QueryClient({
    defaultOptions: { queries: { retry: false }, mutations: { retry: false } },
  });
  return { client, ...render(<QueryClientProvider client={client}>{ui}</QueryClientProvider>) };
}

export function stream(
  name: string,
  groups: { group: string; lag?: number | null; pending?: number; consumers?: number }[],
  {
    length = 100,
    dead_letters = 0,
    dead_letters_oldest_age_s = null as number | null,
    dead_letters_max_age_s = 604_800,
    dead_letters_max_len = 100_000,
  } = {},
): StreamView {
  return {
    stream: name,
    length,
    dead_letters,
    dead_letters_oldest_age_s,
    dead_letters_max_age_s,
    dead_letters_max_len,
    groups: groups.map((g) => ({
      group: g.group,
      consumers: g.consumers ?? 1,
      pending: g.pending ?? 0,
      lag: g.lag === undefined ? 0 : g.lag,
      last_delivered_id: "1-0",
    })),
  };
}

export const outcomes: Outcomes = {
  total: 10,
  by_status: { placed: 1, paid: 0, delivered: 7, cancelled: 2 },
  cancelled_by_reason: { payment_declined: 1, timeout: 1, no_courier: 0 },
};

export function stats(
  streams: StreamView[],
  throughput: StatsMessage["throughput"] = {},
): StatsMessage {
  return { type: "stats", at: new Date().toISOString(), streams, throughput, outcomes };
}

export function deadLetter(overrides: Partial<DeadLetter> = {}): DeadLetter {
  return {
    dlq_id: "1700000000000-0",
    stream: "payments.events",
    original_id: "1699999999999-0",
    group: "orders",
    reason: "unparseable",
    error: "not an envelope: KeyError: 'payload'",
    deliveries: 1,
    at: "2026-01-01T10:00:00+00:00",
    fields: { garbage: "yes" },
    error_type: "",
    error_message: "",
    traceback: "",
    ...overrides,
  };
}

export function recentOrder(
  id: string,
  status = "delivered",
  reason: string | null = null,
): RecentOrder {
  return {
    order_id: id,
    status,
    version: 7,
    reason,
    at: new Date().toISOString(),
    updated_ms: Date.now(),
  };
}
