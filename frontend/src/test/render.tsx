// Renders customer pages the way the app does: query client, router and cart around them.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { configure, render } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactElement } from "react";
import { MemoryRouter, Route, Routes, useLocation } from "react-router";
import { CartProvider } from "../customer/CartProvider";

// The machine running the tests may be busy (jsdom pages are slow to query): wait longer than
// the defaults for what must appear, and for a test with much typing.
configure({ asyncUtilTimeout: 5_000 });
vi.setConfig({ testTimeout: 20_000 });

/** A user who types without pauses between keys. */
export function setupUser() {
  return userEvent.setup({ delay: null });
}

export function LocationProbe() {
  const location = useLocation();
  return <p data-testid="location">{location.pathname}</p>;
}

export function renderPage(element: ReactElement, { path = "/", at = "/" }: { path?: string; at?: string } = {}) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const ui = (
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[at]}>
        <CartProvider>
          <Routes>
            <Route path={path} element={element} />
            <Route path="*" element={<LocationProbe />} />
          </Routes>
        </CartProvider>
      </MemoryRouter>
    </QueryClientProvider>
  );
  return { client, ...render(ui) };
}

export interface Call {
  url: string;
  method: string;
  headers: Headers;
  body: unknown;
}

type Responder = (call: Call) => Response | Promise<Response>;

/** A fetch stand-in: answers by "METHOD path" (a queue of answers each, the last one repeats). */
export function mockFetch(routes: Record<string, Responder | Responder[]>) {
  const calls: Call[] = [];
  const queues = new Map(Object.entries(routes).map(([k, v]) => [k, Array.isArray(v) ? [...v] : [v]]));
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const method = (init.method ?? "GET").toUpperCase();
    const call: Call = {
      url,
      method,
      headers: new Headers(init.headers),
      body: typeof init.body === "string" ? JSON.parse(init.body) : undefined,
    };
    calls.push(call);
    const queue = queues.get(`${method} ${new URL(url, "http://shop.test").pathname}`);
    if (!queue || queue.length === 0) throw new Error(`unexpected request ${method} ${url}`);
    const responder = queue.length > 1 ? queue.shift()! : queue[0]!;
    return responder(call);
  });
  vi.stubGlobal("fetch", fetchMock);
  return { calls, fetchMock };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Responder {
  return () =>
    new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

export const networkDown: Responder = () => {
  throw new TypeError("Failed to fetch");
};

export const MENU = [
  { id: "margherita", name: "Pizza Margherita", description: "Tomato, mozzarella, basil", category: "pizza", price_cents: 950, stock: 100 },
  { id: "funghi", name: "Pizza Funghi", description: "Mushrooms", category: "pizza", price_cents: 1050, stock: 2 },
  { id: "tiramisu", name: "Tiramisù", description: "Mascarpone, coffee", category: "dessert", price_cents: 650, stock: 0 },
];

/** Each test starts with an empty storage and the real fetch and timers. */
export function resetBrowserState() {
  localStorage.clear();
  vi.unstubAllGlobals();
  vi.useRealTimers();
}
