import { backoffDelay } from "./backoff";
import type { StatsMessage } from "./types";

/** Close code the server uses for a missing or wrong operator key (mirrors HTTP 401). */
export const CLOSE_UNAUTHORIZED = 4401;
/** Without a message for this long an open socket is treated as dead (the server ticks ~1 s). */
export const STALE_AFTER_MS = 10_000;

export type FeedStatus =
  /** `retrying`: an earlier connection failed (the dashboard is polling meanwhile). */
  | { state: "connecting"; retrying: boolean }
  | { state: "live" }
  | { state: "waiting"; retryAt: number; attempt: number }
  | { state: "unauthorized" }
  | { state: "stopped" };

/** The part of the browser WebSocket the feed uses (a fake one in tests). */
export type SocketLike = {
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  close(code?: number, reason?: string): void;
};

export type FeedOptions = {
  url: string;
  onStats: (message: StatsMessage) => void;
  onStatus: (status: FeedStatus) => void;
  onUnauthorized: () => void;
  createSocket?: (url: string) => SocketLike;
  delay?: (attempt: number) => number;
  now?: () => number;
};

export function parseStats(data: unknown): StatsMessage | null {
  if (typeof data !== "string") return null;
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    return null;
  }
  const m = message as Partial<StatsMessage> | null;
  if (!m || m.type !== "stats" || !Array.isArray(m.streams) || typeof m.at !== "string") {
    return null;
  }
  return {
    type: "stats",
    at: m.at,
    streams: m.streams,
    throughput: m.throughput ?? {},
    outcomes: m.outcomes ?? { total: 0, by_status: {}, cancelled_by_reason: {} },
  };
}

/**
 * The live operator feed (WS /ws/ops): reconnects with exponential backoff, treats a silent
 * socket as dead, and stops for good when the key is refused.
 */
export class OpsFeed {
  private socket: SocketLike | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private staleTimer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private stopped = false;
  private readonly options: Required<FeedOptions>;

  constructor(options: FeedOptions) {
    this.options = {
      createSocket: (url) => new WebSocket(url),
      delay: (attempt) => backoffDelay(attempt),
      now: () => Date.now(),
      ...options,
    };
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    this.dropSocket();
    this.options.onStatus({ state: "stopped" });
  }

  private connect(): void {
    this.options.onStatus({ state: "connecting", retrying: this.attempt > 0 });
    const socket = this.options.createSocket(this.options.url);
    this.socket = socket;
    socket.onopen = () => {
      if (socket !== this.socket) return;
      this.options.onStatus({ state: "live" });
      this.watch();
    };
    socket.onmessage = (event) => {
      if (socket !== this.socket) return;
      const stats = parseStats(event.data);
      if (!stats) return;
      this.attempt = 0; // only a useful message proves the connection works
      this.watch();
      this.options.onStats(stats);
    };
    socket.onclose = (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      if (event.code === CLOSE_UNAUTHORIZED) {
        this.stopped = true;
        this.clearTimers();
        this.options.onStatus({ state: "unauthorized" });
        this.options.onUnauthorized();
        return;
      }
      this.scheduleReconnect();
    };
    socket.onerror = () => {
      // a close event always follows; reconnecting is handled there
    };
  }

  /** Restart the silence watchdog. */
  private watch(): void {
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.staleTimer = setTimeout(() => {
      this.dropSocket();
      this.scheduleReconnect();
    }, STALE_AFTER_MS);
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.clearTimers();
    const wait = this.options.delay(this.attempt);
    const attempt = ++this.attempt;
    this.options.onStatus({ state: "waiting", retryAt: this.options.now() + wait, attempt });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.connect();
    }, wait);
  }

  private dropSocket(): void {
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      socket.close(1000, "client closing");
    }
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.retryTimer = this.staleTimer = null;
  }
}
